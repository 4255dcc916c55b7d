"""Build a list cache from ``ListEntry`` values.

``build_cache`` is pure: entries, catalogue and the build time in, the file's
bytes out (it never reads the clock; the command passes the time).
``compile_cache`` adds the budget check and the atomic install
(``copgate.lists.install``).

The layout is in ``cache_format`` and docs/lists-cache.md. Encodings are
stable across builds: a name always has the same fingerprint and prefilter
bit, and passing the previous release as ``previous`` keeps its category and
set indexes, so consecutive releases differ only where their lists differ.
"""

from __future__ import annotations

import dataclasses
import itertools
import operator
import os
import re
from collections.abc import Iterable, Mapping

from copgate.errors import BudgetError, CacheError
from copgate.lists.cache import ListCache
from copgate.lists.cache_format import (
    CHECKSUM_SIZE,
    MAX_CATEGORIES,
    MAX_CATEGORY_NAME,
    MAX_ENTRIES,
    MAX_SETS,
    VERSION,
    CacheHeader,
    Section,
)
from copgate.lists.cache_sections import (
    CategoryTables,
    assemble,
    bitmap_bits,
    black_sections,
    prefilters,
    white_bucket_bits,
    white_sections,
)
from copgate.lists.hashing import FINGERPRINT_KEY, fingerprint, keyed_hasher
from copgate.lists.install import install_cache
from copgate.lists.model import Category, DefaultUse, ListEntry

MAX_NAME_TEXT = 253  # RFC 1035 §2.3.4, as dotted text
MAX_LABEL = 63  # RFC 1035 §2.3.4
_NORMALISED = re.compile(r"[a-z0-9_-]{1,63}(?:\.[a-z0-9_-]{1,63})*")
_BAD_CHARACTER = re.compile(r"[^a-z0-9_.\n-]")

BUCKET_LOAD_BITS = 3
"""Buckets hold 4 to 8 black entries on average (2**k <= n/4 < 2**(k+1)):
few enough that a probe scans a handful of bytes, many enough that the
table costs at most one byte per name."""


class EntryTable:
    """Names to compile, merged: one category set per (name, colour).

    Adding a name again unites its categories. ``add_names`` is the fast path
    for sources that give plain name lists (no ``ListEntry`` per name).
    """

    __slots__ = ("black", "white")

    def __init__(self) -> None:
        self.black: dict[str, frozenset[str]] = {}
        self.white: dict[str, frozenset[str]] = {}

    def add(self, entry: ListEntry) -> None:
        """Add one entry."""
        table = self.white if entry.white else self.black
        categories = entry.categories
        old = table.setdefault(entry.name, categories)
        if old is not categories:
            table[entry.name] = old | categories

    def add_names(
        self, names: Iterable[str], categories: frozenset[str], white: bool = False
    ) -> None:
        """Add every name of ``names`` with ``categories``."""
        table = self.white if white else self.black
        setdefault = table.setdefault
        for name in names:
            old = setdefault(name, categories)
            # Sources share one frozenset across a file: identity is the common case.
            if old is not categories:
                table[name] = old | categories

    def __len__(self) -> int:
        return len(self.black) + len(self.white)


@dataclasses.dataclass(frozen=True, slots=True)
class CompileReport:
    """What a build produced."""

    names: int
    """Distinct listed names, black and white."""
    black_names: int
    white_names: int
    fingerprint_merges: int
    """Black names whose stored fingerprint another black name already had."""
    sets: int
    categories: int
    size: int
    """Bytes of the file."""

    @property
    def bytes_per_name(self) -> float:
        return self.size / self.names if self.names else float(self.size)


def build_cache(
    entries: Iterable[ListEntry] | EntryTable,
    catalogue: Mapping[str, Category] | None = None,
    *,
    build_time: int,
    release: int = 0,
    previous: ListCache | None = None,
) -> tuple[bytes, CompileReport]:
    """The bytes of a cache file holding ``entries``, and a report.

    Entries with the same name and colour merge (their categories unite).
    Names must be normalised (``copgate.wire.names``); CacheError names the
    first that is not. A category used by an entry but absent from
    ``catalogue`` is described as black, without titles. ``previous`` (the
    release this one replaces) keeps its category and set indexes stable.
    """
    if isinstance(entries, EntryTable):
        table = entries
    else:
        table = EntryTable()
        for entry in entries:
            table.add(entry)
    black, white = table.black, table.white
    if len(black) > MAX_ENTRIES or len(white) > MAX_ENTRIES:
        raise CacheError(f"cannot compile {len(black)} + {len(white)} entries: over {MAX_ENTRIES}")
    _check_names(black)
    _check_names(white)
    full_catalogue = _full_catalogue(table, catalogue or {})
    tables = CategoryTables.start(full_catalogue, previous)
    bucket_bits = max(0, len(black).bit_length() - BUCKET_LOAD_BITS)
    keys = _black_keys(black, bucket_bits, tables)
    keys, merges = _fold_collisions(keys, tables)
    for categories in sorted_sets(white):
        tables.index(categories)  # before the index width is chosen
    white_records = sorted((fingerprint(raw), raw) for raw in map(str.encode, white))
    if len(tables.sets) > MAX_SETS or len(tables.names) > MAX_CATEGORIES:
        raise CacheError(
            f"cannot compile {len(tables.sets)} category sets of {len(tables.names)} categories: "
            f"over {MAX_SETS}"
        )
    set_width = 0 if len(tables.sets) <= 1 else 1 if len(tables.sets) <= 256 else 2
    prefilter, tld_prefilter = prefilters([*black, *white])
    sections = {
        Section.PREFILTER: prefilter,
        Section.TLD_PREFILTER: tld_prefilter,
        **black_sections(keys, bucket_bits, set_width),
        **white_sections(white_records, white, tables),
        **tables.sections(full_catalogue),
    }
    header = CacheHeader(
        version=VERSION,
        build_time=build_time,
        release=release,
        key=FINGERPRINT_KEY,
        bucket_bits=bucket_bits,
        white_bucket_bits=white_bucket_bits(len(white)),
        set_width=set_width,
        prefilter_bits=bitmap_bits(prefilter),
        tld_prefilter_bits=bitmap_bits(tld_prefilter),
        black_count=len(keys),
        white_count=len(white),
        set_count=len(tables.sets),
        category_count=len(tables.names),
        sections=(),
        checksum=bytes(CHECKSUM_SIZE),
    )
    data = assemble(header, sections)
    report = CompileReport(
        names=len(black) + len(white),
        black_names=len(black),
        white_names=len(white),
        fingerprint_merges=merges,
        sets=len(tables.sets),
        categories=len(tables.names),
        size=len(data),
    )
    return data, report


