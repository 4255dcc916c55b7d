"""copgate.update.updater: a good release is installed, by delta when it can; no news is cheap."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from copgate.lists.cache import ListCache
from copgate.release.signify import PublicKey
from copgate.update.installed import load_roots, verify_dir
from copgate.update.model import UpdateSettings
from copgate.update.state import age_text, read_state
from copgate.update.updater import Result
from tests.update.conftest import World
from tests.update.distributor import key


def listed(settings: UpdateSettings, name: str) -> bool:
    """Whether the cache the daemon would open lists ``name``."""
    with ListCache.open(settings.lists_path) as cache:
        return bool(cache.lookup(name).listed)


def test_the_first_release_is_fetched_whole_verified_and_put_in_force(world: World) -> None:
    world.distributor.publish(1)
    outcome = world.check()
    assert outcome.result is Result.INSTALLED and outcome.release == 1
    assert outcome.via == "full download"
    assert outcome.line.startswith("update: installed release 1 via full download")
    assert world.ram.current_link() == "1"
    assert verify_dir(world.ram.path(1), _roots(world)).release == 1
    assert listed(world.settings, "new1.example")
    assert world.requested() == [
        "release.json",
        "release.json.sig",
        "keyset.json",
        "keyset.json.sig",
        "releases/1/lists.cache",
    ]


def test_a_delta_from_the_release_in_force_is_used_and_the_previous_release_kept(
    world: World,
) -> None:
    world.distributor.publish(1)
    world.check()
    world.distributor.publish(2, deltas_from=[1])
    world.requested()
    outcome = world.check()
    assert (outcome.result, outcome.release, outcome.via) == (Result.INSTALLED, 2, "delta")
    # The key set is unchanged: not fetched again; the full cache is never asked for.
    assert world.requested() == ["release.json", "release.json.sig", "deltas/1-2.delta"]
    assert listed(world.settings, "new2.example")
    assert world.ram.releases() == [2, 1]
    world.distributor.publish(3, deltas_from=[2])
    world.check()
    assert world.ram.releases() == [3, 2]  # the one before the previous is pruned


def test_a_delta_that_does_not_build_the_signed_file_falls_back_to_the_whole_file(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.distributor.publish(1)
    world.check()
    world.distributor.publish(2, deltas_from=[1])
    delta = bytearray(world.distributor.files["deltas/1-2.delta"])
    delta[-5] ^= 0xFF
    world.distributor.files["deltas/1-2.delta"] = bytes(delta)
    with caplog.at_level(logging.WARNING, "copgate"):
        outcome = world.check()
    assert (outcome.result, outcome.via) == (Result.INSTALLED, "full download")
    assert "update: delta from 1 not used" in caplog.text
    assert listed(world.settings, "new2.example")


def test_an_unchanged_manifest_is_no_news_through_a_conditional_get(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.distributor.publish(1)
    world.check()
    world.server.requests.clear()
    with caplog.at_level(logging.INFO, "copgate"):
        outcome = world.check()
    assert outcome.result is Result.NO_NEWS and outcome.release == 1
    (path, headers), *rest = world.server.requests
    assert path == "release.json" and "If-None-Match" in headers and rest == []
    assert "update: no news: release 1 is current (built 23h 0m ago)" in caplog.text
    state = read_state(Path(world.settings.ram_dir))
    assert state.result == outcome.line and state.last_check == world.clock.now


def test_the_same_release_again_without_validators_is_no_news(world: World) -> None:
    world.distributor.publish(1)
    world.check()
    (Path(world.settings.ram_dir) / "state.json").unlink()  # no ETag remembered
    assert world.check().result is Result.NO_NEWS


def test_a_new_key_set_signed_by_the_root_is_accepted_and_rotates_the_signer(
    world: World,
) -> None:
    distributor = world.distributor
    distributor.publish(1)
    world.check()
    distributor.signer = key(7)
    distributor.publish_keyset(2, keys=[key(7)])
    distributor.publish(2)
    outcome = world.check()
    assert outcome.result is Result.INSTALLED and outcome.release == 2
    assert b'"version": 2' in (world.ram.path(2) / "keyset.json").read_bytes()


def test_the_first_release_is_copied_to_flash_and_the_next_only_after_the_interval(
    world: World,
) -> None:
    world.distributor.publish(1)
    world.check()
    assert world.flash.releases() == [1] and world.flash.current_link() == "1"
    world.distributor.publish(2)
    world.clock.now += 3600
    world.check()
    assert world.flash.releases() == [1]  # a day between flash writes
    world.distributor.publish(3)
    world.clock.now += 86400
    world.check()
    assert world.flash.releases() == [3]  # flash keeps only its newest copy


def test_a_release_over_the_size_budget_is_refused_before_it_is_fetched(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.distributor.publish(1)
    world.requested()
    with caplog.at_level(logging.ERROR, "copgate"):
        outcome = world.check(max_size=1000)
    assert outcome.result is Result.REFUSED
    assert "over the budget of 1000 (option 'max_size' in section 'update')" in outcome.line
    assert "releases/1/lists.cache" not in world.requested()
    assert world.ram.current_link() == str(world.base / "builtin")


def test_age_text_reads_like_a_person_would_say_it() -> None:
    assert [age_text(s) for s in (5, 125, 7300, 90000 * 2)] == ["5s", "2m 5s", "2h 1m", "2d 2h"]
    assert age_text(-3) == "0s"


def _roots(world: World) -> tuple[PublicKey, ...]:
    return load_roots(world.settings)
