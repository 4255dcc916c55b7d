""" "Recently blocked": newest first, one row per visit, only this client's blocks."""

from __future__ import annotations

from copgate.daemon.ring import DecisionRing
from copgate.edges.requests_edge import recent_from_ring
from copgate.requests.page import Recent
from copgate.requests.recent import recent_rows

NOW = 1_800_000_000.0


def test_one_visit_is_one_row_and_the_newest_comes_first() -> None:
    blocks = [
        Recent(NOW, "a.example", "category", "games"),  # the DNS question
        Recent(NOW + 1, "a.example", "category", "games"),  # then the TLS hello
        Recent(NOW + 2, "b.example", "category", "adult"),
        Recent(NOW + 30, "a.example", "time_window", ""),  # a later visit
    ]
    assert recent_rows(blocks) == [blocks[3], blocks[2], blocks[1]]


def test_the_ring_gives_this_clients_blocks_only() -> None:
    ring = DecisionRing(100, keep_allowed=True)
    rows = [
        ("192.0.2.10", "a.example", "block", "gambling", "category"),
        ("192.0.2.10", "ok.example", "allow", None, "not_listed"),
        ("192.0.2.11", "c.example", "block", "adult", "category"),
        ("192.0.2.10", "d.example", "block", None, "whitelist_only"),
    ]
    for n, (client, name, verdict, category, rule) in enumerate(rows):
        ring.record(
            time=NOW + 20 * n,
            client=client,
            group="kids",
            kind="dns",
            name=name,
            verdict=verdict,
            reason="why",
            category=category,
            rule=rule,
        )
    recent = recent_from_ring(ring)
    assert recent("192.0.2.10") == [
        Recent(NOW + 60, "d.example", "whitelist_only", ""),
        Recent(NOW, "a.example", "category", "gambling"),
    ]
    assert recent("192.0.2.99") == []
    assert recent_from_ring(DecisionRing(0))("192.0.2.10") == []
