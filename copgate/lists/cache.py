"""The compiled list cache, read through one read-only memory map.

A ``ListCache`` answers ``lookup(name)`` (the ``NameLookup`` protocol) from a
file that ``copgate.lists.compile`` wrote; ``cache_format`` has the layout and
docs/lists-cache.md the prose. Opening maps the file and checks its header,
sizes and section bounds (about 0.1 ms, no per-entry objects); the
body's checksum is checked by ``verify_cache_file`` at install time, not here.
This module reads files; it never writes them and never reads the clock.

Invariants of a cache file (the builder makes them true, lookup relies on
them, ``verify_cache_file`` checks them):

1. A listed name covers its subdomains: ``lookup`` probes the name, then each
   parent (``www.a.example.com``, ``a.example.com``, ``example.com``,
   ``com``), and the first probe that hits decides: the most specific suffix.
2. At one name a white entry beats a black one: each probe asks the white
   table before the black one.
3. Every listed name of two labels or more has its prefilter bit set, every
   single-label one its TLD-prefilter bit; a clear bit proves "not listed",
   so the prefilter has false positives (extra probes) but no false negatives.
4. Black entries are fingerprints: entry i of bucket b (the first
   ``bucket_bits`` bits of the fingerprint) stores fingerprint bytes 4..8.
   Two names sharing bucket and remainder are one entry whose categories are
   the union of both: that is the false-positive risk docs/lists-cache.md
   computes (about 2e-9 per probe), never a false negative.
5. White entries are whole fingerprints plus the exact name; a hit counts only
   when the name bytes are equal, so no crafted name collides its way in.
6. Each entry's categories are a set index into one table of distinct sets;
   a set lists category indexes into the category names table.
7. Bucket tables start at 0, never decrease and end at the entry count.
"""

from __future__ import annotations

import json
import mmap
import os
import struct
from collections.abc import Callable
from pathlib import PurePath
from types import TracebackType
from typing import TypeAlias

from copgate.errors import CacheError
from copgate.lists.cache_format import (
    WHITE_SET_WIDTH,
    CacheHeader,
    Section,
    body_checksum,
    parse_header,
)
from copgate.lists.cache_verify import check_invariants
from copgate.lists.hashing import keyed_hasher, prefilter_hash
from copgate.lists.model import NOT_LISTED, Category, DefaultUse, ListMatch

Mapped: TypeAlias = bytes | mmap.mmap
"""What a cache reads from: a read-only memory map, or bytes (tests, builds)."""

_U16 = struct.Struct(">H").unpack_from
_U32 = struct.Struct(">I").unpack_from
_U32X2 = struct.Struct(">II").unpack_from


