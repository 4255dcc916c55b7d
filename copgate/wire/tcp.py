"""One direction of a TCP connection as copgate reads it: sequence numbers to stream bytes.

A ``TcpStream`` turns a segment's sequence number into a stream offset
(RFC 9293 §3.4: modulo 2**32, measured from the current read position so a
connection may carry any number of bytes) and keeps two views of the stream:

- ``trusted``: bytes from segments whose TTL or hop limit is the one the
  connection's SYN carried (or, with no SYN seen, its first segment). These
  are the bytes the server reads, as far as the gateway can tell: a segment
  sent with a smaller TTL so that it dies between the gateway and the server
  carries another one.
- ``merged``: those bytes and the others, made only once a segment with
  another TTL arrives. A name read there and not in ``trusted`` may block a
  flow, never allow it.

Both are ``StreamBuffer`` s, so bytes that disagree with bytes already held,
in either view, raise ``StreamConflict``: the server reads only one of the
two versions and copgate cannot know which.

This module never parses the bytes and never reads the clock.
"""

from __future__ import annotations

from struct import Struct
from typing import NamedTuple

from copgate.tuplenew import new_tuple
from copgate.wire.stream import Added, StreamBuffer

SEQ_MODULO = 1 << 32  # RFC 9293 §3.4: sequence numbers are modulo 2**32
_HALF = SEQ_MODULO // 2
TCP_HEADER = 20  # RFC 9293 §3.1: the header without options
OPT_END, OPT_NOP = 0, 1  # RFC 9293 §3.2
OPT_WSCALE = 3  # RFC 7323 §2.2: kind 3, length 3, shift count
MAX_WSCALE = 14  # RFC 7323 §2.3: a larger shift is taken as 14
OPT_TIMESTAMPS = 8  # RFC 7323 §3: kind 8, length 10, TSval, TSecr
OPT_MD5 = 19  # RFC 2385: a socket without the key drops the segment
OPT_AO = 29  # RFC 5925 TCP-AO: the same


class Options(NamedTuple):
    """What copgate reads of a segment's TCP options."""

    tsval: int | None
    """The timestamp option's TSval (RFC 7323 §3), None without one."""
    signed: bool
    """An MD5 or TCP-AO signature option: a server without the key drops the segment."""
    wscale: int | None = None
    """The window scale option's shift (RFC 7323 §2), at most 14; None without one."""


NO_OPTIONS = Options(None, False)

# The two option layouts nearly every segment carries, as Linux (and most
# stacks) send them: read by comparing their fixed bytes, not by a walk.
_TIMESTAMPS_ONLY = b"\x01\x01\x08\x0a"  # NOP, NOP, timestamps: every segment after the SYN
_SYN_LAYOUT = Struct("!2s2x4sI4x3sB")
"""A SYN's MSS, SACK-permitted, timestamps, NOP, window scale (20 option bytes)."""
_SYN_MSS, _SYN_SACK_TIMESTAMPS, _SYN_NOP_WSCALE = b"\x02\x04", b"\x04\x02\x08\x0a", b"\x01\x03\x03"
_TSVAL = Struct("!I")


def read_options(segment: bytes) -> Options:
    """The timestamp, signature and window scale options of a TCP ``segment`` (header
    included).

    Options a receiver cannot parse end the walk, as Linux's
    ``tcp_parse_options`` does; what was read before stands. The two layouts
    Linux sends are read without the walk (``walk_options`` reads them alike).
    """
    size = len(segment)
    if size >= 32:
        words = segment[12] >> 4
        if words == 8 and segment[20:24] == _TIMESTAMPS_ONLY:
            return new_tuple(Options, (_TSVAL.unpack_from(segment, 24)[0], False, None))
        if words == 10 and size >= 40:
            mss, sack_timestamps, tsval, nop_wscale, shift = _SYN_LAYOUT.unpack_from(segment, 20)
            if (
                mss == _SYN_MSS
                and sack_timestamps == _SYN_SACK_TIMESTAMPS
                and nop_wscale == _SYN_NOP_WSCALE
            ):
                return new_tuple(Options, (tsval, False, min(shift, MAX_WSCALE)))
    return walk_options(segment)


def walk_options(segment: bytes) -> Options:
    """``read_options`` by walking the options one by one, whatever their layout."""
    end = (segment[12] >> 4) * 4 if len(segment) > 12 else 0
    if end <= TCP_HEADER:
        return NO_OPTIONS
    tsval: int | None = None
    wscale: int | None = None
    signed = False
    pos = TCP_HEADER
    while pos < end:
        kind = segment[pos]
        if kind == OPT_END:
            break
        if kind == OPT_NOP:
            pos += 1
            continue
        if pos + 1 >= end or segment[pos + 1] < 2 or pos + segment[pos + 1] > end:
            break
        size = segment[pos + 1]
        if kind == OPT_TIMESTAMPS and size == 10:
            tsval = int.from_bytes(segment[pos + 2 : pos + 6], "big")
        elif kind in (OPT_MD5, OPT_AO):
            signed = True
        elif kind == OPT_WSCALE and size == 3:
            wscale = min(segment[pos + 2], MAX_WSCALE)
        pos += size
    return Options(tsval, signed, wscale)


