"""ClientHellos for the TLS tests: a small builder, RFC 8448's hello, and real captured ones.

The builder writes the wire format of RFC 8446 §4.1.2 field by field so that
a test can break exactly one field. ``client_streams`` reads a capture with
scapy and returns each client's TCP byte stream from its SYN, the way the
daemon's reassembly would hand it over.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

# --- builder ---------------------------------------------------------------

GREASE = 0x0A0A  # RFC 8701 §2: a reserved GREASE value for types and ids


def u8(value: int) -> bytes:
    return value.to_bytes(1, "big")


def u16(value: int) -> bytes:
    return value.to_bytes(2, "big")


def u24(value: int) -> bytes:
    return value.to_bytes(3, "big")


def opaque8(body: bytes) -> bytes:
    return u8(len(body)) + body


def opaque16(body: bytes) -> bytes:
    return u16(len(body)) + body


def ext(ext_type: int, body: bytes) -> bytes:
    """One Extension (RFC 8446 §4.2): type, length, data."""
    return u16(ext_type) + opaque16(body)


def sni_ext(*names: bytes, name_type: int = 0) -> bytes:
    """server_name (RFC 6066 §3) with one ServerName entry per name."""
    entries = b"".join(u8(name_type) + opaque16(name) for name in names)
    return ext(0x0000, opaque16(entries))


def alpn_ext(*ids: bytes) -> bytes:
    """application_layer_protocol_negotiation (RFC 7301 §3.1)."""
    return ext(0x0010, opaque16(b"".join(opaque8(i) for i in ids)))


def ech_outer_ext(payload: int = 144, enc: int = 32, ech_type: int = 0) -> bytes:
    """encrypted_client_hello, outer form (draft-ietf-tls-esni §5), as GREASE sends it."""
    body = u8(ech_type)
    if ech_type == 0:
        body += u16(0x0001) + u16(0x0001)  # HKDF-SHA256, AES-128-GCM
        body += u8(0x42)  # config_id
        body += opaque16(bytes(range(enc)))
        body += opaque16(bytes(payload))
    return ext(0xFE0D, body)


def esni_ext() -> bytes:
    """encrypted_server_name (draft-ietf-tls-esni-02 §5.1), as Firefox sent it in 2019."""
    body = u16(0x1301)  # cipher suite
    body += u16(0x001D) + opaque16(bytes(32))  # key share: x25519
    body += opaque16(bytes(32))  # record_digest
    body += opaque16(bytes(200))  # encrypted_sni
    return ext(0xFFCE, body)


def key_share_ext(*shares: tuple[int, int]) -> bytes:
    """key_share (RFC 8446 §4.2.8) with (group, key length) entries."""
    entries = b"".join(u16(group) + opaque16(bytes(size)) for group, size in shares)
    return ext(0x0033, opaque16(entries))


def hello(
    extensions: Iterable[bytes] | None = (),
    *,
    version: int = 0x0303,
    session_id: bytes = bytes(32),
    suites: bytes = u16(0x1301) + u16(0x1302) + u16(0x1303),
    compressions: bytes = b"\x00",
    msg_type: int = 1,
) -> bytes:
    """A ClientHello handshake message (RFC 8446 §4.1.2); None: no extensions block."""
    body = u16(version) + bytes(range(32))  # legacy_version, random
    body += opaque8(session_id) + opaque16(suites) + opaque8(compressions)
    if extensions is not None:
        body += opaque16(b"".join(extensions))
    return u8(msg_type) + u24(len(body)) + body


def records(message: bytes, sizes: Sequence[int] = (), version: int = 0x0301) -> bytes:
    """``message`` in handshake records (RFC 8446 §5.1) cut at ``sizes``, the rest in one."""
    out = []
    pos = 0
    for size in [*sizes, len(message)]:
        chunk = message[pos : pos + size]
        if not chunk:
            break
        out.append(u8(22) + u16(version) + opaque16(chunk))
        pos += len(chunk)
    return b"".join(out)


def chrome_pq_hello(name: bytes = b"www.example.com") -> bytes:
    """A ClientHello shaped like Chrome 131's: post-quantum key share and GREASE ECH, ~1.9 KB.

    The extensions and their sizes follow a Chrome 131 hello resuming a
    session with a site without ECH keys: an X25519MLKEM768 share (0x11ec,
    1216 bytes) beside X25519, GREASE (RFC 8701) at both ends, a 250-byte
    GREASE ECH and a pre_shared_key. No capture here holds such a hello
    (OpenSSL 3.0 on this machine cannot make one), hence the builder.
    """
    groups = opaque16(b"".join(u16(g) for g in (GREASE, 0x11EC, 0x001D, 0x0017, 0x0018)))
    sigalgs = (0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601)
    extensions = [
        ext(GREASE, b""),
        sni_ext(name),
        ext(0x0017, b""),  # extended_master_secret
        ext(0xFF01, b"\x00"),  # renegotiation_info
        ext(0x000A, groups),  # supported_groups
        ext(0x000B, b"\x01\x00"),  # ec_point_formats
        ext(0x0023, b""),  # session_ticket
        alpn_ext(b"h2", b"http/1.1"),
        ext(0x0005, b"\x01\x00\x00\x00\x00"),  # status_request
        ext(0x000D, opaque16(b"".join(u16(s) for s in sigalgs))),  # signature_algorithms
        ext(0x0012, b""),  # signed_certificate_timestamp
        key_share_ext((GREASE, 1), (0x11EC, 1216), (0x001D, 32)),
        ext(0x002D, b"\x01\x01"),  # psk_key_exchange_modes
        ext(0x002B, b"\x06" + u16(GREASE) + u16(0x0304) + u16(0x0303)),  # supported_versions
        ext(0x001B, b"\x02\x00\x02"),  # compress_certificate: brotli
        ext(0x44CD, opaque16(opaque8(b"h2"))),  # application_settings
        ech_outer_ext(payload=208),
        ext(GREASE + 0x1010, b"\x00"),
        # pre_shared_key (RFC 8446 §4.2.11), last as required: a resumption ticket.
        ext(0x0029, opaque16(opaque16(bytes(112)) + bytes(4)) + opaque16(opaque8(bytes(32)))),
    ]
    return hello(extensions, suites=b"".join(u16(s) for s in (GREASE, 0x1301, 0x1302, 0x1303)))


def length_fields(stream: bytes) -> list[tuple[int, int]]:
    """(offset, size) of every length field of a one-record hello, for the fuzz tests.

    Walks the record header, the handshake header, the hello's vectors, each
    extension and, inside server_name, ALPN and ECH, their vectors too.
    """
    fields = [(3, 2), (6, 3)]
    pos = 9 + 2 + 32
    fields.append((pos, 1))
    pos += 1 + stream[pos]
    for size in (2, 1):  # cipher_suites, legacy_compression_methods
        fields.append((pos, size))
        pos += size + int.from_bytes(stream[pos : pos + size], "big")
    end = 5 + int.from_bytes(stream[3:5], "big")
    if pos >= end:
        return fields
    fields.append((pos, 2))
    pos += 2
    while pos < end:
        ext_type = int.from_bytes(stream[pos : pos + 2], "big")
        length = int.from_bytes(stream[pos + 2 : pos + 4], "big")
        fields.append((pos + 2, 2))
        fields.extend(_inner_length_fields(stream, ext_type, pos + 4))
        pos += 4 + length
    return fields


def _inner_length_fields(stream: bytes, ext_type: int, pos: int) -> list[tuple[int, int]]:
    fields = []
    if ext_type in (0x0000, 0x0010):  # server_name, ALPN: a uint16 list of entries
        fields.append((pos, 2))
        end = pos + 2 + int.from_bytes(stream[pos : pos + 2], "big")
        pos += 2
        while pos < end:
            if ext_type == 0x0000:  # name_type, uint16 length
                fields.append((pos + 1, 2))
                pos += 3 + int.from_bytes(stream[pos + 1 : pos + 3], "big")
            else:  # uint8 length
                fields.append((pos, 1))
                pos += 1 + stream[pos]
    elif ext_type == 0xFE0D and stream[pos] == 0:  # ECH outer: enc, payload
        pos += 6
        fields.append((pos, 2))
        pos += 2 + int.from_bytes(stream[pos : pos + 2], "big")
        fields.append((pos, 2))
    return fields


# --- RFC 8448 §3 ------------------------------------------------------------

# RFC 8448 §3 "Simple 1-RTT Handshake", {client} send handshake record: the
# ClientHello handshake message (196 octets), one field per line.
RFC8448_CLIENT_HELLO = bytes.fromhex(
    "01 0000c0"  # client_hello, 192 bytes
    " 0303"  # legacy_version
    " cb34ecb1e78163ba1c38c6dacb196a6dffa21a8d9912ec18a2ef6283024dece7"  # random
    " 00"  # legacy_session_id: empty
    " 0006 1301 1303 1302"  # cipher_suites
    " 01 00"  # legacy_compression_methods: null
    " 0091"  # extensions: 145 bytes
    " 0000 000b 0009 00 0006 736572766572"  # server_name: host_name "server"
    " ff01 0001 00"  # renegotiation_info
    " 000a 0014 0012 001d 0017 0018 0019 0100 0101 0102 0103 0104"  # supported_groups
    " 0023 0000"  # session_ticket
    " 0033 0026 0024 001d 0020"  # key_share: x25519, 32 bytes
    " 99381de560e4bd43d23d8e435a7dbafeb3c06e51c13cae4d5413691e529aaf2c"
    " 002b 0003 02 0304"  # supported_versions: TLS 1.3
    " 000d 0020 001e 0403 0503 0603 0203 0804 0805 0806 0401 0501 0601 0201"
    " 0402 0502 0602 0202"  # signature_algorithms
    " 002d 0002 01 01"  # psk_key_exchange_modes: psk_dhe_ke
    " 001c 0002 4001"  # record_size_limit: 16385
)

# --- real captures ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Flow:
    """One client's TCP byte stream, as segments at offsets from the SYN."""

    client: str
    """``ip:port`` (``[ip]:port`` for IPv6), as expected.tsv writes endpoints."""
    server: str
    segments: tuple[tuple[int, bytes], ...]
    """(offset of the first payload byte from the stream start, payload), in capture order."""

    @property
    def stream(self) -> bytes:
        """The contiguous stream from offset 0; the first copy of a byte wins."""
        out = bytearray()
        for offset, payload in sorted(self.segments, key=lambda s: s[0]):
            if offset > len(out):
                break
            out += payload[len(out) - offset :]
        return bytes(out)