class ListCache:
    """A compiled list cache; implements ``NameLookup``. Close it, or use ``with``.

    Lookups never allocate per entry and share the map with every caller.
    Nothing refers back to the cache from its lookup closures, so dropping
    the last reference unmaps the file at once; ``close`` does it explicitly.
    Closing while another thread still looks up is the caller's bug (the map
    raises ``ValueError``): to swap releases, open the new cache, point
    callers at it, then close the old one.
    """

    __slots__ = ("header", "lookup", "name", "suffixes", "tables", "where")

    def __init__(
        self, buf: Mapped, header: CacheHeader, where: str, name: str | None = None
    ) -> None:
        """Use ``open`` or ``from_bytes``; ``header`` must come from ``parse_header(buf)``."""
        self.header = header
        self.where = where
        """The file (or a label) that errors name."""
        self.name = cache_name(where) if name is None else name
        """The list's short name, in every match it answers (``ListMatch.list_name``).

        The file's stem (``default`` for /etc/copgate/default.cgl): the header
        holds no name, and the stem is what an administrator called the list.
        Fixed here, once, so a lookup only passes it on."""
        self.tables = CacheTables(buf, header, where, self.name)
        if header.black_count:
            start = header.sections[Section.BLACK_BUCKETS][0]
            end = _U32(buf, start + 4 * (1 << header.bucket_bits))[0]
            if end != header.black_count:
                raise CacheError(f"{where}: bucket table ends at {end}, not {header.black_count}")
        self.suffixes = _suffix_probe(self.tables, _probe(self.tables))
        """Its prefilters and probe, for a walk over the suffixes shared with other
        caches (``copgate.lists.listset``): the CRC of a suffix is computed once."""
        self.lookup: Callable[[str], ListMatch] = _walk(self.suffixes)
        """The most specific listed suffix of the normalised ``name`` (invariants 1-3).

        ``NameLookup.lookup``: a closure over the map and its offsets, built
        at open, because a lookup is on the path of every packet and CPython
        reads closure variables faster than attributes."""

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> ListCache:
        """Map ``path`` read-only and check its header; CacheError if it is not a sound cache."""
        where = os.fspath(path)
        try:
            with open(path, "rb") as file:
                size = os.fstat(file.fileno()).st_size
                if size == 0:
                    raise CacheError(f"{where}: empty file, not a list cache")
                buf = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        except OSError as exc:
            raise CacheError(f"{where}: cannot open the list cache: {exc.strerror}") from exc
        try:
            return cls(buf, parse_header(buf, size, where), where)
        except CacheError:
            buf.close()
            raise

    @classmethod
    def from_bytes(cls, data: bytes, where: str = "<bytes>", name: str | None = None) -> ListCache:
        """A cache over bytes in memory (tests, and checking a build before writing it).

        ``name`` is the list's name in matches; by default ``where``'s stem."""
        return cls(data, parse_header(data, len(data), where), where, name)

    def close(self) -> None:
        """Unmap the file; lookups after this are a bug."""
        buf = self.tables.buf
        if isinstance(buf, mmap.mmap):
            buf.close()

    def __enter__(self) -> ListCache:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def categories(self) -> tuple[str, ...]:
        """Every category name of the file, by index."""
        return self.tables.categories

    def category_set(self, index: int) -> frozenset[str]:
        """The categories of set ``index``."""
        return self.tables.category_set(index)

    def white_name(self, index: int) -> bytes:
        """The exact name of white entry ``index``."""
        return self.tables.white_name(index)

    def catalogue(self) -> dict[str, Category]:
        """The catalogue the file was built with (titles, descriptions, default use)."""
        return self.tables.catalogue()

    def buffer(self) -> Mapped:
        """The whole file's bytes (a memory map, or the bytes given)."""
        return self.tables.buf


