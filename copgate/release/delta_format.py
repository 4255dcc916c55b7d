"""The byte layout of a release delta: a header and a zlib stream of instructions.

A delta rebuilds release N's file from release M's file already on the
gateway. It is an instruction stream read front to back, each instruction
emitting the next bytes of the new file, so a gateway applies it with
memory of one chunk whatever the file's size (a router cannot compile a
cache; it can follow instructions). docs/releases.md is the prose.

Header (big-endian, ``HEADER``): magic, version, flags (0), old size, old
SHA-256, new size, new SHA-256. Then one zlib stream (RFC 1950) of
instructions, and nothing after it. Integers in instructions are unsigned
LEB128 varints; signed ones are zigzag-encoded first (0, -1, 1, -2 ... ->
0, 1, 2, 3 ...). Every instruction reads from the old file at an offset
relative to a cursor (starting at 0, left at the end of the last bytes
read), so the usual "skip a few deleted bytes" costs one byte.

    END     0x00                               the new file is complete
    COPY    0x01 rel len                       old[c+rel : c+rel+len]
    LITERAL 0x02 len bytes[len]                the bytes themselves
    FLIP    0x03 rel len n gap*n               old[c+rel : ...+len] with n bits
                                               inverted: bit i is byte i>>3,
                                               mask 1<<(i&7); i = previous + 1
                                               + gap (the first i = gap)
    ADD32   0x04 rel count n (gap step)*n      count big-endian u32 from the old
                                               file, each plus a running sum
                                               (mod 2**32) that grows by the
                                               signed step at u32 index
                                               previous + 1 + gap (first: gap)

FLIP carries the changed bits of a bitmap (the prefilters); ADD32 carries a
table of cumulative offsets (bucket tables) where inserting one entry adds
one to every later offset: one change per changed bucket, not per offset.

This module holds the constants and the varint encoders; it never opens
files. ``copgate.release.delta`` writes deltas, ``delta_apply`` reads them.
"""

from __future__ import annotations

import enum
import struct

MAGIC = b"\x89CPGDLT\n"
"""Like the cache's magic: binary at once to text tools, broken by line-end rewrites."""
VERSION = 1
HEADER = struct.Struct(">8sHHQ32sQ32s")
"""magic, version, flags, old size, old SHA-256, new size, new SHA-256."""
MAX_VARINT_BYTES = 10  # 64 bits in 7-bit groups
CHUNK = 64 * 1024
"""Bytes read, written or decompressed at once: the applier's memory budget."""


class Op(enum.IntEnum):
    """The instruction codes."""

    END = 0
    COPY = 1
    LITERAL = 2
    FLIP = 3
    ADD32 = 4


def varint(value: int) -> bytes:
    """Unsigned LEB128."""
    if value < 0:
        raise ValueError(f"varint of negative {value}")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def svarint(value: int) -> bytes:
    """Zigzag then LEB128: small magnitudes of either sign take one byte."""
    return varint(zigzag(value))


def zigzag(value: int) -> int:
    return value * 2 if value >= 0 else -value * 2 - 1


def unzigzag(value: int) -> int:
    return value >> 1 if not value & 1 else -(value >> 1) - 1
