"""kill -9 at every step of an update: a complete, verified release is always in force.

``copgate update --now`` runs in a child process told to SIGKILL itself at
one named step (``COPGATE_UPDATE_KILL_AT``). After each kill the RAM and
flash stores' ``current`` must name a release that verifies whole, and the
next check must finish the update and leave no leftovers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta

import pytest

from copgate.update.installed import load_roots, verify_dir
from copgate.update.store import Store
from copgate.update.updater import Result
from tests.conftest import PROJECT_ROOT
from tests.update.conftest import World
from tests.update.distributor import created

DELTA_STEPS = (
    "fetched-manifest",
    "staged",
    "delta-reading",
    "delta-applied",
    "cache-written",
    "meta-written",
    "ram:commit-fsynced",
    "committed",
    "ram:swap-linked",
    "swapped",
    "pruned",
    "flash:copy-lists.cache",
    "flash:copy-release.json.sig",
    "flash:copy-keyset.json.sig",
    "flash:commit-fsynced",
    "flash:swap-linked",
    "flash-copied",
)
"""Every step an update by delta passes, in order (a full download adds ``downloading``)."""
FOREVER = timedelta(days=3650)
"""The child runs on the real clock: the test releases must not expire under it."""


def run_killed_at(world: World, step: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "COPGATE_UPDATE_KILL_AT": step}
    command = [
        sys.executable,
        "-m",
        "copgate",
        "update",
        "--now",
        "--config",
        str(world.config_file(flash_copy_interval=0)),
    ]
    return subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=60)


def in_force(store: Store, world: World) -> int:
    """The release ``store``'s current names, verified whole (it must verify)."""
    directory = store.current()
    assert directory is not None
    return verify_dir(directory, load_roots(world.settings)).release


def leftovers(store: Store) -> list[str]:
    return [p.name for p in store.root.iterdir() if p.name.startswith((".staging", ".current"))]


@pytest.mark.parametrize(
    ("step", "delta"), [*((s, True) for s in DELTA_STEPS), ("downloading", False)]
)
def test_kill_at_each_step_leaves_a_verified_release_and_the_next_run_recovers(
    world: World, step: str, delta: bool
) -> None:
    distributor = world.distributor
    distributor.publish(1, expires=created(1) + FOREVER)
    assert world.check(flash_copy_interval=0).release == 1
    distributor.publish(2, deltas_from=[1] if delta else [], expires=created(2) + FOREVER)
    child = run_killed_at(world, step)
    assert child.returncode == -signal.SIGKILL, (child.stdout, child.stderr)
    assert in_force(world.ram, world) in (1, 2)
    assert in_force(world.flash, world) in (1, 2)
    recovered = world.check(flash_copy_interval=0)
    assert recovered.result in (Result.INSTALLED, Result.NO_NEWS)
    assert in_force(world.ram, world) == 2 and in_force(world.flash, world) == 2
    assert leftovers(world.ram) == [] and leftovers(world.flash) == []
