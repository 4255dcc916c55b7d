"""A sample capture built from scratch, for the demo and tests on a fresh clone.

``write_sample_capture(path)`` writes a pcap (raw IP link type) in which LAN
clients ask for names every way copgate reads them: DNS over UDP and TCP
(upper case, trailing dot, IDN, a control byte, an HTTPS-record question,
Firefox's canary), a post-quantum-sized TLS ClientHello split over two TCP
segments with GREASE ECH, a ClientHello with real ECH (cloudflare-ech.com
outside), a QUIC v1 Initial (sealed here with the RFC 9001 keys) and an HTTP
request split over two segments. Addresses come from the documentation
ranges. This module writes files; it never reads the network.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Iterator
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from copgate.wire.quic_keys import derive_client_initial_keys

LINKTYPE_RAW = 101
PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, LINKTYPE_RAW)
START_TIME = 1_790_000_000

PUPIL = bytes([192, 0, 2, 10])
TEEN = bytes([192, 0, 2, 20])
ROUTER = bytes([192, 0, 2, 1])
WEB = bytes([198, 51, 100, 80])
OUTSIDE_RESOLVER = bytes([203, 0, 113, 53])
PUPIL6 = bytes.fromhex("20010db8000100000000000000000010")
WEB6 = bytes.fromhex("20010db8000200000000000000000080")

QUIC_V1 = 0x00000001
QUIC_MIN_DATAGRAM = 1200  # RFC 9000 §14.1
TCP_SYN = 0x02
TCP_ACK_PSH = 0x18
MSS = 1460


def write_sample_capture(path: Path) -> None:
    """Write the sample capture to ``path``."""
    with path.open("wb") as handle:
        handle.write(PCAP_HEADER)
        for index, datagram in enumerate(sample_datagrams()):
            usec = index * 1000
            record = struct.pack(
                "<IIII",
                START_TIME + usec // 1_000_000,
                usec % 1_000_000,
                len(datagram),
                len(datagram),
            )
            handle.write(record + datagram)


def sample_datagrams() -> Iterator[bytes]:
    """The sample's IP datagrams, in capture order."""
    yield _udp(PUPIL, ROUTER, 41000, 53, dns_query("WWW.Wikipedia.ORG.", 1))
    yield _udp(PUPIL, OUTSIDE_RESOLVER, 41001, 53, dns_query("casino.example", 1))
    yield _udp(TEEN, ROUTER, 41002, 53, dns_query("xn--mnchen-3ya.example", 28))
    yield _udp(TEEN, ROUTER, 41003, 53, dns_query("use-application-dns.net", 1))
    yield _udp(TEEN, ROUTER, 41004, 53, dns_query("www.youtube.com", 65))
    yield _udp(PUPIL, ROUTER, 41005, 53, _dns_raw_labels([b"bad\x07name", b"example"]))
    query = dns_query("tcp.example", 1)
    yield from _tcp_flow(PUPIL, ROUTER, 41006, 53, len(query).to_bytes(2, "big") + query, [9])
    hello = client_hello("www.example.org", ech=b"grease", padding=1400)
    yield from _tcp_flow(PUPIL, WEB, 41007, 443, hello, [MSS])
    yield from _tcp_flow(TEEN, WEB, 41008, 443, client_hello("cloudflare-ech.com", ech=b"real"), [])
    request = b"GET /play HTTP/1.1\r\nHost: games.example\r\nUser-Agent: demo\r\n\r\n"
    yield from _tcp_flow(PUPIL, WEB, 41009, 80, request, [21])
    initial = quic_initial(client_hello("video.example", records=False), bytes(range(8)))
    yield _ipv6_udp(PUPIL6, WEB6, 41010, 443, initial)


def dns_query(name: str, qtype: int) -> bytes:
    """A recursive DNS query for ``name`` (RFC 1035 §4.1)."""
    labels = [label.encode("ascii") for label in name.split(".") if label]
    return _dns_raw_labels(labels, qtype)


