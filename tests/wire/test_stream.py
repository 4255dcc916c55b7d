"""Stream reassembly as intervals: any order, overlaps that agree, bounds, moving origin."""

from __future__ import annotations

import itertools
import random

import pytest

from copgate.wire.stream import Added, StreamBuffer, StreamConflict, StreamOverflow


def check_invariants(buffer: StreamBuffer, data: bytes) -> None:
    """The invariants stream.py states, against the stream ``data`` the pieces came from."""
    starts = buffer._starts
    assert starts == sorted(starts)
    assert buffer.held == sum(len(buffer._pieces[s]) for s in starts)
    prefix_end = buffer.origin + len(buffer)
    assert buffer.prefix == data[buffer.origin : prefix_end]
    previous_end = prefix_end
    for start in starts:
        piece = buffer._pieces[start]
        assert start > previous_end, "pieces never touch each other or the prefix"
        assert piece == data[start : start + len(piece)]
        previous_end = start + len(piece)
    assert previous_end - buffer.origin <= buffer.limit


def test_every_order_of_pieces_gives_the_same_prefix() -> None:
    pieces = [(0, b"abc"), (3, b"def"), (5, b"fgh"), (8, b"ij")]
    for order in itertools.permutations(pieces):
        buffer = StreamBuffer(100)
        for offset, data in order:
            buffer.add(offset, data)
        assert buffer.prefix == b"abcdefghij" and buffer.held == 0 and buffer.pieces == 0


def test_random_overlapping_pieces_keep_the_invariants_and_count_bytes_once() -> None:
    rng = random.Random(5)
    for _ in range(500):
        data = rng.randbytes(rng.randint(1, 200))
        buffer = StreamBuffer(256)
        for _ in range(rng.randint(1, 30)):
            a = rng.randrange(len(data))
            b = rng.randint(a + 1, len(data))
            buffer.add(a, data[a:b])
            check_invariants(buffer, data)
            covered = len(buffer) + buffer.held
            assert buffer.size == covered <= len(data)
        buffer.add(0, data)
        assert buffer.prefix == data and buffer.held == 0


def test_a_retransmission_is_old_and_adds_nothing() -> None:
    buffer = StreamBuffer(100)
    assert buffer.add(10, b"later") is Added.NEW
    assert buffer.add(10, b"later") is Added.OLD
    assert buffer.add(11, b"at") is Added.OLD
    assert buffer.size == 5


def test_bytes_that_disagree_with_held_ones_are_a_conflict() -> None:
    buffer = StreamBuffer(100)
    buffer.add(0, b"abc")
    with pytest.raises(StreamConflict):
        buffer.add(1, b"XYZd")  # X and Y disagree with b and c
    buffer.add(10, b"pieces")
    with pytest.raises(StreamConflict):
        buffer.add(8, b"..PIE")  # disagrees with a held piece, not the prefix
    assert buffer.prefix == b"abc" and buffer.held == 6


def test_a_piece_starting_past_the_bound_is_beyond_and_one_crossing_it_overflows() -> None:
    buffer = StreamBuffer(8)
    buffer.add(0, b"12345678")
    assert buffer.add(8, b"9") is Added.BEYOND
    assert buffer.add(40000, b"far ahead") is Added.BEYOND
    assert buffer.size == 8
    with pytest.raises(StreamOverflow):
        StreamBuffer(8).add(5, b"abcd")


def test_pieces_held_apart_are_capped() -> None:
    buffer = StreamBuffer(10_000, max_pieces=4)
    for i in range(4):
        buffer.add(10 + 10 * i, b"x")
    buffer.add(11, b"x")  # touches a piece: merged, no new piece
    assert buffer.pieces == 4
    with pytest.raises(StreamOverflow, match="pieces"):
        buffer.add(100, b"x")
    buffer.add(0, b"y" * 10)  # fills the first hole: joins the prefix
    assert len(buffer) == 12 and buffer.pieces == 3


def test_discard_moves_the_origin_even_past_received_bytes() -> None:
    buffer = StreamBuffer(10)
    buffer.add(0, b"header")
    buffer.discard(10)  # a 4-byte body not received yet
    buffer.add(6, b"bodyNEXT")
    assert buffer.prefix == b"NEXT" and buffer.origin == 10
    buffer.add(14, b"012345")  # the bound counts from the origin
    assert buffer.size == 10
    assert buffer.add(20, b"!") is Added.BEYOND
    with pytest.raises(StreamOverflow):
        buffer.add(19, b"!!")


def test_discard_past_the_prefix_turns_a_straddling_piece_into_the_prefix() -> None:
    buffer = StreamBuffer(100)
    buffer.add(0, b"ab")
    buffer.add(5, b"fghij")
    buffer.discard(7)
    assert buffer.origin == 7 and buffer.prefix == b"hij" and buffer.held == 0


def test_shifted_moves_every_piece_later() -> None:
    buffer = StreamBuffer(20)
    buffer.add(0, b"xyz")
    buffer.add(5, b"uv")
    moved = buffer.shifted(3)
    assert moved.prefix == b"" and moved.size == 5
    moved.add(0, b"abc")
    assert moved.prefix == b"abcxyz"


def test_a_copy_is_independent() -> None:
    buffer = StreamBuffer(20)
    buffer.add(0, b"ab")
    buffer.add(5, b"fg")
    copy = buffer.copy()
    copy.add(2, b"cde")
    assert copy.prefix == b"abcdefg" and buffer.prefix == b"ab" and buffer.held == 2
