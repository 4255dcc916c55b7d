"""The byte layout of a compiled list cache: header, section table, checksum.

docs/lists-cache.md is the prose of this module. Every integer is big-endian
whatever the host (many routers are big-endian MIPS, the build machine is
not), so a file built anywhere reads the same everywhere.

Layout: a fixed header (``HEADER``), a table of ``len(Section)`` sections
(offset and length, u64 each), a SHA-256 checksum, then the sections in
``Section`` order, each starting on an 8-byte boundary. The checksum covers
every byte of the file except its own 32.

``parse_header`` checks what opening needs to answer safely: magic, version,
sizes, that every section lies inside the file in order and has the length
its counts imply, and that the file ends where the last section ends (so a
truncated file is refused, not answered from). It never reads the body and
never hashes it: ``body_checksum`` is for install time. This module holds
pure functions over bytes; it never opens files.
"""

from __future__ import annotations

import enum
import hashlib
import mmap
import struct
from dataclasses import dataclass
from typing import TypeAlias

from copgate.errors import CacheError

Buffer: TypeAlias = bytes | bytearray | memoryview | mmap.mmap
"""What a cache can be read from: a memory map, or bytes in tests and at build."""

MAGIC = b"\x89CPGLST\n"
"""8 bytes: a high byte first so text tools see binary, a newline last so a
text-mode transfer that rewrites line ends breaks the magic, not the body."""
VERSION = 1
"""Format version; a reader refuses any other (no silent misreads)."""

HEADER = struct.Struct(">8sHHIqQ16sBBBBBxxxIIII")
"""magic, version, header_size, flags, build_time, release, fingerprint key,
bucket_bits, white_bucket_bits, set_width, prefilter_bits, tld_prefilter_bits,
(3 pad bytes), black_count, white_count, set_count, category_count."""
SECTION_ENTRY = struct.Struct(">QQ")
CHECKSUM_SIZE = 32  # SHA-256
ALIGN = 8

MAX_BUCKET_BITS = 32  # the bucket comes from the first 4 fingerprint bytes
MIN_PREFILTER_BITS = 3  # at least one byte of bitmap
MAX_PREFILTER_BITS = 32  # the prefilter hash is CRC-32
SET_WIDTHS = (0, 1, 2)  # bytes of category-set index per black entry
WHITE_SET_WIDTH = 2
MAX_ENTRIES = 2**32 - 1  # counts and offsets are u32
MAX_SETS = 2**16  # set indexes are at most u16
MAX_CATEGORIES = 2**16  # set members are u16 category indexes
MAX_CATEGORY_NAME = 255  # category names are u8-length-prefixed


class Section(enum.IntEnum):
    """The sections of the body, in file order."""

    PREFILTER = 0
    """Bitmap of 2**prefilter_bits bits: bit crc32(name) mod 2**bits of every
    listed name of two labels or more. Bit i is byte i>>3, mask 1<<(i&7)."""
    TLD_PREFILTER = 1
    """The same for single-label names: ``com`` stays clear of collisions."""
    BLACK_BUCKETS = 2
    """2**bucket_bits + 1 u32: entries of bucket b are [table[b], table[b+1])."""
    BLACK_REMAINDERS = 3
    """black_count x 4 bytes: fingerprint bytes 4..8, sorted by fingerprint."""
    BLACK_SETS = 4
    """black_count x set_width bytes: the category-set index of each entry."""
    WHITE_BUCKETS = 5
    """2**white_bucket_bits + 1 u32, as BLACK_BUCKETS."""
    WHITE_FINGERPRINTS = 6
    """white_count x 8 bytes: whole fingerprints, sorted by (fingerprint, name)."""
    WHITE_SETS = 7
    """white_count x u16 category-set index."""
    WHITE_NAME_OFFSETS = 8
    """white_count + 1 u32: name i is WHITE_NAMES[offsets[i]:offsets[i+1]]."""
    WHITE_NAMES = 9
    """The exact white names, ASCII, concatenated in record order."""
    CATEGORY_NAMES = 10
    """category_count x (u8 length, UTF-8 name), sorted by name at first build."""
    SET_OFFSETS = 11
    """set_count + 1 u32: members of set i are SET_MEMBERS[offsets[i]:offsets[i+1]]."""
    SET_MEMBERS = 12
    """u16 category indexes, ascending within a set."""
    CATALOGUE = 13
    """JSON object: category name -> {default_use, titles, descriptions}."""


SECTIONS_AT = HEADER.size
CHECKSUM_AT = SECTIONS_AT + SECTION_ENTRY.size * len(Section)
HEADER_SIZE = CHECKSUM_AT + CHECKSUM_SIZE


@dataclass(frozen=True, slots=True)
class CacheHeader:
    """The decoded header of a cache file."""

    version: int
    build_time: int
    """Unix seconds, given by whoever built the file (never read from a clock here)."""
    release: int
    """The distributor's release number; 0 for a local build."""
    key: bytes
    """The public BLAKE2s key of the fingerprints."""
    bucket_bits: int
    white_bucket_bits: int
    set_width: int
    prefilter_bits: int
    tld_prefilter_bits: int
    black_count: int
    white_count: int
    set_count: int
    category_count: int
    sections: tuple[tuple[int, int], ...]
    """(offset, length) of each ``Section``, by index."""
    checksum: bytes

    def span(self, section: Section) -> tuple[int, int]:
        """(start, end) byte offsets of a section."""
        offset, length = self.sections[section]
        return offset, offset + length

    def expected_lengths(self) -> dict[Section, int]:
        """The length each fixed-size section must have, from the counts."""
        return {
            Section.PREFILTER: (1 << self.prefilter_bits) // 8,
            Section.TLD_PREFILTER: (1 << self.tld_prefilter_bits) // 8,
            Section.BLACK_BUCKETS: ((1 << self.bucket_bits) + 1) * 4,
            Section.BLACK_REMAINDERS: self.black_count * 4,
            Section.BLACK_SETS: self.black_count * self.set_width,
            Section.WHITE_BUCKETS: ((1 << self.white_bucket_bits) + 1) * 4,
            Section.WHITE_FINGERPRINTS: self.white_count * 8,
            Section.WHITE_SETS: self.white_count * WHITE_SET_WIDTH,
            Section.WHITE_NAME_OFFSETS: (self.white_count + 1) * 4,
            Section.SET_OFFSETS: (self.set_count + 1) * 4,
        }


