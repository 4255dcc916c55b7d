"""The Internet checksum check (RFC 1071) against an independent word-by-word sum."""

from __future__ import annotations

import random

import pytest

from copgate.wire.checksum import segment_ok
from copgate.wire.packet import PROTO_TCP, PROTO_UDP, read_ip
from tests.wire.builders import (
    CLIENT4,
    CLIENT6,
    SERVER4,
    SERVER6,
    bad_checksum,
    ipv4,
    ipv6,
    tcp,
    udp,
)

# A hand-checked IPv4/UDP datagram: 192.0.2.10:40000 -> 198.51.100.80:53, payload "ab".
# Pseudo-header words c000 020a c633 6450 0011 000a, header 9c40 0035 000a, data 6162
# sum to 0x2ea89; folded, 0xea89 + 2 = 0xea8b; its complement, the checksum, is 0x1574.
UDP_V4 = bytes.fromhex(
    "45 00 001e 0001 0000 40 11 0000 c000020a c6336450 9c40 0035 000a 1574 6162".replace(" ", "")
)


def test_a_hand_computed_udp_checksum_is_right_and_one_bit_off_is_wrong() -> None:
    assert segment_ok(read_ip(UDP_V4))
    assert not segment_ok(read_ip(UDP_V4[:-1] + b"\x63"))


@pytest.mark.parametrize("version", [4, 6])
@pytest.mark.parametrize("proto", [PROTO_TCP, PROTO_UDP])
def test_random_segments_of_every_length_parity(version: int, proto: int) -> None:
    rng = random.Random(version * 100 + proto)
    for length in range(0, 300):
        payload = rng.randbytes(length)
        body = (
            tcp(rng.randrange(65536), 443, rng.randrange(1 << 32), payload)
            if proto == 6
            else (udp(rng.randrange(65536), 443, payload))
        )
        if version == 4:
            datagram = ipv4(CLIENT4, SERVER4, proto, body)
        else:
            datagram = ipv6(CLIENT6, SERVER6, proto, body)
        assert segment_ok(read_ip(datagram)), length
        assert not segment_ok(read_ip(bad_checksum(datagram))), length


def test_a_zero_udp_checksum_means_none_over_ipv4_only() -> None:
    """RFC 768 allows "no checksum" over IPv4; RFC 8200 §8.1 forbids it over IPv6."""
    v4 = ipv4(CLIENT4, SERVER4, PROTO_UDP, udp(1, 2, b"x"))
    v4 = v4[:26] + b"\0\0" + v4[28:]
    assert segment_ok(read_ip(v4))
    v6 = ipv6(CLIENT6, SERVER6, PROTO_UDP, udp(1, 2, b"x"))
    v6 = v6[:46] + b"\0\0" + v6[48:]
    assert not segment_ok(read_ip(v6))


def test_0000_and_ffff_are_the_same_tcp_checksum() -> None:
    """RFC 1624 §3: both stand for zero in one's complement."""
    rng = random.Random(3)
    found = 0
    for _ in range(200_000):
        datagram = ipv4(CLIENT4, SERVER4, PROTO_TCP, tcp(1, 2, rng.randrange(1 << 32), b"z"))
        if datagram[36:38] in (b"\0\0", b"\xff\xff"):
            other = b"\xff\xff" if datagram[36:38] == b"\0\0" else b"\0\0"
            assert segment_ok(read_ip(datagram))
            assert segment_ok(read_ip(datagram[:36] + other + datagram[38:]))
            found += 1
            if found == 2:
                break
    assert found
