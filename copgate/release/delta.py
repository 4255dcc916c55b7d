"""Make a release delta on the distributor's side (memory is allowed here).

The cache's layout decides what a delta must be good at. Names sit in
fingerprint order, so a 1% change of names inserts and removes records at
8,400 scattered places; the bucket tables hold cumulative offsets, so one
inserted record changes every later offset; the prefilters are bitmaps with
scattered bits flipped. A plain copy/insert byte diff pays for every bucket
offset (about 10% of the file); this encoder knows the sections instead:

- the black records (remainders, sets) are aligned by their sort key,
  ``(bucket, remainder)``, rebuilt from both files' bucket tables: kept
  records become COPYs, new ones LITERALs, removed ones a skip of the cursor;
- offset tables of equal length become one ADD32 whose changes are the
  places where the difference between old and new offsets changes;
- bitmaps of equal length become one FLIP of the bits that differ;
- everything else (white sections, categories, catalogue, and any pair of
  files that are not both caches) goes through a block-matching diff.

The new file's header is sent as it is (328 bytes), so the result needs no
second pass to fix its checksum. ``make_delta`` always returns a delta that
rebuilds ``new`` exactly; the section rules only make it smaller. This
module is pure: bytes in, bytes out, no files, no clock.
"""

from __future__ import annotations

import hashlib
import itertools
import sys
import zlib
from array import array
from collections.abc import Callable

from copgate.errors import CacheError
from copgate.lists.cache_format import HEADER_SIZE, CacheHeader, Section, parse_header
from copgate.release.delta_format import HEADER, MAGIC, VERSION, Op, svarint, varint

BLOCK = 32
"""Bytes of a block the generic diff indexes: long enough to be rarely
ambiguous, short enough to find runs between small edits."""
ZLIB_LEVEL = 9


class _Writer:
    """Accumulates instructions; merges adjacent copies and adjacent literals."""

    def __init__(self) -> None:
        self.out = bytearray()
        self._cursor = 0
        self._copy: tuple[int, int] | None = None
        self._literal = bytearray()

    def copy(self, start: int, length: int) -> None:
        if length <= 0:
            return
        self._flush_literal()
        if self._copy is not None and self._copy[0] + self._copy[1] == start:
            self._copy = (self._copy[0], self._copy[1] + length)
            return
        self._flush_copy()
        self._copy = (start, length)

    def literal(self, data: bytes | memoryview) -> None:
        if not data:
            return
        self._flush_copy()
        self._literal += data

    def flip(self, start: int, length: int, bits: list[int]) -> None:
        self._flush()
        self.out += bytes([Op.FLIP]) + self._relative(start, length) + varint(length)
        self.out += varint(len(bits)) + _gaps(bits)

    def add32(self, start: int, count: int, changes: list[tuple[int, int]]) -> None:
        self._flush()
        self.out += bytes([Op.ADD32]) + self._relative(start, count * 4) + varint(count)
        self.out += varint(len(changes))
        previous = -1
        for index, step in changes:
            self.out += varint(index - previous - 1) + svarint(step)
            previous = index

    def finish(self) -> bytes:
        self._flush()
        self.out.append(Op.END)
        return bytes(self.out)

    def _relative(self, start: int, length: int) -> bytes:
        relative = svarint(start - self._cursor)
        self._cursor = start + length
        return relative

    def _flush(self) -> None:
        self._flush_copy()
        self._flush_literal()

    def _flush_copy(self) -> None:
        if self._copy is not None:
            start, length = self._copy
            self.out += bytes([Op.COPY]) + self._relative(start, length) + varint(length)
            self._copy = None

    def _flush_literal(self) -> None:
        if self._literal:
            self.out += bytes([Op.LITERAL]) + varint(len(self._literal)) + self._literal
            self._literal = bytearray()


def make_delta(old: bytes, new: bytes, by_section: bool = True) -> bytes:
    """A delta that rebuilds ``new`` from ``old`` (docs/releases.md, "Deltas").

    ``by_section=False`` uses the generic diff even for two caches (the
    benchmark's baseline: what a plain byte diff would cost).
    """
    writer = _Writer()
    headers = _cache_headers(old, new) if by_section else None
    if headers is None:
        _generic(old, 0, len(old), new, 0, len(new), writer)
    else:
        _CacheDiff(old, new, *headers, writer).run()
    body = zlib.compress(writer.finish(), ZLIB_LEVEL)
    digest_old, digest_new = hashlib.sha256(old).digest(), hashlib.sha256(new).digest()
    return HEADER.pack(MAGIC, VERSION, 0, len(old), digest_old, len(new), digest_new) + body


