"""A bounds-checked reader over bytes, the one way the wire core reads input.

Every ``read_*`` parser pulls from a ``Reader``; a length-prefixed region is
read with ``Reader.block()``, a context manager that must be consumed exactly.
Running past the end raises ``Truncated`` (a ``WireError``): callers that can
wait for more bytes turn it into "incomplete"; the others report it. This
module never interprets what it reads.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from contextlib import contextmanager

from copgate.errors import WireError


class Truncated(WireError):
    """The input ended before a field it announced."""


class Reader:
    """Sequential reads over ``data[pos:end]`` that never pass ``end``."""

    __slots__ = ("data", "end", "pos")

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    def remaining(self) -> int:
        return self.end - self.pos

    def eof(self) -> bool:
        return self.pos >= self.end

    def _need(self, n: int) -> int:
        start = self.pos
        if n < 0 or start + n > self.end:
            raise Truncated(f"need {n} bytes at offset {start}, have {self.end - start}")
        self.pos = start + n
        return start

    def u8(self) -> int:
        start = self._need(1)
        return self.data[start]

    def u16(self) -> int:
        start = self._need(2)
        return int.from_bytes(self.data[start : start + 2], "big")

    def u24(self) -> int:
        start = self._need(3)
        return int.from_bytes(self.data[start : start + 3], "big")

    def u32(self) -> int:
        start = self._need(4)
        return int.from_bytes(self.data[start : start + 4], "big")

    def bytes(self, n: int) -> builtins.bytes:
        start = self._need(n)
        return self.data[start : start + n]

    def skip(self, n: int) -> None:
        self._need(n)

    def rest(self) -> builtins.bytes:
        out = self.data[self.pos : self.end]
        self.pos = self.end
        return out

    def varint(self) -> int:
        """A QUIC variable-length integer (RFC 9000 §16)."""
        first = self.u8()
        length = 1 << (first >> 6)
        value = first & 0x3F
        for _ in range(length - 1):
            value = (value << 8) | self.u8()
        return value

    def opaque8(self) -> builtins.bytes:
        return self.bytes(self.u8())

    def opaque16(self) -> builtins.bytes:
        return self.bytes(self.u16())

    @contextmanager
    def block(self, length: int) -> Iterator[Reader]:
        """Restrict reads to the next ``length`` bytes, which must all be read."""
        start = self._need(length)
        inner = Reader(self.data, start, start + length)
        yield inner
        if inner.pos != inner.end:
            raise WireError(
                f"{inner.end - inner.pos} bytes left over in a {length}-byte block at {start}"
            )
