"""Several compiled caches answering as one ``NameLookup``.

A config may name several caches (the default lists, a school's own list,
a distributor release). Across them the same rules hold as inside one: the
most specific listed suffix decides, and at the same suffix a white entry
beats a black one; black entries of the same suffix from different caches
merge their categories. A match names the cache that decided
(``ListMatch.list_name``); a merged one names each cache that gave it
categories, in lookup order: ``default+school``. With one cache the set is
that cache's own lookup.

With several caches the set walks the name's suffixes once, most specific
first, and asks every cache at each: the suffix's CRC (the prefilter's hash)
is computed once for all of them, and the first suffix any cache lists
decides, which is the most specific match across the caches.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from copgate.errors import CacheError
from copgate.lists.cache import ListCache, SuffixProbe
from copgate.lists.hashing import prefilter_hash
from copgate.lists.model import NOT_LISTED, ListMatch


class ListSet:
    """An ordered set of open caches; implements ``NameLookup``."""

    def __init__(self, caches: Sequence[ListCache]) -> None:
        self.caches = tuple(caches)
        self.built = max((cache.header.build_time for cache in self.caches), default=0)
        """The newest build time: a clock earlier than this is not plausible."""
        self.lookup: Callable[[str], ListMatch] = (
            self.caches[0].lookup
            if len(self.caches) == 1
            else _shared_walk(tuple(cache.suffixes for cache in self.caches))
        )
        """``NameLookup.lookup``: the most specific listed suffix across the caches."""

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

    def close(self) -> None:
        for cache in self.caches:
            cache.close()

    def categories(self) -> frozenset[str]:
        """Every category name the caches know."""
        return frozenset(name for cache in self.caches for name in cache.categories)


def _shared_walk(probes: tuple[SuffixProbe, ...]) -> Callable[[str], ListMatch]:
    """``lookup`` over several caches: each suffix hashed once, every cache asked.

    The same loop as one cache's (``copgate.lists.cache._walk``), with its
    prefilter test inlined per cache, since most suffixes of most names have
    no bit set in any cache and a call per cache would cost more than the test.
    """

    def lookup(name: str) -> ListMatch:
        if not name.isascii():  # listed names are ASCII (punycode): no other name can match
            return NOT_LISTED
        data = name.encode("ascii")
        pos = 0
        while True:
            dot = data.find(b".", pos)
            suffix = data[pos:]
            bit = prefilter_hash(suffix)
            byte, shift = bit >> 3, bit & 7
            best: ListMatch | None = None
            for buf, pre, pre_mask, tld, tld_mask, probe in probes:
                if dot < 0:
                    maybe = buf[tld + (byte & tld_mask)] >> shift & 1
                else:
                    maybe = buf[pre + (byte & pre_mask)] >> shift & 1
                if maybe:  # invariant 3: a clear bit proves the suffix is not listed
                    found = probe(suffix)
                    if found is not None:
                        best = found if best is None else _joined(best, found)
            if best is not None:
                return best
            if dot < 0:
                return NOT_LISTED
            pos = dot + 1

    return lookup


def _joined(best: ListMatch, match: ListMatch) -> ListMatch:
    """Two caches' matches at one suffix, the earlier first: white beats black."""
    if best.white:
        return best
    return match if match.white else _merged(best, match)


def _merged(first: ListMatch, second: ListMatch) -> ListMatch:
    """Two black matches at one suffix: their categories, and both lists' names."""
    names = first.list_name
    if names is None or second.list_name is None:
        names = names or second.list_name
    elif second.list_name not in names.split("+"):  # two files of one stem: say it once
        names = f"{names}+{second.list_name}"
    categories = first.categories | second.categories
    return ListMatch(True, first.match, categories, False, names)
