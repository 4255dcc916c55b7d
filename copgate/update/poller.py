"""The daemon's updater thread and the packet loop's cheap look at what it installed.

``Poller`` runs ``Updater.check`` in a thread beside the packet loop, so a
slow or stalled download never delays a verdict: the loop shares nothing
with it but the file system. Each wait is the interval times a random factor
(``next_wait``), so routers that booted together drift apart instead of
polling in the same second; the first check comes within the jittered part
of an interval after start.

``ReleaseWatch`` is the loop's side: once a second it reads the ``current``
link (one ``readlink``) and says when it names another release, whoever
installed it (the poller, or ``copgate update --now`` in another process).
The loop then opens the new cache and swaps the engine's lists between two
packets (``copgate.daemon.run``).

This module starts a thread; the clock and randomness are the caller's.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

from copgate.daemon import probes
from copgate.update.fetch import Fetcher
from copgate.update.installed import select_at_boot
from copgate.update.model import UpdateSettings
from copgate.update.store import CURRENT
from copgate.update.updater import Outcome, Updater

LOG = logging.getLogger("copgate")
JOIN_TIMEOUT = 5.0
"""Seconds shutdown waits for the thread; a download in progress is not waited for
(the thread is a daemon thread; its staging dir is removed by the next check)."""


def next_wait(settings: UpdateSettings, draw: float) -> float:
    """Seconds until the next check: ``interval`` scaled by ``1 + jitter * (2 draw - 1)``.

    ``draw`` is uniform in [0, 1) (``random.random()``).
    """
    return settings.interval * (1 + settings.jitter * (2 * draw - 1))


def first_wait(settings: UpdateSettings, draw: float) -> float:
    """Seconds from start to the first check: within the jittered part of an interval."""
    return max(1.0, settings.interval * settings.jitter * draw)


class Poller:
    """A thread that checks for releases until ``stop``."""

    def __init__(
        self,
        updater: Updater,
        draw: Callable[[], float],
    ) -> None:
        """``draw``: uniform random in [0, 1) (``random.random``)."""
        self.updater = updater
        self.draw = draw
        self.checks = 0
        """Checks completed (tests wait on it)."""
        self._stop = threading.Event()
        self._now = threading.Event()
        self._thread = threading.Thread(target=self._run, name="copgate-update", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def check_now(self) -> None:
        """Cut the current wait short."""
        self._now.set()

    def stop(self, timeout: float = JOIN_TIMEOUT) -> bool:
        """Ask the thread to end and wait a little; False if a check is still running."""
        self._stop.set()
        self._now.set()
        if self._thread.ident is None:  # never started (the daemon failed to start)
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        settings = self.updater.settings
        wait = first_wait(settings, self.draw())
        self.updater.plan(wait)
        while not self._stop.is_set():
            self._now.wait(wait)
            self._now.clear()
            if self._stop.is_set():
                return
            try:
                report(self.updater.check(), self.updater.clock())
            except Exception:  # a bug: logged, and the next check still comes
                LOG.exception("update: check failed; the release in force stays")
            self.checks += 1
            wait = next_wait(settings, self.draw())
            self.updater.plan(wait)


def report(outcome: Outcome, now: float) -> None:
    """Give ``copgate status`` the check's result (``copgate.daemon.probes``)."""
    probes.report_update(
        {
            "result": outcome.result.value,
            "release": outcome.release,
            "via": outcome.via,
            "line": outcome.line,
            "checked": now,
        }
    )


class ReleaseWatch:
    """Says when the RAM store's ``current`` link names another release."""

    def __init__(self, ram_dir: str | Path) -> None:
        self.link = Path(ram_dir) / CURRENT
        self.seen = self._read()

    def _read(self) -> str | None:
        try:
            return os.readlink(self.link)
        except OSError:
            return None

    def changed(self) -> bool:
        """True once for each change of the link since the last call."""
        now = self._read()
        if now == self.seen or now is None:
            return False
        self.seen = now
        return True


class DaemonUpdates:
    """What the daemon holds for updates: the release chosen at boot, the poller, the watch.

    Made before the daemon opens its lists (``select_at_boot`` points
    ``current`` at the newest verified release first), started with the
    daemon, stopped at shutdown.
    """

    def __init__(
        self,
        settings: UpdateSettings,
        fetcher: Fetcher,
        clock: Callable[[], float],
        draw: Callable[[], float],
    ) -> None:
        chosen = select_at_boot(settings)
        self.release = chosen.release if chosen is not None else None
        self.watch = ReleaseWatch(settings.ram_dir)
        self.poller = Poller(Updater(settings, fetcher, clock), draw)

    def start(self) -> None:
        self.poller.start()

    def changed(self) -> bool:
        """Cheap (one readlink): whether another release was swapped in since the last call."""
        return self.watch.changed()

    def stop(self) -> None:
        if not self.poller.stop():
            LOG.warning("update: a check is still running at shutdown; it is abandoned")
