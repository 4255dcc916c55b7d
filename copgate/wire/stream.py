"""Reassembly of a byte stream from pieces at offsets, as intervals.

Used for TCP segments (offset = sequence number relative to the stream
start) and for QUIC CRYPTO frames (offset field, RFC 9000 §19.6). Pieces may
arrive in any order, overlap, repeat or be retransmitted; only the
contiguous prefix from the current origin is ever handed out.

Invariants, which every method keeps:
- ``_prefix`` holds the bytes ``[origin, origin + len(_prefix))``.
- ``_starts`` is sorted; ``_pieces[s]`` is the piece starting at absolute
  offset ``s``. Pieces neither overlap nor touch each other (touching pieces
  are merged), and none touches the prefix (it would have joined it), so the
  first piece starts past ``origin + len(_prefix)``.
- ``held`` is the sum of the pieces' lengths: bytes are counted by coverage,
  a retransmitted byte is never counted twice.
- Every byte lies before ``origin + limit``, and there are at most
  ``max_pieces`` pieces.

Where a new piece overlaps bytes already held and disagrees with them, no
honest sender did it (a retransmission carries the same bytes): ``add``
raises ``StreamConflict`` and changes nothing. A piece that starts at or past
``origin + limit`` is far outside what the receiver would accept (its window
is smaller); ``add`` says so and keeps nothing. A piece that starts inside the
bound and runs past it, or one that would make a piece too many, is a bound
hit: ``StreamOverflow``. Bytes before the origin (already read and
discarded) are trimmed and not compared.

``discard`` moves the origin forward past bytes already read (a DNS-over-TCP
message, an HTTP request and its body), so a long-lived stream stays within
the bound. This module never parses what it holds.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from enum import Enum

MAX_PIECES = 512
"""Pieces held apart per stream. Real reordering leaves a handful of holes;
each piece costs a dict entry and a list slot, so a sender that scatters
bytes is stopped here rather than by the byte bound alone."""


class StreamOverflow(Exception):
    """A piece passes the stream's byte or piece bound. Not a wire error: a bound."""


class StreamConflict(Exception):
    """A piece disagrees with bytes already held at the same offsets."""


class Added(Enum):
    """What ``StreamBuffer.add`` did with a piece."""

    NEW = "new"
    """Some of its bytes were not held before."""
    OLD = "old"
    """Every byte was already held (or already read): a retransmission."""
    BEYOND = "beyond"
    """It starts past the bound: nothing was kept."""


