"""Client QUIC Initials: RFC vectors, coalescing, frames, real captures and fuzzing.

What is expected: each RFC Appendix A client Initial opens to its ClientHello;
every real client Initial in the captures opens, and the CRYPTO frames of a
flow, fed to a StreamBuffer in any order, give a complete ClientHello whose
SNI is the one nDPI found; anything else is None (not an Initial) or
WireError, never another exception.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from copgate.errors import WireError
from copgate.wire.quic import (
    MAX_PACKETS_PER_DATAGRAM,
    MAX_TOKEN_LENGTH,
    QUIC_DRAFT29,
    QUIC_V1,
    QUIC_V2,
    CryptoFrame,
    InitialKeyCache,
    InitialPacket,
    looks_like_quic_initial,
    looks_like_quic_long_header,
    read_initial_datagram,
    read_initial_frames,
)
from copgate.wire.quic_keys import VERSIONS, derive_client_initial_keys
from copgate.wire.reader import Reader
from copgate.wire.stream import StreamBuffer
from tests.conftest import shared_data
from tests.wire.quic_vectors import (
    D29_CLIENT_HELLO,
    D29_PACKET,
    D29_PAYLOAD,
    RFC_DCID,
    V1_CLIENT_HELLO,
    V1_PACKET,
    V1_PAYLOAD,
    V1_PLAIN_HEADER,
    V1_PROTECTED_HEADER,
    V1_SERVER_PACKET,
    V2_PACKET,
    V2_PLAIN_HEADER,
    client_datagrams,
    crypto_frame,
    h,
    long_packet,
    seal_initial,
    varint,
)

DCID = h("0011223344556677")
SCID = h("a1a2a3a4")
HELLO_LIMIT = 64 * 1024  # room for any ClientHello in these tests
PING = b"\x01"


def padded(frames: bytes, size: int = 1162) -> bytes:
    """Frames followed by PADDING up to ``size`` bytes, as clients pad Initials."""
    return frames + bytes(max(0, size - len(frames)))


def only(
    datagram: bytes, keys: InitialKeyCache | None = None, key_dcid: bytes | None = None
) -> InitialPacket:
    """The one Initial packet of ``datagram``."""
    packets = read_initial_datagram(datagram, keys, key_dcid=key_dcid)
    assert packets is not None
    assert len(packets) == 1
    return packets[0]


def reassemble(frames: Iterable[CryptoFrame]) -> bytes:
    stream = StreamBuffer(HELLO_LIMIT)
    for frame in frames:
        stream.add(frame.offset, frame.data)
    return stream.prefix


def hello_sni(handshake: bytes) -> str | None:
    """The SNI of a complete ClientHello message (QUIC CRYPTO bytes, no records)."""
    assert handshake[0] == 0x01, "a ClientHello starts with handshake type 1"
    assert len(handshake) >= 4 + int.from_bytes(handshake[1:4], "big"), "hello incomplete"
    by_hand = _sni_by_hand(handshake)
    try:
        from copgate.wire.tls import read_client_hello_message
    except ImportError:  # the TLS parser is written alongside this one
        return by_hand
    hello = read_client_hello_message(handshake)
    assert hello is not None
    assert (None if hello.sni is None else hello.sni.text) == by_hand
    return by_hand


def _sni_by_hand(handshake: bytes) -> str | None:
    """A minimal RFC 8446 §4.1.2 walk to the server_name, for when tls.py is absent."""
    r = Reader(handshake, 4)
    r.skip(2 + 32)  # legacy_version, random
    r.skip(r.u8())  # legacy_session_id
    r.skip(r.u16())  # cipher_suites
    r.skip(r.u8())  # legacy_compression_methods
    end = r.u16() + r.pos
    while r.pos < end:
        extension, body = r.u16(), r.opaque16()
        if extension == 0:  # server_name: list length, type 0, name length, name
            return body[5:].decode("ascii").lower()
    return None


# --- RFC vectors -----------------------------------------------------------------

RFC_VECTORS = [
    pytest.param(QUIC_V1, V1_PACKET, V1_CLIENT_HELLO, "example.com", id="rfc9001-A.2"),
    pytest.param(QUIC_V2, V2_PACKET, V1_CLIENT_HELLO, "example.com", id="rfc9369-A.2"),
    pytest.param(QUIC_DRAFT29, D29_PACKET, D29_CLIENT_HELLO, "server", id="draft29-A.2"),
]


@pytest.mark.parametrize(("version", "packet", "hello", "sni"), RFC_VECTORS)
def test_rfc_client_initial_opens_to_its_client_hello(
    version: int, packet: bytes, hello: bytes, sni: str
) -> None:
    assert looks_like_quic_initial(packet)
    initial = only(packet)
    assert initial == InitialPacket(version, RFC_DCID, b"", 2, (CryptoFrame(0, hello),))
    assert hello_sni(reassemble(initial.crypto)) == sni


@pytest.mark.parametrize(
    ("version", "payload", "packet"),
    [
        pytest.param(QUIC_V1, V1_PAYLOAD, V1_PACKET, id="rfc9001-A.2"),
        pytest.param(QUIC_V2, V1_PAYLOAD, V2_PACKET, id="rfc9369-A.2"),
        pytest.param(QUIC_DRAFT29, D29_PAYLOAD, D29_PACKET, id="draft29-A.2"),
    ],
)
def test_protecting_the_rfc_payload_gives_the_rfc_packet(
    version: int, payload: bytes, packet: bytes
) -> None:
    # The test sealer agrees byte for byte with the RFCs, so packets it builds
    # below are packets a real client could send.
    assert seal_initial(version, RFC_DCID, payload, packet_number=2) == packet


@pytest.mark.parametrize(
    ("version", "packet", "plain_header"),
    [
        pytest.param(QUIC_V1, V1_PACKET, V1_PLAIN_HEADER, id="rfc9001-A.2"),
        pytest.param(QUIC_V2, V2_PACKET, V2_PLAIN_HEADER, id="rfc9369-A.2"),
    ],
)
def test_header_protection_removal_gives_the_plain_header(
    version: int, packet: bytes, plain_header: bytes
) -> None:
    # RFC 9001 §5.4.1: the sample starts 4 bytes after the packet number's start.
    pn_at = len(plain_header) - 4
    mask = derive_client_initial_keys(version, RFC_DCID).header_mask(packet[pn_at + 4 : pn_at + 20])
    unmasked = bytearray(packet[: len(plain_header)])
    unmasked[0] ^= mask[0] & 0x0F
    for i in range(4):
        unmasked[pn_at + i] ^= mask[1 + i]
    assert bytes(unmasked) == plain_header
    if version == QUIC_V1:
        assert packet.startswith(V1_PROTECTED_HEADER)


def test_server_initial_fails_authentication_with_client_keys() -> None:
    # RFC 9001 §A.3: it looks like an Initial, but only a server sends it.
    assert looks_like_quic_initial(V1_SERVER_PACKET)
    with pytest.raises(WireError, match="authentication"):
        read_initial_datagram(V1_SERVER_PACKET)


def test_every_single_bit_flip_of_the_rfc_packet_is_refused() -> None:
    # Header protection and the AEAD tag cover every byte: one flipped bit
    # anywhere is a WireError, or None where it stops looking like an Initial.
    for i in range(len(V1_PACKET)):
        flipped = bytearray(V1_PACKET)
        flipped[i] ^= 0x10
        try:
            result = read_initial_datagram(bytes(flipped))
        except WireError:
            continue
        assert result is None, f"byte {i} flipped still opened"


# --- the cheap test ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        pytest.param("c0 00000001 08", True, id="v1-initial"),
        pytest.param("d0 6b3343cf 08", True, id="v2-initial-type-01"),
        pytest.param("c0 ff00001d 08", True, id="draft29-initial"),
        pytest.param("c3 00000001 14", True, id="v1-initial-pn4-cid20"),
        pytest.param("c0 6b3343cf 08", False, id="v2-type-00-is-retry"),
        pytest.param("d0 00000001 08", False, id="v1-0rtt"),
        pytest.param("e0 00000001 08", False, id="v1-handshake"),
        pytest.param("f0 00000001 08", False, id="v1-retry"),
        pytest.param("e0 6b3343cf 08", False, id="v2-0rtt"),
        pytest.param("80 00000001 08", False, id="fixed-bit-clear"),
        pytest.param("40 00000001 08", False, id="short-header"),
        pytest.param("c0 00000000 08", False, id="version-negotiation"),
        pytest.param("c0 ff00001c 08", False, id="draft28"),
        pytest.param("c0 51303530 08", False, id="google-q050"),
        pytest.param("c0 0a0a0a0a 08", False, id="grease-version"),
    ],
)
def test_looks_like_quic_initial(start: str, expected: bool) -> None:
    assert looks_like_quic_initial(h(start) + bytes(30)) is expected


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        pytest.param("c0 00000001 08", True, id="v1-initial"),
        pytest.param("d0 00000001 08", True, id="v1-0rtt"),
        pytest.param("e0 6b3343cf 08", True, id="v2-0rtt"),
        pytest.param("e0 ff00001d 08", True, id="draft29-handshake"),
        pytest.param("c0 ff00001c 08", False, id="draft28"),
        pytest.param("c0 00000000 08", False, id="version-negotiation"),
        pytest.param("40 00000001 08", False, id="short-header"),
        pytest.param("90 00000001 08", False, id="fixed-bit-clear"),
    ],
)
def test_looks_like_quic_long_header(start: str, expected: bool) -> None:
    assert looks_like_quic_long_header(h(start) + bytes(30)) is expected
    assert not looks_like_quic_long_header(h(start)[:6])


def test_too_short_to_look_like_an_initial() -> None:
    for n in range(7):
        assert not looks_like_quic_initial(h("c0 00000001 08 00")[:n])


def test_not_an_initial_is_none() -> None:
    assert read_initial_datagram(b"") is None
    assert read_initial_datagram(h("40 0011223344556677") + bytes(40)) is None  # 1-RTT
    assert read_initial_datagram(long_packet(QUIC_V1, 1, DCID, bytes(60))) is None  # 0-RTT first
    assert read_initial_datagram(b"\x00" * 1200) is None


# --- header fields ----------------------------------------------------------------


@pytest.mark.parametrize("version", [QUIC_V1, QUIC_V2, QUIC_DRAFT29])
@pytest.mark.parametrize("pn_length", [1, 2, 3, 4])
def test_packet_number_lengths_and_fields(version: int, pn_length: int) -> None:
    number = [0x17, 0x1234, 0x12345, 0x1234567][pn_length - 1]
    payload = padded(crypto_frame(0, b"hello"))
    packet = seal_initial(
        version, DCID, payload, scid=SCID, packet_number=number, pn_length=pn_length
    )
    assert only(packet) == InitialPacket(version, DCID, SCID, number, (CryptoFrame(0, b"hello"),))


def test_token_is_skipped_up_to_its_named_limit() -> None:
    payload = padded(crypto_frame(0, b"x"), 200)
    with_token = seal_initial(QUIC_V1, DCID, payload, token=b"t" * MAX_TOKEN_LENGTH)
    assert only(with_token).crypto == (CryptoFrame(0, b"x"),)
    too_long = seal_initial(QUIC_V1, DCID, payload, token=b"t" * (MAX_TOKEN_LENGTH + 1))
    with pytest.raises(WireError, match="token"):
        read_initial_datagram(too_long)


def test_connection_ids_of_20_bytes_pass_and_21_fail() -> None:
    payload = padded(crypto_frame(0, b"x"), 200)
    assert only(seal_initial(QUIC_V1, b"d" * 20, payload, scid=b"s" * 20)).dcid == b"d" * 20
    with pytest.raises(WireError, match="connection ID"):
        read_initial_datagram(seal_initial(QUIC_V1, b"d" * 21, payload))
    with pytest.raises(WireError, match="connection ID"):
        read_initial_datagram(seal_initial(QUIC_V1, DCID, payload, scid=b"s" * 21))


def test_empty_dcid_is_allowed_after_retry() -> None:
    # RFC 9000 §7.2: after a Retry the client uses the server's CID, of any length.
    payload = padded(crypto_frame(0, b"x"), 200)
    assert only(seal_initial(QUIC_V1, b"", payload)).dcid == b""


def test_length_past_the_datagram_is_refused() -> None:
    packet = seal_initial(QUIC_V1, DCID, padded(PING, 100))
    with pytest.raises(WireError):
        read_initial_datagram(packet[:-1])


def test_packet_too_short_to_sample_is_refused() -> None:
    # pn (1 byte) + 2 bytes + tag = 19 < 4 + 16: no room for the header-protection sample.
    header = h("c0 00000001 08") + DCID + h("00 00") + varint(19, 2)
    with pytest.raises(WireError, match="sample"):
        read_initial_datagram(header + bytes(19))


def test_reserved_bits_set_are_a_protocol_violation() -> None:
    packet = seal_initial(QUIC_V1, DCID, padded(PING, 100), reserved_bits=0b10)
    with pytest.raises(WireError, match="reserved"):
        read_initial_datagram(packet)


def test_keys_come_from_key_dcid_once_the_server_chose_its_cid() -> None:
    # RFC 9001 §5.2: the client keeps the keys of its first DCID after
    # switching to the server's CID; without the flow's DCID they fail.
    server_cid = h("5e5e5e5e5e5e")
    packet = seal_initial(QUIC_V1, server_cid, padded(PING, 100), key_dcid=DCID)
    with pytest.raises(WireError, match="authentication"):
        read_initial_datagram(packet)
    assert only(packet, key_dcid=DCID).dcid == DCID


def test_a_stale_key_dcid_falls_back_to_the_header_after_retry() -> None:
    retry_cid = h("7777777777777777")
    packet = seal_initial(QUIC_V1, retry_cid, padded(crypto_frame(0, b"x"), 100))
    assert only(packet, key_dcid=DCID).dcid == retry_cid


def test_a_key_cache_is_used_and_filled() -> None:
    cache = InitialKeyCache(limit=8)
    packet = seal_initial(QUIC_V2, DCID, padded(PING, 100))
    for _ in range(3):
        only(packet, keys=cache)
    assert (cache.misses, cache.hits) == (1, 2)


# --- coalesced datagrams (RFC 9000 §12.2) ------------------------------------------


def _initial(offset: int, data: bytes, number: int, version: int = QUIC_V1) -> bytes:
    return seal_initial(version, DCID, crypto_frame(offset, data), packet_number=number)


def test_two_coalesced_initials_and_skipped_0rtt_and_handshake() -> None:
    spec = VERSIONS[QUIC_V1]
    datagram = (
        _initial(0, b"abc", 0)
        + _initial(3, b"def", 1)
        + long_packet(QUIC_V1, spec.zero_rtt_type, DCID, b"\xff" * 50)
        + long_packet(QUIC_V1, spec.handshake_type, DCID, b"\xee" * 30)
    )
    packets = read_initial_datagram(datagram)
    assert packets is not None
    assert [p.packet_number for p in packets] == [0, 1]
    assert reassemble(f for p in packets for f in p.crypto) == b"abcdef"


def test_v2_coalescing_uses_v2_type_bits() -> None:
    spec = VERSIONS[QUIC_V2]
    datagram = (
        _initial(0, b"v2", 0, QUIC_V2)
        + long_packet(QUIC_V2, spec.zero_rtt_type, DCID, b"\x01" * 40)
        + _initial(2, b"!!", 1, QUIC_V2)
        + long_packet(QUIC_V2, spec.handshake_type, DCID, b"\x02" * 40)
    )
    packets = read_initial_datagram(datagram)
    assert packets is not None
    assert reassemble(f for p in packets for f in p.crypto) == b"v2!!"


def test_walk_stops_at_a_short_header_packet_or_padding() -> None:
    initial = _initial(0, b"abc", 0)
    short = h("41") + DCID + b"\xc3" * 40  # a 1-RTT packet, its bytes opaque
    assert len(read_initial_datagram(initial + short) or []) == 1
    assert len(read_initial_datagram(initial + bytes(900)) or []) == 1


def test_a_packet_for_another_connection_is_ignored() -> None:
    other = seal_initial(QUIC_V1, h("9999999999999999"), crypto_frame(0, b"zzz"))
    packets = read_initial_datagram(_initial(0, b"abc", 0) + other)
    assert packets is not None
    assert [p.crypto for p in packets] == [(CryptoFrame(0, b"abc"),)]


def test_a_retry_in_a_client_datagram_is_refused() -> None:
    retry = h("f0 00000001 08") + DCID + h("00") + bytes(40)
    with pytest.raises(WireError, match="Retry"):
        read_initial_datagram(_initial(0, b"abc", 0) + retry)


def test_coalesced_packets_of_another_version_are_refused() -> None:
    with pytest.raises(WireError, match="version"):
        read_initial_datagram(_initial(0, b"abc", 0) + _initial(3, b"def", 1, QUIC_V2))


def test_a_coalesced_long_header_with_fixed_bit_clear_is_refused() -> None:
    broken = bytearray(long_packet(QUIC_V1, 2, DCID, bytes(30)))
    broken[0] &= ~0x40
    with pytest.raises(WireError, match="fixed bit"):
        read_initial_datagram(_initial(0, b"abc", 0) + bytes(broken))


def test_coalescing_is_bounded() -> None:
    handshake = long_packet(QUIC_V1, VERSIONS[QUIC_V1].handshake_type, DCID, bytes(4))
    fits = _initial(0, b"a", 0) + handshake * (MAX_PACKETS_PER_DATAGRAM - 1)
    assert len(read_initial_datagram(fits) or []) == 1
    with pytest.raises(WireError, match="more than"):
        read_initial_datagram(fits + handshake)


# --- frames (RFC 9000 §12.4, §19) ------------------------------------------------------


def test_allowed_frames_are_read_and_only_crypto_is_kept() -> None:
    ack = h("02") + varint(7) + varint(100) + varint(2) + varint(1) + h("00 00 01 00")
    ack_ecn = h("03") + varint(3) + varint(0) + varint(0) + varint(3) + varint(1) * 3
    close = h("1c") + varint(0x0A) + varint(0x06) + varint(5) + b"bye!!"
    payload = (
        PING
        + ack
        + crypto_frame(5, b"world")
        + bytes(7)
        + ack_ecn
        + crypto_frame(0, b"hello")
        + close
        + bytes(20)
    )
    frames = read_initial_frames(payload)
    assert frames == (CryptoFrame(5, b"world"), CryptoFrame(0, b"hello"))
    assert only(seal_initial(QUIC_V1, DCID, payload)).crypto == frames


def test_packet_with_only_ping_and_padding_has_no_crypto() -> None:
    assert only(seal_initial(QUIC_V1, DCID, padded(PING, 1162))).crypto == ()
    assert read_initial_frames(bytes(1162)) == ()


def test_empty_crypto_frame_and_large_offsets() -> None:
    frames = read_initial_frames(crypto_frame(0, b"") + crypto_frame((1 << 62) - 2, b"x"))
    assert frames == (CryptoFrame(0, b""), CryptoFrame((1 << 62) - 2, b"x"))
    with pytest.raises(WireError, match="2\\^62"):
        read_initial_frames(crypto_frame((1 << 62) - 1, b"x"))


def _varint_of_width(value: int, width: int) -> bytes:
    """``value`` as a QUIC varint of exactly ``width`` bytes (non-shortest allowed)."""
    prefix = {1: 0x00, 2: 0x40, 4: 0x80, 8: 0xC0}[width]
    raw = value.to_bytes(width, "big")
    return bytes([raw[0] | prefix]) + raw[1:]


@pytest.mark.parametrize("offset_width", [1, 2, 4, 8])
@pytest.mark.parametrize("length_width", [1, 2, 4, 8])
def test_crypto_offset_and_length_read_the_same_in_every_varint_width(
    offset_width: int, length_width: int
) -> None:
    # One- and two-byte forms take the in-line path, longer ones ``_varint``;
    # RFC 9000 §16 allows any width, so both must agree.
    data = b"hello"
    frame = h("06") + _varint_of_width(37, offset_width) + _varint_of_width(len(data), length_width)
    payload = frame + data + PING + frame + data
    assert read_initial_frames(payload) == (CryptoFrame(37, data), CryptoFrame(37, data))
    with pytest.raises(WireError):
        read_initial_frames(frame + data[:-1])


@pytest.mark.parametrize(
    "frame_type",
    [0x04, 0x05, 0x07, 0x08, 0x0F, 0x10, 0x18, 0x1D, 0x1E, 0x30, 0x40, 0xFF],
    ids=lambda t: f"type-{t:#04x}",
)
def test_frames_not_allowed_in_initial_are_refused(frame_type: int) -> None:
    # RESET_STREAM, STOP_SENDING, NEW_TOKEN, STREAM, MAX_DATA, NEW_CONNECTION_ID,
    # application CONNECTION_CLOSE, HANDSHAKE_DONE, DATAGRAM, 2-byte varint types.
    with pytest.raises(WireError, match="not allowed"):
        read_initial_frames(bytes([frame_type]) + bytes(20))
    packet = seal_initial(QUIC_V1, DCID, padded(PING + bytes([frame_type]) + bytes(20), 100))
    with pytest.raises(WireError, match="not allowed"):
        read_initial_datagram(packet)


def test_no_frames_at_all_is_a_protocol_violation() -> None:
    with pytest.raises(WireError, match="no frames"):
        read_initial_frames(b"")
    with pytest.raises(WireError, match="no frames"):
        read_initial_datagram(seal_initial(QUIC_V1, DCID, b""))


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(h("06") + varint(0) + varint(10) + b"short", id="crypto-data-cut"),
        pytest.param(h("06 40"), id="crypto-offset-cut"),
        pytest.param(h("02 00 00 00"), id="ack-cut"),
        pytest.param(h("03") + varint(0) * 4 + varint(1), id="ack-ecn-counts-cut"),
        pytest.param(h("02 00 00") + varint(1 << 40) + h("00") + bytes(10), id="ack-range-count"),
        pytest.param(h("1c 00 00") + varint(50) + b"why", id="close-reason-cut"),
    ],
)
def test_cut_or_lying_frames_are_refused(payload: bytes) -> None:
    with pytest.raises(WireError):
        read_initial_frames(payload)


# --- real captures ----------------------------------------------------------------------

EXPECTED_VERSIONS = {"V-1": QUIC_V1, "V-2": QUIC_V2, "Draft-29": QUIC_DRAFT29}


def _endpoint(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def _expected_quic_flows() -> list[tuple[str, tuple[str, int], tuple[str, int], str, int]]:
    """expected.tsv's QUIC flows of versions copgate reads (not Draft-28, not gQUIC)."""
    path = shared_data("captures/expected.tsv")
    rows = []
    with path.open(newline="") as tsv:
        for row in csv.reader(tsv, delimiter="\t"):
            if len(row) >= 7 and row[1] == "UDP" and row[6] in EXPECTED_VERSIONS:
                rows.append(
                    (
                        row[0],
                        _endpoint(row[2]),
                        _endpoint(row[3]),
                        row[5],
                        EXPECTED_VERSIONS[row[6]],
                    )
                )
    return rows


