"""Small builders shared by the list cache tests."""

from __future__ import annotations

from collections.abc import Iterable

from copgate.lists.cache import ListCache
from copgate.lists.compile import build_cache
from copgate.lists.model import ListEntry

BUILD_TIME = 1_767_225_600  # 2026-01-01T00:00:00Z, passed in: the core never reads a clock


def black(name: str, *categories: str) -> ListEntry:
    return ListEntry(name, frozenset(categories or ("adult",)))


def white(name: str, *categories: str) -> ListEntry:
    return ListEntry(name, frozenset(categories or ("allowed",)), white=True)


def cache_of(entries: Iterable[ListEntry]) -> ListCache:
    data, _report = build_cache(entries, build_time=BUILD_TIME)
    return ListCache.from_bytes(data, "test.cache")


def cache_bytes(entries: Iterable[ListEntry], release: int = 0) -> bytes:
    data, _report = build_cache(entries, build_time=BUILD_TIME, release=release)
    return data
