"""The daemon's status: the SIGUSR1 counters, and the report ``copgate status`` shows.

``status_counters`` is one JSON object of every counter worth watching: the
engine's counters (``Counters.as_dict``: packets, verdicts, evasion by kind,
untrusted and bad-checksum packets...), the flows held undecided and the
blocked flows remembered, both queues' own and kernel counts (``handled``,
``verdict_failures``, ``enobufs``, ``kernel_dropped``, ``user_dropped``,
``queue_total``), the injector's, the block page's and the resolver's, and
the loop's: handler failures and log lines left out by the rate limit. The
lab reads it (``tests.lab.daemon_lab.Gateway.counters``).

``status_report`` wraps it for ``copgate status``: uptime, config, lists and
their age, the updater's last result and flow offloading (``probes``), and a
queue summary (``queue_summary``).

It only reads counters; it never resets one.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from copgate import __version__
from copgate.daemon.counters import Counters
from copgate.daemon.probes import UNKNOWN
from copgate.edges.blockpage import BlockPageServer, BlockPageStats
from copgate.edges.inject import Injector
from copgate.edges.queue import QueueEdge
from copgate.edges.resolver import SafeResolver
from copgate.lists.listset import ListSet
from copgate.policy.model import Config

BLOCKPAGE_COUNTS = tuple(field.name for field in dataclasses.fields(BlockPageStats))
"""``served``, ``refused``, ``timed_out``, ``evicted``: every count the servers keep."""


class Loop(NamedTuple):
    """The event loop's own counts."""

    handler_failures: int
    log_suppressed: int


def status_counters(
    counters: Counters,
    flows_held: int,
    blocked_flows: int,
    injector: Injector,
    queues: Sequence[QueueEdge],
    blockpages: Sequence[BlockPageServer],
    loop: Loop,
    resolver: SafeResolver | None,
) -> dict[str, object]:
    """The status object: the engine's counters first (with the keys the lab
    reads: ``packets``, ``failures``, ``malformed``, ``pending``, ``verdicts``),
    then the injector's, the flows held and blocked, the queues' and the loop's."""
    return {
        **counters.as_dict(),
        "injected": injector.sent,
        "inject_failed": injector.failed,
        "inject_refused": injector.refused,
        "flows_held": flows_held,
        "blocked_flows": blocked_flows,
        "queues": {str(queue.queue_num): queue.stats()._asdict() for queue in queues},
        "handler_failures": loop.handler_failures,
        "log_suppressed": loop.log_suppressed,
        "blockpage": {
            key: sum(getattr(server.stats, key) for server in blockpages)
            for key in BLOCKPAGE_COUNTS
        },
        "resolver_rejected": resolver.rejected if resolver is not None else 0,
    }


class Facts(NamedTuple):
    """What the status reports besides the counters, read when it is asked for."""

    now: float
    started: float
    """Wall-clock time of the start, as the clock said then."""
    uptime: float
    """Seconds since the start by the monotonic clock: a router without a
    real-time clock steps its wall clock at the first NTP answer."""
    config: Config
    config_file: str
    lists: ListSet
    update: dict[str, object] | None
    """``probes.last_update()``."""
    offload: bool | None
    """``probes.flow_offload()``."""
    extra: Mapping[str, object] = {}
    """More sections (the log ring's, the metrics endpoint's...), shown as given."""


def status_report(facts: Facts, counters: Mapping[str, object]) -> dict[str, object]:
    """``copgate status --json``: who, since when, with what, and what the queues did."""
    config = facts.config
    return {
        "version": __version__,
        "pid": os.getpid(),
        "started": facts.started,
        "uptime": round(facts.uptime, 3),
        "config": {
            "file": facts.config_file,
            "groups": [group.name for group in config.groups],
            "default_group": config.default_group,
        },
        "lists": [
            {
                "name": cache.name,
                "file": cache.where,
                "release": cache.header.release,
                "built": cache.header.build_time,
                "age": round(facts.now - cache.header.build_time, 3),
            }
            for cache in facts.lists.caches
        ],
        "update": facts.update if facts.update is not None else UNKNOWN,
        "offload": UNKNOWN if facts.offload is None else ("on" if facts.offload else "off"),
        "queue": queue_summary(counters),
        **facts.extra,
        "counters": dict(counters),
    }


def queue_summary(counters: Mapping[str, object]) -> dict[str, object]:
    """Packets, verdicts by kind and action, failures, fail-open events and overflows.

    ``fail_open`` counts the packets the daemon could not decide that their
    group's failure mode let through (``failure:allow``). The kernel does not
    count the packets its own fail-open flag passes when the queue is full
    (net/netfilter/nfnetlink_queue.c counts ``queue_dropped`` and
    ``user_dropped`` only without the flag): ``overflows`` shows what it does
    count, with our socket's ENOBUFS, the sign that it passed some.
    """
    verdicts = counters.get("verdicts")
    by_kind: dict[str, dict[str, int]] = {}
    if isinstance(verdicts, dict):
        for key, count in sorted(verdicts.items()):
            kind, _, action = str(key).partition(":")
            by_kind.setdefault(kind, {})[action] = int(count)
    queues = counters.get("queues")
    overflows = {"enobufs": 0, "kernel_dropped": 0, "user_dropped": 0}
    if isinstance(queues, dict):
        for stats in queues.values():
            for key in overflows:
                overflows[key] += int(stats.get(key, 0)) if isinstance(stats, dict) else 0
    return {
        "packets": counters.get("packets", 0),
        "verdicts": by_kind,
        "failures": counters.get("failures", 0),
        "fail_open": by_kind.get("failure", {}).get("allow", 0),
        "fail_closed": by_kind.get("failure", {}).get("block", 0),
        "overflows": overflows,
    }
