"""provenance.json rides with a release: downloaded when listed, checked, kept beside the cache.

The updater stores it in the release dir with the cache (staged, fsynced,
renamed), the flash copy and boot selection carry it, a release without it
installs as before, and one that differs from its signed hash is refused
with the release in force kept. A kill -9 at its steps leaves a verified
release in force and the next check completes it.
"""

from __future__ import annotations

import logging
import shutil
import signal
from pathlib import Path

import pytest

from copgate.lists.provenance import PROVENANCE, beside, read_provenance_file
from copgate.update import updater as updater_module
from copgate.update.installed import select_at_boot
from copgate.update.updater import Result
from tests.lists.provenance_sample import sample_bytes
from tests.update.conftest import World
from tests.update.distributor import created
from tests.update.test_kill import FOREVER, in_force, leftovers, run_killed_at

PROVENANCE_STEPS = ("provenance-written", "flash:copy-provenance.json")


def publish(world: World, release: int, data: bytes | None = None, **options: object) -> None:
    extra = {PROVENANCE: data or sample_bytes()}
    world.distributor.publish(release, extra=extra, **options)  # type: ignore[arg-type]


def test_the_provenance_is_stored_beside_the_cache_in_ram_and_flash(world: World) -> None:
    publish(world, 1)
    outcome = world.check(flash_copy_interval=0)
    assert (outcome.result, outcome.release) == (Result.INSTALLED, 1)
    assert f"releases/1/{PROVENANCE}" in world.requested()
    for store in (world.ram, world.flash):
        directory = store.current()
        assert directory is not None
        assert (directory / PROVENANCE).read_bytes() == sample_bytes()
    provenance = read_provenance_file(beside(world.settings.lists_path))
    assert provenance is not None and provenance.release == 7


def test_each_release_carries_its_own_and_one_without_drops_the_old(world: World) -> None:
    publish(world, 1)
    world.check()
    second = sample_bytes().replace(b'"release": 7', b'"release": 2')
    publish(world, 2, second, deltas_from=[1])
    assert world.check().via == "delta"
    assert (world.ram.path(2) / PROVENANCE).read_bytes() == second
    assert (world.ram.path(1) / PROVENANCE).read_bytes() == sample_bytes()  # the previous
    world.distributor.publish(3, deltas_from=[2])
    assert world.check().result == Result.INSTALLED
    assert not (world.ram.path(3) / PROVENANCE).exists()
    assert read_provenance_file(beside(world.settings.lists_path)) is None


def test_a_release_without_provenance_installs_as_before(world: World) -> None:
    world.distributor.publish(1)
    assert world.check().result == Result.INSTALLED
    assert not any(PROVENANCE in path for path in world.requested())
    assert read_provenance_file(beside(world.settings.lists_path)) is None


def test_a_provenance_that_differs_from_its_signed_hash_is_refused_and_the_last_kept(
    world: World,
) -> None:
    publish(world, 1)
    world.check()
    publish(world, 2)
    path = f"releases/2/{PROVENANCE}"
    good = world.distributor.files[path]
    world.distributor.files[path] = good.replace(b"erin", b"eve!")  # same size, other bytes
    outcome = world.check()
    assert (outcome.result, outcome.release) == (Result.REFUSED, 1)
    assert "provenance.json has SHA-256" in outcome.line
    assert world.ram.releases() == [1]
    assert leftovers(world.ram) == []
    world.distributor.files[path] = good
    assert world.check().release == 2


def test_one_over_the_cap_is_left_out_and_the_lists_installed(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(updater_module, "MAX_PROVENANCE_BYTES", 100)
    publish(world, 1)
    with caplog.at_level(logging.WARNING, "copgate"):
        outcome = world.check()
    assert (outcome.result, outcome.release) == (Result.INSTALLED, 1)
    assert not any(PROVENANCE in path for path in world.requested())
    assert f"{PROVENANCE} is {len(sample_bytes())} bytes, over 100" in caplog.text


def test_boot_selection_from_flash_brings_the_provenance(world: World) -> None:
    publish(world, 1)
    world.check(flash_copy_interval=0)
    shutil.rmtree(world.settings.ram_dir)  # a reboot empties RAM
    chosen = select_at_boot(world.settings)
    assert chosen is not None and chosen.directory.parent == Path(world.settings.flash_dir)
    assert Path(world.settings.lists_path).parent.resolve() == chosen.directory.resolve()
    assert read_provenance_file(beside(world.settings.lists_path)) is not None


@pytest.mark.parametrize("step", PROVENANCE_STEPS)
def test_kill_at_the_provenance_steps_leaves_a_verified_release_and_recovers(
    world: World, step: str
) -> None:
    publish(world, 1, expires=created(1) + FOREVER)
    assert world.check(flash_copy_interval=0).release == 1
    publish(world, 2, deltas_from=[1], expires=created(2) + FOREVER)
    child = run_killed_at(world, step)
    assert child.returncode == -signal.SIGKILL, (child.stdout, child.stderr)
    assert in_force(world.ram, world) in (1, 2)
    assert in_force(world.flash, world) in (1, 2)
    for store in (world.ram, world.flash):
        directory = store.current()
        assert directory is not None and (directory / PROVENANCE).read_bytes() == sample_bytes()
    recovered = world.check(flash_copy_interval=0)
    assert recovered.result in (Result.INSTALLED, Result.NO_NEWS)
    assert in_force(world.ram, world) == 2 and in_force(world.flash, world) == 2
    for store in (world.ram, world.flash):
        assert (store.path(2) / PROVENANCE).read_bytes() == sample_bytes()
    assert leftovers(world.ram) == [] and leftovers(world.flash) == []
