"""The daemon's status line (SIGUSR1): one JSON object of every counter worth watching.

The engine's counters (``Counters.as_dict``: packets, verdicts, evasion by
kind, untrusted and bad-checksum packets...), the flows held undecided and the
blocked flows remembered, both queues' own and kernel counts
(``handled``, ``verdict_failures``, ``enobufs``, ``kernel_dropped``,
``user_dropped``, ``queue_total``), the injector's, the block page's and the
resolver's, and the loop's: handler failures and log lines left out by the
rate limit. The lab reads it (``tests.lab.daemon_lab.Gateway.counters``).
It only reads counters; it never resets one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import NamedTuple

from copgate.daemon.counters import Counters
from copgate.edges.blockpage import BlockPageServer, BlockPageStats
from copgate.edges.inject import Injector
from copgate.edges.queue import QueueEdge
from copgate.edges.resolver import SafeResolver

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