def pack_header(header: CacheHeader) -> bytes:
    """The header bytes of ``header`` (its ``checksum`` field included)."""
    fixed = HEADER.pack(
        MAGIC,
        header.version,
        HEADER_SIZE,
        0,
        header.build_time,
        header.release,
        header.key,
        header.bucket_bits,
        header.white_bucket_bits,
        header.set_width,
        header.prefilter_bits,
        header.tld_prefilter_bits,
        header.black_count,
        header.white_count,
        header.set_count,
        header.category_count,
    )
    table = b"".join(SECTION_ENTRY.pack(off, length) for off, length in header.sections)
    return fixed + table + header.checksum


def parse_header(data: Buffer, file_size: int, where: str) -> CacheHeader:
    """Decode and bound-check the header; ``where`` names the file in errors.

    It reads ``data`` with ``unpack_from`` and never holds a memoryview:
    a view left in a traceback would keep the caller from closing its map.
    """
    if file_size < HEADER_SIZE:
        raise CacheError(f"{where}: {file_size} bytes, shorter than a cache header")
    fields = HEADER.unpack_from(data, 0)
    magic, version, header_size, flags = fields[:4]
    if magic != MAGIC:
        raise CacheError(f"{where}: not a copgate list cache (bad magic {bytes(magic)!r})")
    if version != VERSION:
        raise CacheError(f"{where}: cache format version {version}, this reader knows {VERSION}")
    if header_size != HEADER_SIZE or flags != 0:
        raise CacheError(f"{where}: header size {header_size} or flags {flags:#x} not of v1")
    sections = tuple(
        SECTION_ENTRY.unpack_from(data, SECTIONS_AT + i * SECTION_ENTRY.size)
        for i in range(len(Section))
    )
    (build_time, release, key, bucket_bits, white_bucket_bits, set_width) = fields[4:10]
    (prefilter_bits, tld_prefilter_bits, black_count, white_count) = fields[10:14]
    (set_count, category_count) = fields[14:16]
    header = CacheHeader(
        version=version,
        build_time=build_time,
        release=release,
        key=key,
        bucket_bits=bucket_bits,
        white_bucket_bits=white_bucket_bits,
        set_width=set_width,
        prefilter_bits=prefilter_bits,
        tld_prefilter_bits=tld_prefilter_bits,
        black_count=black_count,
        white_count=white_count,
        set_count=set_count,
        category_count=category_count,
        sections=sections,
        checksum=bytes(data[CHECKSUM_AT:HEADER_SIZE]),
    )
    _check_parameters(header, where)
    _check_sections(header, file_size, where)
    return header


def _check_parameters(header: CacheHeader, where: str) -> None:
    problems = []
    if not header.bucket_bits <= MAX_BUCKET_BITS:
        problems.append(f"bucket_bits {header.bucket_bits}")
    if not header.white_bucket_bits <= MAX_BUCKET_BITS:
        problems.append(f"white_bucket_bits {header.white_bucket_bits}")
    if header.set_width not in SET_WIDTHS:
        problems.append(f"set_width {header.set_width}")
    for bits in (header.prefilter_bits, header.tld_prefilter_bits):
        if not MIN_PREFILTER_BITS <= bits <= MAX_PREFILTER_BITS:
            problems.append(f"prefilter bits {bits}")
    if header.set_count > MAX_SETS or header.category_count > MAX_CATEGORIES:
        problems.append(f"{header.set_count} sets of {header.category_count} categories")
    if header.black_count and header.set_width == 0 and header.set_count != 1:
        problems.append(f"set_width 0 with {header.set_count} sets")
    if problems:
        raise CacheError(f"{where}: impossible header ({', '.join(problems)})")


def _check_sections(header: CacheHeader, file_size: int, where: str) -> None:
    expected = header.expected_lengths()
    previous_end = HEADER_SIZE
    for section in Section:
        offset, length = header.sections[section]
        if offset < previous_end or offset % ALIGN or offset - previous_end >= ALIGN:
            raise CacheError(f"{where}: section {section.name} at {offset} is out of order")
        if offset + length > file_size:
            raise CacheError(
                f"{where}: truncated: section {section.name} ends at {offset + length}, "
                f"the file has {file_size} bytes"
            )
        want = expected.get(section)
        if want is not None and want != length:
            raise CacheError(
                f"{where}: section {section.name} has {length} bytes, its counts say {want}"
            )
        previous_end = offset + length
    if previous_end != file_size:
        raise CacheError(f"{where}: {file_size - previous_end} bytes after the last section")


def body_checksum(data: Buffer) -> bytes:
    """SHA-256 of every byte of the file but the checksum field itself."""
    with memoryview(data) as view:  # released on return: the map stays closable
        digest = hashlib.sha256(view[:CHECKSUM_AT])
        digest.update(view[HEADER_SIZE:])
    return digest.digest()
