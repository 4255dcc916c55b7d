"""Stream reassembly: pieces in any order, overlaps, bounds, moving origin."""

from __future__ import annotations

import itertools

import pytest

from copgate.wire.stream import StreamBuffer, StreamOverflow


def test_every_order_of_pieces_gives_the_same_prefix() -> None:
    pieces = [(0, b"abc"), (3, b"def"), (5, b"fgh"), (8, b"ij")]
    for order in itertools.permutations(pieces):
        buffer = StreamBuffer(100)
        for offset, data in order:
            buffer.add(offset, data)
        assert buffer.prefix == b"abcdefghij" and buffer.held == 0


def test_the_first_received_bytes_win_where_pieces_disagree() -> None:
    buffer = StreamBuffer(100)
    buffer.add(0, b"abc")
    buffer.add(1, b"XYZd")  # X and Y disagree with b and c; Z and d are new
    assert buffer.prefix == b"abcZd"


def test_a_piece_past_the_limit_overflows() -> None:
    buffer = StreamBuffer(8)
    buffer.add(0, b"12345678")
    with pytest.raises(StreamOverflow):
        buffer.add(8, b"9")
    with pytest.raises(StreamOverflow):
        StreamBuffer(8).add(5, b"abcd")


def test_discard_moves_the_origin_even_past_received_bytes() -> None:
    buffer = StreamBuffer(10)
    buffer.add(0, b"header")
    buffer.discard(10)  # a 4-byte body not received yet
    buffer.add(6, b"bodyNEXT")
    assert buffer.prefix == b"NEXT" and buffer.origin == 10
    buffer.add(14, b"012345")  # the limit counts from the origin
    assert buffer.size == 10
    with pytest.raises(StreamOverflow):
        buffer.add(20, b"!")


def test_shifted_moves_every_piece_later() -> None:
    buffer = StreamBuffer(20)
    buffer.add(0, b"xyz")
    buffer.add(5, b"uv")
    moved = buffer.shifted(3)
    assert moved.prefix == b"" and moved.size == 5
    moved.add(0, b"abc")
    assert moved.prefix == b"abcxyz"