def endpoint(address: str, port: int) -> str:
    parsed = ipaddress.ip_address(address)
    return f"[{parsed}]:{port}" if parsed.version == 6 else f"{parsed}:{port}"


@cache
def client_flows(path: Path) -> tuple[Flow, ...]:
    """Each TCP flow of a capture seen from its client, in order of first packet.

    The client is the side that sent the SYN; where the capture starts after
    the handshake, the side that sent the first payload. Offsets count from
    the SYN's sequence number plus one, or from that first payload.
    """
    from scapy.layers.inet import IP, TCP
    from scapy.layers.inet6 import IPv6
    from scapy.utils import PcapReader

    segments: dict[tuple[str, str], list[tuple[int, bytes]]] = {}
    isn: dict[tuple[str, str], int] = {}
    opener: dict[frozenset[str], tuple[str, str]] = {}
    with PcapReader(str(path)) as capture:
        for packet in capture:
            if TCP not in packet:
                continue
            ip = packet[IP] if IP in packet else packet[IPv6]
            tcp = packet[TCP]
            key = (endpoint(ip.src, tcp.sport), endpoint(ip.dst, tcp.dport))
            payload = bytes(tcp.payload)
            if int(tcp.flags) & 0x12 == 0x02:  # SYN without ACK: this side opens
                isn.setdefault(key, tcp.seq + 1)
                opener[frozenset(key)] = key
            elif payload:
                opener.setdefault(frozenset(key), key)
                isn.setdefault(key, tcp.seq)
            if payload:
                segments.setdefault(key, []).append((tcp.seq, payload))
    flows = []
    for key in opener.values():
        base = isn[key]
        pieces = (((seq - base) % (1 << 32), data) for seq, data in segments.get(key, []))
        # A keep-alive probe sits one byte before the stream: not part of it.
        kept = tuple(p for p in pieces if p[0] < 1 << 31)
        flows.append(Flow(key[0], key[1], kept))
    return tuple(flows)


def flow(path: Path, client: str, server: str) -> Flow:
    """The flow between two endpoints, from whichever side opened it."""
    for candidate in client_flows(path):
        if {candidate.client, candidate.server} == {client, server}:
            return candidate
    raise LookupError(f"no flow {client} -> {server} in {path.name}")


def expected_names(tsv: Path, pcap: str) -> list[tuple[str, str, str]]:
    """(endpoint a, endpoint b, hostname) of each of ``pcap``'s rows in expected.tsv."""
    rows = []
    for line in tsv.read_text().splitlines():
        fields = line.split("\t")
        if fields[0] == pcap:
            rows.append((fields[2], fields[3], fields[5]))
    return rows
