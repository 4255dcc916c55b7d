"""Each attack on the update path, one test each: refused, logged, the last good release kept.

Every test installs release 1, then the distributor (or a man in the middle)
serves something bad as release 2. The check must end with release 1 still
in force, verifiable on disk, and one error line saying why.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest

from copgate.update.installed import load_roots, verify_dir
from copgate.update.updater import Result
from tests.update.conftest import World
from tests.update.distributor import Misbehaviour, created, key


@pytest.fixture
def installed(world: World, caplog: pytest.LogCaptureFixture) -> Iterator[World]:
    """Release 1 in force; then the log is watched from here on."""
    world.distributor.publish(1)
    assert world.check().release == 1
    world.requested()
    caplog.clear()
    with caplog.at_level(logging.INFO, "copgate"):
        yield world


def still_release_1(world: World, caplog: pytest.LogCaptureFixture, expected: str) -> None:
    """Release 1 in force, complete and verified; one error line with ``expected``."""
    assert world.ram.current_link() == "1"
    assert verify_dir(world.ram.path(1), load_roots(world.settings)).release == 1
    assert not [p for p in world.ram.root.iterdir() if p.name.startswith(".staging")]
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, errors
    assert expected in errors[0], errors[0]
    assert "keeping release 1 (built 23h 0m ago)" in errors[0]


def test_unsigned_manifest(installed: World, caplog: pytest.LogCaptureFixture) -> None:
    installed.distributor.publish(2)
    del installed.distributor.files["release.json.sig"]
    outcome = installed.check()
    assert outcome.result is Result.REFUSED
    still_release_1(installed, caplog, "refused: release.json: unsigned")


def test_signature_that_is_not_a_signature(
    installed: World, caplog: pytest.LogCaptureFixture
) -> None:
    installed.distributor.publish(2)
    installed.distributor.files["release.json.sig"] = b"untrusted comment: x\nnot base64!\n"
    assert installed.check().result is Result.REFUSED
    still_release_1(installed, caplog, "refused: release.json.sig")


def test_manifest_signed_by_an_unknown_key(
    installed: World, caplog: pytest.LogCaptureFixture
) -> None:
    installed.distributor.publish(2, by=key(9))
    assert installed.check().result is Result.REFUSED
    still_release_1(installed, caplog, "refused: release.json")


def test_manifest_signed_by_a_revoked_key(
    installed: World, caplog: pytest.LogCaptureFixture
) -> None:
    distributor = installed.distributor
    distributor.publish_keyset(2, keys=[key(2), key(3)], revoked=[key(2)])
    distributor.publish(2)  # still signed by key 2, now revoked
    assert installed.check().result is Result.REFUSED
    still_release_1(installed, caplog, "revoked by key set version 2")


def test_key_set_not_signed_by_the_root(installed: World, caplog: pytest.LogCaptureFixture) -> None:
    distributor = installed.distributor
    distributor.publish_keyset(2, keys=[key(9)], by=key(9))  # the attacker's own key set
    distributor.publish(2, by=key(9))
    assert installed.check().result is Result.REFUSED
    still_release_1(installed, caplog, "refused: keyset.json")


def test_older_key_set_is_a_rollback(installed: World, caplog: pytest.LogCaptureFixture) -> None:
    distributor = installed.distributor
    distributor.publish_keyset(3)
    distributor.publish(2)
    assert installed.check().release == 2
    distributor.publish_keyset(2)  # an old key set, still root-signed
    distributor.keyset_version = 4  # the manifest claims a newer one to force a fetch
    distributor.publish(3)
    caplog.clear()
    assert installed.check().result is Result.REFUSED
    assert installed.ram.current_link() == "2"
    assert "version 2 is older than the installed version 3" in caplog.text


def test_tampered_artefact(installed: World, caplog: pytest.LogCaptureFixture) -> None:
    installed.distributor.publish(2)
    path = "releases/2/lists.cache"
    cache = bytearray(installed.distributor.files[path])
    cache[len(cache) // 2] ^= 0x01
    installed.distributor.files[path] = bytes(cache)
    assert installed.check().result is Result.REFUSED
    still_release_1(installed, caplog, "has SHA-256")


def test_tampered_manifest(installed: World, caplog: pytest.LogCaptureFixture) -> None:
    distributor = installed.distributor
    distributor.publish(2)
    distributor.files["release.json"] = distributor.files["release.json"].replace(
        b'"release": 2', b'"release": 9'
    )
    assert installed.check().result is Result.REFUSED
    still_release_1(installed, caplog, "refused: release.json")


def test_older_release_is_a_rollback(installed: World, caplog: pytest.LogCaptureFixture) -> None:
    distributor = installed.distributor
    old_manifest = dict(distributor.files)
    distributor.publish(2)
    assert installed.check().release == 2
    distributor.files.update(
        {name: old_manifest[name] for name in ("release.json", "release.json.sig")}
    )
    caplog.clear()
    outcome = installed.check()
    assert outcome.result is Result.REFUSED and installed.ram.current_link() == "2"
    assert "release 1 is older than the installed release 2; keeping release 2" in caplog.text


def test_expired_manifest(installed: World, caplog: pytest.LogCaptureFixture) -> None:
    installed.distributor.publish(2, expires=created(2) + timedelta(hours=1))
    installed.clock.now = (created(2) + timedelta(hours=2)).timestamp()
    assert installed.check().result is Result.REFUSED
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert "expired at" in errors[0] and "keeping release 1 (built 3h 0m ago)" in errors[0]
    assert installed.ram.current_link() == "1"


def test_expiry_does_not_refuse_while_the_clock_is_not_plausible(installed: World) -> None:
    # A router without a battery clock boots in 1970: earlier than release 1 was
    # built, so the clock cannot be right and expiry is not used to refuse.
    installed.distributor.publish(2, expires=created(2) + timedelta(hours=1))
    installed.clock.now = 0.0
    assert installed.check().release == 2


def test_artefact_from_another_release(installed: World, caplog: pytest.LogCaptureFixture) -> None:
    distributor = installed.distributor
    distributor.publish(2)
    distributor.files["releases/2/lists.cache"] = distributor.caches[1]
    assert installed.check().result is Result.REFUSED
    still_release_1(installed, caplog, "refused:")


def test_truncated_download(installed: World, caplog: pytest.LogCaptureFixture) -> None:
    installed.distributor.publish(2)
    installed.server.misbehave["releases/2/lists.cache"] = Misbehaviour(cut=1000)
    assert installed.check().result is Result.UNREACHABLE
    still_release_1(installed, caplog, "download failed:")


def test_oversized_download(installed: World, caplog: pytest.LogCaptureFixture) -> None:
    installed.distributor.publish(2)
    installed.server.misbehave["releases/2/lists.cache"] = Misbehaviour(extra=b"\0" * 70000)
    assert installed.check().result is Result.UNREACHABLE
    still_release_1(installed, caplog, "more than")


def test_server_that_stalls(installed: World, caplog: pytest.LogCaptureFixture) -> None:
    installed.distributor.publish(2)
    installed.server.misbehave["releases/2/lists.cache"] = Misbehaviour(stall=2.0)
    assert installed.check().result is Result.UNREACHABLE
    still_release_1(installed, caplog, "stalled after 0 bytes")


def test_server_that_returns_html(installed: World, caplog: pytest.LogCaptureFixture) -> None:
    installed.distributor.publish(2)
    installed.server.misbehave["release.json"] = Misbehaviour(html=True)
    assert installed.check().result is Result.UNREACHABLE
    still_release_1(installed, caplog, "the server sent HTML")


def test_unreachable_distributor(installed: World, caplog: pytest.LogCaptureFixture) -> None:
    outcome = installed.check(url="http://127.0.0.1:9")  # discard: nothing listens
    assert outcome.result is Result.UNREACHABLE
    still_release_1(installed, caplog, "unreachable: http://127.0.0.1:9/release.json")
