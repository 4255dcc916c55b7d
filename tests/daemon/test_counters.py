"""The engine's counters: evasion counted by kind, a bounded number of kinds."""

from __future__ import annotations

import pytest

from copgate.daemon.counters import MAX_EVASION_KINDS, Counters, reason_kind


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        ("nothing readable in 32768 bytes", "nothing readable in bytes"),
        ("overlap disagrees: 12 bytes at offset 40", "overlap disagrees"),
        ("eviction (client over 64 undecided flows)", "eviction"),
        ("", "unnamed"),
    ],
)
def test_evasion_reasons_are_counted_without_their_numbers(reason: str, kind: str) -> None:
    assert reason_kind(reason) == kind


def test_evasion_kinds_past_the_bound_are_counted_as_other() -> None:
    counters = Counters()
    words = [f"trick {chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(MAX_EVASION_KINDS + 3)]
    for word in words:
        counters.count_evasion(word)
    counters.count_evasion(words[0])  # a kind already counted keeps its own count
    assert len(counters.evasion) == MAX_EVASION_KINDS + 1
    assert counters.evasion["other"] == 3 and counters.evasion[words[0]] == 2
