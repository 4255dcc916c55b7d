"""Forged datagrams carry checksums an independent stack accepts (scapy recomputes them)."""

from __future__ import annotations

import struct

from hypothesis import example, given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6

from copgate.forge.packets import checksum, ip_datagram, tcp_segment, udp_datagram
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


# -- the summed checksums against the builder they replaced ------------------------------


def reference_datagram(src: bytes, dst: bytes, proto: int, segment: bytes) -> bytes:
    """As the forge built datagrams before it summed header fields: the segment packed
    with a zero checksum, its checksum over pseudo-header and segment spliced in, then
    the IP header packed and (IPv4) its own checksum spliced in."""
    if len(src) == 4:
        pseudo = src + dst + struct.pack("!BBH", 0, proto, len(segment))
    else:
        pseudo = src + dst + struct.pack("!IxxxB", len(segment), proto)
    offset = 6 if proto == 17 else 16
    value = _rfc_1071_words(pseudo + segment)
    if proto == 17 and value == 0:
        value = 0xFFFF
    segment = segment[:offset] + struct.pack("!H", value) + segment[offset + 2 :]
    if len(src) == 4:
        header = struct.pack(
            "!BBHHHBBH4s4s", 0x45, 0, 20 + len(segment), 0, 0x4000, 64, proto, 0, src, dst
        )
        header = header[:10] + struct.pack("!H", _rfc_1071_words(header)) + header[12:]
        return header + segment
    return struct.pack("!IHBB16s16s", 6 << 28, len(segment), proto, 64, src, dst) + segment


ADDRESS_PAIRS = st.sampled_from([4, 16]).flatmap(
    lambda size: st.tuples(
        st.binary(min_size=size, max_size=size), st.binary(min_size=size, max_size=size)
    )
)
PORT = st.integers(0, 0xFFFF)
PAYLOAD = st.binary(max_size=1500)


@settings(max_examples=300)
@given(ADDRESS_PAIRS, PORT, PORT, PAYLOAD)
@example((b"\x00" * 4, b"\x00" * 4), 0, 0, b"")  # the smallest sums there are
@example((b"\xff" * 16, b"\xff" * 16), 0xFFFF, 0xFFFF, b"\xff" * 7)
def test_udp_datagram_equals_the_reference_builder(
    addresses: tuple[bytes, bytes], sport: int, dport: int, payload: bytes
) -> None:
    src, dst = addresses
    segment = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    assert udp_datagram((src, sport), (dst, dport), payload) == reference_datagram(
        src, dst, 17, segment
    )


def test_a_udp_checksum_that_sums_to_zero_is_sent_as_all_ones() -> None:
    # A payload word equal to the checksum of the same datagram with a zero
    # word there brings the one's complement sum to 0xFFFF: the computed
    # checksum is 0, which means "none" in UDP, so RFC 768 sends 0xFFFF.
    src, dst = (CLIENT4, 1), (SERVER4, 2)
    word = udp_datagram(src, dst, b"\x00\x00")[26:28]
    datagram = udp_datagram(src, dst, word)
    assert datagram[26:28] == b"\xff\xff"
    segment = datagram[20:26] + b"\x00\x00" + datagram[28:]
    assert datagram == reference_datagram(CLIENT4, SERVER4, 17, segment)


@settings(max_examples=300)
@given(
    ADDRESS_PAIRS,
    PORT,
    PORT,
    st.integers(-(2**33), 2**34),
    st.integers(-(2**33), 2**34),
    st.integers(0, 0xFF),
    PAYLOAD,
)
def test_tcp_segment_equals_the_reference_builder(
    addresses: tuple[bytes, bytes],
    sport: int,
    dport: int,
    seq: int,
    ack: int,
    flags: int,
    payload: bytes,
) -> None:
    src, dst = addresses
    header = struct.pack(
        "!HHIIBBHHH", sport, dport, seq % (1 << 32), ack % (1 << 32), 5 << 4, flags, 0, 0, 0
    )
    expected = reference_datagram(src, dst, 6, header + payload)
    assert tcp_segment((src, sport), (dst, dport), seq, ack, flags, payload) == expected


@given(ADDRESS_PAIRS, st.sampled_from([6, 17]), st.binary(min_size=20, max_size=200))
def test_ip_datagram_equals_the_reference_builder(
    addresses: tuple[bytes, bytes], proto: int, segment: bytes
) -> None:
    src, dst = addresses
    at = 6 if proto == 17 else 16
    segment = segment[:at] + b"\x00\x00" + segment[at + 2 :]
    assert ip_datagram(src, dst, proto, segment) == reference_datagram(src, dst, proto, segment)
