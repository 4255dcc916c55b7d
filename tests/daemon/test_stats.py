"""copgate.daemon.stats: top blocked names and categories, per group and client, per minute."""

from __future__ import annotations

from copgate.daemon.ring import DecisionRing
from copgate.daemon.stats import queries_per_minute, ring_stats

MINUTE = 30_000_000
NOW = MINUTE * 60.0 + 45  # 45 s into the minute


def _ring(keep_allowed: bool = True) -> DecisionRing:
    ring = DecisionRing(capacity=100, keep_allowed=keep_allowed)
    probes = [
        # (minutes ago, client, group, name, verdict, category)
        (2, "192.0.2.10", "pupils", "www.example.org", "allow", None),
        (2, "192.0.2.10", "pupils", "casino.example", "block", "gambling"),
        (1, "192.0.2.10", "pupils", "casino.example", "block", "gambling"),
        (1, "192.0.2.11", "pupils", "adult.example", "block", "adult"),
        (0, "192.0.2.20", "staff", "own.example", "block", None),
        (0, "192.0.2.20", "staff", "www.google.com", "safesearch", None),
    ]
    for ago, client, group, name, verdict, category in probes:
        ring.record(
            time=(MINUTE - ago) * 60.0 + 5,
            client=client,
            group=group,
            kind="dns",
            name=name,
            verdict=verdict,
            reason="why",
            category=category,
        )
    return ring


def test_top_lists_rank_by_count_then_name() -> None:
    ring = _ring()
    stats = ring_stats(ring.entries(), ring.per_minute(), NOW)
    assert stats["entries"] == 6 and stats["decisions"] == 6
    assert stats["verdicts"] == {"allow": 1, "block": 4, "safesearch": 1}
    assert stats["blocked"] == 4
    assert stats["top_blocked_names"] == [
        {"name": "casino.example", "count": 2},
        {"name": "adult.example", "count": 1},
        {"name": "own.example", "count": 1},
    ]
    assert stats["top_blocked_categories"] == [
        {"category": "gambling", "count": 2},
        {"category": "(none)", "count": 1},
        {"category": "adult", "count": 1},
    ]


def test_per_group_and_per_client() -> None:
    ring = _ring()
    stats = ring_stats(ring.entries(), ring.per_minute(), NOW, top=1)
    groups = stats["groups"]
    assert isinstance(groups, dict)
    assert list(groups) == ["pupils", "staff"]
    assert groups["pupils"]["blocked"] == 3
    assert groups["pupils"]["top_blocked_names"] == [{"name": "casino.example", "count": 2}]
    assert groups["staff"]["verdicts"] == {"block": 1, "safesearch": 1}
    clients = stats["clients"]
    assert isinstance(clients, dict)
    assert list(clients) == ["192.0.2.10", "192.0.2.11", "192.0.2.20"]
    assert clients["192.0.2.10"]["decisions"] == 3
    assert clients["192.0.2.11"]["top_blocked_categories"] == [{"category": "adult", "count": 1}]


def test_queries_per_minute_average_over_the_span_including_idle_minutes() -> None:
    ring = _ring()
    assert queries_per_minute(ring.per_minute(), NOW) == {"average": 2.0, "last": 2, "minutes": 3}
    # five minutes later nothing new: the span grows, the last minute is idle
    later = queries_per_minute(ring.per_minute(), NOW + 300)
    assert later == {"average": 0.75, "last": 0, "minutes": 8}
    assert queries_per_minute([], NOW) == {"average": 0.0, "last": 0, "minutes": 0}


def test_without_allowed_names_the_minutes_still_count_every_decision() -> None:
    ring = _ring(keep_allowed=False)
    stats = ring_stats(ring.entries(), ring.per_minute(), NOW)
    assert stats["decisions"] == 5  # the allowed one is not kept...
    assert stats["queries_per_minute"] == {
        "average": 2.0,
        "last": 2,
        "minutes": 3,
    }  # ...but counted
    per_minute = stats["per_minute"]
    assert isinstance(per_minute, list)
    assert per_minute[0] == {"minute": MINUTE - 2, "total": 2, "verdicts": {"allow": 1, "block": 1}}


def test_minutes_before_a_clock_step_are_not_the_last_hour() -> None:
    ring = DecisionRing(capacity=10, keep_allowed=True)
    for time in (300.0, 310.0):  # 1970: before the first NTP answer
        ring.record(
            time=time, client="192.0.2.10", group="g", kind="dns", name="a.example",
            verdict="allow", reason="r",
        )  # fmt: skip
    ring.record(
        time=NOW, client="192.0.2.10", group="g", kind="dns", name="a.example",
        verdict="allow", reason="r",
    )  # fmt: skip
    assert queries_per_minute(ring.per_minute(), NOW) == {"average": 1.0, "last": 1, "minutes": 1}
    assert queries_per_minute(ring.per_minute(), NOW + 3600 * 2)["minutes"] == 0
