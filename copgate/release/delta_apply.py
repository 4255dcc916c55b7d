"""Apply a release delta by streaming, in memory of a few chunks.

The gateway's side of ``copgate.release.delta_format``. The old file is read
by offset (``os.pread``: the same pages the daemon has mapped, never a second
copy), the delta is decompressed a chunk at a time, and the new file is
written as it is produced while its SHA-256 runs alongside. Nothing is ever
held whole: memory stays at O(``CHUNK``) whether the cache has 8 thousand
names or 8 million.

Every count and offset in the delta is checked before it is used: a copy
outside the old file, output past ``max_size`` or past the size the header
promised, a zlib stream that ends early or has bytes after it, and an old
file of the wrong size or hash all raise BadDelta naming the delta and the
byte. The caller still checks the result against the manifest (the delta's
own header is only as trustworthy as the signed hash of the delta file).
This module never opens files itself and never renames anything.
"""

from __future__ import annotations

import hashlib
import os
import struct
import zlib
from collections.abc import Callable
from typing import BinaryIO

from copgate.release.delta_format import (
    CHUNK,
    HEADER,
    MAGIC,
    MAX_VARINT_BYTES,
    VERSION,
    Op,
    unzigzag,
)
from copgate.release.errors import BadDelta


class _Instructions:
    """The decompressed instruction stream, read a few bytes at a time."""

    def __init__(self, delta: BinaryIO, where: str) -> None:
        self._delta = delta
        self._where = where
        self._inflate = zlib.decompressobj()
        self._buffer = b""
        self._at = 0
        self.consumed = 0

    def fail(self, message: str) -> BadDelta:
        return BadDelta(f"{self._where}: instruction byte {self.consumed}: {message}")

    def take(self, size: int) -> bytes:
        """Exactly ``size`` bytes (at most CHUNK), or BadDelta at the end of the stream."""
        while len(self._buffer) - self._at < size:
            self._refill()
        piece = self._buffer[self._at : self._at + size]
        self._at += size
        self.consumed += size
        return piece

    def byte(self) -> int:
        return self.take(1)[0]

    def uint(self) -> int:
        value = shift = 0
        for _ in range(MAX_VARINT_BYTES):
            byte = self.byte()
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
        raise self.fail("varint longer than 64 bits")

    def sint(self) -> int:
        return unzigzag(self.uint())

    def finish(self) -> None:
        """Refuse anything after END: more instructions, or bytes after the zlib stream."""
        if self._at < len(self._buffer):
            raise self.fail("instructions after END")
        while not self._inflate.eof:
            data = self._inflate.unconsumed_tail or self._delta.read(CHUNK)
            if not data:
                raise self.fail("the delta file ends inside its zlib stream")
            try:
                if self._inflate.decompress(data, 1):
                    raise self.fail("instructions after END")
            except zlib.error as exc:
                raise self.fail(f"corrupt zlib stream ({exc})") from None
        if self._inflate.unused_data or self._delta.read(1):
            raise BadDelta(f"{self._where}: bytes after the end of the zlib stream")

    def _refill(self) -> None:
        rest = self._buffer[self._at :]
        if self._inflate.eof:
            raise self.fail("the instruction stream ends before END")
        tail = self._inflate.unconsumed_tail
        data = tail if tail else self._delta.read(CHUNK)
        if not data:
            raise self.fail("the delta file ends inside its zlib stream")
        try:
            more = self._inflate.decompress(data, CHUNK)
        except zlib.error as exc:
            raise self.fail(f"corrupt zlib stream ({exc})") from None
        self._buffer, self._at = rest + more, 0


class _Output:
    """The new file: written as produced, hashed, bounded."""

    def __init__(self, out: BinaryIO, limit: int, where: str) -> None:
        self._out = out
        self._limit = limit
        self._where = where
        self.size = 0
        self.hash = hashlib.sha256()

    def write(self, data: bytes | bytearray) -> None:
        self.size += len(data)
        if self.size > self._limit:
            raise BadDelta(f"{self._where}: output passes {self._limit} bytes")
        self.hash.update(data)
        self._out.write(data)


class _Old:
    """The old file, read by offset with a cursor the instructions move."""

    def __init__(self, fd: int, size: int, where: str) -> None:
        self._fd = fd
        self.size = size
        self._where = where
        self.cursor = 0

    def span(self, relative: int, length: int, ops: _Instructions) -> int:
        """Where ``length`` old bytes at cursor + ``relative`` start; the cursor moves past them."""
        start = self.cursor + relative
        if length <= 0 or start < 0 or start + length > self.size:
            raise ops.fail(f"reads old bytes [{start}, {start + length}) of {self.size}")
        self.cursor = start + length
        return start

    def read(self, start: int, length: int) -> bytes:
        data = os.pread(self._fd, length, start)
        if len(data) != length:
            raise BadDelta(f"{self._where}: the old file shrank while the delta was applied")
        return data