class CacheTables:
    """The small tables of an open cache: category sets, category names, white entries.

    Decoded on first use and cached (a few hundred sets at most), so opening
    builds nothing. Lookup closures hold this, never the ``ListCache``.
    """

    __slots__ = ("_catalogue", "_categories", "_sets", "buf", "header", "name", "where")

    def __init__(self, buf: Mapped, header: CacheHeader, where: str, name: str) -> None:
        self.buf = buf
        self.header = header
        self.where = where
        self.name = name
        """``ListCache.name``, for the matches the lookup builds."""
        self._sets: dict[int, frozenset[str]] = {}
        self._categories: tuple[str, ...] | None = None
        self._catalogue: dict[str, Category] | None = None

    def probe_white(self, suffix: bytes, fingerprint: bytes) -> ListMatch | None:
        """The white entry named exactly ``suffix`` (invariant 5), if any."""
        header = self.header
        buf = self.buf
        buckets = header.sections[Section.WHITE_BUCKETS][0]
        bucket = _U32(fingerprint)[0] >> (32 - header.white_bucket_bits)
        low, high = _U32X2(buf, buckets + 4 * bucket)
        base = header.sections[Section.WHITE_FINGERPRINTS][0]
        end = base + 8 * high
        at = buf.find(fingerprint, base + 8 * low, end)
        while at >= 0:
            index = (at - base) >> 3
            if not (at - base) & 7 and self.white_name(index) == suffix:
                sets = header.sections[Section.WHITE_SETS][0]
                set_index = _U16(buf, sets + WHITE_SET_WIDTH * index)[0]
                categories = self.category_set(set_index)
                return ListMatch(True, suffix.decode("ascii"), categories, True, self.name)
            at = buf.find(fingerprint, at + 1, end)
        return None

    def white_name(self, index: int) -> bytes:
        """The exact name of white entry ``index`` (invariant 5)."""
        header = self.header
        if not 0 <= index < header.white_count:
            raise CacheError(f"{self.where}: white entry {index} out of range")
        offsets = header.sections[Section.WHITE_NAME_OFFSETS][0]
        names_start, names_end = header.span(Section.WHITE_NAMES)
        start, stop = _U32X2(self.buf, offsets + 4 * index)
        if not start <= stop <= names_end - names_start:
            raise CacheError(f"{self.where}: corrupted white name offsets at entry {index}")
        return bytes(self.buf[names_start + start : names_start + stop])

    def category_set(self, index: int) -> frozenset[str]:
        """The categories of set ``index`` (decoded once, then cached)."""
        found = self._sets.get(index)
        if found is None:
            found = self._sets[index] = self._decode_set(index)
        return found

    def _decode_set(self, index: int) -> frozenset[str]:
        header = self.header
        if not 0 <= index < header.set_count:
            raise CacheError(f"{self.where}: category set {index} out of range")
        offsets = header.sections[Section.SET_OFFSETS][0]
        members_start, members_end = header.span(Section.SET_MEMBERS)
        low, high = _U32X2(self.buf, offsets + 4 * index)
        if not low <= high <= (members_end - members_start) // 2:
            raise CacheError(f"{self.where}: corrupted category set {index}")
        members = struct.unpack_from(f">{high - low}H", self.buf, members_start + 2 * low)
        names = self.categories
        if any(member >= len(names) for member in members):
            raise CacheError(f"{self.where}: category set {index} names an unknown category")
        return frozenset(names[member] for member in members)

    @property
    def categories(self) -> tuple[str, ...]:
        """Every category name of the file, by index."""
        if self._categories is None:
            self._categories = _decode_category_names(
                bytes(self._slice(Section.CATEGORY_NAMES)), self.header.category_count, self.where
            )
        return self._categories

    def catalogue(self) -> dict[str, Category]:
        """The catalogue (a copy: callers may change it)."""
        if self._catalogue is None:
            self._catalogue = decode_catalogue(bytes(self._slice(Section.CATALOGUE)), self.where)
        return dict(self._catalogue)

    def _slice(self, section: Section) -> Mapped:
        start, end = self.header.span(section)
        return self.buf[start:end]


SuffixProbe: TypeAlias = tuple[Mapped, int, int, int, int, Callable[[bytes], "ListMatch | None"]]
"""One cache's suffix test, as plain values a hot loop binds to locals: the map,
the prefilter's offset and byte mask, the TLD prefilter's offset and byte mask,
and the probe of one suffix (asked only when its prefilter bit is set)."""


def _suffix_probe(tables: CacheTables, probe: Callable[[bytes], ListMatch | None]) -> SuffixProbe:
    header = tables.header
    pre = header.sections[Section.PREFILTER][0]
    pre_mask = (1 << (header.prefilter_bits - 3)) - 1
    tld = header.sections[Section.TLD_PREFILTER][0]
    tld_mask = (1 << (header.tld_prefilter_bits - 3)) - 1
    return tables.buf, pre, pre_mask, tld, tld_mask, probe


def _walk(suffixes: SuffixProbe) -> Callable[[str], ListMatch]:
    """``lookup``: probe the name, then each parent, until one hits."""
    buf, pre, pre_mask, tld, tld_mask, probe = suffixes

    def lookup(name: str) -> ListMatch:
        if not name.isascii():  # listed names are ASCII (punycode): no other name can match
            return NOT_LISTED
        data = name.encode("ascii")
        pos = 0
        while True:
            dot = data.find(b".", pos)
            suffix = data[pos:]
            bit = prefilter_hash(suffix)
            if dot < 0:
                maybe = buf[tld + (bit >> 3 & tld_mask)] >> (bit & 7) & 1
            else:
                maybe = buf[pre + (bit >> 3 & pre_mask)] >> (bit & 7) & 1
            if maybe:  # invariant 3: a clear bit proves the suffix is not listed
                found = probe(suffix)
                if found is not None:
                    return found
            if dot < 0:
                return NOT_LISTED
            pos = dot + 1

    return lookup


