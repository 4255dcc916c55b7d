"""Hand-built packets for tests: IPv4/IPv6 with TCP or UDP, DNS queries.

Checksums are left zero: the wire core never verifies them (the kernel did).
"""

from __future__ import annotations

import struct

from copgate.wire.packet import TCP_ACK, TCP_SYN

CLIENT4 = bytes([192, 0, 2, 10])
SERVER4 = bytes([198, 51, 100, 80])
CLIENT6 = bytes.fromhex("20010db8000100000000000000000010")
SERVER6 = bytes.fromhex("20010db8000200000000000000000080")


def ipv4(src: bytes, dst: bytes, proto: int, body: bytes, frag: int = 0) -> bytes:
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), 1, frag, 64, proto, 0, src, dst)
    return header + body


def ipv6(src: bytes, dst: bytes, next_header: int, body: bytes) -> bytes:
    return struct.pack("!IHBB16s16s", 6 << 28, len(body), next_header, 64, src, dst) + body


def tcp(sport: int, dport: int, seq: int, payload: bytes = b"", flags: int = TCP_ACK) -> bytes:
    return struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, flags, 65535, 0, 0) + payload


def udp(sport: int, dport: int, payload: bytes) -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def tcp4(
    seq: int, payload: bytes = b"", sport: int = 40000, dport: int = 443, flags: int = TCP_ACK
) -> bytes:
    return ipv4(CLIENT4, SERVER4, 6, tcp(sport, dport, seq, payload, flags))


def syn4(seq: int, sport: int = 40000, dport: int = 443) -> bytes:
    return tcp4(seq, b"", sport, dport, TCP_SYN)


def udp4(payload: bytes, sport: int = 40000, dport: int = 53) -> bytes:
    return ipv4(CLIENT4, SERVER4, 17, udp(sport, dport, payload))


def dns_query(name: str, qtype: int = 1, msg_id: int = 0x1234, edns: int | None = None) -> bytes:
    labels = b"".join(bytes([len(p)]) + p for p in name.encode("ascii").split(b".") if p)
    header = struct.pack("!HHHHHH", msg_id, 0x0100, 1, 0, 0, 1 if edns else 0)
    body = header + labels + b"\x00" + struct.pack("!HH", qtype, 1)
    if edns:
        body += b"\x00" + struct.pack("!HHIH", 41, edns, 0, 0)
    return body
