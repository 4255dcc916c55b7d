"""copgate.update.installed: at boot the newest verified release among RAM, flash and built-in."""

from __future__ import annotations

import logging
import shutil

import pytest

from copgate.update.installed import select_at_boot
from tests.update.conftest import World


def test_without_downloads_the_built_in_lists_are_in_force(world: World) -> None:
    chosen = select_at_boot(world.settings)
    assert chosen is not None and chosen.release == 0
    assert world.ram.current_link() == str(world.base / "builtin")


def test_after_a_reboot_the_copy_on_flash_is_used(world: World) -> None:
    world.distributor.publish(1)
    world.check()
    world.distributor.publish(2)
    world.check()  # within a day of the flash copy: RAM only
    shutil.rmtree(world.ram.root)  # RAM is lost at reboot
    chosen = select_at_boot(world.settings)
    assert chosen is not None and chosen.release == 1
    assert world.ram.current_link() == str(world.flash.path(1))


def test_the_newest_in_ram_wins_when_it_verifies(world: World) -> None:
    world.distributor.publish(1)
    world.check()
    world.distributor.publish(2)
    world.check()
    world.ram.swap("1")  # as if a crash left the link behind
    chosen = select_at_boot(world.settings)
    assert chosen is not None and chosen.release == 2 and world.ram.current_link() == "2"


def test_a_corrupted_release_is_skipped_for_the_next_newest(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.distributor.publish(1)
    world.check()
    world.distributor.publish(2)
    world.check()
    cache = world.ram.path(2) / "lists.cache"
    data = bytearray(cache.read_bytes())
    data[100] ^= 0xFF
    cache.write_bytes(bytes(data))
    (world.ram.path(1) / "release.json.sig").unlink()
    with caplog.at_level(logging.ERROR, "copgate"):
        chosen = select_at_boot(world.settings)
    assert chosen is not None and chosen.release == 1
    assert chosen.directory == world.flash.path(1)
    assert "release 2 in " in caplog.text and "has SHA-256" in caplog.text


def test_with_nothing_verified_the_link_is_left_and_the_error_says_where(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    (world.base / "builtin" / "lists.cache").write_bytes(b"garbage")
    with caplog.at_level(logging.ERROR, "copgate"):
        assert select_at_boot(world.settings) is None
    assert world.ram.current_link() is None
    assert "no verified release in" in caplog.text
