"""The daemon's decision and drop lines: what the lab reads and an operator greps.

Each decision names its verdict, kind, name, client address and port,
group, rule, list, category, match and reason; at debug level each packet
held for the rest of its hello names its flow (``tests.lab.daemon_lab``
parses both). Below debug level, allowed names are not logged and repeats
are summarised (``copgate.daemon.lograte``): a flood from one client costs
one line and one count per window, keyed by (what, client address, group,
rule and category). At debug level every line is written: that is what
debug is for.

It never decides anything; it only writes what a verdict says.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable

from copgate.daemon.engine import Action, PacketVerdict
from copgate.daemon.lograte import LogRate, Summary

LOG = logging.getLogger("copgate")


class VerdictLog:
    """Writes the log line of each verdict, rate-limited; ``flush`` writes the summaries due."""

    def __init__(self, clock: Callable[[], float], rate: LogRate | None = None) -> None:
        self._clock = clock
        self.rate = rate if rate is not None else LogRate()

    def __call__(self, verdict: PacketVerdict) -> None:
        question, decision = verdict.question, verdict.decision
        if question is None or decision is None:
            packet = verdict.packet
            if verdict.action is Action.DROP:
                client = _address(packet.src) if packet is not None else "?"
                if self._admit(("drop", f"client={client}", verdict.note)):
                    LOG.info("drop: %s", verdict.note)
            elif packet is not None and LOG.isEnabledFor(logging.DEBUG):
                LOG.debug(
                    "pending %s > %s: %s",
                    endpoint(packet.src, packet.sport),
                    endpoint(packet.dst, packet.dport),
                    verdict.note,
                )
            return
        if verdict.action is not Action.DROP and not LOG.isEnabledFor(logging.DEBUG):
            return
        what = f"{decision.verdict.value} {question.kind.value}"
        detail = f"group={decision.group} rule={decision.rule.value} category={decision.category}"
        if not self._admit((what, f"client={_address(question.client[0])}", detail)):
            return
        LOG.info(
            "%s %s %s client=%s group=%s rule=%s list=%s category=%s match=%s: %s",
            decision.verdict.value,
            question.kind.value,
            question.name.text if question.name else "(no name)",
            endpoint(*question.client),
            decision.group,
            decision.rule.value,
            decision.list_name,
            decision.category,
            decision.match,
            decision.reason,
        )

    def flush(self, now: float) -> None:
        """Write the summaries of the windows that have ended."""
        for summary in self.rate.flush(now):
            log_summary(summary)

    def _admit(self, key: tuple[str, str, str]) -> bool:
        if LOG.isEnabledFor(logging.DEBUG):
            return True
        write, summary = self.rate.admit(key, self._clock())
        if summary is not None:
            log_summary(summary)
        return write


def log_summary(summary: Summary) -> None:
    """``repeats: block dns client=192.0.2.10 group=..: and 4,096 more like it in 10 s``.

    It starts with ``repeats:`` so that no reader takes it for a decision.
    """
    if isinstance(summary.key, tuple):
        LOG.info("repeats: %s: %s", " ".join(str(part) for part in summary.key), summary.text())
    else:
        LOG.info("repeats: lines of too many kinds at once: %s", summary.text())


def endpoint(packed: bytes, port: int) -> str:
    """``192.0.2.10:5353`` or ``[2001:db8::10]:5353`` for a log line."""
    try:
        address = ipaddress.ip_address(packed)
    except ValueError:
        return f"?:{port}"
    return f"[{address}]:{port}" if address.version == 6 else f"{address}:{port}"


def _address(packed: bytes) -> str:
    try:
        return str(ipaddress.ip_address(packed))
    except ValueError:
        return "?"
