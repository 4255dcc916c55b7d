"""``copgate stats``: what the decision ring says, counted.

Top blocked names and categories over the whole ring, then per group and per
client, and the decisions per minute (``DecisionRing.per_minute``, which
counts allowed decisions even when their names are not kept). Ties are
broken by name, so the same ring always gives the same answer.

Pure: the entries and the time are passed in; it never reads the ring's lock
or the clock itself.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence

from copgate.daemon.ring import MINUTES_KEPT, DecisionEntry, MinuteCount

_Key = Callable[[DecisionEntry], str]

TOP = 10
"""Names and categories listed in each top list unless asked otherwise."""
MAX_TOP = 1000
"""Entries a top list may be asked for: a reply stays a few hundred KB."""
BLOCKED = frozenset({"block"})
"""The verdict words counted as blocked (safe search rewrites; it does not block)."""
NO_CATEGORY = "(none)"
"""The category of a block no category decided (a group's own entry, a time window)."""


def ring_stats(
    entries: Sequence[DecisionEntry],
    minutes: Sequence[MinuteCount],
    now: float,
    top: int = TOP,
) -> dict[str, object]:
    """The statistics object (``copgate stats --json``)."""
    return {
        "entries": len(entries),
        **_tops(entries, top),
        "groups": _by(entries, top, lambda entry: entry.group),
        "clients": _by(entries, top, lambda entry: entry.client),
        "queries_per_minute": queries_per_minute(minutes, now),
        "per_minute": [minute.as_dict() for minute in minutes],
    }


def queries_per_minute(minutes: Sequence[MinuteCount], now: float) -> dict[str, float | int]:
    """``average`` over the last hour's minutes from the first counted to now's (idle ones
    count as zero), ``last`` (the minute now is in) and ``minutes`` (the span averaged over).

    Minutes older than ``MINUTES_KEPT`` before now are left out: after the wall clock
    stepped forward (a router's first NTP answer), the minutes before the step are not
    "the last hour".
    """
    current = int(now // 60)
    recent = [m for m in minutes if current - MINUTES_KEPT < m.minute <= current]
    if not recent:
        return {"average": 0.0, "last": 0, "minutes": 0}
    span = current - recent[0].minute + 1
    total = sum(sum(minute.verdicts.values()) for minute in recent)
    last = sum(recent[-1].verdicts.values()) if recent[-1].minute == current else 0
    return {"average": round(total / span, 2), "last": last, "minutes": span}


def _tops(entries: Iterable[DecisionEntry], top: int) -> dict[str, object]:
    decisions = 0
    verdicts: Counter[str] = Counter()
    names: Counter[str] = Counter()
    categories: Counter[str] = Counter()
    for entry in entries:
        decisions += 1
        verdicts[entry.verdict] += 1
        if entry.verdict in BLOCKED:
            names[entry.name] += 1
            categories[entry.category or NO_CATEGORY] += 1
    return {
        "decisions": decisions,
        "verdicts": dict(sorted(verdicts.items())),
        "blocked": sum(names.values()),
        "top_blocked_names": _top(names, top, "name"),
        "top_blocked_categories": _top(categories, top, "category"),
    }


def _by(entries: Iterable[DecisionEntry], top: int, key: _Key) -> dict[str, dict[str, object]]:
    groups: dict[str, list[DecisionEntry]] = {}
    for entry in entries:
        groups.setdefault(key(entry), []).append(entry)
    return {name: _tops(held, top) for name, held in sorted(groups.items())}


def _top(counts: Counter[str], top: int, what: str) -> list[dict[str, object]]:
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [{what: name, "count": count} for name, count in ranked[:top]]