def _read_flow(datagrams: Iterable[bytes]) -> tuple[list[InitialPacket], int, int]:
    """Feed a flow's client datagrams as the tracker would; count the outcomes."""
    packets: list[InitialPacket] = []
    cache = InitialKeyCache()
    others = errors = 0
    for datagram in datagrams:
        key_dcid = packets[-1].dcid if packets else None  # the latest keys that worked
        try:
            result = read_initial_datagram(datagram, cache, key_dcid=key_dcid)
        except WireError:
            errors += 1
            continue
        if result is None:
            others += 1
        else:
            packets.extend(result)
    return packets, others, errors


@pytest.mark.shared_data
def test_expected_tsv_lists_the_three_supported_quic_flows() -> None:
    assert {(row[0], row[4]) for row in _expected_quic_flows()} == {
        ("quic-29.pcap", QUIC_DRAFT29),
        ("quic-v2.pcapng", QUIC_V2),
        ("quic_0RTT.pcap", QUIC_V1),
    }


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("pcap", "version", "sni", "initials"),
    [
        # quic-29: Initial, Retry from the server, the hello again under the
        # Retry's CID, then an ACK-only Initial under the server's CID.
        pytest.param("quic-29.pcap", QUIC_DRAFT29, "localhost", 3, id="draft29-retry"),
        pytest.param("quic-v2.pcapng", QUIC_V2, "test", 1, id="v2"),
        # quic_0RTT (v1 flow): 0-RTT packets arrive before the Initial.
        pytest.param("quic_0RTT.pcap", QUIC_V1, "ssl.gstatic.com", 1, id="v1-0rtt"),
    ],
)
def test_expected_tsv_flows_give_their_sni(
    pcap: str, version: int, sni: str, initials: int
) -> None:
    path = shared_data(f"captures/{pcap}")
    (row,) = [r for r in _expected_quic_flows() if r[0] == pcap and r[4] == version]
    assert row[3] == sni
    flows = client_datagrams(path, row[2][1])
    packets, _, errors = _read_flow(flows[(row[1], row[2])])
    assert errors == 0
    assert len(packets) == initials
    assert {p.version for p in packets} == {version}
    assert hello_sni(reassemble(f for p in packets for f in p.crypto)) == sni


