"""Reassembly of the first bytes of a byte stream from pieces at offsets.

Used for TCP segments (offset = sequence number relative to the stream
start) and for QUIC CRYPTO frames (offset field, RFC 9000 §19.6). Pieces may
arrive in any order, overlap, repeat or be retransmitted with the same
bytes; only the contiguous prefix from offset 0 is ever handed out. The
buffer is bounded: bytes past ``limit`` are refused, so a hostile peer can
make copgate hold at most ``limit`` bytes per stream. Where overlapping
pieces disagree, the first one received wins (as most TCP stacks do).
"""

from __future__ import annotations


class StreamOverflow(Exception):
    """A piece lies beyond the stream's byte limit. Not a wire error: a bound."""


class StreamBuffer:
    """The pieces of one stream's first ``limit`` bytes."""

    __slots__ = ("_pieces", "_prefix", "held", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._prefix = bytearray()
        self._pieces: dict[int, bytes] = {}
        self.held = 0
        """Bytes held beyond the contiguous prefix."""

    def add(self, offset: int, data: bytes) -> None:
        """Add the piece ``data`` at ``offset``; raise StreamOverflow past the limit."""
        if offset < 0:
            data = data[-offset:]
            offset = 0
        if not data:
            return
        if offset + len(data) > self.limit:
            raise StreamOverflow(f"piece at {offset}+{len(data)} passes the {self.limit}-byte limit")
        have = len(self._prefix)
        if offset + len(data) <= have:
            return
        if offset <= have:
            self._prefix += data[have - offset :]
            self._drain()
            return
        old = self._pieces.get(offset)
        if old is None or len(old) < len(data):
            self.held += len(data) - (len(old) if old else 0)
            self._pieces[offset] = data

    def _drain(self) -> None:
        while self._pieces:
            have = len(self._prefix)
            ready = [off for off in self._pieces if off <= have]
            if not ready:
                return
            for off in sorted(ready):
                piece = self._pieces.pop(off)
                self.held -= len(piece)
                end = off + len(piece)
                if end > len(self._prefix):
                    self._prefix += piece[len(self._prefix) - off :]

    @property
    def prefix(self) -> bytes:
        """The contiguous bytes from offset 0 received so far."""
        return bytes(self._prefix)

    def __len__(self) -> int:
        return len(self._prefix)

    @property
    def size(self) -> int:
        """Every byte held, prefix and pending pieces."""
        return len(self._prefix) + self.held
