"""Disk full and read-only storage: the update is not stored, the release in force stays.

The RAM store is a real tmpfs mounted by the test (as root, as in CI): small
enough that release 2 does not fit beside release 1, or remounted read-only.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from copgate.update.installed import load_roots, verify_dir
from copgate.update.updater import Result
from tests.conftest import IN_CI
from tests.update.conftest import World
from tests.update.distributor import names_of

BIG = names_of(2) + tuple(f"extra{index}.example" for index in range(20000))
"""Release 2's names: a cache of about 130 KB, more than the tiny tmpfs has left."""


def mount_tmpfs(where: Path, size: str) -> None:
    if os.geteuid() != 0:
        message = "mounting a tmpfs needs root"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], check=True)


@pytest.fixture
def tiny_ram(world: World) -> Iterator[World]:
    mount_tmpfs(world.ram.root, "64k")
    try:
        yield world
    finally:
        subprocess.run(["umount", str(world.ram.root)], check=True)


def test_disk_full_keeps_the_release_in_force_and_cleans_up(
    tiny_ram: World, caplog: pytest.LogCaptureFixture
) -> None:
    world = tiny_ram
    world.distributor.publish(1)
    assert world.check().release == 1
    world.distributor.publish(2, names=BIG)
    with caplog.at_level(logging.ERROR, "copgate"):
        outcome = world.check()
    assert outcome.result is Result.FAILED and outcome.release == 1
    assert "not stored:" in outcome.line and "disk full" in outcome.line
    assert "keeping release 1" in outcome.line and outcome.line in caplog.text
    assert world.ram.current_link() == "1"
    assert verify_dir(world.ram.path(1), load_roots(world.settings)).release == 1
    assert sorted(p.name for p in world.ram.root.iterdir()) == [
        ".lock",
        "1",
        "current",
        "state.json",
    ]
    # Once there is room (the distributor shrinks the release), the next check installs it.
    world.distributor.publish(3)
    assert world.check().release == 3


def test_read_only_storage_keeps_the_release_in_force(
    tiny_ram: World, caplog: pytest.LogCaptureFixture
) -> None:
    world = tiny_ram
    world.distributor.publish(1)
    world.check()
    subprocess.run(["mount", "-o", "remount,ro", str(world.ram.root)], check=True)
    world.distributor.publish(2)
    with caplog.at_level(logging.ERROR, "copgate"):
        outcome = world.check()
    assert outcome.result is Result.FAILED
    assert "read-only storage; keeping release 1" in outcome.line
    assert world.ram.current_link() == "1"
    assert verify_dir(world.ram.path(1), load_roots(world.settings)).release == 1


def test_a_flash_that_cannot_be_written_does_not_stop_the_install(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    mount_tmpfs(world.flash.root, "64k")
    try:
        subprocess.run(["mount", "-o", "remount,ro", str(world.flash.root)], check=True)
        world.distributor.publish(1)
        with caplog.at_level(logging.WARNING, "copgate"):
            outcome = world.check()
        assert outcome.result is Result.INSTALLED and world.ram.current_link() == "1"
        assert "release 1 not copied to flash:" in caplog.text
        assert "read-only storage" in caplog.text
    finally:
        subprocess.run(["umount", str(world.flash.root)], check=True)
