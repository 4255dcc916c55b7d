"""What the daemon's lab tests share: copgate running in the lab's gateway.

``running_copgate(lab)`` compiles the lab's lists, writes the lab's school
config (``copgate.lab.gateway``), starts ``copgate run --verbose`` in the
gateway namespace and yields a ``Gateway``; leaving stops the daemon with
SIGTERM and fails if it did not exit with status 0. A ``Gateway`` reads the
daemon's log (every decision, with its client address and port, and at
debug level every packet held while a hello was incomplete), asks for its
counters (SIGUSR1), reloads it with a new config (SIGHUP) and reads the
packet counters of copgate's iptables rules.
"""

from __future__ import annotations

import contextlib
import json
import re
import signal
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from copgate.lab.gateway import compile_lab_lists, start_copgate, write_config
from copgate.lab.processes import LabProcess
from copgate.lab.topology import Lab

LOG_WAIT = 5.0
"""Seconds a test waits for the daemon to log what a signal asked for."""
POLL = 0.02

_DECISION = re.compile(
    r"^\S+ \S+ copgate INFO (?P<verdict>allow|block|safesearch) (?P<kind>dns|tls|quic|http)"
    r" (?P<name>\(no name\)|\S+) client=(?P<client>\S+) group=(?P<group>\S+) rule=(?P<rule>\S+)",
    re.M,
)
_PENDING = re.compile(r"^\S+ \S+ copgate DEBUG pending (?P<client>\S+) > (?P<server>\S+):", re.M)
_COUNTERS = re.compile(r"^\S+ \S+ copgate INFO counters (?P<json>\{.*\})$", re.M)
_RULE = re.compile(r"^\[(\d+):\d+\] -A COPGATE(?:-REFUSE)? (.*)$", re.M)


class Decision(NamedTuple):
    """One decision line of the daemon's log."""

    verdict: str
    kind: str
    name: str
    client: str
    """``192.0.2.11:40000`` or ``[2001:db8:1::11]:40000``."""
    group: str
    rule: str

    @property
    def client_address(self) -> str:
        return self.client.rpartition(":")[0].strip("[]")


def decisions(text: str) -> list[Decision]:
    """Every decision logged in ``text``."""
    return [
        Decision(*m.group("verdict", "kind", "name", "client", "group", "rule"))
        for m in _DECISION.finditer(text)
    ]


def pending(text: str) -> list[tuple[str, str]]:
    """(client, server) of every packet logged as held for the rest of its hello."""
    return [(m.group("client"), m.group("server")) for m in _PENDING.finditer(text)]


@dataclass(slots=True)
class Gateway:
    """copgate running in the lab's gateway namespace."""

    lab: Lab
    daemon: LabProcess
    lists: tuple[Path, Path]
    config: Path

    def mark(self) -> int:
        """A place in the log: ``log(since=mark)`` is what came after it."""
        return len(self.daemon.log_text())

    def log(self, since: int = 0) -> str:
        return self.daemon.log_text()[since:]

    def wait_log(self, pattern: str, since: int, timeout: float = LOG_WAIT) -> re.Match[str]:
        """The first match of ``pattern`` logged after ``since``; AssertionError on timeout."""
        compiled = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        while True:
            found = compiled.search(self.log(since))
            if found:
                return found
            if time.monotonic() > deadline or not self.daemon.alive():
                raise AssertionError(
                    f"copgate did not log {pattern!r} (alive: {self.daemon.alive()}):\n"
                    + self.log(since)[-3000:]
                )
            time.sleep(POLL)

    def wait_safe_endpoints(self) -> None:
        """Wait until the daemon's resolver has an answer for every safe-search endpoint."""
        self.wait_log(r"safe-search endpoints: (\d+) of \1 answered", 0)

    def decisions(self, since: int = 0) -> list[Decision]:
        return decisions(self.log(since))

    def signal(self, sig: int) -> None:
        """Signal the daemon (only the process this lab started)."""
        self.daemon.popen.send_signal(sig)

    def counters(self) -> dict[str, Any]:
        """The daemon's counters, as it logs them on SIGUSR1."""
        since = self.mark()
        self.signal(signal.SIGUSR1)
        found = self.wait_log(_COUNTERS.pattern, since)
        counters: dict[str, Any] = json.loads(found.group("json"))
        return counters

    def write_config(
        self, extra: str = "", *, block: Mapping[str, Sequence[str]] | None = None
    ) -> None:
        write_config(self.lab.workdir, self.lists, extra, block=block)

    def reload(self, extra: str = "", *, block: Mapping[str, Sequence[str]] | None = None) -> str:
        """Write the lab config with ``extra`` and ``block``, SIGHUP, wait: the log since."""
        self.write_config(extra, block=block)
        return self.sighup(expect="reloaded: ")

    def sighup(self, expect: str) -> str:
        """SIGHUP and wait until the daemon logs ``expect``; the log since the signal."""
        since = self.mark()
        self.signal(signal.SIGHUP)
        self.wait_log(expect, since)
        return self.log(since)

    def rule_packets(self, comment: str, *, family: int = 4, source: str | None = None) -> int:
        """Packets counted by copgate's rules with this comment (and source, if given)."""
        tool = "iptables-save" if family == 4 else "ip6tables-save"
        saved = self.lab.run(self.lab.gateway, [tool, "-c", "-t", "filter"], check=True).stdout
        total = 0
        for count, rule in _RULE.findall(saved):
            if f'--comment "copgate: {comment}"' not in rule:
                continue
            if source is not None and f"-s {source}" not in rule:
                continue
            total += int(count)
        return total


@contextlib.contextmanager
def running_copgate(lab: Lab, extra: str = "") -> Iterator[Gateway]:
    """copgate serving the lab's school config; stopped (and checked) on leaving."""
    lists = compile_lab_lists(lab.workdir)
    with serving(lab, write_config(lab.workdir, lists, extra), lists) as gateway:
        yield gateway


@contextlib.contextmanager
def serving(lab: Lab, config: Path, lists: tuple[Path, Path]) -> Iterator[Gateway]:
    """copgate serving ``config`` (with ``lists``); stopped, and its exit checked, on leaving."""
    daemon = start_copgate(lab, config)
    try:
        yield Gateway(lab, daemon, lists, config)
    finally:
        if daemon.alive():
            status = lab.stop(daemon)
            if status != 0:
                raise AssertionError(f"copgate exited with {status}:\n{daemon.log_text()[-3000:]}")
