"""copgate.daemon.ring: the newest decisions, bounded, filtered, private when asked."""

from __future__ import annotations

import threading

import pytest

from copgate.daemon.ring import MINUTES_KEPT, DecisionEntry, DecisionRing, name_matches

T0 = 1_790_000_000.0


def put(
    ring: DecisionRing,
    name: str,
    verdict: str = "block",
    client: str = "192.0.2.10",
    time: float = T0,
    group: str = "kids",
    kind: str = "dns",
) -> int | None:
    return ring.record(
        time=time,
        client=client,
        group=group,
        kind=kind,
        name=name,
        verdict=verdict,
        reason=f"{name} is listed",
        category="adult" if verdict == "block" else None,
        source="default" if verdict == "block" else None,
        rule="category",
    )


def test_entries_get_increasing_seqs_and_come_back_oldest_first() -> None:
    ring = DecisionRing(capacity=10, keep_allowed=True)
    assert put(ring, "a.example") == 1
    assert put(ring, "b.example", verdict="allow") == 2
    assert [e.name for e in ring.entries()] == ["a.example", "b.example"]
    assert ring.last_seq == 2


def test_the_ring_is_bounded_and_forgets_the_oldest() -> None:
    ring = DecisionRing(capacity=3, keep_allowed=True)
    for i in range(10):
        put(ring, f"n{i}.example")
    held = ring.entries()
    assert [e.name for e in held] == ["n7.example", "n8.example", "n9.example"]
    assert [e.seq for e in held] == [8, 9, 10]
    assert ring.recorded == 10


def test_allowed_names_are_not_stored_when_privacy_says_so() -> None:
    ring = DecisionRing(capacity=10, keep_allowed=False)
    assert put(ring, "homework.example", verdict="allow") is None
    assert put(ring, "bad.example") == 1  # the allowed one took no seq
    assert [e.name for e in ring.entries()] == ["bad.example"]
    assert (ring.recorded, ring.not_kept) == (2, 1)
    # ...but the minute's count still has both, without names
    (minute,) = ring.per_minute()
    assert minute.verdicts == {"allow": 1, "block": 1}


def test_filters_combine() -> None:
    ring = DecisionRing(capacity=10, keep_allowed=True)
    put(ring, "www.youtube.com", client="192.0.2.10")
    put(ring, "www.youtube.com", client="192.0.2.11")
    put(ring, "youtube.com", client="192.0.2.10", verdict="allow")
    put(ring, "notyoutube.com", client="192.0.2.10")
    put(ring, "m.example", client="192.0.2.10", kind="tls", group="adults")
    assert [e.seq for e in ring.entries(client="192.0.2.10", name="youtube.com")] == [1, 3]
    assert [e.seq for e in ring.entries(verdict="block", name="youtube.com")] == [1, 2]
    assert [e.seq for e in ring.entries(kind="tls")] == [5]
    assert [e.seq for e in ring.entries(group="adults")] == [5]
    assert [e.seq for e in ring.entries(since=3)] == [4, 5]
    assert [e.seq for e in ring.entries(limit=2)] == [4, 5]
    assert [e.seq for e in ring.entries(client="192.0.2.10", limit=2)] == [4, 5]
    assert ring.entries(limit=0) == []


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("example.com", "example.com", True),
        ("example.com", "www.example.com", True),
        ("example.com", "badexample.com", False),
        ("Example.COM.", "www.example.com", True),
        ("*.example.com", "www.example.com", True),
        ("*.example.com", "example.com", False),
        ("*tube*", "www.youtube.com", True),
        ("ex?mple.com", "exomple.com", True),
    ],
)
def test_name_patterns(pattern: str, name: str, expected: bool) -> None:
    assert name_matches(pattern, name) is expected


def test_configure_resizes_keeps_the_newest_and_seqs_go_on() -> None:
    ring = DecisionRing(capacity=5, keep_allowed=True)
    for i in range(5):
        put(ring, f"n{i}.example", verdict="allow" if i % 2 else "block")
    ring.configure(capacity=2, keep_allowed=True)
    assert [e.seq for e in ring.entries()] == [4, 5]
    ring.configure(capacity=10, keep_allowed=False)  # privacy now: allowed ones go
    assert [e.seq for e in ring.entries()] == [5]
    assert ring.capacity == 10 and not ring.keep_allowed
    assert put(ring, "later.example") == 6


@pytest.mark.parametrize("capacity", [-1, 100_001])
def test_an_unreasonable_capacity_is_refused(capacity: int) -> None:
    with pytest.raises(ValueError, match="ring capacity"):
        DecisionRing(capacity=capacity, keep_allowed=True)


def test_per_minute_counts_are_bounded_and_ordered() -> None:
    ring = DecisionRing(capacity=10, keep_allowed=True)
    start = 60.0 * 1_000_000
    for minute in range(MINUTES_KEPT + 5):
        put(ring, "a.example", time=start + minute * 60 + 1)
        put(ring, "b.example", verdict="allow", time=start + minute * 60 + 59)
    minutes = ring.per_minute()
    assert len(minutes) == MINUTES_KEPT
    assert minutes[0].minute == 1_000_005 and minutes[-1].minute == 1_000_000 + MINUTES_KEPT + 4
    assert all(m.verdicts == {"block": 1, "allow": 1} for m in minutes)
    assert minutes[-1].as_dict()["total"] == 2


def test_a_clock_stepped_back_counts_in_the_newest_minute() -> None:
    ring = DecisionRing(capacity=10, keep_allowed=True)
    put(ring, "a.example", time=600.0)
    put(ring, "b.example", time=300.0)
    (minute,) = ring.per_minute()
    assert (minute.minute, minute.verdicts) == (10, {"block": 2})


def test_a_minute_ends_exactly_at_its_last_fraction_of_a_second() -> None:
    ring = DecisionRing(capacity=10, keep_allowed=True)
    minute = 29_833_333
    start = minute * 60.0
    for time in (start + 59.999999, start + 60.0, start + 119.999, start + 120.0, start + 60.5):
        put(ring, "a.example", time=time)
    assert [(m.minute - minute, sum(m.verdicts.values())) for m in ring.per_minute()] == [
        (0, 1),
        (1, 2),
        (2, 2),  # the last: a clock stepped back counts in the newest minute
    ]


def test_an_entry_round_trips_through_its_dict() -> None:
    ring = DecisionRing(capacity=10, keep_allowed=True)
    put(ring, "a.example")
    (entry,) = ring.entries()
    assert DecisionEntry.from_dict(entry.as_dict()) == entry


@pytest.mark.parametrize(
    ("key", "value"), [("seq", "1"), ("time", None), ("name", 3), ("category", 5), ("seq", True)]
)
def test_a_bad_entry_dict_names_the_field(key: str, value: object) -> None:
    ring = DecisionRing(capacity=10, keep_allowed=True)
    put(ring, "a.example")
    raw = ring.entries()[0].as_dict() | {key: value}
    with pytest.raises(ValueError, match=repr(key)):
        DecisionEntry.from_dict(raw)


def test_reading_while_another_thread_records_is_safe() -> None:
    ring = DecisionRing(capacity=100, keep_allowed=True)
    stop = threading.Event()

    def writer() -> None:
        i = 0
        while not stop.is_set():
            put(ring, f"n{i}.example", time=T0 + i)
            i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for _ in range(200):
            seqs = [e.seq for e in ring.entries()]
            assert seqs == sorted(seqs) and len(seqs) <= 100
            ring.per_minute()
    finally:
        stop.set()
        thread.join()