def _cache_headers(old: bytes, new: bytes) -> tuple[CacheHeader, CacheHeader] | None:
    """Both files' cache headers, or None when either is not a cache."""
    try:
        return parse_header(old, len(old), "old cache"), parse_header(new, len(new), "new cache")
    except CacheError:
        return None


class _CacheDiff:
    """The section-aware diff of two list caches."""

    def __init__(
        self,
        old: bytes,
        new: bytes,
        old_header: CacheHeader,
        new_header: CacheHeader,
        writer: _Writer,
    ) -> None:
        self.old, self.new = old, new
        self.oh, self.nh = old_header, new_header
        self.w = writer
        self._segments: list[tuple[int, int, int]] | None = None

    def run(self) -> None:
        self.w.literal(self.new[:HEADER_SIZE])
        at = HEADER_SIZE
        for section in Section:
            start, end = self.nh.span(section)
            self.w.literal(self.new[at:start])  # alignment padding
            _RULES.get(section, _CacheDiff.generic)(self, section)
            at = end
        self.w.literal(self.new[at:])

    def generic(self, section: Section) -> None:
        os_, oe = self.oh.span(section)
        ns, ne = self.nh.span(section)
        _generic(self.old, os_, oe, self.new, ns, ne, self.w)

    def bitmap(self, section: Section) -> None:
        (os_, oe), (ns, ne) = self.oh.span(section), self.nh.span(section)
        if oe - os_ != ne - ns:
            return self.generic(section)
        bits = _changed_bits(self.old[os_:oe], self.new[ns:ne])
        if len(bits) * 2 >= ne - ns:  # a FLIP would cost more than the bytes
            return self.generic(section)
        if bits:
            self.w.flip(os_, oe - os_, bits)
        else:
            self.w.copy(os_, oe - os_)
        return None

    def offsets(self, section: Section) -> None:
        (os_, oe), (ns, ne) = self.oh.span(section), self.nh.span(section)
        if oe - os_ != ne - ns or not ne - ns:
            return self.generic(section)
        old_values, new_values = _u32(self.old[os_:oe]), _u32(self.new[ns:ne])
        changes = []
        previous = 0
        for index, (was, now) in enumerate(zip(old_values, new_values, strict=True)):
            difference = now - was
            if difference != previous:
                changes.append((index, difference - previous))
                previous = difference
        if changes:
            self.w.add32(os_, len(old_values), changes)
        else:
            self.w.copy(os_, oe - os_)
        return None

    def black_records(self, section: Section) -> None:
        width = 4 if section is Section.BLACK_REMAINDERS else self.nh.set_width
        segments = self._black_segments()
        if segments is None or (section is Section.BLACK_SETS and width != self.oh.set_width):
            return self.generic(section)
        os_ = self.oh.span(section)[0]
        ns, ne = self.nh.span(section)
        done = 0
        for new_index, old_index, length in segments:
            self.w.literal(self.new[ns + done * width : ns + new_index * width])
            self._copy_records(
                os_ + old_index * width, ns + new_index * width, length * width, width
            )
            done = new_index + length
        self.w.literal(self.new[ns + done * width : ne])
        return None

    def _copy_records(self, old_at: int, new_at: int, size: int, width: int) -> None:
        """Copy aligned records, sending as literals those whose bytes changed (a set)."""
        if self.old[old_at : old_at + size] == self.new[new_at : new_at + size]:
            self.w.copy(old_at, size)
            return
        for at in range(0, size, width):
            record = self.new[new_at + at : new_at + at + width]
            if self.old[old_at + at : old_at + at + width] == record:
                self.w.copy(old_at + at, width)
            else:
                self.w.literal(record)

    def _black_segments(self) -> list[tuple[int, int, int]] | None:
        """Runs (new index, old index, length) of black records both files hold.

        None when the bucket bits differ: the bucket of a record is then not
        comparable across the files, and the generic diff takes over.
        """
        if self.oh.bucket_bits != self.nh.bucket_bits:
            return None
        if self._segments is None:
            self._segments = _merge(_black_keys(self.old, self.oh), _black_keys(self.new, self.nh))
        return self._segments