@pytest.mark.shared_data
def test_quic_v2_client_coalesces_its_initial_with_a_0rtt_packet() -> None:
    path = shared_data("captures/quic-v2.pcapng")
    first = client_datagrams(path, 4443)[(("::1", 42086), ("::1", 4443))][0]
    end = _first_packet_end(first)
    assert (end, len(first)) == (532, 1232)
    assert (first[end] >> 4) & 0x03 == VERSIONS[QUIC_V2].zero_rtt_type
    initial = only(first)
    assert (initial.version, initial.dcid.hex(), initial.packet_number) == (
        QUIC_V2,
        "0726272642fc2eb2",
        66029,
    )


@pytest.mark.shared_data
def test_quic_0rtt_client_sends_0rtt_before_its_initial() -> None:
    path = shared_data("captures/quic_0RTT.pcap")
    flow = (("192.168.2.100", 51972), ("142.250.181.227", 443))
    datagrams = client_datagrams(path, 443)[flow]
    kinds = [(looks_like_quic_long_header(d), looks_like_quic_initial(d)) for d in datagrams[:4]]
    # 0-RTT, 0-RTT, Initial, Handshake: not an Initial, yet QUIC all the same.
    assert kinds == [(True, False), (True, False), (True, True), (True, False)]
    assert read_initial_datagram(datagrams[0]) is None


