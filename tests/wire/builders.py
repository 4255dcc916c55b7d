"""Hand-built packets for tests: IPv4/IPv6 with TCP or UDP, DNS queries.

``ipv4`` and ``ipv6`` fill in a TCP or UDP body's checksum (RFC 9293 §3.1,
RFC 768, RFC 8200 §8.1), as a real sender does: the tracker ignores segments
whose checksum is wrong. ``bad_checksum`` breaks one on purpose.
"""

from __future__ import annotations

import struct

from copgate.wire.packet import TCP_ACK, TCP_SYN

CLIENT4 = bytes([192, 0, 2, 10])
SERVER4 = bytes([198, 51, 100, 80])
CLIENT6 = bytes.fromhex("20010db8000100000000000000000010")
SERVER6 = bytes.fromhex("20010db8000200000000000000000080")


CHECKSUM_AT = {6: 16, 17: 6}  # where the checksum sits in a TCP and a UDP header


def internet_checksum(data: bytes) -> int:
    """RFC 1071: the one's complement of the one's complement sum of 16-bit words."""
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def with_checksum(src: bytes, dst: bytes, proto: int, body: bytes) -> bytes:
    """``body`` (a TCP or UDP segment) with its checksum field filled in."""
    at = CHECKSUM_AT.get(proto)
    if at is None or len(body) < at + 2:
        return body
    zeroed = body[:at] + b"\0\0" + body[at + 2 :]
    pseudo = src + dst + struct.pack("!IxxxB", len(body), proto)
    checksum = internet_checksum(pseudo + zeroed) or (0xFFFF if proto == 17 else 0)
    return zeroed[:at] + struct.pack("!H", checksum) + zeroed[at + 2 :]


def ipv4(src: bytes, dst: bytes, proto: int, body: bytes, frag: int = 0, ttl: int = 64) -> bytes:
    if not frag:
        body = with_checksum(src, dst, proto, body)
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), 1, frag, ttl, proto, 0, src, dst)
    return header + body


def ipv6(src: bytes, dst: bytes, next_header: int, body: bytes, ttl: int = 64) -> bytes:
    body = with_checksum(src, dst, next_header, body)
    return struct.pack("!IHBB16s16s", 6 << 28, len(body), next_header, ttl, src, dst) + body


def bad_checksum(datagram: bytes) -> bytes:
    """The same IP datagram with its TCP or UDP checksum off by one."""
    header = 20 if datagram[0] >> 4 == 4 else 40
    at = header + CHECKSUM_AT[datagram[9] if header == 20 else datagram[6]]
    wrong = (int.from_bytes(datagram[at : at + 2], "big") + 1) & 0xFFFF
    return datagram[:at] + wrong.to_bytes(2, "big") + datagram[at + 2 :]


def tcp(
    sport: int,
    dport: int,
    seq: int,
    payload: bytes = b"",
    flags: int = TCP_ACK,
    *,
    ack: int = 0,
    window: int = 65535,
) -> bytes:
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, window, 0, 0) + payload


def tcp_with_options(
    sport: int, dport: int, seq: int, payload: bytes, options: bytes, flags: int = TCP_ACK
) -> bytes:
    """A TCP segment whose header carries ``options`` (padded to 32-bit words)."""
    options += bytes(-len(options) % 4)
    offset = (5 + len(options) // 4) << 4
    header = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, offset, flags, 65535, 0, 0)
    return header + options + payload


def timestamps(tsval: int, tsecr: int = 0) -> bytes:
    """The RFC 7323 timestamp option, after two NOPs as Linux sends it."""
    return b"\x01\x01\x08\x0a" + struct.pack("!II", tsval, tsecr)


def udp(sport: int, dport: int, payload: bytes) -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def tcp4(
    seq: int,
    payload: bytes = b"",
    sport: int = 40000,
    dport: int = 443,
    flags: int = TCP_ACK,
    ttl: int = 64,
    *,
    ack: int = 0,
    window: int = 65535,
) -> bytes:
    segment = tcp(sport, dport, seq, payload, flags, ack=ack, window=window)
    return ipv4(CLIENT4, SERVER4, 6, segment, ttl=ttl)


def tcp6(
    seq: int,
    payload: bytes = b"",
    sport: int = 40000,
    dport: int = 443,
    flags: int = TCP_ACK,
    ttl: int = 64,
) -> bytes:
    return ipv6(CLIENT6, SERVER6, 6, tcp(sport, dport, seq, payload, flags), ttl=ttl)


def syn4(
    seq: int, sport: int = 40000, dport: int = 443, payload: bytes = b"", ttl: int = 64
) -> bytes:
    return tcp4(seq, payload, sport, dport, TCP_SYN, ttl)


def syn_ack4(iss: int, ack: int, sport: int = 40000, dport: int = 443) -> bytes:
    """The server's SYN-ACK to the client's connection ``sport`` -> ``dport``."""
    segment = tcp(dport, sport, iss, b"", TCP_SYN | TCP_ACK, ack=ack)
    return ipv4(SERVER4, CLIENT4, 6, segment)


def udp4(payload: bytes, sport: int = 40000, dport: int = 53) -> bytes:
    return ipv4(CLIENT4, SERVER4, 17, udp(sport, dport, payload))


def dns_query(name: str, qtype: int = 1, msg_id: int = 0x1234, edns: int | None = None) -> bytes:
    labels = b"".join(bytes([len(p)]) + p for p in name.encode("ascii").split(b".") if p)
    header = struct.pack("!HHHHHH", msg_id, 0x0100, 1, 0, 0, 1 if edns else 0)
    body = header + labels + b"\x00" + struct.pack("!HH", qtype, 1)
    if edns:
        body += b"\x00" + struct.pack("!HHIH", 41, edns, 0, 0)
    return body


def quic_varint(value: int) -> bytes:
    """RFC 9000 §16: the shortest encoding of ``value`` (up to 2**30 - 1 here)."""
    if value < 1 << 6:
        return bytes([value])
    if value < 1 << 14:
        return (0x4000 | value).to_bytes(2, "big")
    return (0x80000000 | value).to_bytes(4, "big")


def crypto_frame(offset: int, data: bytes) -> bytes:
    """A CRYPTO frame (RFC 9000 §19.6) carrying ``data`` at ``offset``."""
    return b"\x06" + quic_varint(offset) + quic_varint(len(data)) + data


def quic_initial_frames(frames: bytes, dcid: bytes, pad: int = 1200) -> bytes:
    """A QUIC v1 client Initial (RFC 9001 §5) carrying ``frames``, padded to ``pad`` bytes."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from copgate.wire.quic_keys import derive_client_initial_keys

    keys = derive_client_initial_keys(1, dcid)
    pn = b"\x00\x00\x00\x00"
    header_len = 1 + 4 + 1 + len(dcid) + 1 + 1 + 2 + len(pn)
    plain = frames + bytes(max(0, pad - header_len - len(frames) - 16))  # PADDING frames
    length = len(pn) + len(plain) + 16
    header = bytes([0xC3]) + (1).to_bytes(4, "big") + bytes([len(dcid)]) + dcid
    header += b"\x00\x00" + (0x4000 | length).to_bytes(2, "big") + pn
    sealed = AESGCM(keys.key).encrypt(keys.iv, plain, header)
    mask = keys.header_mask(sealed[0:16])
    protected = bytearray(header)
    protected[0] ^= mask[0] & 0x0F
    for i in range(len(pn)):
        protected[len(header) - len(pn) + i] ^= mask[1 + i]
    return bytes(protected) + sealed
