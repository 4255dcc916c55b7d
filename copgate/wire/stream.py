"""Reassembly of the first bytes of a byte stream from pieces at offsets.

Used for TCP segments (offset = sequence number relative to the stream
start) and for QUIC CRYPTO frames (offset field, RFC 9000 §19.6). Pieces may
arrive in any order, overlap, repeat or be retransmitted; only the
contiguous prefix from the current origin is ever handed out. Where
overlapping pieces disagree, the first one received wins, as most TCP
stacks do.

The buffer is bounded: a piece reaching past ``origin + limit`` raises
``StreamOverflow``, so a hostile peer can make copgate hold at most
``limit`` bytes per stream. ``discard`` moves the origin forward, past bytes
already read (a DNS-over-TCP message, an HTTP request and its body), so a
long-lived stream stays within the bound.
"""

from __future__ import annotations


class StreamOverflow(Exception):
    """A piece lies beyond the stream's byte limit. Not a wire error: a bound."""


class StreamBuffer:
    """The pieces of a stream's next ``limit`` bytes after ``origin``."""

    __slots__ = ("_pieces", "_prefix", "held", "limit", "origin")

    def __init__(self, limit: int, origin: int = 0) -> None:
        self.limit = limit
        self.origin = origin
        """Absolute offset of the first byte of ``prefix``."""
        self._prefix = bytearray()
        self._pieces: dict[int, bytes] = {}
        self.held = 0
        """Bytes held in pieces beyond the contiguous prefix."""

    def add(self, offset: int, data: bytes) -> None:
        """Add ``data`` at absolute ``offset``; raise StreamOverflow past the limit."""
        offset -= self.origin
        if offset < 0:
            data = data[-offset:]
            offset = 0
        if not data:
            return
        if offset + len(data) > self.limit:
            raise StreamOverflow(
                f"piece at {offset}+{len(data)} passes the {self.limit}-byte limit"
            )
        have = len(self._prefix)
        if offset + len(data) <= have:
            return
        if offset <= have:
            self._prefix += data[have - offset :]
            if self._pieces:
                self._drain()
            return
        old = self._pieces.get(offset)
        if old is None or len(old) < len(data):
            self.held += len(data) - (len(old) if old else 0)
            self._pieces[offset] = data

    def _drain(self) -> None:
        while self._pieces:
            have = len(self._prefix)
            ready = sorted(off for off in self._pieces if off <= have)
            if not ready:
                return
            for off in ready:
                piece = self._pieces.pop(off)
                self.held -= len(piece)
                if off + len(piece) > len(self._prefix):
                    self._prefix += piece[len(self._prefix) - off :]

    def discard(self, count: int) -> None:
        """Move the origin ``count`` bytes forward, past bytes already read.

        ``count`` may pass the prefix (skipping a body not yet received):
        later pieces before the new origin are then trimmed as they come.
        """
        kept = self._pieces
        self._pieces = {}
        self.held = 0
        prefix = bytes(self._prefix)
        self._prefix = bytearray()
        self.origin += count
        base = self.origin - count
        if len(prefix) > count:
            self.add(base, prefix)
        for off, piece in kept.items():
            if off + len(piece) > count:
                self.add(base + off, piece)

    def shifted(self, delta: int) -> StreamBuffer:
        """A copy whose pieces all sit ``delta`` bytes later (the stream start moved back)."""
        out = StreamBuffer(self.limit, self.origin)
        out.add(self.origin + delta, bytes(self._prefix))
        for off, piece in self._pieces.items():
            out.add(self.origin + off + delta, piece)
        return out

    @property
    def prefix(self) -> bytes:
        """The contiguous bytes from the origin received so far."""
        return bytes(self._prefix)

    def __len__(self) -> int:
        return len(self._prefix)

    @property
    def size(self) -> int:
        """Every byte held, prefix and pending pieces."""
        return len(self._prefix) + self.held
