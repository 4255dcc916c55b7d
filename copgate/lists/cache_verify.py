"""The install-time check of a list cache's invariants (cache.py lists them).

Opening a cache checks only what answering safely needs (header, sizes,
section bounds). Before a file is installed, this module checks the rest,
reading every table once: bucket tables, category sets, the white entries
name by name. It raises CacheError naming the file and the first broken
invariant; it never writes anything.
"""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Iterator
from typing import TYPE_CHECKING

from copgate.errors import CacheError
from copgate.lists.cache_format import CacheHeader, Section
from copgate.lists.hashing import fingerprinter, prefilter_hash

if TYPE_CHECKING:
    from copgate.lists.cache import ListCache

CHUNK_ITEMS = 1 << 14
"""Values decoded at a time when checking a table (64 KB of u32)."""


def check_invariants(cache: ListCache) -> None:
    """Raise CacheError at the first invariant the file breaks."""
    header = cache.header
    _check_offsets(cache, Section.BLACK_BUCKETS, header.black_count, "black bucket table")
    _check_offsets(cache, Section.WHITE_BUCKETS, header.white_count, "white bucket table")
    _check_black_sets(cache)
    members = _section(cache, Section.SET_MEMBERS)
    if len(members) % 2:
        raise CacheError(f"{cache.where}: the category set members have an odd length")
    _check_offsets(cache, Section.SET_OFFSETS, len(members) // 2, "category set offsets")
    for index in range(header.set_count):
        cache.category_set(index)
    cache.catalogue()
    _check_white(cache)


def _section(cache: ListCache, section: Section) -> bytes:
    start, end = cache.header.span(section)
    return bytes(cache.buffer()[start:end])


def _u32s(raw: bytes) -> tuple[int, ...]:
    return struct.unpack(f">{len(raw) // 4}I", raw)


def _uints(cache: ListCache, section: Section, code: str) -> Iterator[int]:
    """The big-endian u16 (``H``) or u32 (``I``) values of a section, a chunk at a time.

    Verification runs on the router when an update arrives: it must not
    turn a million-entry table into a million Python ints at once.
    """
    start, end = cache.header.span(section)
    step = CHUNK_ITEMS * array(code).itemsize
    view = memoryview(cache.buffer())
    try:
        for at in range(start, end, step):
            values = array(code)
            values.frombytes(view[at : min(at + step, end)])
            if sys.byteorder == "little":
                values.byteswap()
            yield from values
    finally:
        view.release()


def _check_offsets(cache: ListCache, section: Section, total: int, what: str) -> None:
    previous = first = -1
    for value in _uints(cache, section, "I"):
        if first < 0:
            first = value
        elif value < previous:
            raise CacheError(f"{cache.where}: {what} decreases")
        previous = value
    if first != 0 or previous != total:
        raise CacheError(f"{cache.where}: {what} runs from {first} to {previous}, not 0 to {total}")


def _check_black_sets(cache: ListCache) -> None:
    header = cache.header
    if not header.black_count or header.set_width == 0:
        return
    if header.set_width == 1:
        start, end = header.span(Section.BLACK_SETS)
        with memoryview(cache.buffer()) as view:
            highest = max(
                max(view[at : min(at + CHUNK_ITEMS, end)]) for at in range(start, end, CHUNK_ITEMS)
            )
    else:
        highest = max(_uints(cache, Section.BLACK_SETS, "H"))
    if highest >= header.set_count:
        raise CacheError(f"{cache.where}: a black entry names category set {highest}")


def _check_white(cache: ListCache) -> None:
    header = cache.header
    if not header.white_count:
        return
    fingerprint = fingerprinter(header.key)
    stored = _section(cache, Section.WHITE_FINGERPRINTS)
    sets = struct.unpack(f">{header.white_count}H", _section(cache, Section.WHITE_SETS))
    names_length = header.span(Section.WHITE_NAMES)[1] - header.span(Section.WHITE_NAMES)[0]
    _check_offsets(cache, Section.WHITE_NAME_OFFSETS, names_length, "white name offsets")
    buckets = _u32s(_section(cache, Section.WHITE_BUCKETS))
    previous: tuple[bytes, bytes] | None = None
    for index in range(header.white_count):
        name = cache.white_name(index)
        record = stored[8 * index : 8 * index + 8]
        problem = _white_problem(header, name, (record, fingerprint(name)), buckets, index)
        if problem is None and previous is not None and previous >= (record, name):
            problem = "is out of order"
        if problem is None and sets[index] >= header.set_count:
            problem = f"names category set {sets[index]}"
        if problem is not None:
            raise CacheError(f"{cache.where}: white entry {index} ({name!r}) {problem}")
        previous = (record, name)
        _check_prefilter_bit(cache, name)


def _white_problem(
    header: CacheHeader,
    name: bytes,
    fingerprints: tuple[bytes, bytes],
    buckets: tuple[int, ...],
    index: int,
) -> str | None:
    record, expected = fingerprints
    if not name.isascii():
        return "is not ASCII"
    if record != expected:
        return "has a fingerprint that is not its name's"
    bucket = int.from_bytes(record[:4]) >> (32 - header.white_bucket_bits)
    if not buckets[bucket] <= index < buckets[bucket + 1]:
        return f"lies outside its bucket {bucket}"
    return None


def _check_prefilter_bit(cache: ListCache, name: bytes) -> None:
    header = cache.header
    if b"." in name:
        section, bits = Section.PREFILTER, header.prefilter_bits
    else:
        section, bits = Section.TLD_PREFILTER, header.tld_prefilter_bits
    bit = prefilter_hash(name) & ((1 << bits) - 1)
    byte = cache.buffer()[header.span(section)[0] + (bit >> 3)]
    if not byte >> (bit & 7) & 1:
        raise CacheError(f"{cache.where}: white entry {name!r} has no prefilter bit")
