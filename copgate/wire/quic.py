"""Client QUIC Initial packets: header, protection removal, CRYPTO frames.

A client's first datagrams of a QUIC connection carry its TLS ClientHello in
CRYPTO frames of Initial packets (RFC 9000 §17.2.2), encrypted with keys that
follow from the Destination Connection ID (RFC 9001 §5.2). This module reads
one UDP datagram from client to server and returns every client Initial in
it, decrypted, with its CRYPTO frames in the order found; reassembling them
into the ClientHello (they may be spread over packets and shuffled, as
Chrome does) is the caller's job, with ``copgate.wire.stream.StreamBuffer``.

Supported: QUIC v1 (RFC 9000/9001), v2 (RFC 9369) and draft-29. Anything
else (Google QUIC, other drafts, short-header packets) is not an Initial
here: ``read_initial_datagram`` returns None and the caller treats the
datagram as other UDP.

It never reads server Initials (they would fail authentication with client
keys), never decrypts 0-RTT, Handshake or 1-RTT packets (it only skips the
long-header ones by their Length), never parses TLS, and keeps no state but
the optional key cache that the caller owns.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from copgate.errors import WireError
from copgate.wire.quic_keys import (
    HP_SAMPLE_LENGTH,
    QUIC_DRAFT29,
    QUIC_V1,
    QUIC_V2,
    VERSIONS,
    InitialAuthError,
    InitialKeyCache,
    InitialKeys,
    VersionSpec,
)
from copgate.wire.reader import Reader, Truncated

__all__ = [
    "QUIC_DRAFT29",
    "QUIC_V1",
    "QUIC_V2",
    "CryptoFrame",
    "InitialAuthError",
    "InitialKeyCache",
    "InitialPacket",
    "looks_like_quic_initial",
    "looks_like_quic_long_header",
    "read_initial_datagram",
    "read_initial_frames",
]

LONG_HEADER_BIT = 0x80  # RFC 9000 §17.2: Header Form
FIXED_BIT = 0x40  # RFC 9000 §17.2: must be 1 in v1, v2 and draft-29
LONG_RESERVED_BITS = 0x0C  # RFC 9000 §17.2: must be 0 once protection is removed
LONG_HEADER_MIN = 7  # first byte, version (4), DCID length, SCID length
MAX_CONNECTION_ID = 20  # RFC 9000 §17.2: longer v1 CIDs MUST be dropped
MAX_TOKEN_LENGTH = 1024
"""RFC 9000 §17.2.2 sets no limit on a Retry or NEW_TOKEN token. Servers
issue tokens of tens of bytes, and a token must leave room for a ClientHello
in a datagram of about 1200 to 1500 bytes: a longer one is hostile."""
MAX_PACKETS_PER_DATAGRAM = 16
"""RFC 9000 §12.2 sets no limit on coalescing. Clients coalesce a handful of
packets (one or two per encryption level: Initial, 0-RTT, Handshake); more
than sixteen in one datagram would only make us decrypt for a hostile peer."""
MAX_STREAM_OFFSET = (1 << 62) - 1  # RFC 9000 §19.6: offset + length of CRYPTO data
PN_SAMPLE_OFFSET = 4  # RFC 9001 §5.4.2: sample as if the packet number were 4 bytes
PN_LENGTH_MASK = 0x03  # RFC 9000 §17.2: Packet Number Length bits, minus one
LONG_HP_MASK = 0x0F  # RFC 9001 §5.4.1: long headers protect the low 4 bits

# Frame types allowed in Initial packets, RFC 9000 §12.4 Table 3 and §19.
FRAME_PADDING = 0x00
FRAME_PING = 0x01
FRAME_ACK = 0x02
FRAME_ACK_ECN = 0x03
FRAME_CRYPTO = 0x06
FRAME_CONNECTION_CLOSE = 0x1C

_NOT_PADDING_OR_PING = re.compile(rb"[^\x00\x01]")


class CryptoFrame(NamedTuple):
    """One CRYPTO frame (RFC 9000 §19.6): a piece of the TLS handshake stream.

    A NamedTuple, not a frozen dataclass: a Chromium Initial carries ten or
    more, and each frozen dataclass costs about a microsecond to build.
    """

    offset: int
    """Where ``data`` starts in the Initial-level CRYPTO stream."""
    data: bytes
    """The handshake bytes; may be empty."""


class InitialPacket(NamedTuple):
    """A client Initial packet with protection removed."""

    version: int
    """QUIC_V1, QUIC_V2 or QUIC_DRAFT29."""
    dcid: bytes
    """The Destination Connection ID the keys were derived from (RFC 9001 §5.2):
    the header's, or the caller's ``key_dcid`` when that one opened the packet."""
    scid: bytes
    """The client's Source Connection ID."""
    packet_number: int
    """The packet number as decoded with no packet acknowledged yet."""
    crypto: tuple[CryptoFrame, ...]
    """The CRYPTO frames in the order found; empty for a PING/ACK/PADDING packet."""