def older(value: int, reference: int) -> bool:
    """True when ``value`` comes before ``reference`` in a 32-bit sequence space (RFC 1982)."""
    return 0 < (reference - value) % SEQ_MODULO < _HALF


class TcpStream:
    """The client-to-server bytes of one connection, from ``anchor`` on."""

    __slots__ = (
        "anchor",
        "answered",
        "max_window",
        "merged",
        "server_next",
        "synced",
        "trusted",
        "tsval",
        "ttl",
        "wscale",
    )

    def __init__(self, limit: int, anchor: int, synced: bool, ttl: int) -> None:
        self.anchor = anchor
        """Sequence number of stream offset 0."""
        self.synced = synced
        """True when the SYN (or a kept position) fixed the stream start."""
        self.ttl = ttl
        """TTL or hop limit of the SYN (or the first segment): the trusted one."""
        self.trusted = StreamBuffer(limit)
        self.merged: StreamBuffer | None = None
        self.tsval: int | None = None
        """The newest TSval of the SYN and trusted segments: an older one fails PAWS
        (RFC 7323 §5), so the server drops that segment."""
        self.server_next: int | None = None
        """The server's ISS + 1, once its SYN-ACK was seen: what the server's SND.NXT
        is until it sends data, and the least its SND.UNA is ever after."""
        self.answered = False
        """A message was read whole: the server may have answered, so its SND.NXT
        is no longer known."""
        self.wscale = 0
        """The window scale the client's SYN offered (RFC 7323 §2.2)."""
        self.max_window = 0
        """The largest window the client advertised, scaled: Linux's ``max_window``."""

    def ack_acceptable(self, ack: int) -> bool:
        """False for an ACK number the server refuses, which drops the segment with it.

        RFC 9293 §3.10.7.4 and RFC 5961 §5.2: a segment is acceptable when
        SND.UNA - MAX.SND.WND ≤ SEG.ACK ≤ SND.NXT. Before the server sends
        data SND.NXT is its ISS + 1; SND.UNA is never below that, so an ACK
        older than ISS + 1 - the client's largest window is refused for the
        connection's whole life (Linux: "too old" past ``snd_una -
        max_window``; "too new" past ``snd_nxt``). Without the SYN-ACK seen,
        every ACK is taken.
        """
        server_next = self.server_next
        if server_next is None:
            return True
        # ``older`` in line (this runs for every data segment the server may read).
        if not self.answered and 0 < (ack - server_next) % SEQ_MODULO < _HALF:
            return False  # acknowledges data the server never sent
        return not 0 < ((server_next - self.max_window) - ack) % SEQ_MODULO < _HALF

    def saw_window(self, window: int) -> None:
        """A segment the server takes advertised ``window`` (its field, unscaled)."""
        self.max_window = max(self.max_window, window << self.wscale)

    def offset(self, seq: int) -> int:
        """The stream offset of ``seq``: negative before the read position by that much."""
        origin = self.trusted.origin
        rel = (seq - self.anchor - origin) % SEQ_MODULO
        return origin + (rel - SEQ_MODULO if rel >= _HALF else rel)

    def add(self, seq: int, data: bytes, trusted: bool) -> Added:
        """Add a segment's data; raises StreamConflict or StreamOverflow as the buffers do."""
        return self.add_at(self.offset(seq), data, trusted)

    def add_at(self, at: int, data: bytes, trusted: bool) -> Added:
        """``add`` for data at stream offset ``at`` (``offset`` of its sequence number)."""
        if trusted:
            added = self.trusted.add(at, data)
            if self.merged is not None:
                self.merged.add(at, data)
            return added
        if self.merged is None:
            self.merged = self.trusted.copy()
        return self.merged.add(at, data)

    def reanchor(self, seq: int) -> None:
        """No SYN seen, and data came from before the start: the stream starts at ``seq``."""
        delta = (self.anchor - seq) % SEQ_MODULO
        self.trusted = self.trusted.shifted(delta)
        if self.merged is not None:
            self.merged = self.merged.shifted(delta)
        self.anchor = seq

    def discard(self, count: int) -> None:
        """Move past ``count`` bytes already read, in both views."""
        self.trusted.discard(count)
        if self.merged is not None:
            self.merged.discard(count)

    @property
    def next_seq(self) -> int:
        """The sequence number of the read position."""
        return (self.anchor + self.trusted.origin) % SEQ_MODULO

    @property
    def size(self) -> int:
        """Bytes held in both views."""
        merged = self.merged
        return self.trusted.size + (merged.size if merged is not None else 0)

    @property
    def suspect(self) -> bool:
        """True when bytes from other segments reach further than the trusted ones."""
        merged = self.merged
        return merged is not None and len(merged) > len(self.trusted)
