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

DEFAULT_CAPACITY = 1000
"""Entries kept when the config says nothing: a few hours of a family's blocks."""
MAX_CAPACITY = 100_000
"""Entries at most: ~300 bytes each, 30 MB, already a lot on a 128 MB router."""
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
    """Where the name was read: ``dns``, ``tls``, ``quic`` or ``http``."""
    name: str
    """The name asked for, lower case; ``(no name)`` when the flow carried none."""
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


class DecisionRing:
    """The newest ``capacity`` decisions, filtered on the way in by the privacy setting."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY, keep_allowed: bool = True) -> None:
        _check_capacity(capacity)
        self._lock = threading.Lock()
        self._entries: deque[DecisionEntry] = deque(maxlen=capacity)
        self._minutes: deque[MinuteCount] = deque(maxlen=MINUTES_KEPT)
        self._keep_allowed = keep_allowed
        self._seq = 0
        self.recorded = 0
        """Decisions recorded since start, stored or not."""
        self.not_kept = 0
        """Allowed decisions counted but not stored because ``keep_allowed`` is False."""

    @property
    def capacity(self) -> int:
        """Entries held at most."""
        maxlen = self._entries.maxlen
        assert maxlen is not None  # built with one, always
        return maxlen

    @property
    def keep_allowed(self) -> bool:
        """Whether allowed names are stored at all."""
        return self._keep_allowed

    @property
    def last_seq(self) -> int:
        """The seq of the newest entry stored, 0 before the first."""
        return self._seq

    def configure(self, capacity: int, keep_allowed: bool) -> None:
        """Apply a reloaded config: resize (keeping the newest) and apply the privacy setting.

        Turning ``keep_allowed`` off also forgets the allowed entries already held:
        the setting says allowed names are not kept, so none stays after a reload.
        """
        _check_capacity(capacity)
        with self._lock:
            kept = [e for e in self._entries if keep_allowed or e.verdict != ALLOW]
            self._entries = deque(kept, maxlen=capacity)
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
    ) -> DecisionEntry | None:
        """Count one decision and store it unless it is allowed and allowed names are
        not kept; the entry stored (with its seq), or None. O(1)."""
        with self._lock:
            self.recorded += 1
            self._count_minute(time, verdict)
            if verdict == ALLOW and not self._keep_allowed:
                self.not_kept += 1
                return None
            self._seq += 1
            entry = DecisionEntry(
                self._seq, time, client, group, kind, name, verdict, reason, category, source, rule
            )
            self._entries.append(entry)
            return entry

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
            held = list(self._entries)
        out = [
            entry
            for entry in held
            if entry.seq > since
            and (client is None or entry.client == client)
            and (verdict is None or entry.verdict == verdict)
            and (group is None or entry.group == group)
            and (kind is None or entry.kind == kind)
            and (name is None or name_matches(name, entry.name))
        ]
        if limit is not None:
            out = out[-limit:] if limit > 0 else []
        return out

    def per_minute(self) -> list[MinuteCount]:
        """Copies of the per-minute counts held, oldest first."""
        with self._lock:
            return [MinuteCount(m.minute, dict(m.verdicts)) for m in self._minutes]

    def _count_minute(self, time: float, verdict: str) -> None:
        minute = int(time // 60)
        # A clock stepped back lands in the newest minute rather than reordering the deque.
        if not self._minutes or minute > self._minutes[-1].minute:
            self._minutes.append(MinuteCount(minute))
        counts = self._minutes[-1].verdicts
        counts[verdict] = counts.get(verdict, 0) + 1


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
