"""Encode the sections of a list cache file from merged, checked entries.

``copgate.lists.compile`` merges and checks entries and computes the black
keys; this module turns them into the bytes of each ``Section`` and
assembles the file (cache_format has the layout). Pure functions over
values; it never touches files or the clock.
"""

from __future__ import annotations

import dataclasses
import sys
from array import array

from copgate.errors import CacheError
from copgate.lists.cache import ListCache, encode_catalogue
from copgate.lists.cache_format import (
    ALIGN,
    CHECKSUM_AT,
    HEADER_SIZE,
    CacheHeader,
    Section,
    body_checksum,
    pack_header,
)
from copgate.lists.hashing import prefilter_hash
from copgate.lists.model import Category

PREFILTER_BITS_PER_NAME = 8
"""At least 8 and under 16 bitmap bits per name: 6 to 12 % of unlisted probes
pass the prefilter (1 - e^(-n/m)) for 1 to 2 bytes per name."""
TLD_PREFILTER_BITS_PER_NAME = 16
MIN_PREFILTER_BITS = 10
MIN_TLD_PREFILTER_BITS = 13
"""8192 bits however few single-label names are listed, so that ``com``,
probed by most lookups, almost never passes by accident."""
MAX_PREFILTER_BITS = 32  # CRC-32


@dataclasses.dataclass(slots=True)
class CategoryTables:
    """Category names and distinct category sets, each with a stable index."""

    names: dict[str, int]
    sets: dict[frozenset[str], int]

    @classmethod
    def start(cls, catalogue: dict[str, Category], previous: ListCache | None) -> CategoryTables:
        names: dict[str, int] = {}
        sets: dict[frozenset[str], int] = {}
        if previous is not None:
            # The previous release's indexes stay; new names and sets follow.
            names = {name: i for i, name in enumerate(previous.categories)}
            for i in range(previous.header.set_count):
                sets.setdefault(previous.category_set(i), i)
        for name in sorted(catalogue.keys() - names.keys()):
            names[name] = len(names)
        return cls(names, sets)

    def index(self, categories: frozenset[str]) -> int:
        found = self.sets.get(categories)
        if found is None:
            found = self.sets[categories] = len(self.sets)
        return found

    def sections(self, catalogue: dict[str, Category]) -> dict[Section, bytes]:
        names = bytearray()
        for name in self.names:  # dicts keep insertion order, which is index order
            raw = name.encode()
            names += bytes([len(raw)]) + raw
        offsets = [0]
        members: list[int] = []
        for categories in self.sets:
            members.extend(sorted(self.names[name] for name in categories))
            offsets.append(len(members))
        return {
            Section.CATEGORY_NAMES: bytes(names),
            Section.SET_OFFSETS: big_endian("I", offsets),
            Section.SET_MEMBERS: big_endian("H", members),
            Section.CATALOGUE: encode_catalogue(catalogue),
        }


def prefilters(names: list[str]) -> tuple[bytes, bytes]:
    """The prefilter bitmaps: names of two labels or more, and single labels (invariant 3)."""
    single = sum(1 for name in names if "." not in name)
    prefilter = _bitmap(len(names) - single, PREFILTER_BITS_PER_NAME, MIN_PREFILTER_BITS)
    tld_prefilter = _bitmap(single, TLD_PREFILTER_BITS_PER_NAME, MIN_TLD_PREFILTER_BITS)
    mask, tld_mask = len(prefilter) * 8 - 1, len(tld_prefilter) * 8 - 1
    for name in names:
        hashed = prefilter_hash(name.encode())
        if "." in name:
            prefilter[(hashed & mask) >> 3] |= 1 << (hashed & 7)
        else:
            tld_prefilter[(hashed & tld_mask) >> 3] |= 1 << (hashed & 7)
    return bytes(prefilter), bytes(tld_prefilter)


def _bitmap(count: int, per_name: int, floor_bits: int) -> bytearray:
    """A zeroed bitmap of 2**b bits, the fewest with at least ``per_name`` bits a name."""
    bits = max(floor_bits, min(MAX_PREFILTER_BITS, (per_name * count).bit_length()))
    return bytearray(1 << (bits - 3))


def bitmap_bits(bitmap: bytes) -> int:
    return (len(bitmap) * 8).bit_length() - 1


def white_bucket_bits(count: int) -> int:
    """One or two white entries a bucket: white probes compare whole names."""
    return max(0, count.bit_length() - 1)


def black_sections(keys: list[int], bucket_bits: int, set_width: int) -> dict[Section, bytes]:
    counts = [0] * ((1 << bucket_bits) + 1)
    for key in keys:
        counts[(key >> 48) + 1] += 1
    for bucket in range(1, len(counts)):
        counts[bucket] += counts[bucket - 1]
    set_indexes = [key & 0xFFFF for key in keys]
    if set_width == 0:
        sets = b""
    elif set_width == 1:
        sets = bytes(set_indexes)
    else:
        sets = big_endian("H", set_indexes)
    return {
        Section.BLACK_BUCKETS: big_endian("I", counts),
        Section.BLACK_REMAINDERS: big_endian("I", [key >> 16 & 0xFFFFFFFF for key in keys]),
        Section.BLACK_SETS: sets,
    }


def white_sections(
    records: list[tuple[bytes, bytes]], white: dict[str, frozenset[str]], tables: CategoryTables
) -> dict[Section, bytes]:
    """Sections of the white entries, ``records`` being sorted (fingerprint, name) pairs."""
    bucket_bits = white_bucket_bits(len(records))
    counts = [0] * ((1 << bucket_bits) + 1)
    offsets = [0]
    for fp, raw in records:
        counts[(int.from_bytes(fp[:4]) >> (32 - bucket_bits)) + 1] += 1
        offsets.append(offsets[-1] + len(raw))
    for bucket in range(1, len(counts)):
        counts[bucket] += counts[bucket - 1]
    sets = [tables.index(white[raw.decode()]) for _fp, raw in records]
    return {
        Section.WHITE_BUCKETS: big_endian("I", counts),
        Section.WHITE_FINGERPRINTS: b"".join(fp for fp, _raw in records),
        Section.WHITE_SETS: big_endian("H", sets),
        Section.WHITE_NAME_OFFSETS: big_endian("I", offsets),
        Section.WHITE_NAMES: b"".join(raw for _fp, raw in records),
    }


def big_endian(code: str, values: list[int]) -> bytes:
    """``values`` as big-endian u16 (``H``) or u32 (``I``), built in C, not per value."""
    packed = array(code, values)
    if packed.itemsize not in (2, 4):  # pragma: no cover - no such CPython ABI on Linux
        raise CacheError(f"array({code!r}) items are {packed.itemsize} bytes on this machine")
    if sys.byteorder == "little":
        packed.byteswap()
    return packed.tobytes()


def assemble(header: CacheHeader, sections: dict[Section, bytes]) -> bytes:
    out = bytearray(HEADER_SIZE)
    table = []
    for section in Section:
        out += bytes(-len(out) % ALIGN)
        table.append((len(out), len(sections[section])))
        out += sections[section]
    out[:HEADER_SIZE] = pack_header(dataclasses.replace(header, sections=tuple(table)))
    out[CHECKSUM_AT:HEADER_SIZE] = body_checksum(out)
    return bytes(out)
