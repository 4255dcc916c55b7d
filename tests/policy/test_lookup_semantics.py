"""The lookup semantics policy relies on, in the real cache and in words.

``MemoryLookup`` (tests/policy/helpers.py) states the semantics the decision
table's essay assumes; the compiled cache must give the same answers for
every name the policy tests use, so the tables test the real thing.
"""

from __future__ import annotations

import pytest

from copgate.lists.model import ListEntry
from tests.policy import test_decide, test_decide_property
from tests.policy.helpers import MemoryLookup, compiled

PROBES = [
    "adult.test",
    "www.adult.test",
    "edu.games.test",
    "x.edu.games.test",
    "games.test",
    "both.test",
    "wiki.test",
    "ads.wiki.test",
    "a.ads.wiki.test",
    "www.google.com",
    "google.com",
    "com",
    "test",
    "unknown.test",
]


@pytest.mark.parametrize("entries", [test_decide.ENTRIES, test_decide_property.ENTRIES])
def test_cache_agrees_with_the_documented_semantics(entries: list[ListEntry]) -> None:
    cache, memory = compiled(entries), MemoryLookup(entries)
    for name in PROBES + [entry.name for entry in entries]:
        assert cache.lookup(name) == memory.lookup(name), name


def test_white_beats_black_at_the_same_name() -> None:
    match = MemoryLookup(test_decide.ENTRIES).lookup("both.test")
    assert match.white and match.categories == frozenset({"liste_bu"})
