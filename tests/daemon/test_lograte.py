"""copgate.daemon.lograte: the first line of a kind passes, its repeats become one count."""

from __future__ import annotations

from copgate.daemon.lograte import LogRate, Summary

KEY = ("drop", "192.0.2.10", "malformed DNS")
OTHER = ("drop", "192.0.2.11", "malformed DNS")


def test_the_first_line_passes_and_repeats_in_the_window_are_counted() -> None:
    rate = LogRate(window=10.0)
    assert rate.admit(KEY, 100.0) == (True, None)
    assert [rate.admit(KEY, 100.0 + i / 1000) for i in range(4096)] == [(False, None)] * 4096
    assert rate.suppressed == 4096
    assert rate.flush(109.9) == []  # the window has not ended
    (summary,) = rate.flush(110.0)
    assert summary == Summary(KEY, 4096, 10.0)
    assert summary.text() == "and 4,096 more like it in 10 s"
    assert rate.flush(200.0) == []  # reported once


def test_keys_are_counted_apart() -> None:
    rate = LogRate(window=10.0)
    assert rate.admit(KEY, 0.0)[0] and rate.admit(OTHER, 0.0)[0]
    assert not rate.admit(KEY, 1.0)[0]
    assert rate.flush(10.0) == [Summary(KEY, 1, 10.0)]


def test_a_key_whose_window_ended_passes_again_with_its_summary() -> None:
    # Before housekeeping flushes, the next line of the key both passes and
    # carries the count its last window left out, so no count is lost.
    rate = LogRate(window=10.0)
    rate.admit(KEY, 0.0)
    rate.admit(KEY, 5.0)
    rate.admit(KEY, 6.0)
    assert rate.admit(KEY, 12.0) == (True, Summary(KEY, 2, 10.0))
    assert rate.flush(30.0) == []


def test_a_quiet_key_is_forgotten_without_a_summary() -> None:
    rate = LogRate(window=10.0)
    rate.admit(KEY, 0.0)
    assert rate.flush(10.0) == []
    assert rate.admit(KEY, 10.5) == (True, None)


def test_a_full_table_counts_new_keys_as_one_overflow() -> None:
    # Spoofed clients must not grow the table: beyond max_keys, one count.
    rate = LogRate(window=10.0, max_keys=2)
    assert rate.admit(("a",), 0.0)[0] and rate.admit(("b",), 0.0)[0]
    assert [rate.admit((n,), 1.0)[0] for n in range(1000)] == [False] * 1000
    assert rate.flush(11.0) == [Summary(None, 1000, 10.0)]
    assert rate.admit(("c",), 11.0) == (True, None)  # room again