@pytest.mark.shared_data
def test_quic_29_without_flow_state_refuses_the_initial_under_the_server_cid() -> None:
    path = shared_data("captures/quic-29.pcap")
    datagrams = client_datagrams(path, 443)[(("10.9.0.1", 36588), ("10.9.0.2", 443))]
    outcomes = []
    for datagram in datagrams:
        try:
            outcomes.append("none" if read_initial_datagram(datagram) is None else "initial")
        except WireError:
            outcomes.append("error")
    # Initial, Initial after Retry, Initial under the server's CID, Handshake,
    # then two 1-RTT packets.
    assert outcomes == ["initial", "initial", "error", "none", "none", "none"]


@pytest.mark.shared_data
def test_client_hello_in_two_initials_without_sni() -> None:
    # nDPI's result for this capture: "Missing SNI TLS Extn", ALPN h3-34 first.
    path = shared_data("captures/quic_frags_ch_in_multiple_packets.pcapng")
    (datagrams,) = client_datagrams(path, 4443).values()
    packets, others, errors = _read_flow(datagrams)
    assert (len(packets), others, errors) == (2, 0, 0)
    assert [[(f.offset, len(f.data)) for f in p.crypto] for p in packets] == [
        [(0, 1182)],
        [(1182, 396)],
    ]
    handshake = reassemble(f for p in packets for f in p.crypto)
    assert len(handshake) == 1578 == 4 + int.from_bytes(handshake[1:4], "big")
    assert hello_sni(handshake) is None
    assert b"\x05h3-34" in handshake


