"""One direction of a TCP connection: sequence numbers, trusted and merged views."""

from __future__ import annotations

import struct

import pytest

from copgate.wire.stream import Added, StreamConflict
from copgate.wire.tcp import MAX_WSCALE, SEQ_MODULO, TcpStream, read_options, walk_options


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


def test_every_ack_is_taken_before_the_syn_ack_is_seen() -> None:
    stream = TcpStream(1000, 0, synced=True, ttl=64)
    assert all(stream.ack_acceptable(ack) for ack in (0, 1 << 31, SEQ_MODULO - 1))


def test_acks_the_server_takes_lie_between_its_next_less_the_window_and_its_next() -> None:
    stream = TcpStream(1000, 0, synced=True, ttl=64)
    stream.server_next, stream.max_window = 5, 100  # wraps below zero
    assert stream.ack_acceptable(5) and stream.ack_acceptable(SEQ_MODULO - 95)
    assert not stream.ack_acceptable(6), "too new: data the server never sent"
    assert not stream.ack_acceptable(SEQ_MODULO - 96), "too old: past SND.UNA - MAX.SND.WND"
    stream.answered = True  # the server may have sent data since
    assert stream.ack_acceptable(1_000_000)
    assert not stream.ack_acceptable(SEQ_MODULO - 96), "too old for the connection's life"


def test_windows_are_scaled_by_the_syns_shift_and_only_grow() -> None:
    stream = TcpStream(1000, 0, synced=True, ttl=64)
    stream.server_next, stream.wscale = 1 << 20, 7
    stream.saw_window(1000)
    stream.saw_window(10)
    assert stream.max_window == 1000 << 7
    assert stream.ack_acceptable((1 << 20) - (1000 << 7))
    assert not stream.ack_acceptable((1 << 20) - (1000 << 7) - 1)


@pytest.mark.parametrize(
    ("options", "expected"),
    [(b"\x01\x03\x03\x07", 7), (b"\x03\x03\x0e", 14), (b"\x03\x03\x20", MAX_WSCALE), (b"", None)],
)
def test_the_window_scale_option_is_read(options: bytes, expected: int | None) -> None:
    options += bytes(-len(options) % 4)
    header = bytes(12) + bytes((((20 + len(options)) // 4) << 4,)) + bytes(7)
    assert read_options(header + options).wscale == expected


# The option layouts ``read_options`` reads without a walk: Linux's SYN (MSS,
# SACK-permitted, timestamps, NOP, window scale) and its later segments (NOP,
# NOP, timestamps).
LINUX_SYN_OPTIONS = bytes.fromhex("020405b4 0402 080a 0001e240 00000000 01 030307".replace(" ", ""))
LINUX_DATA_OPTIONS = bytes.fromhex("0101 080a 0001e241 0004c4b4".replace(" ", ""))


def test_the_layouts_read_without_a_walk_are_read_as_the_walk_reads_them() -> None:
    """Every byte of the header's tail and options set to values that matter to the
    walk (ends, NOPs, kinds, lengths), under data offsets around the layouts' own,
    and cut short: the same Options, or the walk's own refusal."""
    fast = 0
    for options in (LINUX_SYN_OPTIONS, LINUX_DATA_OPTIONS):
        for words in (5, 7, 8, 9, 10, 11, 15):
            header = struct.pack("!HHIIBBHHH", 40000, 443, 1, 2, words << 4, 0x18, 512, 0, 0)
            segment = header + options + b"payload"
            for at in range(12, len(header) + len(options)):
                for value in (0, 1, 2, 3, 4, 8, 10, 19, 29, 0x5F, 0xA0, 0xFF):
                    mutated = segment[:at] + bytes([value]) + segment[at + 1 :]
                    for cut in (mutated, mutated[:32], mutated[:39], mutated[:40]):
                        if len(cut) >= (cut[12] >> 4) * 4:  # read_ip's guarantee
                            assert read_options(cut) == walk_options(cut), cut.hex()
                            fast += read_options(cut).tsval is not None
    assert fast > 1000
    syn = struct.pack("!HHIIBBHHH", 40000, 443, 1, 0, 10 << 4, 0x02, 512, 0, 0)
    assert read_options(syn + LINUX_SYN_OPTIONS) == (123456, False, 7)
    data = struct.pack("!HHIIBBHHH", 40000, 443, 1, 0, 8 << 4, 0x18, 512, 0, 0)
    assert read_options(data + LINUX_DATA_OPTIONS + b"x") == (123457, False, None)