def _dns_raw_labels(labels: list[bytes], qtype: int = 1) -> bytes:
    header = struct.pack("!HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0)
    wire = b"".join(bytes([len(label)]) + label for label in labels) + b"\x00"
    return header + wire + struct.pack("!HH", qtype, 1)


def client_hello(name: str, *, ech: bytes = b"", padding: int = 0, records: bool = True) -> bytes:
    """A TLS 1.3 ClientHello offering h2 with SNI, optional ECH and padding."""
    host = name.encode("ascii")
    extensions = _ext(0, _u16(len(host) + 3) + b"\x00" + _u16(len(host)) + host)
    extensions += _ext(16, _u16(3) + b"\x02h2")
    extensions += _ext(43, b"\x02\x03\x04")  # supported_versions: TLS 1.3
    if ech:
        # Outer ECH (type 0) with a cipher suite, config id, empty enc and a payload.
        extensions += _ext(
            0xFE0D, b"\x00\x00\x01\x00\x01" + b"\x2a" + _u16(0) + _u16(32) + (ech * 32)[:32]
        )
    if padding:
        extensions += _ext(21, bytes(padding))
    body = b"\x03\x03" + bytes(range(32)) + b"\x00" + _u16(2) + b"\x13\x01" + b"\x01\x00"
    body += _u16(len(extensions)) + extensions
    handshake = b"\x01" + len(body).to_bytes(3, "big") + body
    if not records:
        return handshake
    return b"\x16\x03\x01" + _u16(len(handshake)) + handshake


def quic_initial(handshake: bytes, dcid: bytes, version: int = QUIC_V1) -> bytes:
    """A client Initial carrying ``handshake`` in one CRYPTO frame, sealed per RFC 9001 §5."""
    keys = derive_client_initial_keys(version, dcid)
    crypto = b"\x06\x00" + _varint(len(handshake)) + handshake
    packet_number = 0
    pn_bytes = packet_number.to_bytes(4, "big")
    header_len = 1 + 4 + 1 + len(dcid) + 1 + 0 + 1 + 2 + len(pn_bytes)
    padding = max(0, QUIC_MIN_DATAGRAM - header_len - len(crypto) - 16)
    plain = crypto + bytes(padding)
    length = len(pn_bytes) + len(plain) + 16
    first = 0xC0 | (len(pn_bytes) - 1)  # long header, fixed bit, Initial (v1 type 0)
    header = bytes([first]) + version.to_bytes(4, "big") + bytes([len(dcid)]) + dcid
    header += b"\x00" + b"\x00" + (0x4000 | length).to_bytes(2, "big") + pn_bytes
    nonce = (int.from_bytes(keys.iv, "big") ^ packet_number).to_bytes(12, "big")
    sealed = AESGCM(keys.key).encrypt(nonce, plain, header)
    pn_offset = len(header) - len(pn_bytes)
    mask = keys.header_mask(sealed[4 - len(pn_bytes) : 20 - len(pn_bytes)])
    protected = bytearray(header)
    protected[0] ^= mask[0] & 0x0F
    for i in range(len(pn_bytes)):
        protected[pn_offset + i] ^= mask[1 + i]
    return bytes(protected) + sealed


def _ext(kind: int, data: bytes) -> bytes:
    return _u16(kind) + _u16(len(data)) + data


def _u16(value: int) -> bytes:
    return value.to_bytes(2, "big")


def _varint(value: int) -> bytes:
    return (
        (0x4000 | value).to_bytes(2, "big")
        if value < 0x4000
        else (0x80000000 | value).to_bytes(4, "big")
    )


def _ipv4(src: bytes, dst: bytes, proto: int, body: bytes) -> bytes:
    header = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), 0, 0x4000, 64, proto, 0, src, dst
    )
    return header + body


def _udp(src: bytes, dst: bytes, sport: int, dport: int, payload: bytes) -> bytes:
    return _ipv4(src, dst, 17, struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload)


def _ipv6_udp(src: bytes, dst: bytes, sport: int, dport: int, payload: bytes) -> bytes:
    body = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    return struct.pack("!IHBB16s16s", 6 << 28, len(body), 17, 64, src, dst) + body


def _tcp(
    src: bytes, dst: bytes, sport: int, dport: int, seq: int, flags: int, data: bytes
) -> bytes:
    header = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, flags, 64240, 0, 0)
    return _ipv4(src, dst, 6, header + data)


def _tcp_flow(
    src: bytes, dst: bytes, sport: int, dport: int, stream: bytes, cuts: list[int]
) -> Iterator[bytes]:
    """A SYN, then ``stream`` cut at ``cuts``."""
    isn = 0x10000000 + sport
    yield _tcp(src, dst, sport, dport, isn, TCP_SYN, b"")
    bounds = [0, *cuts, len(stream)]
    for start, end in itertools.pairwise(bounds):
        yield _tcp(src, dst, sport, dport, isn + 1 + start, TCP_ACK_PSH, stream[start:end])
