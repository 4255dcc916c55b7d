"""IPv4/IPv6 datagrams with UDP or TCP, checksums included, for injection.

The kernel fills in the IPv4 header checksum of what a raw socket sends, but
never a UDP or TCP checksum, so this module computes them (RFC 1071 over the
pseudo-header of RFC 768 / RFC 9293 §3.1 / RFC 8200 §8.1). It builds bytes
and never sends them.

A forged packet is one ``struct`` pack of the IP and transport headers, with
both checksums already in them, and the payload after it: nothing is built
twice or spliced. The checksums are summed, not read back from bytes: since
2**16 ≡ 1 (mod 0xFFFF), the one's complement sum of 16-bit words is congruent
to any integer whose 16-bit digits are those words, so a header's sum is the
plain sum of its fields (a 32-bit field counts as its two halves) and the
payload's is ``int.from_bytes`` of it (``copgate.wire.checksum`` checks what
it receives the same way). Every sum here holds a non-zero protocol or
version word, so it is never +0, and the checksum, the one's complement of
the folded sum, is ``-sum % 0xFFFF``: 0 when the folded sum is 0xFFFF.
"""

from __future__ import annotations

import struct

from copgate.wire.packet import PROTO_TCP, PROTO_UDP

DEFAULT_TTL = 64
TCP_WINDOW = 0  # a forged segment never invites more data
IPV4_HEADER = 20  # no options (RFC 791 §3.1: IHL 5)
UDP_HEADER = 8  # RFC 768
TCP_HEADER = 20  # no options (RFC 9293 §3.1: data offset 5)
_ONES = 0xFFFF
_IPV4_VERSION_IHL = 0x45
_IPV4_DONT_FRAGMENT = 0x4000
_IPV6_VERSION = 6 << 28  # traffic class and flow label zero
_TCP_OFFSET = (TCP_HEADER // 4) << 4  # data offset in the high nibble of its byte

_IPV4 = "BBHHHBBH4s4s"  # RFC 791 §3.1
_IPV6 = "IHBB16s16s"  # RFC 8200 §3
_UDP = "HHHH"  # RFC 768
_TCP = "HHIIBBHHH"  # RFC 9293 §3.1, no options
_PACKS = {
    (4, PROTO_UDP): struct.Struct("!" + _IPV4 + _UDP),
    (16, PROTO_UDP): struct.Struct("!" + _IPV6 + _UDP),
    (4, PROTO_TCP): struct.Struct("!" + _IPV4 + _TCP),
    (16, PROTO_TCP): struct.Struct("!" + _IPV6 + _TCP),
}
"""IP header and transport header as one pack, by address length and protocol."""
_IP = {4: struct.Struct("!" + _IPV4), 16: struct.Struct("!" + _IPV6)}
_IPV4_FIXED_SUM = (_IPV4_VERSION_IHL << 8) + _IPV4_DONT_FRAGMENT + (DEFAULT_TTL << 8)
"""The IPv4 header's words that never change (TOS, ID and checksum are zero)."""


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of ``data``.

    RFC 1071 §2(C) sums in words wider than 16 bits and folds at the end;
    here the word is all of ``data`` read as one big-endian integer, and the
    fold is a remainder modulo 0xFFFF (2**16 is 1 modulo 0xFFFF, so each
    16-bit word counts once and the end-around carries come for free). The
    folded one's complement sum of non-zero data is never 0, so a remainder
    of 0 stands for 0xFFFF. The forging below sums header fields instead of
    calling this; it is the reference the tests hold them to.
    """
    if len(data) % 2:
        data += b"\x00"
    value = int.from_bytes(data, "big")
    total = value % _ONES
    if total == 0 and value:
        total = _ONES
    return ~total & 0xFFFF


def ip_datagram(src: bytes, dst: bytes, proto: int, segment: bytes) -> bytes:
    """``segment`` (with a zero checksum field) wrapped in IPv4 or IPv6, checksum filled."""
    offset = 6 if proto == PROTO_UDP else 16
    addresses = int.from_bytes(src + dst, "big")
    value = -(addresses + proto + len(segment) + _sum(segment)) % _ONES
    if proto == PROTO_UDP and value == 0:
        value = _ONES  # RFC 768: a computed zero is sent as all ones
    segment = segment[:offset] + value.to_bytes(2, "big") + segment[offset + 2 :]
    header = _IP[len(src)].pack(*_ip_fields(src, dst, proto, len(segment), addresses))
    return header + segment


def udp_datagram(src: tuple[bytes, int], dst: tuple[bytes, int], payload: bytes) -> bytes:
    """A UDP datagram from ``src`` to ``dst`` (address, port)."""
    (saddr, sport), (daddr, dport) = src, dst
    length = UDP_HEADER + len(payload)
    addresses = int.from_bytes(saddr + daddr, "big")
    # pseudo-header (addresses, protocol, length), then the UDP header's words
    words = addresses + PROTO_UDP + length + sport + dport + length + _sum(payload)
    value = -words % _ONES or _ONES  # RFC 768: a computed zero is sent as all ones
    ip = _ip_fields(saddr, daddr, PROTO_UDP, length, addresses)
    return _PACKS[len(saddr), PROTO_UDP].pack(*ip, sport, dport, length, value) + payload


def tcp_segment(
    src: tuple[bytes, int],
    dst: tuple[bytes, int],
    seq: int,
    ack: int,
    flags: int,
    payload: bytes = b"",
) -> bytes:
    """A TCP segment from ``src`` to ``dst`` with the given numbers and flags."""
    (saddr, sport), (daddr, dport) = src, dst
    seq %= 1 << 32
    ack %= 1 << 32
    length = TCP_HEADER + len(payload)
    addresses = int.from_bytes(saddr + daddr, "big")
    # pseudo-header, then the TCP header's words: a 32-bit number is
    # congruent to the sum of its halves; the urgent pointer is zero
    words = addresses + PROTO_TCP + length + sport + dport + seq + ack
    words += (_TCP_OFFSET << 8) + flags + TCP_WINDOW + _sum(payload)
    tcp = (sport, dport, seq, ack, _TCP_OFFSET, flags, TCP_WINDOW, -words % _ONES, 0)
    ip = _ip_fields(saddr, daddr, PROTO_TCP, length, addresses)
    return _PACKS[len(saddr), PROTO_TCP].pack(*ip, *tcp) + payload


def _ip_fields(
    src: bytes, dst: bytes, proto: int, length: int, addresses: int
) -> tuple[int | bytes, ...]:
    """The IPv4 or IPv6 header's fields around ``length`` bytes of ``proto``;
    ``addresses`` is ``src + dst`` read as one integer."""
    if len(src) == 4:
        total = IPV4_HEADER + length
        value = -(_IPV4_FIXED_SUM + proto + total + addresses) % _ONES
        return (
            _IPV4_VERSION_IHL,
            0,
            total,
            0,
            _IPV4_DONT_FRAGMENT,
            DEFAULT_TTL,
            proto,
            value,
            src,
            dst,
        )
    return (_IPV6_VERSION, length, proto, DEFAULT_TTL, src, dst)


def _sum(data: bytes) -> int:
    """An integer congruent (mod 0xFFFF) to the sum of ``data``'s 16-bit words."""
    value = int.from_bytes(data, "big")
    return value << 8 if len(data) & 1 else value  # RFC 1071: an odd byte is padded