class _LongHeader(NamedTuple):
    """The unprotected fields of one long-header packet (RFC 9000 §17.2)."""

    first: int
    version: int
    packet_type: int
    dcid: bytes
    scid: bytes
    pn_offset: int
    """Where the protected packet number starts in the datagram."""
    end: int
    """Where the packet ends in the datagram (pn_offset + Length)."""


def looks_like_quic_initial(datagram: bytes) -> bool:
    """Whether ``datagram`` starts with a v1, v2 or draft-29 Initial header.

    Cheap: the first byte and the version only. A True answer is a claim for
    ``read_initial_datagram`` to check, not a verdict.
    """
    if len(datagram) < LONG_HEADER_MIN:
        return False
    first = datagram[0]
    if first & (LONG_HEADER_BIT | FIXED_BIT) != LONG_HEADER_BIT | FIXED_BIT:
        return False
    spec = VERSIONS.get(int.from_bytes(datagram[1:5], "big"))
    return spec is not None and (first >> 4) & 0x03 == spec.initial_type


def looks_like_quic_long_header(datagram: bytes) -> bool:
    """Whether ``datagram`` starts with a long header of a supported version, of any type.

    True for 0-RTT and Handshake packets too: a client may send 0-RTT before
    its Initial arrives (quic_0RTT.pcap does), and a flow tracker should keep
    waiting for the Initial rather than call the flow other UDP.
    """
    if len(datagram) < LONG_HEADER_MIN:
        return False
    if datagram[0] & (LONG_HEADER_BIT | FIXED_BIT) != LONG_HEADER_BIT | FIXED_BIT:
        return False
    return int.from_bytes(datagram[1:5], "big") in VERSIONS


def read_initial_datagram(
    datagram: bytes, keys: InitialKeyCache | None = None, *, key_dcid: bytes | None = None
) -> list[InitialPacket] | None:
    """Every client Initial packet in ``datagram``, decrypted.

    None when the datagram does not start with an Initial of a supported
    version (the caller treats it as other UDP). Coalesced packets follow
    RFC 9000 §12.2: 0-RTT and Handshake packets are skipped by their Length,
    packets for another DCID are ignored, and a short-header packet or
    trailing padding ends the walk. Raises ``WireError`` when the datagram
    claims to be an Initial but is malformed or fails authentication.

    The keys come from the DCID of the client's first Initial (RFC 9001
    §5.2), which is the header's DCID until the server picks its own
    connection ID; from then on the client's Initials carry the server's CID
    but keep the first keys. A caller that tracks the flow passes the
    ``dcid`` of the packets it read before as ``key_dcid``; when those keys
    fail, the header's DCID is tried (after a Retry, RFC 9001 §5.2, the new
    DCID is the one that counts). ``InitialPacket.dcid`` says which worked.
    """
    if not looks_like_quic_initial(datagram):
        return None
    cache = keys if keys is not None else InitialKeyCache(limit=2)
    packets: list[InitialPacket] = []
    first = _read_long_header(datagram, 0, None)
    pos = 0
    header = first
    for _ in range(MAX_PACKETS_PER_DATAGRAM):
        spec = VERSIONS[header.version]
        if header.packet_type == spec.retry_type:
            raise WireError("a client datagram holds a QUIC Retry packet")
        # RFC 9000 §12.2: a packet for another connection is ignored.
        if header.packet_type == spec.initial_type and header.dcid == first.dcid:
            packets.append(_open_initial(datagram, pos, header, cache, key_dcid))
        pos = header.end
        if pos >= len(datagram) or not datagram[pos] & LONG_HEADER_BIT:
            return packets  # the end, or a short-header packet or padding
        header = _read_long_header(datagram, pos, first.version)
    raise WireError(f"more than {MAX_PACKETS_PER_DATAGRAM} QUIC packets in a datagram")