def _probe(tables: CacheTables) -> Callable[[bytes], ListMatch | None]:
    """The entry at exactly ``suffix``: white first (invariant 2), then black (invariant 4)."""
    header = tables.header
    buf = tables.buf
    copy = keyed_hasher(header.key).copy
    buckets = header.sections[Section.BLACK_BUCKETS][0]
    base = header.sections[Section.BLACK_REMAINDERS][0]
    sets = header.sections[Section.BLACK_SETS][0]
    shift = 32 - header.bucket_bits
    width = header.set_width
    count = header.black_count
    probe_white = tables.probe_white if header.white_count else None
    category_set = tables.category_set
    where = tables.where
    name = tables.name

    def probe(suffix: bytes) -> ListMatch | None:
        hasher = copy()
        hasher.update(suffix)
        fingerprint = hasher.digest()
        if probe_white is not None:
            found = probe_white(suffix, fingerprint)
            if found is not None:
                return found
        low, high = _U32X2(buf, buckets + ((_U32(fingerprint)[0] >> shift) << 2))
        end = base + 4 * high
        remainder = fingerprint[4:]
        at = buf.find(remainder, base + 4 * low, end)
        # A match across two 4-byte records is not a record: step past it.
        while at >= 0 and (at - base) & 3:
            at = buf.find(remainder, at + 1, end)
        if at < 0:
            return None
        index = (at - base) >> 2
        if index >= count:
            raise CacheError(f"{where}: corrupted bucket table (entry {index})")
        if width == 0:
            set_index = 0
        elif width == 1:
            set_index = buf[sets + index]
        else:
            set_index = _U16(buf, sets + 2 * index)[0]
        return ListMatch(True, suffix.decode("ascii"), category_set(set_index), False, name)

    return probe


def cache_name(where: str) -> str:
    """The short name of the cache at ``where``: the file's stem, or ``where`` itself."""
    return PurePath(where).stem or where


def _decode_category_names(raw: bytes, count: int, where: str) -> tuple[str, ...]:
    names = []
    pos = 0
    try:
        while pos < len(raw):
            length = raw[pos]
            if pos + 1 + length > len(raw):
                raise CacheError(f"{where}: category names section is truncated")
            names.append(raw[pos + 1 : pos + 1 + length].decode("utf-8"))
            pos += 1 + length
    except UnicodeDecodeError as exc:
        raise CacheError(f"{where}: a category name is not UTF-8") from exc
    if len(names) != count:
        raise CacheError(f"{where}: {len(names)} category names, the header says {count}")
    return tuple(names)


def encode_catalogue(catalogue: dict[str, Category]) -> bytes:
    """The CATALOGUE section: canonical JSON (sorted keys) so equal inputs give equal bytes."""
    document = {
        name: {
            "default_use": category.default_use.value,
            "titles": category.titles,
            "descriptions": category.descriptions,
        }
        for name, category in catalogue.items()
    }
    return json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def decode_catalogue(raw: bytes, where: str) -> dict[str, Category]:
    """Read the CATALOGUE section back; CacheError if it is not what ``encode_catalogue`` writes."""
    try:
        document = json.loads(raw.decode("utf-8"))
        return {
            name: Category(
                name,
                DefaultUse(fields["default_use"]),
                {str(k): str(v) for k, v in fields["titles"].items()},
                {str(k): str(v) for k, v in fields["descriptions"].items()},
            )
            for name, fields in document.items()
        }
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CacheError(f"{where}: the catalogue section is malformed ({exc})") from exc


def verify_cache_file(path: str | os.PathLike[str]) -> CacheHeader:
    """Check a cache file completely: header, checksum, then every invariant.

    For install time (compile, update): it reads the whole file. CacheError
    names the file and the first problem found.
    """
    with ListCache.open(path) as cache:
        verify_cache(cache)
        return cache.header


def verify_cache(cache: ListCache) -> None:
    """``verify_cache_file`` over an open cache."""
    header = cache.header
    actual = body_checksum(cache.buffer())
    if actual != header.checksum:
        raise CacheError(
            f"{cache.where}: checksum mismatch (file says {header.checksum.hex()[:16]}..., "
            f"body hashes to {actual.hex()[:16]}...): the file is corrupted"
        )
    check_invariants(cache)
