"""The engine's counters: what the daemon did, for SIGUSR1, the lab and tests.

``Counters`` counts packets, verdicts by kind (``dns:allow``, ``tls:block``...),
failures, evasion by what it did (``reason_kind`` strips the numbers so the
kinds stay few) and the packets passed or dropped without a decision.
``copgate.daemon.status`` puts them in the status line.

This module only counts; it never decides anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from copgate.policy.decision import Verdict
from copgate.wire.question import Kind

MAX_EVASION_KINDS = 64
"""Distinct evasion reasons counted; the rest are counted as ``other``."""

COUNT_KEYS = {
    (kind, verdict): f"{kind.value}:{verdict.value}" for kind in Kind for verdict in Verdict
}
"""Counter keys built once: an f-string of two enum values per packet costs more
than the dict hit."""


@dataclass(slots=True)
class Counters:
    """What the daemon did, for the status command, SIGUSR1 and tests."""

    packets: int = 0
    failures: int = 0
    malformed: int = 0
    pending: int = 0
    """Packets passed while their flow's hello was still incomplete (reassembly)."""
    untrusted: int = 0
    """Questions read from bytes the server may never read (their TTL differs
    from the SYN's): judged, but an allowed one never marks its flow."""
    bad_checksum: int = 0
    """Packets passed without a look because their checksum is wrong: the
    receiver drops them, so they can neither decide nor block."""
    not_lan: int = 0
    """Blocked packets that came in on an interface outside ``lan_interfaces``:
    dropped, and nothing forged towards whatever source they claim."""
    blocked_again: int = 0
    """Later packets of flows already blocked, dropped (TCP data: resets re-sent)."""
    evasion: dict[str, int] = field(default_factory=dict)
    """Flows that looked like evasion, by what they did (``reason_kind``)."""
    by_kind: dict[str, int] = field(default_factory=dict)
    """``"dns:allow"``, ``"tls:block"``, ``"unreadable:refuse"`` ... counts."""

    def count(self, key: str) -> None:
        self.by_kind[key] = self.by_kind.get(key, 0) + 1

    def count_evasion(self, reason: str) -> None:
        kind = reason_kind(reason)
        if kind not in self.evasion and len(self.evasion) >= MAX_EVASION_KINDS:
            kind = "other"
        self.evasion[kind] = self.evasion.get(kind, 0) + 1

    def as_dict(self) -> dict[str, int | dict[str, int]]:
        """Every counter by name, JSON-ready (status, SIGUSR1)."""
        return {
            "packets": self.packets,
            "failures": self.failures,
            "malformed": self.malformed,
            "pending": self.pending,
            "untrusted": self.untrusted,
            "bad_checksum": self.bad_checksum,
            "not_lan": self.not_lan,
            "blocked_again": self.blocked_again,
            "evasion": dict(self.evasion),
            "verdicts": dict(self.by_kind),
        }


def reason_kind(reason: str) -> str:
    """What an evasion reason says without its numbers: ``bound hit (32768 bytes)``
    counts as ``bound hit``, so the counters stay few however the numbers vary."""
    head = reason.split(":", 1)[0].split("(", 1)[0]
    words = [word for word in head.split() if not any(char.isdigit() for char in word)]
    return " ".join(words)[:48] or "unnamed"
