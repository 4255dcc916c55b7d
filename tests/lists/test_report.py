"""Every import ends with a short report: names taken, then skips by reason with a first example."""

from __future__ import annotations

from copgate.lists.report import MAX_EXAMPLE, ImportReport, show


def test_skip_counts_each_reason_and_keeps_its_first_example() -> None:
    report = ImportReport("hosts.txt")
    report.skip("ip address", "line 12: 10.0.0.1")
    report.skip("duplicate", "line 40: a.example")
    report.skip("ip address", "line 13: 10.0.0.2")
    assert report.skipped == {
        "ip address": (2, "line 12: 10.0.0.1"),
        "duplicate": (1, "line 40: a.example"),
    }
    assert report.skipped_total == 3


def test_summary_says_taken_then_each_reason_most_frequent_first() -> None:
    report = ImportReport("hosts.txt", taken=26029, format="hosts")
    report.skip("duplicate", "line 40: a.example")
    report.skip("ip address", "line 12: 10.0.0.1")
    report.skip("ip address", "line 13: 10.0.0.2")
    assert report.summary() == (
        "hosts.txt (hosts): 26029 names taken, 3 skipped\n"
        "  ip address: 2 (first: line 12: 10.0.0.1)\n"
        "  duplicate: 1 (first: line 40: a.example)"
    )


def test_summary_of_a_clean_import_is_one_line() -> None:
    assert ImportReport("a.txt", taken=3).summary() == "a.txt: 3 names taken, 0 skipped"


def test_examples_are_escaped_and_cut() -> None:
    assert show("bell\x07\x1b[31m.example") == "bell\\x07\\x1b[31m.example"
    assert show("zero\u200bwidth") == "zero\\u200bwidth"
    assert show("café.example") == "café.example"
    long = show("x" * 500)
    assert len(long) == MAX_EXAMPLE and long.endswith("...")
