"""Where each decision goes: the decision ring always, the log at debug level only.

Every verdict that carries a decision about a name (a DNS question, a TLS or
QUIC hello, an HTTP Host) becomes one ``copgate.daemon.ring.DecisionEntry``:
``copgate log``, ``copgate stats`` and the block page read them from there.
So does a flow refused without a name (unreadable, evasion, a failure), when
the verdict names its packet: its kind is the rule, its name the server's
address and port.
The log gets no line per packet below debug level: on a router the log is
logd's small ring in RAM (or the journal), and a line per query would push
out the start, reload, update and failure lines an admin looks for.

When the log is at debug level (``copgate run --verbose``) each decision is also logged
with its verdict, kind, name, client address and port, group, rule, list,
category, match and reason, and each packet held for the rest of its hello
or dropped without a decision names its flow or its reason
(``tests.lab.daemon_lab`` parses both): that is what debug is for.

It never decides anything; it only writes down what a verdict says.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Hashable

from copgate.daemon.engine import Action, PacketVerdict
from copgate.daemon.lograte import LogRate, Summary
from copgate.daemon.ring import DecisionRing
from copgate.policy.decision import Decision
from copgate.wire.packet import Packet
from copgate.wire.question import Question

LOG = logging.getLogger("copgate")
MAX_ADDRESS_TEXTS = 4096
"""Client addresses whose text form is remembered: a LAN's clients, and then some."""
NO_NAME = "(no name)"


class VerdictLog:
    """Records each decision in the ring and, at debug level, logs each verdict.

    ``rate`` limits the daemon's other repeated lines (handler failures); the
    loop calls ``flush`` once a second to write the summaries due.
    """

    def __init__(
        self,
        clock: Callable[[], float],
        rate: LogRate | None = None,
        ring: DecisionRing | None = None,
    ) -> None:
        self._clock = clock
        self.rate = rate if rate is not None else LogRate()
        self.ring = ring
        """Where decisions go; None records nothing (``copgate run`` always has one)."""
        self._texts: dict[bytes, str] = {}

    def __call__(self, verdict: PacketVerdict) -> None:
        question, decision = verdict.question, verdict.decision
        if question is not None and decision is not None:
            ring = self.ring
            if ring is not None:
                # Inline, on every judged packet's path: the client's text found
                # here, the enum members passed as they are (they are str, and
                # ``.value`` costs a call each).
                client = question.client[0]
                text = self._texts.get(client)
                if text is None:
                    text = self._text(client)
                name = question.name
                ring.add(
                    self._clock(),
                    text,
                    decision.group,
                    question.kind,
                    name.text if name is not None else NO_NAME,
                    decision.verdict,
                    decision.reason,
                    decision.category,
                    decision.list_name,
                    decision.rule,
                )
            if LOG.isEnabledFor(logging.DEBUG):
                _log_decision(question, decision)
            return
        if (
            decision is not None
            and verdict.packet is not None
            and verdict.action is Action.DROP
            and self.ring is not None
        ):
            self._record_refusal(verdict.packet, decision)
        if LOG.isEnabledFor(logging.DEBUG):
            _log_other(verdict)

    def flush(self, now: float) -> None:
        """Write the summaries of the windows that have ended."""
        for summary in self.rate.flush(now):
            log_summary(summary)

    def _record_refusal(self, packet: Packet, decision: Decision) -> None:
        """A flow refused without a name (unreadable, evasion, a failure): its kind is
        the rule that refused it, its name the server's address and port."""
        assert self.ring is not None  # checked by the caller
        self.ring.add(
            self._clock(),
            self._text(packet.src),
            decision.group,
            decision.rule,
            endpoint(packet.dst, packet.dport),
            decision.verdict,
            decision.reason,
            decision.category,
            decision.list_name,
            decision.rule,
        )

    def _text(self, packed: bytes) -> str:
        # ipaddress costs microseconds per call; a LAN has few clients, so
        # their texts are kept, and forgotten all at once if spoofing floods them.
        text = self._texts.get(packed)
        if text is None:
            if len(self._texts) >= MAX_ADDRESS_TEXTS:
                self._texts.clear()
            text = self._texts[packed] = _address(packed)
        return text


def _log_decision(question: Question, decision: Decision) -> None:
    # At info level, as before there was a ring: the lab and ``copgate demo``
    # read these lines, and --verbose is how they are asked for.
    LOG.info(
        "%s %s %s client=%s group=%s rule=%s list=%s category=%s match=%s: %s",
        decision.verdict.value,
        question.kind.value,
        question.name.text if question.name else NO_NAME,
        endpoint(*question.client),
        decision.group,
        decision.rule.value,
        decision.list_name,
        decision.category,
        decision.match,
        decision.reason,
    )


def _log_other(verdict: PacketVerdict) -> None:
    """A packet held for the rest of its hello, or dropped without a decision about a name."""
    packet = verdict.packet
    if packet is not None and verdict.decision is None and verdict.action is not Action.DROP:
        LOG.debug(
            "pending %s > %s: %s",
            endpoint(packet.src, packet.sport),
            endpoint(packet.dst, packet.dport),
            verdict.note,
        )
    elif verdict.action is Action.DROP:
        LOG.debug("drop: %s", verdict.note)


def log_summary(summary: Summary) -> None:
    """``repeats: failure handler KeyError: and 4,096 more like it in 10 s``.

    It starts with ``repeats:`` so that no reader takes it for a decision.
    """
    if isinstance(summary.key, tuple):
        LOG.info("repeats: %s: %s", " ".join(str(part) for part in summary.key), summary.text())
    else:
        LOG.info("repeats: lines of too many kinds at once: %s", summary.text())


def admitted(rate: LogRate | None, key: Hashable, now: float) -> bool:
    """Whether to write the line of ``key`` now: always without a ``rate``; with one,
    only the first of its window, after the summary of its last window's repeats."""
    if rate is None:
        return True
    write, summary = rate.admit(key, now)
    if summary is not None:
        log_summary(summary)
    return write


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