# From nDPI's expected result for this capture (tests/cfgs/default/result/
# quic_frags_ch_out_of_order_same_packet_craziness.pcapng.out), which
# expected.tsv does not carry: Chrome 92 scatters each hello over up to 11
# CRYPTO frames per packet, out of order.
CRAZINESS_SNI = {
    ("133.205.75.230", 56528): "update.googleapis.com",
    ("147.196.90.42", 61647): "sb-ssl.google.com",
    ("52.187.20.175", 58123): "accounts.google.com",
    ("168.144.64.5", 51053): "content-autofill.googleapis.com",
    ("168.144.64.5", 53431): "fonts.gstatic.com",
    ("159.117.176.124", 64134): "www.google.com",
    ("168.144.64.5", 58351): "www.gstatic.com",
}


@pytest.mark.shared_data
def test_shuffled_crypto_frames_of_113_chrome_flows() -> None:
    path = shared_data("captures/quic_frags_ch_out_of_order_same_packet_craziness.pcapng")
    flows = client_datagrams(path, 443)
    assert len(flows) == 113
    names = {}
    for (client, _server), datagrams in flows.items():
        packets, others, errors = _read_flow(datagrams)
        assert (others, errors) == (0, 0)
        assert {p.version for p in packets} == {QUIC_DRAFT29}
        sni = hello_sni(reassemble(f for p in packets for f in p.crypto))
        assert sni
        names[client] = sni
    assert {client: names[client] for client in CRAZINESS_SNI} == CRAZINESS_SNI


