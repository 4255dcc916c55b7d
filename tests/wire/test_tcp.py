"""One direction of a TCP connection: sequence numbers, trusted and merged views."""

from __future__ import annotations

import pytest

from copgate.wire.stream import Added, StreamConflict
from copgate.wire.tcp import SEQ_MODULO, TcpStream


def test_offsets_wrap_around_the_sequence_space() -> None:
    stream = TcpStream(1000, SEQ_MODULO - 2, synced=True, ttl=64)
    assert stream.offset(SEQ_MODULO - 2) == 0
    assert stream.offset(3) == 5
    assert stream.offset(SEQ_MODULO - 5) == -3
    stream.add(SEQ_MODULO - 2, b"abcdefg", trusted=True)
    assert stream.trusted.prefix == b"abcdefg"


def test_offsets_are_measured_from_the_read_position_on_long_connections() -> None:
    stream = TcpStream(1000, 0, synced=True, ttl=64)
    stream.add(0, b"x" * 600, trusted=True)
    for _ in range(10_000_000 // 600):
        stream.discard(600)
        stream.add(stream.next_seq, b"x" * 600, trusted=True)
    assert stream.offset(stream.next_seq) == stream.trusted.origin
    assert stream.next_seq == (stream.trusted.origin) % SEQ_MODULO


def test_untrusted_bytes_go_to_the_merged_view_only() -> None:
    stream = TcpStream(1000, 100, synced=True, ttl=64)
    stream.add(100, b"abc", trusted=True)
    assert stream.merged is None and not stream.suspect
    stream.add(103, b"def", trusted=False)
    assert stream.trusted.prefix == b"abc"
    assert stream.merged is not None and stream.merged.prefix == b"abcdef" and stream.suspect
    assert stream.size == 3 + 6
    stream.add(103, b"def", trusted=True)
    assert not stream.suspect


def test_untrusted_bytes_that_disagree_with_trusted_ones_conflict_either_way() -> None:
    stream = TcpStream(1000, 0, synced=True, ttl=64)
    stream.add(0, b"abc", trusted=True)
    with pytest.raises(StreamConflict):
        stream.add(1, b"X", trusted=False)
    other = TcpStream(1000, 0, synced=True, ttl=64)
    other.add(0, b"junk", trusted=False)
    with pytest.raises(StreamConflict):
        other.add(0, b"real", trusted=True)


def test_reanchor_moves_the_start_back() -> None:
    stream = TcpStream(1000, 500, synced=False, ttl=64)
    stream.add(500, b"world", trusted=True)
    stream.reanchor(495)
    assert stream.add(495, b"hello", trusted=True) is Added.NEW
    assert stream.trusted.prefix == b"helloworld" and stream.anchor == 495