class StreamBuffer:
    """The pieces of a stream's next ``limit`` bytes after ``origin``."""

    __slots__ = ("_pieces", "_prefix", "_starts", "held", "limit", "max_pieces", "origin")

    def __init__(self, limit: int, origin: int = 0, max_pieces: int = MAX_PIECES) -> None:
        self.limit = limit
        self.max_pieces = max_pieces
        self.origin = origin
        """Absolute offset of the first byte of ``prefix``."""
        self._prefix = bytearray()
        self._starts: list[int] = []
        self._pieces: dict[int, bytes] = {}
        self.held = 0
        """Bytes held in pieces beyond the contiguous prefix."""

    def add(self, offset: int, data: bytes) -> Added:
        """Add ``data`` at absolute ``offset``.

        Raises StreamConflict where it disagrees with held bytes, StreamOverflow
        when it starts inside the bound and passes it or makes a piece too many.
        """
        rel = offset - self.origin
        if rel < 0:
            data = data[-rel:]
            rel = 0
        if not data:
            return Added.OLD
        if rel >= self.limit:
            return Added.BEYOND
        end = rel + len(data)
        if end > self.limit:
            raise StreamOverflow(f"piece at {rel}+{len(data)} passes the {self.limit}-byte bound")
        have = len(self._prefix)
        if rel < have:
            upto = min(end, have)
            if self._prefix[rel:upto] != data[: upto - rel]:
                raise StreamConflict(f"bytes at {rel}..{upto} differ from those held")
            if end <= have:
                return Added.OLD
            data = data[have - rel :]
            rel = have
        start = self.origin + rel
        if rel == have and not self._starts:
            self._prefix += data
            return Added.NEW
        return self._place(start, data)

    def _place(self, start: int, data: bytes) -> Added:
        """Merge ``data`` at absolute ``start`` (at or past the prefix end) with the pieces."""
        end = start + len(data)
        starts = self._starts
        pieces = self._pieces
        # The pieces that overlap or touch [start, end): from the last one that
        # starts at or before ``start`` to the last one that starts at or before ``end``.
        first = bisect_right(starts, start) - 1
        if first < 0 or starts[first] + len(pieces[starts[first]]) < start:
            first += 1
        last = bisect_right(starts, end)
        covered = 0
        for i in range(first, last):
            s = starts[i]
            piece = pieces[s]
            lo, hi = max(s, start), min(s + len(piece), end)
            if lo < hi:
                if piece[lo - s : hi - s] != data[lo - start : hi - start]:
                    raise StreamConflict(f"bytes at {lo - self.origin}..{hi - self.origin} differ")
                covered += hi - lo
        if covered == len(data):
            return Added.OLD
        if first == last and len(starts) >= self.max_pieces:
            raise StreamOverflow(f"more than {self.max_pieces} pieces held apart")
        merged_start, merged = start, data
        if first < last:
            head_start = starts[first]
            if head_start < start:
                merged_start = head_start
                merged = pieces[head_start][: start - head_start] + merged
            tail_start = starts[last - 1]
            tail = pieces[tail_start]
            if tail_start + len(tail) > end:
                merged = merged + tail[end - tail_start :]
            for s in starts[first:last]:
                self.held -= len(pieces.pop(s))
            del starts[first:last]
        if merged_start == self.origin + len(self._prefix):
            self._prefix += merged
            return Added.NEW
        starts.insert(bisect_left(starts, merged_start), merged_start)
        pieces[merged_start] = merged
        self.held += len(merged)
        return Added.NEW

    def discard(self, count: int) -> None:
        """Move the origin ``count`` bytes forward, past bytes already read.

        ``count`` may pass the prefix (skipping a body not yet received):
        pieces before the new origin are trimmed, and later pieces before it
        are trimmed as they come.
        """
        if count <= 0:
            return
        have = len(self._prefix)
        self.origin += count
        if count <= have:
            del self._prefix[:count]
            return
        self._prefix = bytearray()
        starts = self._starts
        while starts:
            s = starts[0]
            piece = self._pieces[s]
            if s > self.origin:
                return
            del starts[0]
            self._pieces.pop(s)
            self.held -= len(piece)
            if s + len(piece) > self.origin:
                self._prefix += piece[self.origin - s :]
                return

    def copy(self) -> StreamBuffer:
        """An independent copy (pieces are immutable bytes, shared)."""
        out = StreamBuffer(self.limit, self.origin, self.max_pieces)
        out._prefix = bytearray(self._prefix)
        out._starts = list(self._starts)
        out._pieces = dict(self._pieces)
        out.held = self.held
        return out

    def shifted(self, delta: int) -> StreamBuffer:
        """A copy whose bytes all sit ``delta`` bytes later (the stream start moved back).

        Bytes pushed past the bound are dropped: they were not the start of
        what the earlier bytes begin.
        """
        out = StreamBuffer(self.limit, self.origin, self.max_pieces)
        chunks = [(self.origin, bytes(self._prefix))]
        chunks += [(s, self._pieces[s]) for s in self._starts]
        for at, data in chunks:
            rel = at + delta - self.origin
            if rel < self.limit and data:
                out.add(at + delta, data[: self.limit - rel])
        return out

    @property
    def prefix(self) -> bytes:
        """The contiguous bytes from the origin received so far (a copy)."""
        return bytes(self._prefix)

    @property
    def view(self) -> bytearray:
        """The contiguous bytes from the origin, not copied: read, never change."""
        return self._prefix

    def __len__(self) -> int:
        return len(self._prefix)

    @property
    def size(self) -> int:
        """Every byte held, prefix and pending pieces."""
        return len(self._prefix) + self.held

    @property
    def pieces(self) -> int:
        """How many pieces are held apart from the prefix."""
        return len(self._starts)
