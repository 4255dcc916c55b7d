"""Forged datagrams carry checksums an independent stack accepts (scapy recomputes them)."""

from __future__ import annotations

import struct

from hypothesis import example, given
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6

from copgate.forge.packets import checksum, tcp_segment, udp_datagram
from copgate.wire.packet import TCP_ACK, TCP_RST, read_ip
from tests.wire.builders import CLIENT4, CLIENT6, SERVER4, SERVER6


def test_rfc_1071_example() -> None:
    # RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to 0xddf2 (one's complement: 0x220d).
    assert checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D


def _rfc_1071_words(data: bytes) -> int:
    """RFC 1071 §4.1 as written: add 16-bit words, fold the carries, complement."""
    if len(data) % 2:
        data += b"\x00"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


@given(st.binary(max_size=1600))
@example(b"")
@example(b"\x00" * 20)  # all zero: the sum is 0, the checksum 0xffff
@example(b"\xff\xff")  # a non-zero sum of 0xffff: the checksum 0
@example(b"\x12\x34\xed\xcb")  # a remainder of 0 from two words
@example(b"\xff")  # odd length: padded with a zero byte
def test_checksum_equals_the_word_by_word_sum(data: bytes) -> None:
    assert checksum(data) == _rfc_1071_words(data)


def test_udp_over_ipv4_checksums_match_scapy() -> None:
    datagram = udp_datagram((SERVER4, 53), (CLIENT4, 40000), b"answer bytes")
    parsed = IP(datagram)
    expected = IP(bytes(parsed))
    del expected.chksum, expected[UDP].chksum
    rebuilt = IP(bytes(expected))
    assert parsed.chksum == rebuilt.chksum and parsed[UDP].chksum == rebuilt[UDP].chksum
    assert read_ip(datagram).payload == b"answer bytes"


def test_tcp_over_ipv6_checksum_matches_scapy() -> None:
    datagram = tcp_segment((SERVER6, 443), (CLIENT6, 40000), 7, 9, TCP_RST | TCP_ACK)
    parsed = IPv6(datagram)
    rebuilt = IPv6(bytes(parsed))
    del rebuilt[TCP].chksum
    assert parsed[TCP].chksum == IPv6(bytes(rebuilt))[TCP].chksum
    packet = read_ip(datagram)
    assert (packet.seq, packet.ack, packet.flags) == (7, 9, TCP_RST | TCP_ACK)


def test_sequence_numbers_wrap() -> None:
    packet = read_ip(tcp_segment((SERVER4, 1), (CLIENT4, 2), (1 << 32) + 5, -1, TCP_ACK))
    assert packet.seq == 5 and packet.ack == (1 << 32) - 1