def _first_flow_frames() -> list[CryptoFrame]:
    path = shared_data("captures/quic_frags_ch_out_of_order_same_packet_craziness.pcapng")
    datagrams = next(iter(client_datagrams(path, 443).values()))
    packets, _, _ = _read_flow(datagrams)
    return [f for p in packets for f in p.crypto]


@pytest.mark.shared_data
def test_crypto_frames_in_any_order_give_the_same_hello() -> None:
    frames = _first_flow_frames()
    assert len(frames) > 30
    hello = reassemble(frames)
    assert hello_sni(hello) == "update.googleapis.com"
    rng = random.Random(9001)
    for _ in range(50):
        rng.shuffle(frames)
        assert reassemble(frames) == hello


@pytest.mark.shared_data
def test_a_real_hello_resealed_in_shuffled_pieces_over_shuffled_datagrams() -> None:
    hello = reassemble(_first_flow_frames())
    rng = random.Random(9369)
    for _ in range(20):
        cuts = sorted(rng.sample(range(1, len(hello)), 12))
        pieces = [
            crypto_frame(a, hello[a:b])
            for a, b in zip([0, *cuts], [*cuts, len(hello)], strict=True)
        ]
        rng.shuffle(pieces)
        datagrams = []
        for number, start in enumerate(range(0, len(pieces), 4)):
            frames = [*pieces[start : start + 4], PING, bytes(rng.randrange(1, 30))]
            rng.shuffle(frames)
            datagrams.append(
                seal_initial(QUIC_V1, DCID, padded(b"".join(frames)), packet_number=number)
            )
        rng.shuffle(datagrams)
        packets, _, errors = _read_flow(datagrams)
        assert errors == 0
        assert reassemble(f for p in packets for f in p.crypto) == hello