def _check_names(table: dict[str, frozenset[str]]) -> None:
    """CacheError naming the first name that is not normalised.

    A few scans of all names joined run in C; only when one fails do we look
    for the culprit name by name.
    """
    if not table:
        return
    joined = "\n".join(table)
    long_names = [name for name in table if len(name) > MAX_LABEL]
    if (
        _BAD_CHARACTER.search(joined) is None
        and ".." not in joined
        and "\n." not in joined
        and ".\n" not in joined
        and not joined.startswith(".")
        and not joined.endswith(".")
        and "" not in table
        and not any(map(_too_long, long_names))
    ):
        return
    for name in table:
        if len(name) > MAX_NAME_TEXT or not _NORMALISED.fullmatch(name):
            raise CacheError(f"cannot compile: entry name {name!r} is not a normalised host name")


def _too_long(name: str) -> bool:
    return len(name) > MAX_NAME_TEXT or any(len(label) > MAX_LABEL for label in name.split("."))


def _full_catalogue(table: EntryTable, catalogue: Mapping[str, Category]) -> dict[str, Category]:
    used: set[str] = set()
    for categories in {*table.black.values(), *table.white.values()}:
        used.update(categories)
    full = dict(catalogue)
    for name in sorted(used - full.keys()):
        full[name] = Category(name, DefaultUse.BLACK)
    for name in full:
        if not name or len(name.encode()) > MAX_CATEGORY_NAME:
            raise CacheError(f"cannot compile: category name {name!r} is empty or too long")
    return full


def _black_keys(
    black: dict[str, frozenset[str]], bucket_bits: int, tables: CategoryTables
) -> list[int]:
    """Sorted ``bucket << 48 | remainder << 16 | set index`` of every black name.

    The bucket is the first ``bucket_bits`` bits of the fingerprint, the
    remainder its last 32 bits; together they are the stored fingerprint.
    """
    set_of = {categories: tables.index(categories) for categories in sorted_sets(black)}
    copy = keyed_hasher().copy
    from_bytes = int.from_bytes
    drop = 64 - bucket_bits
    keys: list[int] = []
    append = keys.append
    for name, categories in black.items():
        hasher = copy()
        hasher.update(name.encode())
        whole = from_bytes(hasher.digest())
        append((whole >> drop << 48) | (whole & 0xFFFFFFFF) << 16 | set_of[categories])
    keys.sort()
    return keys


def sorted_sets(table: dict[str, frozenset[str]]) -> list[frozenset[str]]:
    """The distinct category sets of ``table``, in a stable order (by sorted names)."""
    return sorted(set(table.values()), key=sorted)


def _fold_collisions(keys: list[int], tables: CategoryTables) -> tuple[list[int], int]:
    """Merge entries that share a stored fingerprint (invariant 4); the merge count.

    Expected about n**2 / 2**(k+33) merges: 0.0006 for 839,126 names.
    """
    stored = [key >> 16 for key in keys]
    # Sorted, so equal stored fingerprints are neighbours: one pass in C.
    if not any(map(operator.eq, stored, itertools.islice(stored, 1, None))):
        return keys, 0
    folded: list[int] = []
    merges = 0
    by_index = {index: categories for categories, index in tables.sets.items()}
    for key in keys:
        if folded and folded[-1] >> 16 == key >> 16:
            merges += 1
            union = by_index[folded[-1] & 0xFFFF] | by_index[key & 0xFFFF]
            index = tables.index(union)
            by_index[index] = union
            folded[-1] = (key >> 16 << 16) | index
        else:
            folded.append(key)
    return folded, merges


def compile_cache(
    entries: Iterable[ListEntry] | EntryTable,
    output: str | os.PathLike[str],
    catalogue: Mapping[str, Category] | None = None,
    *,
    build_time: int,
    release: int = 0,
    budget: int | None = None,
) -> CompileReport:
    """Build and install a cache at ``output``; BudgetError before writing if it is too big."""
    data, report = build_cache(entries, catalogue, build_time=build_time, release=release)
    check_budget(report, budget, output)
    install_cache(data, output)
    return report


def check_budget(report: CompileReport, budget: int | None, output: str | os.PathLike[str]) -> None:
    """BudgetError when the build does not fit ``budget`` bytes (None: no budget)."""
    if budget is not None and report.size > budget:
        raise BudgetError(
            f"{os.fspath(output)}: the compiled cache needs {report.size} bytes "
            f"({report.bytes_per_name:.2f} bytes/name for {report.names} names), "
            f"over the budget of {budget} bytes; nothing was written"
        )
