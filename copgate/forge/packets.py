"""IPv4/IPv6 datagrams with UDP or TCP, checksums included, for injection.

The kernel fills in the IPv4 header checksum of what a raw socket sends, but
never a UDP or TCP checksum, so this module computes them (RFC 1071 over the
pseudo-header of RFC 768 / RFC 9293 §3.1 / RFC 8200 §8.1). It builds bytes
and never sends them.
"""

from __future__ import annotations

import struct

from copgate.wire.packet import PROTO_TCP, PROTO_UDP

DEFAULT_TTL = 64
TCP_WINDOW = 0  # a forged segment never invites more data
_IPV4 = struct.Struct("!BBHHHBBH4s4s")
_IPV6 = struct.Struct("!IHBB16s16s")


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of ``data``.

    RFC 1071 §2(C) sums in words wider than 16 bits and folds at the end;
    here the word is all of ``data`` read as one big-endian integer, and the
    fold is a remainder modulo 0xFFFF (2**16 is 1 modulo 0xFFFF, so each
    16-bit word counts once and the end-around carries come for free). The
    folded one's complement sum of non-zero data is never 0, so a remainder
    of 0 stands for 0xFFFF. About a quarter of the cost of unpacking and
    summing the words (a blocked DNS query over IPv4 costs two checksums, a
    blocked ClientHello four).
    """
    if len(data) % 2:
        data += b"\x00"
    value = int.from_bytes(data, "big")
    total = value % 0xFFFF
    if total == 0 and value:
        total = 0xFFFF
    return ~total & 0xFFFF


def ip_datagram(src: bytes, dst: bytes, proto: int, segment: bytes) -> bytes:
    """``segment`` (with a zero checksum field) wrapped in IPv4 or IPv6, checksum filled."""
    if len(src) == 4:
        pseudo = src + dst + struct.pack("!BBH", 0, proto, len(segment))
    else:
        pseudo = src + dst + struct.pack("!IxxxB", len(segment), proto)
    offset = 6 if proto == PROTO_UDP else 16
    value = checksum(pseudo + segment)
    if proto == PROTO_UDP and value == 0:
        value = 0xFFFF  # RFC 768: a computed zero is sent as all ones
    segment = segment[:offset] + struct.pack("!H", value) + segment[offset + 2 :]
    if len(src) == 4:
        header = _IPV4.pack(0x45, 0, 20 + len(segment), 0, 0x4000, DEFAULT_TTL, proto, 0, src, dst)
        header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
        return header + segment
    return _IPV6.pack(6 << 28, len(segment), proto, DEFAULT_TTL, src, dst) + segment


def udp_datagram(src: tuple[bytes, int], dst: tuple[bytes, int], payload: bytes) -> bytes:
    """A UDP datagram from ``src`` to ``dst`` (address, port)."""
    segment = struct.pack("!HHHH", src[1], dst[1], 8 + len(payload), 0) + payload
    return ip_datagram(src[0], dst[0], PROTO_UDP, segment)


def tcp_segment(
    src: tuple[bytes, int],
    dst: tuple[bytes, int],
    seq: int,
    ack: int,
    flags: int,
    payload: bytes = b"",
) -> bytes:
    """A TCP segment from ``src`` to ``dst`` with the given numbers and flags."""
    header = struct.pack(
        "!HHIIBBHHH",
        src[1],
        dst[1],
        seq % (1 << 32),
        ack % (1 << 32),
        5 << 4,
        flags,
        TCP_WINDOW,
        0,
        0,
    )
    return ip_datagram(src[0], dst[0], PROTO_TCP, header + payload)