def _read_long_header(datagram: bytes, pos: int, version: int | None) -> _LongHeader:
    """The long header at ``pos``, up to its Length field (RFC 9000 §17.2)."""
    r = Reader(datagram, pos)
    first = r.u8()
    if not first & FIXED_BIT:
        raise WireError(f"QUIC long header at {pos} has its fixed bit clear")
    packet_version = r.u32()
    spec: VersionSpec | None = VERSIONS.get(packet_version)
    if spec is None or (version is not None and packet_version != version):
        raise WireError(f"coalesced QUIC packet at {pos} has version {packet_version:#010x}")
    dcid = _read_connection_id(r)
    scid = _read_connection_id(r)
    packet_type = (first >> 4) & 0x03
    if packet_type == spec.retry_type:
        # A Retry has no Length (RFC 9000 §17.2.5); the caller refuses it.
        return _LongHeader(first, packet_version, packet_type, dcid, scid, r.pos, r.end)
    if packet_type == spec.initial_type:
        token_length = r.varint()
        if token_length > MAX_TOKEN_LENGTH:
            raise WireError(f"QUIC Initial token of {token_length} bytes")
        r.skip(token_length)
    length = r.varint()
    if length > r.remaining():
        raise WireError(f"QUIC packet Length {length} passes the datagram's end")
    return _LongHeader(first, packet_version, packet_type, dcid, scid, r.pos, r.pos + length)


def _read_connection_id(r: Reader) -> bytes:
    length = r.u8()
    if length > MAX_CONNECTION_ID:
        raise WireError(f"QUIC connection ID of {length} bytes")
    return r.bytes(length)


def _open_initial(
    datagram: bytes,
    pos: int,
    header: _LongHeader,
    cache: InitialKeyCache,
    key_dcid: bytes | None,
) -> InitialPacket:
    """Open one Initial with the keys of ``key_dcid``, else of its own DCID."""
    if key_dcid is not None and key_dcid != header.dcid:
        try:
            return _open_with(datagram, pos, header, key_dcid, cache.get(header.version, key_dcid))
        except InitialAuthError:
            pass  # a Retry changed the keys, or the caller's DCID is wrong
    keys = cache.get(header.version, header.dcid)
    return _open_with(datagram, pos, header, header.dcid, keys)


def _open_with(
    datagram: bytes, pos: int, header: _LongHeader, dcid: bytes, keys: InitialKeys
) -> InitialPacket:
    """Remove header protection (RFC 9001 §5.4) and decrypt (§5.3) one Initial."""
    sample_at = header.pn_offset + PN_SAMPLE_OFFSET
    if sample_at + HP_SAMPLE_LENGTH > header.end:
        raise WireError("QUIC Initial too short to sample for header protection")
    mask = keys.header_mask(datagram[sample_at : sample_at + HP_SAMPLE_LENGTH])
    first = header.first ^ (mask[0] & LONG_HP_MASK)
    pn_length = (first & PN_LENGTH_MASK) + 1
    pn_end = header.pn_offset + pn_length
    # No packet of ours has been acknowledged when a client sends its first
    # Initials, so RFC 9000 §17.1 makes it encode the full packet number:
    # the truncated value is the packet number (RFC 9000 §A.3).
    packet_number = int.from_bytes(datagram[header.pn_offset : pn_end], "big") ^ int.from_bytes(
        mask[1 : 1 + pn_length], "big"
    )
    plain_header = (
        bytes([first])
        + datagram[pos + 1 : header.pn_offset]
        + packet_number.to_bytes(pn_length, "big")
    )
    payload = keys.open(packet_number, plain_header, datagram[pn_end : header.end])
    if first & LONG_RESERVED_BITS:
        raise WireError("QUIC Initial has reserved header bits set")
    crypto = read_initial_frames(payload)
    return InitialPacket(header.version, dcid, header.scid, packet_number, crypto)


