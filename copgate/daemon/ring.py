"""The decision ring: the last decisions the daemon made, in memory, for ``copgate log``.

Every decision with a name (a DNS question, a TLS or QUIC hello, an HTTP
Host) is one ``DecisionEntry``. The ring keeps the newest ``capacity`` of
them; ``copgate log``, ``copgate stats`` and the block page's "recently
blocked on this device" read them through the control socket. Nothing is
written to disk: the ring is what a reload keeps and a restart forgets.

Privacy is a setting: with ``keep_allowed`` False an allowed name is never
stored (only counted per minute, without its name or client), so the ring
holds what was blocked and nothing of what a family merely visited.

Invariants:
- ``seq`` starts at 1 and grows by one per stored entry, never reused, also
  across ``configure``; an entry's seq is its position in the daemon's life,
  so ``entries(since=s)`` returns exactly what was stored after entry ``s``
  (what ``copgate log --follow`` polls with);
- at most ``capacity`` entries are held; storing one more forgets the oldest
  (capacity 0 holds none: decisions are only counted per minute);
- ``_minutes`` holds at most ``MINUTES_KEPT`` per-minute counts, oldest first,
  of every decision recorded (kept or not), by verdict;
- one lock guards all of it: the packet loop records, the control socket's
  thread reads.

It never decides, logs or reads the clock: the caller passes the time.
"""

from __future__ import annotations

import fnmatch
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Final

DEFAULT_CAPACITY = 1000
"""Entries kept when the config says nothing: a few hours of a family's blocks."""
MAX_CAPACITY = 100_000
"""Entries at most: ~400 bytes each with distinct names and reasons (benchmarks/bench_ops.py),
40 MB: already a lot on a 128 MB router, where the default is the sensible size."""
MINUTES_KEPT = 60
"""Minutes of per-minute decision counts kept for ``copgate stats``."""
ALLOW = "allow"
"""The verdict word of an allowed name (``copgate.policy.decision.Verdict.ALLOW``)."""


@dataclass(frozen=True, slots=True)
class DecisionEntry:
    """One decision about a name, as ``copgate log`` shows it."""

    seq: int
    """Position in the daemon's life: 1 for the first entry stored, never reused."""
    time: float
    """Wall-clock seconds since the epoch when the decision was made."""
    client: str
    """The client's address as text (``192.0.2.10``, ``2001:db8::10``)."""
    group: str
    """The client group whose policy decided."""
    kind: str
    """Where the name was read: ``dns``, ``tls``, ``quic`` or ``http``; for a flow
    refused without a name, the rule that refused it (``unreadable``, ``evasion``,
    ``failure``)."""
    name: str
    """The name asked for, lower case; ``(no name)`` when the hello carried none; the
    server's address and port (``198.51.100.7:443``) for a flow refused without one."""
    verdict: str
    """The engine's verdict word: ``allow``, ``block``, ``safesearch``."""
    reason: str
    """One human line: what matched and why that decides."""
    category: str | None = None
    """The category that decided, or None."""
    source: str | None = None
    """The list (or group entry set, or built-in table) the deciding entry came from."""
    rule: str | None = None
    """Which rule decided (``category``, ``own_entry``, ``time_window``...)."""

    def as_dict(self) -> dict[str, object]:
        """The entry as JSON-ready values (``copgate log --json``, the control socket)."""
        return {
            "seq": self.seq,
            "time": self.time,
            "client": self.client,
            "group": self.group,
            "kind": self.kind,
            "name": self.name,
            "verdict": self.verdict,
            "reason": self.reason,
            "category": self.category,
            "source": self.source,
            "rule": self.rule,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, object]) -> DecisionEntry:
        """The entry back from ``as_dict``'s values (the CLI's side of the socket).

        Raises ``ValueError`` naming the field when one is missing or of the wrong type.
        """
        return cls(
            seq=_int(raw, "seq"),
            time=_float(raw, "time"),
            client=_str(raw, "client"),
            group=_str(raw, "group"),
            kind=_str(raw, "kind"),
            name=_str(raw, "name"),
            verdict=_str(raw, "verdict"),
            reason=_str(raw, "reason"),
            category=_optional_str(raw, "category"),
            source=_optional_str(raw, "source"),
            rule=_optional_str(raw, "rule"),
        )


@dataclass(slots=True)
class MinuteCount:
    """Decisions recorded in one minute, by verdict word (kept in the ring or not)."""

    minute: int
    """Whole minutes since the epoch."""
    verdicts: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """``{"minute": 29432190, "total": 12, "verdicts": {"allow": 9, "block": 3}}``."""
        return {
            "minute": self.minute,
            "total": sum(self.verdicts.values()),
            "verdicts": dict(self.verdicts),
        }


_Row = tuple[int, float, str, str, str, str, str, str, str | None, str | None, str | None]
"""A held entry: ``DecisionEntry``'s fields in order, as a plain tuple (cheaper to make)."""
_SEQ: Final = 0
_CLIENT: Final = 2
_GROUP: Final = 3
_KIND: Final = 4
_NAME: Final = 5
_VERDICT: Final = 6


