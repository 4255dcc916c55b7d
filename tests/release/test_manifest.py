"""release.json and keyset.json: round trips, and every malformed field refused by name."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from copgate.release.errors import BadManifest
from copgate.release.manifest import (
    MAX_MANIFEST_BYTES,
    Delta,
    keyset_json,
    manifest_json,
    read_keyset,
    read_manifest,
    read_time,
)
from tests.release.helpers import CREATED, RELEASE_KEY, RELEASE_KEY_2, keyset, manifest

DELTA = Delta(source=6, path="deltas/6-7.delta", size=10, sha256="ab" * 32, target="lists.cache")


def doc() -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(manifest_json(manifest(deltas=(DELTA,))))
    return parsed


def encoded(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()


def test_a_manifest_round_trips() -> None:
    original = manifest(deltas=(DELTA,))
    assert read_manifest(manifest_json(original), "release.json") == original
    assert original.delta_from(6) == DELTA
    assert original.delta_from(5) is None


def test_a_key_set_round_trips() -> None:
    original = keyset(version=3, keys=(RELEASE_KEY, RELEASE_KEY_2), revoked=(RELEASE_KEY,))
    parsed = read_keyset(keyset_json(original), "keyset.json")
    assert parsed == original
    assert parsed.trusted() == (RELEASE_KEY_2.public_key,)


def test_unknown_top_level_keys_are_ignored() -> None:
    document = doc()
    document["mirrors"] = ["https://example.net/"]
    assert read_manifest(encoded(document), "release.json").release == 7


def test_times_with_an_offset_are_read_as_utc() -> None:
    assert read_time("2026-12-01T01:00:00+01:00", "t") == CREATED


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(format=2), "format 2"),
        (lambda d: d.pop("format"), "format None"),
        (lambda d: d.update(format="1"), "format '1'"),
        (lambda d: d.pop("release"), "missing field 'release'"),
        (lambda d: d.update(release=True), "'release' must be a int"),
        (lambda d: d.update(release=0), "'release' = 0"),
        (lambda d: d.update(release=2**64), "'release'"),
        (lambda d: d.update(created="yesterday"), "not an RFC 3339"),
        (lambda d: d.update(created="2026-12-01"), "needs a date, a time and a zone"),
        (lambda d: d.update(created="2026-12-01T00:00:00"), "zone"),
        (lambda d: d.update(expires=d["created"]), "not after 'created'"),
        (lambda d: d.update(artefacts={}), "no 'lists.cache'"),
        (lambda d: d["artefacts"]["lists.cache"].update(path="../../etc/passwd"), "relative path"),
        (lambda d: d["artefacts"]["lists.cache"].update(path="/etc/passwd"), "relative path"),
        (lambda d: d["artefacts"]["lists.cache"].update(path="a\\b"), "relative path"),
        (lambda d: d["artefacts"]["lists.cache"].update(size=-1), "'size' = -1"),
        (lambda d: d["artefacts"]["lists.cache"].update(sha256="AB" * 32), "sha256"),
        (lambda d: d["artefacts"]["lists.cache"].pop("sha256"), "missing field 'sha256'"),
        (lambda d: d.update(deltas={}), "'deltas' must be a list"),
        (lambda d: d["deltas"][0].update({"from": 7}), "not older than 7"),
        (lambda d: d["deltas"][0].update(target="other"), "not an artefact"),
        (lambda d: d["deltas"][0].update(path="deltas/../../x"), r"deltas\[0\]"),
        (lambda d: d.pop("keyset"), "missing field 'keyset'"),
    ],
)
def test_a_malformed_manifest_is_refused_naming_the_field(change: Any, message: str) -> None:
    document = doc()
    change(document)
    with pytest.raises(BadManifest, match=message):
        read_manifest(encoded(document), "release.json")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"format": 1, "format": 1}', "duplicate key 'format'"),
        (b" " * (MAX_MANIFEST_BYTES + 1), "more than"),
        (b"<html>404</html>", "not JSON"),
    ],
)
def test_garbage_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(BadManifest, match=message):
        read_manifest(data, "release.json")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(keys=[]), "1 to 64 keys"),
        (lambda d: d.update(keys=[1]), r"keys\[0\] is not a string"),
        (lambda d: d.update(keys=["AAAA"]), r"keys\[0\]: public key of 3 bytes"),
        (lambda d: d.update(revoked=["XYZ"]), r"revoked\[0\]"),
        (lambda d: d.update(version=0), "'version' = 0"),
        (lambda d: d.update(format=9), "format 9"),
    ],
)
def test_a_malformed_key_set_is_refused_naming_the_field(change: Any, message: str) -> None:
    document: dict[str, Any] = json.loads(keyset_json(keyset()))
    change(document)
    with pytest.raises(BadManifest, match=message):
        read_keyset(encoded(document), "keyset.json")


@given(st.binary(max_size=300))
def test_random_bytes_give_a_manifest_or_bad_manifest_never_a_crash(data: bytes) -> None:
    with contextlib.suppress(BadManifest):
        read_manifest(data, "release.json")


@given(st.integers(min_value=0, max_value=400))
def test_every_truncation_of_a_manifest_is_refused(cut: int) -> None:
    data = manifest_json(manifest(deltas=(DELTA,)))
    if cut < len(data.rstrip()):
        with pytest.raises(BadManifest):
            read_manifest(data[:cut], "release.json")
