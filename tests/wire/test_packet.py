"""IP datagrams down to the transport header: IPv4, IPv6, extension headers, tunnels."""

from __future__ import annotations

import itertools
import struct

import pytest

from copgate.errors import WireError
from copgate.wire.packet import PROTO_TCP, PROTO_UDP, TCP_SYN, Packet, _read_ip, read_ip
from tests.conftest import shared_data
from tests.wire.builders import (
    CLIENT4,
    CLIENT6,
    SERVER4,
    SERVER6,
    ipv4,
    ipv6,
    tcp,
    udp,
)

# A hand-encoded IPv4/UDP DNS query (RFC 791 header | RFC 768 header | DNS), hex with
# spaces between fields: version+IHL, TOS, total length, id, flags+fragment, TTL, protocol,
# checksum, source, destination | ports, length, checksum | DNS message.
DNS_QUERY_V4 = bytes.fromhex(
    "45 00 0039 1a2b 4000 40 11 0000 c000020a c0000201"
    " a028 0035 0025 0000"
    " 1234 0100 0001 0000 0000 0000 07 6578616d706c65 03 636f6d 00 0001 0001".replace(" ", "")
)


def test_a_hand_encoded_ipv4_udp_query() -> None:
    packet = read_ip(DNS_QUERY_V4)
    assert packet.version == 4 and packet.proto == PROTO_UDP
    assert packet.src == bytes([192, 0, 2, 10]) and packet.dst == bytes([192, 0, 2, 1])
    assert (packet.sport, packet.dport) == (41000, 53)
    assert packet.payload.endswith(b"\x03com\x00\x00\x01\x00\x01")


def test_ipv4_tcp_with_options_and_flags() -> None:
    segment = tcp(40000, 443, 77, b"hello", TCP_SYN)
    with_options = segment[:12] + bytes([7 << 4]) + segment[13:20] + b"\x01" * 8 + segment[20:]
    packet = read_ip(ipv4(CLIENT4, SERVER4, PROTO_TCP, with_options))
    assert packet.seq == 77 and packet.flags & TCP_SYN and packet.payload == b"hello"


def test_ethernet_padding_after_the_ipv4_total_length_is_ignored() -> None:
    datagram = ipv4(CLIENT4, SERVER4, PROTO_UDP, udp(1, 53, b"abc"))
    assert read_ip(datagram + bytes(6)).payload == b"abc"


def test_ipv6_through_hop_by_hop_destination_and_fragment_headers() -> None:
    body = udp(40000, 53, b"query")
    dest_opts = bytes([PROTO_UDP, 0]) + bytes(6)
    fragment = bytes([60, 0, 0, 0]) + b"\x00\x00\x00\x01"  # offset 0, no more fragments
    hop = bytes([44, 0]) + bytes(6)
    packet = read_ip(ipv6(CLIENT6, SERVER6, 0, hop + fragment + dest_opts + body))
    assert packet.version == 6 and packet.proto == PROTO_UDP and packet.payload == b"query"
    assert packet.fragment


def test_a_later_fragment_has_no_transport_header() -> None:
    packet = read_ip(ipv4(CLIENT4, SERVER4, PROTO_UDP, b"middle of something", frag=185))
    assert packet.fragment and packet.sport == 0 and packet.payload == b""


def test_4in6_and_6in4_tunnels_are_opened() -> None:
    inner4 = ipv4(CLIENT4, SERVER4, PROTO_UDP, udp(1, 53, b"x"))
    assert read_ip(ipv6(CLIENT6, SERVER6, 4, inner4)).src == CLIENT4
    inner6 = ipv6(CLIENT6, SERVER6, PROTO_UDP, udp(1, 53, b"y"))
    assert read_ip(ipv4(CLIENT4, SERVER4, 41, inner6)).src == CLIENT6


def test_tunnels_nested_too_deep_are_refused() -> None:
    datagram = ipv4(CLIENT4, SERVER4, PROTO_UDP, udp(1, 53, b"x"))
    for _ in range(4):
        datagram = ipv4(CLIENT4, SERVER4, 4, datagram)
    with pytest.raises(WireError, match="nested"):
        read_ip(datagram)