def read_initial_frames(payload: bytes) -> tuple[CryptoFrame, ...]:
    """The CRYPTO frames of a decrypted Initial payload (RFC 9000 §12.4, §19).

    PADDING, PING, ACK and CONNECTION_CLOSE are read and dropped; any other
    frame type is a protocol violation in an Initial and raises WireError,
    as does a payload with no frame at all. Reads by index rather than with
    ``Reader``: Chromium scatters dozens of PING and PADDING frames between
    its CRYPTO frames, and a method call per byte cost more than the AEAD.
    """
    if not payload:
        raise WireError("QUIC Initial with no frames (RFC 9000 §12.4)")
    crypto: list[CryptoFrame] = []
    end = len(payload)
    pos = 0
    while pos < end:
        frame_type = payload[pos]
        pos += 1
        if frame_type <= FRAME_PING:
            # A run of PADDING and PING frames (RFC 9000 §19.1, §19.2), one byte each.
            found = _NOT_PADDING_OR_PING.search(payload, pos)
            pos = found.start() if found else end
        elif frame_type == FRAME_CRYPTO:
            # Inside an Initial, offsets and lengths are one- or two-byte
            # varints: those are read in line (a call each cost more than the
            # rest of the frame), longer ones by ``_varint``.
            if (
                pos + 4 <= end
                and (first := payload[pos]) < 0x80
                and payload[pos + 1 + (first >> 6)] < 0x80
            ):
                offset = first if first < 0x40 else (first & 0x3F) << 8 | payload[pos + 1]
                pos += 1 + (first >> 6)
                first = payload[pos]
                length = first if first < 0x40 else (first & 0x3F) << 8 | payload[pos + 1]
                pos += 1 + (first >> 6)
            else:
                offset, pos = _varint(payload, pos)
                length, pos = _varint(payload, pos)
            if offset + length > MAX_STREAM_OFFSET:
                raise WireError(f"CRYPTO frame at {offset}+{length} passes 2^62-1")
            if pos + length > end:
                raise Truncated(f"CRYPTO frame of {length} bytes passes the payload's end")
            crypto.append(CryptoFrame(offset, payload[pos : pos + length]))
            pos += length
        elif frame_type in (FRAME_ACK, FRAME_ACK_ECN):
            r = Reader(payload, pos)
            _skip_ack(r, ecn=frame_type == FRAME_ACK_ECN)
            pos = r.pos
        elif frame_type == FRAME_CONNECTION_CLOSE:
            r = Reader(payload, pos)
            _skip_connection_close(r)
            pos = r.pos
        else:
            # Frame types are varints; every allowed one fits one byte in its
            # shortest form, which RFC 9000 §12.4 requires.
            raise WireError(f"frame type {frame_type:#04x} is not allowed in a QUIC Initial")
    return tuple(crypto)


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """A variable-length integer (RFC 9000 §16) at ``pos``, and the offset after it."""
    if pos >= len(data):
        raise Truncated(f"QUIC varint cut at offset {pos}")
    first = data[pos]
    size = 1 << (first >> 6)
    if pos + size > len(data):
        raise Truncated(f"{size}-byte QUIC varint cut at offset {pos}")
    if size == 1:
        return first, pos + 1
    value = int.from_bytes(data[pos : pos + size], "big") & ((1 << (8 * size - 2)) - 1)
    return value, pos + size


def _skip_ack(r: Reader, *, ecn: bool) -> None:
    """An ACK frame after its type byte (RFC 9000 §19.3); nothing is kept.

    The range count needs no limit of its own: each range takes at least two
    bytes, so a false count runs out of payload (Truncated) within a few
    hundred steps.
    """
    r.varint()  # Largest Acknowledged
    r.varint()  # ACK Delay
    range_count = r.varint()
    r.varint()  # First ACK Range
    for _ in range(range_count):
        r.varint()  # Gap
        r.varint()  # ACK Range Length
    if ecn:
        r.varint()  # ECT0 Count
        r.varint()  # ECT1 Count
        r.varint()  # ECN-CE Count


def _skip_connection_close(r: Reader) -> None:
    """A transport CONNECTION_CLOSE after its type byte (RFC 9000 §19.19)."""
    r.varint()  # Error Code
    r.varint()  # Frame Type
    r.skip(r.varint())  # Reason Phrase