def apply(old_fd: int, delta: BinaryIO, out: BinaryIO, max_size: int, where: str) -> None:
    """Rebuild the new file from the old one open at ``old_fd`` into ``out``."""
    header = delta.read(HEADER.size)
    if len(header) != HEADER.size:
        raise BadDelta(f"{where}: {len(header)} bytes, shorter than a delta header")
    magic, version, flags, old_size, old_hash, new_size, new_hash = HEADER.unpack(header)
    if magic != MAGIC or version != VERSION or flags != 0:
        raise BadDelta(f"{where}: not a copgate delta of version {VERSION}")
    if new_size > max_size:
        raise BadDelta(f"{where}: builds {new_size} bytes, more than the limit {max_size}")
    old = _Old(old_fd, os.fstat(old_fd).st_size, where)
    _check_old(old, old_size, old_hash, where)
    ops = _Instructions(delta, where)
    output = _Output(out, new_size, where)
    while (code := ops.byte()) != Op.END:
        step = _STEPS.get(code)
        if step is None:
            raise ops.fail(f"unknown instruction {code:#04x}")
        step(ops, old, output)
    ops.finish()
    if output.size != new_size or output.hash.digest() != new_hash:
        raise BadDelta(
            f"{where}: built {output.size} bytes with SHA-256 {output.hash.hexdigest()}, "
            f"the delta promised {new_size} bytes with {new_hash.hex()}"
        )


def _check_old(old: _Old, size: int, digest: bytes, where: str) -> None:
    if old.size != size:
        raise BadDelta(
            f"{where}: made for a base of {size} bytes, the installed file has {old.size}"
        )
    running = hashlib.sha256()
    for start in range(0, size, CHUNK):
        running.update(old.read(start, min(CHUNK, size - start)))
    if running.digest() != digest:
        raise BadDelta(f"{where}: made for another base file (SHA-256 {digest.hex()})")


def _copy(ops: _Instructions, old: _Old, output: _Output) -> None:
    relative, length = ops.sint(), ops.uint()
    start = old.span(relative, length, ops)
    for at in range(start, start + length, CHUNK):
        output.write(old.read(at, min(CHUNK, start + length - at)))


def _literal(ops: _Instructions, _old: _Old, output: _Output) -> None:
    length = ops.uint()
    if length <= 0:
        raise ops.fail("empty LITERAL")
    while length:
        piece = ops.take(min(CHUNK, length))
        output.write(piece)
        length -= len(piece)


def _flip(ops: _Instructions, old: _Old, output: _Output) -> None:
    relative, length, count = ops.sint(), ops.uint(), ops.uint()
    start = old.span(relative, length, ops)
    if count > length * 8:
        raise ops.fail(f"FLIP of {count} bits in {length} bytes")
    chunk_at, chunk = 0, bytearray(old.read(start, min(CHUNK, length)))
    bit = -1
    for _ in range(count):
        bit += ops.uint() + 1
        if bit >= length * 8:
            raise ops.fail(f"FLIP bit {bit} outside its {length} bytes")
        while bit >> 3 >= chunk_at + len(chunk):
            output.write(chunk)
            chunk_at += len(chunk)
            chunk = bytearray(old.read(start + chunk_at, min(CHUNK, length - chunk_at)))
        chunk[(bit >> 3) - chunk_at] ^= 1 << (bit & 7)
    while True:
        output.write(chunk)
        chunk_at += len(chunk)
        if chunk_at >= length:
            return
        chunk = bytearray(old.read(start + chunk_at, min(CHUNK, length - chunk_at)))


_U32_CHUNK = CHUNK // 4


def _add32(ops: _Instructions, old: _Old, output: _Output) -> None:
    relative, count, changes = ops.sint(), ops.uint(), ops.uint()
    start = old.span(relative, count * 4, ops)
    if changes > count:
        raise ops.fail(f"ADD32 of {changes} changes in {count} values")
    addend, done, index = 0, 0, -1
    for number in range(changes + 1):
        if number < changes:
            index += ops.uint() + 1
            if index >= count:
                raise ops.fail(f"ADD32 change at value {index} of {count}")
        else:
            index = count
        _add_run(old, output, start + done * 4, index - done, addend)
        done = index
        if number < changes:
            addend = (addend + ops.sint()) & 0xFFFFFFFF


def _add_run(old: _Old, output: _Output, start: int, count: int, addend: int) -> None:
    """``count`` u32 from ``start``, each plus ``addend``, a chunk at a time."""
    for first in range(0, count, _U32_CHUNK):
        n = min(_U32_CHUNK, count - first)
        data = old.read(start + first * 4, n * 4)
        if addend:
            values = struct.unpack(f">{n}I", data)
            data = struct.pack(f">{n}I", *((v + addend) & 0xFFFFFFFF for v in values))
        output.write(data)


_STEPS: dict[int, Callable[[_Instructions, _Old, _Output], None]] = {
    Op.COPY: _copy,
    Op.LITERAL: _literal,
    Op.FLIP: _flip,
    Op.ADD32: _add32,
}
"""Instruction code -> the step that carries it out."""
