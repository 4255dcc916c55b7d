"""read_dns_query: a plain DNS query's fields straight from its datagram, else None."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from copgate.wire.dns import read_dns_message
from copgate.wire.dns_datagram import DnsDatagram, read_dns_query
from copgate.wire.packet import read_ip
from tests.real_packets import all_datagrams
from tests.wire.builders import CLIENT4, CLIENT6, SERVER4, SERVER6, dns_query, ipv4, ipv6, udp

QUERY = dns_query("www.Example.org", qtype=28, msg_id=7, edns=1232)


def general(datagram: bytes) -> DnsDatagram:
    """What read_ip and the DNS reader make of the same bytes."""
    packet = read_ip(datagram)
    return DnsDatagram(
        packet.src, packet.dst, packet.sport, packet.ttl, read_dns_message(packet.payload)
    )


@pytest.mark.parametrize(
    "datagram",
    [
        ipv4(CLIENT4, SERVER4, 17, udp(40000, 53, QUERY), ttl=63),
        ipv4(CLIENT4, SERVER4, 17, udp(53, 53, QUERY)),
        ipv4(CLIENT4, SERVER4, 17, udp(40000, 53, QUERY), frag=0x4000),  # DF: no fragment
        ipv6(CLIENT6, SERVER6, 17, udp(40000, 53, QUERY), ttl=7),
    ],
)
def test_a_plain_query_reads_as_the_general_path_reads_it(datagram: bytes) -> None:
    read = read_dns_query(datagram)
    assert read is not None
    assert read == general(datagram)
    assert read.query.name.text == "www.example.org" and read.query.edns_udp_size == 1232


PLAIN = ipv4(CLIENT4, SERVER4, 17, udp(40000, 53, QUERY))


@pytest.mark.parametrize(
    ("why", "datagram"),
    [
        ("first fragment", ipv4(CLIENT4, SERVER4, 17, udp(40000, 53, QUERY), frag=0x2000)),
        ("later fragment", ipv4(CLIENT4, SERVER4, 17, udp(40000, 53, QUERY), frag=0x0001)),
        ("not port 53", ipv4(CLIENT4, SERVER4, 17, udp(53, 5353, QUERY))),
        ("TCP", ipv4(CLIENT4, SERVER4, 6, udp(40000, 53, QUERY))),
        ("tunnel", ipv4(CLIENT4, SERVER4, 4, PLAIN)),
        ("IP options", b"\x46" + PLAIN[1:20] + bytes(4) + PLAIN[20:]),
        ("total length short", PLAIN[:2] + struct.pack("!H", len(PLAIN) - 1) + PLAIN[4:]),
        ("link padding", PLAIN + b"\0\0"),
        ("UDP length short", PLAIN[:24] + struct.pack("!H", len(PLAIN) - 21) + PLAIN[26:]),
        (
            "IPv6 extension",
            ipv6(CLIENT6, SERVER6, 0, bytes([17, 0, 1, 4, 0, 0, 0, 0]) + udp(1, 53, QUERY)),
        ),
        ("response", ipv4(CLIENT4, SERVER4, 17, udp(40000, 53, QUERY[:2] + b"\x81" + QUERY[3:]))),
        (
            "two questions",
            ipv4(CLIENT4, SERVER4, 17, udp(40000, 53, QUERY[:5] + b"\x02" + QUERY[6:])),
        ),
        (
            "pointer loop",
            ipv4(CLIENT4, SERVER4, 17, udp(40000, 53, QUERY[:12] + b"\xc0\x0c\0\x01\0\x01")),
        ),
        ("cut header", ipv4(CLIENT4, SERVER4, 17, udp(40000, 53, QUERY[:5]))),
        ("empty", b""),
        ("version 5", b"\x55" + PLAIN[1:]),
    ],
)
def test_anything_else_takes_the_general_path(why: str, datagram: bytes) -> None:
    assert read_dns_query(datagram) is None, why


def test_real_captures_read_alike_or_not_at_all() -> None:
    read_any = 0
    for captured in all_datagrams():
        read = read_dns_query(captured.data)
        if read is not None:
            read_any += 1
            assert read == general(captured.data), (captured.capture, captured.frame)
    assert read_any >= 10  # the captures hold real queries


@given(st.binary(max_size=120))
def test_it_never_raises(data: bytes) -> None:
    read = read_dns_query(data)
    if read is not None:
        assert read == general(data)


@given(st.binary(min_size=12, max_size=100))
def test_whatever_dns_bytes_it_reads_the_general_path_reads_alike(message: bytes) -> None:
    datagram = ipv4(CLIENT4, SERVER4, 17, udp(40000, 53, message))
    read = read_dns_query(datagram)
    if read is not None:
        assert read == general(datagram)
