"""A reload's two halves: everything read and checked first, then the rules applied aside.

``prepare`` loads the new config, opens its lists, reads the timezone and
builds the firewall spec: every step that can fail, before anything the
daemon runs is touched. Any failure, of any kind, is logged and gives None:
the running config and lists stay in force.

Then the rules are applied beside the packet loop, so that a reload never
stalls a verdict.
``iptables-restore`` can take seconds on a loaded router (its timeout is
30 s), and every packet in the queue would wait for it if the loop ran it.
``FirewallWorker`` runs each apply in a thread; the loop keeps judging and
learns that an apply is done when the worker's pipe becomes readable, then
``collect``s the outcome and logs it.

Invariants:
- at most one apply runs at a time, and at most one waits: a reload that
  comes while one is running replaces the waiting spec, so the last
  config's rules are the ones that end up in force;
- every apply started is reported by ``collect`` exactly once, with the
  exception it raised, if any;
- after ``close`` returns, no apply is running (shutdown removes the rules
  only after that, so a late apply cannot put them back).

This module never decides which rules to apply; ``copgate.daemon.run``
hands it the spec and the function that applies it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from copgate.config.load import reload_config
from copgate.daemon.engine import IpAddress
from copgate.daemon.firewall_spec import firewall_spec
from copgate.edges.localtz import LocalTz, read_local_tz
from copgate.errors import CopgateError
from copgate.firewall import FirewallSpec
from copgate.lists.listset import ListSet
from copgate.policy.model import Config
from copgate.policy.tz import PosixTz

LOG = logging.getLogger("copgate")
JOIN_TIMEOUT = 65.0
"""Seconds ``close`` waits for an apply in progress: two iptables runs of 30 s, and some."""


@dataclass(frozen=True, slots=True)
class Prepared:
    """A new config with everything it needs, read and checked, not yet in force."""

    config: Config
    lists: ListSet
    """Open: the caller closes the old ones once it has swapped."""
    tz: PosixTz
    spec: FirewallSpec | None
    """The rules for ``config``; None when the daemon does not manage the firewall."""


def prepare(
    path: Path, running: Config, *, templates_dir: Path | None, queue_num: int | None
) -> Prepared | None:
    """The config at ``path`` ready to swap in, or None (logged) if anything is refused.

    ``queue_num`` None: no firewall spec is built. Errors copgate raises on
    purpose are refusals (one line); anything else propagates, for the
    caller to log with its traceback.
    """
    try:
        config, lines = reload_config(path, running, templates_dir=templates_dir)
    except CopgateError as exc:  # e.g. a malformed site-content.toml (a ConfigError)
        LOG.error("reload refused: %s; the running config stays in force", exc)
        return None
    for line in lines:
        LOG.warning("reload: %s", line)
    if config is running:  # reload_config's way of saying the file has errors
        LOG.error("reload refused: the running config stays in force")
        return None
    try:
        lists = ListSet.open(config.settings.lists)
    except CopgateError as exc:
        LOG.error("reload refused: %s; the running lists stay in force", exc)
        return None
    try:
        tz = local_tz(config).tz
        spec = firewall_spec(config, queue_num) if queue_num is not None else None
    except BaseException:
        lists.close()
        raise
    return Prepared(config, lists, tz, spec)


def unserved(config: Config, served: frozenset[IpAddress]) -> list[IpAddress]:
    """The config's block-page addresses that no listener serves (listeners are bound at start)."""
    settings = config.settings
    wanted = (settings.blockpage_ipv4, settings.blockpage_ipv6)
    return [address for address in wanted if address is not None and address not in served]


def local_tz(config: Config) -> LocalTz:
    """The zone time windows are read in: the config's, /etc/TZ or /etc/localtime (logged)."""
    local = read_local_tz(config.settings.timezone)
    for problem in local.problems:
        LOG.warning("timezone: %s", problem)
    return local


@dataclass(frozen=True, slots=True)
class Applied:
    """One apply's outcome."""

    spec: FirewallSpec
    error: Exception | None
    """None when the rules are in force."""


class FirewallWorker:
    """A thread that applies firewall specs one after another; the loop polls its pipe."""

    def __init__(self, apply: Callable[[FirewallSpec], None]) -> None:
        self._apply = apply
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)
        self._lock = threading.Lock()
        self._waiting: FirewallSpec | None = None
        self._thread: threading.Thread | None = None
        self._done: list[Applied] = []

    def fileno(self) -> int:
        """Readable when an apply has finished: then call ``collect``."""
        return self._read

    @property
    def busy(self) -> bool:
        with self._lock:
            return self._thread is not None

    def submit(self, spec: FirewallSpec) -> None:
        """Apply ``spec`` after the apply in progress (replacing any that waits)."""
        with self._lock:
            self._waiting = spec
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="copgate-firewall", daemon=True
                )
                self._thread.start()

    def collect(self) -> list[Applied]:
        """The applies finished since the last call, in order."""
        try:
            while os.read(self._read, 512):
                pass
        except BlockingIOError:
            pass
        with self._lock:
            done, self._done = self._done, []
        return done

    def close(self, timeout: float = JOIN_TIMEOUT) -> bool:
        """Drop what waits, wait for the apply in progress; False if it did not finish."""
        with self._lock:
            self._waiting = None
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
        if thread is not None and thread.is_alive():
            return False  # the pipe stays open: the thread may still write to it
        os.close(self._read)
        os.close(self._write)
        return True

    def _run(self) -> None:
        while True:
            with self._lock:
                spec, self._waiting = self._waiting, None
                if spec is None:
                    self._thread = None
                    return
            error: Exception | None = None
            try:
                self._apply(spec)
            except Exception as exc:  # reported to the loop, which logs it
                error = exc
            with self._lock:
                self._done.append(Applied(spec, error))
            try:
                os.write(self._write, b"!")
            except OSError:  # the pipe is full (the loop wakes anyway) or closed
                LOG.debug("firewall worker: wake-up not written")