class DecisionRing:
    """The newest ``capacity`` decisions, filtered on the way in by the privacy setting.

    Entries are held as plain tuples and become ``DecisionEntry`` values when
    read: recording is on the packet path, reading is not.
    """

    def __init__(self, capacity: int = DEFAULT_CAPACITY, keep_allowed: bool = True) -> None:
        _check_capacity(capacity)
        self._lock = threading.Lock()
        self._rows: deque[_Row] = deque(maxlen=capacity)
        self._capacity = capacity
        self._minutes: deque[MinuteCount] = deque(maxlen=MINUTES_KEPT)
        self._minute = -1
        """The newest minute counted (``_minutes[-1].minute``), -1 before the first."""
        self._minute_end = float("-inf")
        """When the newest minute ends: ``add`` compares the time with it, one test a
        decision instead of a division."""
        self._counts: dict[str, int] = {}
        """``_minutes[-1].verdicts``, held apart for the packet path."""
        self._keep_allowed = keep_allowed
        self._seq = 0
        self.not_kept = 0
        """Allowed decisions counted but not stored because ``keep_allowed`` is False."""

    @property
    def capacity(self) -> int:
        """Entries held at most."""
        return self._capacity

    @property
    def keep_allowed(self) -> bool:
        """Whether allowed names are stored at all."""
        return self._keep_allowed

    @property
    def recorded(self) -> int:
        """Decisions recorded since start, stored or not (every one is either)."""
        return self._seq + self.not_kept

    @property
    def last_seq(self) -> int:
        """The seq of the newest entry stored, 0 before the first."""
        return self._seq

    def __len__(self) -> int:
        return len(self._rows)

    def configure(self, capacity: int, keep_allowed: bool) -> None:
        """Apply a reloaded config: resize (keeping the newest) and apply the privacy setting.

        Turning ``keep_allowed`` off also forgets the allowed entries already held:
        the setting says allowed names are not kept, so none stays after a reload.
        """
        _check_capacity(capacity)
        with self._lock:
            kept = [row for row in self._rows if keep_allowed or row[_VERDICT] != ALLOW]
            self._rows = deque(kept, maxlen=capacity)
            self._capacity = capacity
            self._keep_allowed = keep_allowed

    def record(
        self,
        *,
        time: float,
        client: str,
        group: str,
        kind: str,
        name: str,
        verdict: str,
        reason: str,
        category: str | None = None,
        source: str | None = None,
        rule: str | None = None,
    ) -> int | None:
        """Count one decision and store it unless it is allowed and allowed names are
        not kept; the seq it was stored with, or None. O(1)."""
        return self.add(time, client, group, kind, name, verdict, reason, category, source, rule)

    def add(
        self,
        time: float,
        client: str,
        group: str,
        kind: str,
        name: str,
        verdict: str,
        reason: str,
        category: str | None,
        source: str | None,
        rule: str | None,
    ) -> int | None:
        """``record`` with positional arguments, in ``DecisionEntry``'s order: the
        packet path's form (keywords cost a third of a call here)."""
        with self._lock:
            if time >= self._minute_end:
                self._next_minute(time)
            counts = self._counts
            counts[verdict] = counts.get(verdict, 0) + 1
            if verdict == ALLOW and not self._keep_allowed:
                self.not_kept += 1
                return None
            self._seq = seq = self._seq + 1
            self._rows.append(
                (seq, time, client, group, kind, name, verdict, reason, category, source, rule)
            )
            return seq

    def _next_minute(self, time: float) -> None:
        """Start counting the minute of ``time``, if it is a later one (the lock is held)."""
        minute = int(time // 60)
        # A clock stepped back counts in the newest minute rather than reordering them.
        if minute > self._minute:
            self._minute = minute
            self._counts = {}
            self._minutes.append(MinuteCount(minute, self._counts))
            self._minute_end = (minute + 1) * 60.0

    def entries(
        self,
        *,
        client: str | None = None,
        name: str | None = None,
        verdict: str | None = None,
        since: int = 0,
        limit: int | None = None,
        group: str | None = None,
        kind: str | None = None,
    ) -> list[DecisionEntry]:
        """The entries held that match every filter given, oldest first.

        ``name`` is a pattern (``name_matches``); ``since`` keeps entries with a
        larger seq; ``limit`` keeps the newest ``limit`` of those that match.
        """
        with self._lock:
            rows = list(self._rows)
        out = [
            row
            for row in rows
            if row[_SEQ] > since
            and (client is None or row[_CLIENT] == client)
            and (verdict is None or row[_VERDICT] == verdict)
            and (group is None or row[_GROUP] == group)
            and (kind is None or row[_KIND] == kind)
            and (name is None or name_matches(name, row[_NAME]))
        ]
        if limit is not None:
            out = out[-limit:] if limit > 0 else []
        return [DecisionEntry(*row) for row in out]

    def per_minute(self) -> list[MinuteCount]:
        """Copies of the per-minute counts held, oldest first."""
        with self._lock:
            return [MinuteCount(m.minute, dict(m.verdicts)) for m in self._minutes]


def name_matches(pattern: str, name: str) -> bool:
    """Whether ``name`` is what ``copgate log --name PATTERN`` asks for.

    A pattern with ``*``, ``?`` or ``[`` is a shell glob over the whole name
    (``*.example.com``); a plain name matches itself and its subdomains
    (``example.com`` matches ``www.example.com``), as the lists match.
    Case never matters; a trailing dot is ignored.
    """
    pattern = pattern.lower().rstrip(".")
    name = name.lower().rstrip(".")
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(name, pattern)
    return name == pattern or name.endswith("." + pattern)


def _check_capacity(capacity: int) -> None:
    if not 0 <= capacity <= MAX_CAPACITY:
        raise ValueError(f"ring capacity {capacity} is not within 0..{MAX_CAPACITY}")


def _str(raw: dict[str, object], key: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str):
        raise ValueError(f"decision entry: {key!r} is not a string: {value!r}")
    return value


def _optional_str(raw: dict[str, object], key: str) -> str | None:
    value = raw.get(key)
    return None if value is None else _str(raw, key)


def _int(raw: dict[str, object], key: str) -> int:
    value = raw.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"decision entry: {key!r} is not an integer: {value!r}")
    return value


def _float(raw: dict[str, object], key: str) -> float:
    value = raw.get(key)
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ValueError(f"decision entry: {key!r} is not a number: {value!r}")
    return float(value)