_RULES: dict[Section, Callable[[_CacheDiff, Section], None]] = {
    Section.PREFILTER: _CacheDiff.bitmap,
    Section.TLD_PREFILTER: _CacheDiff.bitmap,
    Section.BLACK_BUCKETS: _CacheDiff.offsets,
    Section.BLACK_REMAINDERS: _CacheDiff.black_records,
    Section.BLACK_SETS: _CacheDiff.black_records,
    Section.WHITE_BUCKETS: _CacheDiff.offsets,
    Section.WHITE_NAME_OFFSETS: _CacheDiff.offsets,
    Section.SET_OFFSETS: _CacheDiff.offsets,
}
"""Sections with a rule of their own; the rest take the generic diff."""


def _u32(data: bytes) -> array[int]:
    values = array("I", data)
    if sys.byteorder == "little":
        values.byteswap()
    return values


def _black_keys(data: bytes, header: CacheHeader) -> list[int]:
    """``bucket << 32 | remainder`` of every black record, in file order (sorted)."""
    start, end = header.span(Section.BLACK_BUCKETS)
    table = _u32(data[start:end])
    start, end = header.span(Section.BLACK_REMAINDERS)
    remainders = _u32(data[start:end])
    buckets = itertools.chain.from_iterable(
        itertools.repeat(bucket, table[bucket + 1] - table[bucket])
        for bucket in range(len(table) - 1)
    )
    return [bucket << 32 | remainder for bucket, remainder in zip(buckets, remainders, strict=True)]


def _merge(old: list[int], new: list[int]) -> list[tuple[int, int, int]]:
    """Runs (new index, old index, length) of equal keys of two sorted lists."""
    segments: list[tuple[int, int, int]] = []
    i = j = 0
    run_j = run_i = run = 0
    while i < len(old) and j < len(new):
        a, b = old[i], new[j]
        if a == b:
            if run and run_i + run == i and run_j + run == j:
                run += 1
            else:
                if run:
                    segments.append((run_j, run_i, run))
                run_i, run_j, run = i, j, 1
            i += 1
            j += 1
        elif a < b:
            i += 1
        else:
            j += 1
    if run:
        segments.append((run_j, run_i, run))
    return segments


def _changed_bits(old: bytes, new: bytes) -> list[int]:
    """Indexes of the bits that differ (bit i: byte i>>3, mask 1<<(i&7))."""
    bits: list[int] = []
    words = len(old) // 8
    old_words = memoryview(old)[: words * 8].cast("Q")
    new_words = memoryview(new)[: words * 8].cast("Q")
    changed = [w for w in range(words) if old_words[w] != new_words[w]]
    byte_indexes = itertools.chain.from_iterable(range(w * 8, w * 8 + 8) for w in changed)
    for byte in itertools.chain(byte_indexes, range(words * 8, len(old))):
        flipped = old[byte] ^ new[byte]
        bits.extend(byte * 8 + bit for bit in range(8) if flipped >> bit & 1)
    return bits


def _gaps(bits: list[int]) -> bytes:
    out = bytearray()
    previous = -1
    for bit in bits:
        out += varint(bit - previous - 1)
        previous = bit
    return bytes(out)


def _generic(old: bytes, os_: int, oe: int, new: bytes, ns: int, ne: int, w: _Writer) -> None:
    """Copy/insert diff of new[ns:ne] against old[os_:oe] by indexed blocks."""
    if ne - ns < BLOCK or oe - os_ < BLOCK:
        w.literal(new[ns:ne])
        return
    index: dict[bytes, int] = {}
    for at in range(os_, oe - BLOCK + 1, BLOCK):
        index.setdefault(old[at : at + BLOCK], at)
    literal_from = j = ns
    while j + BLOCK <= ne:
        found = index.get(new[j : j + BLOCK])
        if found is None:
            j += 1
            continue
        while j > literal_from and found > os_ and old[found - 1] == new[j - 1]:
            j -= 1
            found -= 1
        length = _common(old, found, oe, new, j, ne)
        w.literal(new[literal_from:j])
        w.copy(found, length)
        j += length
        literal_from = j
    w.literal(new[literal_from:ne])


def _common(old: bytes, a: int, a_end: int, new: bytes, b: int, b_end: int) -> int:
    """The length of the common run of old[a:] and new[b:] (galloping down by 8)."""
    limit = min(a_end - a, b_end - b)
    length, step = 0, 4096
    while step:
        while length + step <= limit and (
            old[a + length : a + length + step] == new[b + length : b + length + step]
        ):
            length += step
        step //= 8
    return length