# --- fuzzing: nothing but None, a result or WireError ----------------------------------


def _outcome(datagram: bytes) -> str:
    """Read ``datagram``; any exception but WireError fails the test."""
    try:
        result = read_initial_datagram(datagram)
    except WireError:
        return "error"
    if result is None:
        return "none"
    for packet in result:
        assert len(packet.dcid) <= 20 and len(packet.scid) <= 20
        assert all(f.offset + len(f.data) < 1 << 62 for f in packet.crypto)
    return "packets"


CHROME_LIKE = padded(
    crypto_frame(100, V1_CLIENT_HELLO[100:])
    + PING
    + bytes(13)
    + crypto_frame(0, V1_CLIENT_HELLO[:40])
    + h("02 05 00 00 00")
    + crypto_frame(40, V1_CLIENT_HELLO[40:100])
)
V2_TAIL = long_packet(QUIC_V2, VERSIONS[QUIC_V2].zero_rtt_type, DCID, bytes(40))
SEALED_SEEDS = [
    V1_PACKET,
    V2_PACKET,
    D29_PACKET,
    seal_initial(QUIC_V1, DCID, CHROME_LIKE, scid=SCID, token=b"tok" * 20, pn_length=1),
    seal_initial(QUIC_V2, DCID, CHROME_LIKE, packet_number=1) + V2_TAIL,
]
INITIAL_END = {seed: len(seed) for seed in SEALED_SEEDS}
"""Where each seed's first Initial ends: AEAD covers every byte before it."""
INITIAL_END[SEALED_SEEDS[-1]] -= len(V2_TAIL)


