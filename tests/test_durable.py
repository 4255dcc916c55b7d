"""copgate.durable: files written whole and renamed into place, with exact permissions."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from copgate.durable import fsync_path, replace_durably, write_new


def test_write_new_holds_the_data_with_exactly_the_mode_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        made = write_new(tmp_path, b"data", prefix=".x-", mode=0o644)
    finally:
        os.umask(old)
    assert made.parent == tmp_path and made.name.startswith(".x-")
    assert made.read_bytes() == b"data"
    assert stat.S_IMODE(made.stat().st_mode) == 0o644


def test_replace_durably_replaces_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "grants.json"
    target.write_bytes(b"old")
    replace_durably(target, b"new", mode=0o600)
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert os.listdir(tmp_path) == ["grants.json"]


def test_a_failed_rename_keeps_the_old_file_and_removes_the_temporary(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.mkdir()  # a directory with a file in it: a file cannot replace it
    (target / "inside").write_bytes(b"")
    with pytest.raises(OSError):
        replace_durably(target, b"new")
    assert os.listdir(tmp_path) == ["taken"]


def test_fsync_path_takes_files_and_directories(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x")
    fsync_path(tmp_path / "f")
    fsync_path(tmp_path)
    with pytest.raises(FileNotFoundError):
        fsync_path(tmp_path / "absent")
