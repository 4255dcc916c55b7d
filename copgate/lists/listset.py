"""Several compiled caches answering as one ``NameLookup``.

A config may name several caches (the default lists, a school's own list,
a distributor release). Across them the same rules hold as inside one: the
most specific listed suffix decides, and at the same suffix a white entry
beats a black one; black entries of the same suffix from different caches
merge their categories. A match names the cache that decided
(``ListMatch.list_name``); a merged one names each cache that gave it
categories, in lookup order: ``default+school``. With one cache the set is
that cache's own lookup.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from copgate.errors import CacheError
from copgate.lists.cache import ListCache
from copgate.lists.model import NOT_LISTED, ListMatch


class ListSet:
    """An ordered set of open caches; implements ``NameLookup``."""

    def __init__(self, caches: Sequence[ListCache]) -> None:
        self.caches = tuple(caches)
        self.built = max((cache.header.build_time for cache in self.caches), default=0)
        """The newest build time: a clock earlier than this is not plausible."""
        if len(self.caches) == 1:
            self.lookup = self.caches[0].lookup  # type: ignore[method-assign,assignment]

    @classmethod
    def open(cls, paths: Sequence[str | Path]) -> ListSet:
        """Open every cache, or none: a bad file closes those already open."""
        caches: list[ListCache] = []
        try:
            for path in paths:
                caches.append(ListCache.open(path))
        except CacheError:
            for cache in caches:
                cache.close()
            raise
        return cls(caches)

    def lookup(self, name: str) -> ListMatch:
        best = NOT_LISTED
        best_depth = -1
        for cache in self.caches:
            match = cache.lookup(name)
            if not match.listed or match.match is None:
                continue
            depth = match.match.count(".")
            if depth > best_depth:
                best, best_depth = match, depth
            elif depth == best_depth and not best.white:
                best = match if match.white else _merged(best, match)
        return best

    def close(self) -> None:
        for cache in self.caches:
            cache.close()

    def categories(self) -> frozenset[str]:
        """Every category name the caches know."""
        return frozenset(name for cache in self.caches for name in cache.categories)


def _merged(first: ListMatch, second: ListMatch) -> ListMatch:
    """Two black matches at one suffix: their categories, and both lists' names."""
    names = first.list_name
    if names is None or second.list_name is None:
        names = names or second.list_name
    elif second.list_name not in names.split("+"):  # two files of one stem: say it once
        names = f"{names}+{second.list_name}"
    categories = first.categories | second.categories
    return ListMatch(True, first.match, categories, False, names)
