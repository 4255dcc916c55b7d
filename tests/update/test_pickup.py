"""The daemon side: boot selection, the poller thread, and a new release taken between packets."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from copgate.cli import main
from copgate.daemon import probes
from copgate.daemon.run import Daemon, Options
from copgate.update.fetch import HttpFetcher
from copgate.update.model import UpdateSettings
from copgate.update.poller import Poller, ReleaseWatch, first_wait, next_wait
from copgate.update.state import read_state
from copgate.update.updater import Updater
from tests.update.conftest import World
from tests.update.distributor import created

FOREVER = timedelta(days=3650)


@pytest.fixture
def daemon(world: World) -> Iterator[Daemon]:
    made = Daemon(Options(config=world.config_file(), firewall=False))
    yield made
    made.shutdown()


def blocked(daemon: Daemon, name: str) -> bool:
    return bool(daemon.engine.lists.lookup(name).listed)


def test_the_daemon_starts_on_the_built_in_lists_and_takes_a_new_release_without_a_signal(
    world: World, daemon: Daemon
) -> None:
    assert daemon.updates is not None and daemon.updates.release == 0
    assert blocked(daemon, "site1.example") and not blocked(daemon, "new1.example")
    daemon._housekeeping()
    old = daemon.lists
    assert daemon.lists is old  # nothing changed: nothing reopened
    world.distributor.publish(1)
    world.check()  # as the poller or `copgate update --now` would
    daemon._housekeeping()
    assert daemon.lists is not old and blocked(daemon, "new1.example")
    assert daemon.engine.lists is daemon.lists


def test_the_poller_checks_in_its_thread_and_plans_the_next_check(world: World) -> None:
    world.distributor.publish(1)
    settings = world.distributor.settings(world.base, world.server.url, interval=60, jitter=0.0)
    poller = Poller(Updater(settings, HttpFetcher(time.monotonic), world.clock), lambda: 0.5)
    watch = ReleaseWatch(settings.ram_dir)
    poller.start()
    deadline = time.monotonic() + 10
    while poller.checks < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert poller.stop()
    assert world.ram.current_link() == "1" and watch.changed() and not watch.changed()
    assert read_state(world.ram.root).next_check == world.clock.now + 60
    shown = probes.last_update()  # what `copgate status` shows as the last check
    assert shown is not None and shown["result"] == "installed" and shown["release"] == 1
    probes.forget()


def test_waits_are_jittered_around_the_interval() -> None:
    settings = UpdateSettings("https://a.example", (), interval=1000, jitter=0.25)
    assert next_wait(settings, 0.0) == 750 and next_wait(settings, 0.5) == 1000
    assert 1249 < next_wait(settings, 0.9999) <= 1250
    assert first_wait(settings, 0.0) == 1.0 and first_wait(settings, 0.5) == 125


def test_update_now_prints_what_it_did_and_status_shows_it(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(world.config_file())
    world.distributor.publish(1, expires=created(1) + FOREVER)
    assert main(["update", "--now", "--config", config]) == 0
    assert capsys.readouterr().out.startswith("update: installed release 1 via full download")
    assert main(["update", "--now", "--config", config]) == 0
    assert capsys.readouterr().out.startswith("update: no news: release 1 is current")
    assert main(["update", "--status", "--config", config]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"distributor: {world.server.url}"
    assert lines[1].startswith(f"release in force: 1 ({world.ram.path(1)}), built 2026-11-01")
    assert lines[2].startswith("last check: ") and "update: no news" in lines[2]
    assert lines[3] == "next check: not planned (is the daemon running?)"


def test_update_now_says_why_it_refused_and_exits_1(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.distributor.publish(1, expires=created(1) + timedelta(hours=1))  # long expired
    assert main(["update", "--now", "--config", str(world.config_file())]) == 1
    out = capsys.readouterr().out
    assert out.startswith("update: refused: release.json: release 1 expired at")
    assert "keeping release 0" in out


def test_a_reload_that_changes_the_update_section_says_it_needs_a_restart(
    world: World, daemon: Daemon, caplog: pytest.LogCaptureFixture
) -> None:
    world.config_file(interval=600)
    with caplog.at_level(logging.WARNING, "copgate"):
        assert daemon.reload()
    assert "reload: [update] changes take effect when copgate restarts" in caplog.text