def test_every_truncation_of_the_seeds_is_none_or_wire_error() -> None:
    examples = 0
    for seed in SEALED_SEEDS:
        assert read_initial_datagram(seed), "the seed itself opens"
        for n in range(len(seed)):
            outcome = _outcome(seed[:n])
            examples += 1
            if n < INITIAL_END[seed]:
                assert outcome != "packets", f"a {n}-byte prefix opened"
    assert examples > 5000


@pytest.mark.shared_data
def test_every_truncation_of_real_initials_is_none_or_wire_error() -> None:
    seeds: list[bytes] = []
    for pcap, port in [
        ("quic-29.pcap", 443),
        ("quic-v2.pcapng", 4443),
        ("quic_0RTT.pcap", 443),
        ("quic_frags_ch_in_multiple_packets.pcapng", 4443),
    ]:
        for datagrams in client_datagrams(shared_data(f"captures/{pcap}"), port).values():
            seeds.extend(d for d in datagrams if looks_like_quic_initial(d))
    assert len(seeds) >= 6
    examples = 0
    for seed in seeds:
        end = _first_packet_end(seed)
        for n in range(len(seed)):
            outcome = _outcome(seed[:n])
            examples += 1
            assert outcome != "packets" or n >= end, f"a {n}-byte prefix opened"
    assert examples > 7000


def _first_packet_end(datagram: bytes) -> int:
    """Where the first long-header Initial ends, read by hand (RFC 9000 §17.2.2)."""
    r = Reader(datagram, 5)
    r.skip(r.u8())  # DCID
    r.skip(r.u8())  # SCID
    r.skip(r.varint())  # token
    length = r.varint()
    return r.pos + length


FUZZ = settings(
    max_examples=6000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


@FUZZ
@given(
    seed=st.sampled_from(SEALED_SEEDS),
    edits=st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), min_size=1, max_size=6),
    cut=st.integers(0, 1 << 16),
)
def test_mutated_sealed_initials_are_none_or_wire_error(
    seed: bytes, edits: list[tuple[int, int]], cut: int
) -> None:
    data = bytearray(seed)
    for where, value in edits:
        data[where % len(data)] = value
    datagram = bytes(data)[: len(data) - cut % 50]
    outcome = _outcome(datagram)
    end = INITIAL_END[seed]
    if datagram[:end] != seed[:end]:
        # Header protection and the AEAD tag cover the whole first Initial.
        assert outcome != "packets"


@FUZZ
@given(
    seed=st.sampled_from([CHROME_LIKE, V1_PAYLOAD, D29_PAYLOAD]),
    edits=st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), min_size=1, max_size=8),
    cut=st.integers(0, 1200),
)
def test_mutated_plaintext_resealed_is_none_or_wire_error(
    seed: bytes, edits: list[tuple[int, int]], cut: int
) -> None:
    # Sealing the mutated payload makes it authenticate, so the frame parser
    # itself meets the garbage.
    data = bytearray(seed[: max(1, len(seed) - cut)])
    for where, value in edits:
        data[where % len(data)] = value
    _outcome(seal_initial(QUIC_V1, DCID, bytes(data)))


@FUZZ
@given(payload=st.binary(min_size=0, max_size=300), version=st.sampled_from([QUIC_V1, QUIC_V2]))
def test_random_payloads_resealed_are_none_or_wire_error(payload: bytes, version: int) -> None:
    _outcome(seal_initial(version, DCID, payload))


# --- an independent client: aioquic -------------------------------------------------------


@pytest.mark.parametrize("version", [QUIC_V1, QUIC_V2], ids=["v1", "v2"])
@pytest.mark.parametrize("alpn_count", [1, 8], ids=["one-initial", "two-initials"])
def test_aioquic_client_initials_give_its_server_name(version: int, alpn_count: int) -> None:
    # Another implementation's keys, packet numbers and padding: the lab's
    # HTTP/3 client. Eight long ALPN ids push its hello over two Initials.
    pytest.importorskip("aioquic")
    from aioquic.quic.configuration import QuicConfiguration
    from aioquic.quic.connection import QuicConnection

    alpn = [f"h3-{'x' * 200}{i}" for i in range(alpn_count)] if alpn_count > 1 else ["h3"]
    config = QuicConfiguration(
        is_client=True,
        alpn_protocols=alpn,
        server_name="kids.example.org",
        original_version=version,
        supported_versions=[version],
    )
    client = QuicConnection(configuration=config)
    client.connect(("192.0.2.1", 443), now=0.0)
    datagrams = [datagram for datagram, _ in client.datagrams_to_send(now=0.0)]
    packets, others, errors = _read_flow(datagrams)
    assert (len(packets), others, errors) == (alpn_count // 8 + 1, 0, 0)
    assert {p.version for p in packets} == {version}
    assert hello_sni(reassemble(f for p in packets for f in p.crypto)) == "kids.example.org"
