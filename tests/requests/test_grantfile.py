"""The grants file: written whole, read back, watched for changes, refused when bad."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from copgate.policy.grants import Grant
from copgate.requests.grantfile import GrantWatch, add_grant, read_grants, write_grants
from copgate.requests.store import StoreError

NOW = 1_800_000_000.0


def test_grants_round_trip_and_expired_ones_are_dropped_on_write(tmp_path: Path) -> None:
    path = tmp_path / "grants.json"
    write_grants(
        path,
        [Grant("a.example", "kids", NOW + 10, "3"), Grant("old.example", "kids", NOW - 1)],
        NOW,
    )
    assert list(read_grants(path)) == [Grant("a.example", "kids", NOW + 10, "3")]


def test_a_new_grant_replaces_the_one_for_the_same_group_and_name(tmp_path: Path) -> None:
    path = tmp_path / "grants.json"
    add_grant(path, Grant("a.example", "kids", NOW + 10), NOW)
    add_grant(path, Grant("a.example", "teens", NOW + 10), NOW)
    add_grant(path, Grant("a.example", "kids", None), NOW)
    assert sorted(list(read_grants(path)), key=lambda g: g.group) == [
        Grant("a.example", "kids", None),
        Grant("a.example", "teens", NOW + 10),
    ]


def test_a_missing_file_is_no_grants_and_a_bad_one_names_itself(tmp_path: Path) -> None:
    path = tmp_path / "grants.json"
    assert list(read_grants(path)) == []
    path.write_text('{"grants": [{"group": "kids"}]}')
    with pytest.raises(StoreError, match=r"grants\.json: not a grants file"):
        read_grants(path)


def test_the_watch_reports_each_change_once(tmp_path: Path) -> None:
    path = tmp_path / "grants.json"
    watch = GrantWatch(path)
    first = watch.changed()
    assert first is not None and not first
    assert watch.changed() is None
    add_grant(path, Grant("a.example", "kids", None), NOW)
    changed = watch.changed()
    assert changed is not None and changed.find("kids", "a.example", NOW) is not None
    assert watch.changed() is None
    path.write_text("garbage")
    os.utime(path, ns=(1, 1))
    with pytest.raises(StoreError):
        watch.changed()
    assert watch.changed() is None