@pytest.mark.parametrize(
    ("datagram", "message"),
    [
        (b"", "empty"),
        (b"\x55" + bytes(30), "version 5"),
        (b"\x45" + bytes(10), "20 bytes"),
        (b"\x44" + bytes(30), "under 20"),
        (ipv4(CLIENT4, SERVER4, PROTO_UDP, b"\x00\x01"), "UDP header"),
        (ipv4(CLIENT4, SERVER4, PROTO_TCP, bytes(12)), "TCP header"),
        (ipv4(CLIENT4, SERVER4, PROTO_TCP, bytes(12) + b"\xf0" + bytes(7)), "data offset"),
        (b"\x60" + bytes(20), "40 bytes"),
        (ipv6(CLIENT6, SERVER6, 0, b"\x00"), "extension header"),
    ],
)
def test_malformed_datagrams_are_wire_errors(datagram: bytes, message: str) -> None:
    with pytest.raises(WireError, match=message):
        read_ip(datagram)


@pytest.mark.shared_data
def test_the_real_4in6_capture_reaches_the_inner_tcp() -> None:
    from copgate.tools.capture import read_capture
    from copgate.wire.link import ip_datagram

    frames = list(read_capture(shared_data("captures/4in6tunnel.pcap")))
    packets = [read_ip(ip_datagram(f.linktype, f.data) or b"") for f in frames]
    assert {p.version for p in packets} == {4}
    assert all(p.proto == PROTO_TCP for p in packets)


def test_the_ttl_and_hop_limit_and_the_segment_are_kept() -> None:
    v4 = read_ip(ipv4(CLIENT4, SERVER4, PROTO_TCP, tcp(1, 2, 3, b"data"), ttl=7))
    assert (
        v4.ttl == 7 and v4.segment == tcp(1, 2, 3, b"data")[:16] + v4.segment[16:18] + b"\0\0data"
    )
    v6 = read_ip(ipv6(CLIENT6, SERVER6, PROTO_UDP, udp(1, 2, b"q"), ttl=200))
    assert v6.ttl == 200 and len(v6.segment) == 9 and v6.payload == b"q"


def test_a_udp_segment_stops_at_its_length_field() -> None:
    datagram = ipv4(CLIENT4, SERVER4, PROTO_UDP, udp(1, 2, b"abc") + b"pad")
    packet = read_ip(datagram)
    assert packet.payload == b"abc" and len(packet.segment) == 11


def test_a_first_fragment_has_no_segment_to_check() -> None:
    datagram = ipv4(CLIENT4, SERVER4, PROTO_UDP, udp(1, 2, b"abc"), frag=0x2000)
    packet = read_ip(datagram)
    assert packet.fragment and packet.segment == b""


# -- the one-unpack path for plain IPv4 TCP against the general reader ----------------


def _general(data: bytes) -> Packet | str:
    """What the general reader (``_read_ip``) makes of ``data``: a Packet or its error."""
    try:
        return _read_ip(data, 0)
    except WireError as exc:
        return f"WireError: {exc}"


def _read(data: bytes) -> Packet | str:
    try:
        return read_ip(data)
    except WireError as exc:
        return f"WireError: {exc}"


def test_plain_ipv4_tcp_is_read_as_the_general_path_reads_it() -> None:
    """Header lengths, total lengths, fragment bits, protocols, data offsets and
    sizes of every kind around the bounds: the one-unpack path gives the same
    Packet as the general reader, or the same error."""
    shapes = itertools.product(
        (0x45, 0x46, 0x55),
        (0, 39, 40, 41, 44, 60, 200, 0xFFFF),
        (0, 0x4000, 0x2000, 0x0001),
        (PROTO_TCP, PROTO_UDP, 4),
        range(16),
        (0, 1, 3, 4, 20, 40),
    )
    fast = 0
    for first, total, frag, proto, data_offset, size in shapes:
        header = struct.pack(
            "!BBHHHBBH4s4s", first, 0, total, 1, frag, 64, proto, 0, CLIENT4, SERVER4
        )
        segment = struct.pack("!HHIIBBHHH", 40000, 443, 7, 9, data_offset << 4, 0x18, 512, 0, 0)
        data = header + segment + bytes(range(size))
        read = _read(data)
        assert read == _general(data), data.hex()
        if isinstance(read, Packet):
            assert type(read.fragment) is bool and type(read.discarded) is bool
            fast += first == 0x45 and proto == PROTO_TCP
    assert fast > 100  # the one-unpack path was taken
