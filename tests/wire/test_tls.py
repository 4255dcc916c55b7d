"""copgate.wire.tls: ClientHellos built field by field, RFC 8448 §3, real captures, fuzzing.

What is expected: the server name, ALPN ids and ECH status of a hello; None
for every hello cut short, however it is cut into records; WireError, and
nothing else, for anything that is not a well-framed ClientHello.
"""

from __future__ import annotations

from collections.abc import Callable
from random import Random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from copgate.errors import WireError
from copgate.wire.names import Name
from copgate.wire.question import ClientHello, Ech
from copgate.wire.tls import (
    MAX_CLIENT_HELLO,
    MAX_EMPTY_RECORDS,
    MAX_RECORD,
    HelloRecords,
    is_ech_public_name,
    looks_like_tls,
    read_client_hello_message,
    read_client_hello_records,
)
from tests.conftest import shared_data
from tests.wire.tls_vectors import (
    RFC8448_CLIENT_HELLO,
    alpn_ext,
    chrome_pq_hello,
    client_flows,
    ech_outer_ext,
    esni_ext,
    expected_names,
    ext,
    flow,
    hello,
    length_fields,
    opaque16,
    records,
    sni_ext,
    u8,
    u16,
    u24,
)

NAME = b"www.example.com"
EXAMPLE = Name("www.example.com", True)


def parse(*extensions: bytes) -> ClientHello | None:
    return read_client_hello_records(records(hello(extensions)))


# --- looks_like_tls -----------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "expected"),
    [
        (b"", True),
        (b"\x16", True),
        (b"\x16\x03", True),
        (b"\x16\x03\x00", True),  # SSL 3.0
        (b"\x16\x03\x04\x02\x00", True),
        (b"\x16\x03\x01\x02\x00\x01", True),
        # Other record types are TLS too: a stream of them is no hello, not another protocol.
        (b"\x17", True),  # application data
        (b"\x15\x03\x03", True),  # alert
        (b"\x14\x03\x03", True),  # change_cipher_spec
        (b"\x15\x02", False),
        (b"\x18\x03\x03", False),  # heartbeat: never first
        (b"G", False),  # "GET / HTTP/1.1"
        (b"\x80", False),  # SSLv2-compatible hello (RFC 5246 Appendix E.2)
        # A handshake record whatever its version: Go reads any below 0x1000.
        (b"\x16\x02", True),
        (b"\x16\x03\x05", True),
        (b"\x16\x03\xff", True),
    ],
)
def test_looks_like_tls_decides_on_the_first_bytes(first: bytes, expected: bool) -> None:
    assert looks_like_tls(first) is expected


# --- what is read -------------------------------------------------------------


def test_sni_is_read_and_normalised() -> None:
    assert parse(sni_ext(b"WWW.Example.COM.")) == ClientHello(EXAMPLE, (), Ech.NONE)


def test_a_hello_without_sni_has_none() -> None:
    assert parse(alpn_ext(b"h2")) == ClientHello(None, ("h2",), Ech.NONE)


def test_a_hello_without_extensions_block_is_read() -> None:
    # RFC 5246 §7.4.1.2: a TLS 1.2 hello may stop after compression_methods.
    stream = records(hello(None, version=0x0301))
    assert read_client_hello_records(stream) == ClientHello(None, (), Ech.NONE)


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        ((b"h2", b"http/1.1"), ("h2", "http/1.1")),
        ((b"http/1.1",), ("http/1.1",)),
        ((b"h3", b"spdy/3.1", b"acme-tls/1"), ("h3", "spdy/3.1", "acme-tls/1")),
        ((b"\x0a\x0a", b"h2"), ("\\x0a\\x0a", "h2")),  # GREASE id (RFC 8701), escaped
        ((b"a\\b",), ("a\\\\b",)),
    ],
)
def test_alpn_ids_are_read_in_order_and_escaped(
    ids: tuple[bytes, ...], expected: tuple[str, ...]
) -> None:
    result = parse(sni_ext(NAME), alpn_ext(*ids))
    assert result == ClientHello(EXAMPLE, expected, Ech.NONE)


def test_an_invalid_sni_is_kept_and_marked_invalid() -> None:
    result = parse(sni_ext(b"bad\x00name.example"))
    assert result is not None and result.sni is not None
    assert not result.sni.valid
    assert result.sni.text == "bad\\x00name.example"


def test_an_empty_host_name_is_an_invalid_name_not_an_error() -> None:
    result = parse(sni_ext(b""))
    assert result is not None and result.sni == Name("", False, "empty name")


def test_of_several_host_names_the_first_is_taken() -> None:
    result = parse(sni_ext(b"first.example", b"second.example"))
    assert result is not None and result.sni == Name("first.example", True)


def test_unknown_name_types_are_skipped() -> None:
    entries = u8(7) + opaque16(b"opaque") + u8(0) + opaque16(b"real.example")
    result = parse(ext(0x0000, opaque16(entries)))
    assert result is not None and result.sni == Name("real.example", True)
    only_unknown = parse(ext(0x0000, opaque16(u8(7) + opaque16(b"opaque"))))
    assert only_unknown is not None and only_unknown.sni is None


def test_unknown_extensions_are_skipped() -> None:
    result = parse(ext(0x0A0A, b""), ext(0x1234, bytes(300)), sni_ext(NAME), ext(0xFFFF, b"x"))
    assert result == ClientHello(EXAMPLE, (), Ech.NONE)


# --- ECH and ESNI ---------------------------------------------------------------


def test_ech_with_an_ordinary_sni_is_grease() -> None:
    result = parse(sni_ext(NAME), ech_outer_ext())
    assert result == ClientHello(EXAMPLE, (), Ech.GREASE)


@pytest.mark.parametrize(
    "outer", [b"cloudflare-ech.com", b"CLOUDFLARE-ECH.COM.", b"pop1.cloudflare-ech.com"]
)
def test_ech_with_a_provider_public_name_is_real(outer: bytes) -> None:
    result = parse(sni_ext(outer), alpn_ext(b"h2"), ech_outer_ext())
    assert result is not None and result.ech is Ech.REAL


def test_ech_without_any_outer_sni_is_real() -> None:
    result = parse(ech_outer_ext())
    assert result == ClientHello(None, (), Ech.REAL)


def test_a_name_that_merely_ends_like_a_public_name_is_grease() -> None:
    result = parse(sni_ext(b"notcloudflare-ech.com"), ech_outer_ext())
    assert result is not None and result.ech is Ech.GREASE


def test_an_inner_ech_marker_is_classified_by_the_sni_too() -> None:
    assert parse(sni_ext(NAME), ech_outer_ext(ech_type=1)) == ClientHello(EXAMPLE, (), Ech.GREASE)


def test_esni_is_reported_whatever_else_the_hello_says() -> None:
    assert parse(sni_ext(NAME), esni_ext()) == ClientHello(EXAMPLE, (), Ech.ESNI)
    assert parse(esni_ext()) == ClientHello(None, (), Ech.ESNI)
    assert parse(sni_ext(NAME), ech_outer_ext(), esni_ext()) == ClientHello(EXAMPLE, (), Ech.ESNI)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cloudflare-ech.com", True),
        ("a.b.cloudflare-ech.com", True),
        ("xcloudflare-ech.com", False),
        ("cloudflare-ech.com.evil.example", False),
        ("com", False),
        ("", False),
    ],
)
def test_ech_public_names_match_the_name_and_below(text: str, expected: bool) -> None:
    assert is_ech_public_name(text) is expected


# --- records ------------------------------------------------------------------


MESSAGE = hello([sni_ext(NAME), alpn_ext(b"h2", b"http/1.1"), ech_outer_ext()])
EXPECTED = ClientHello(EXAMPLE, ("h2", "http/1.1"), Ech.GREASE)
SPLITS = {
    "one record": (),
    "two records": (60,),
    "three records": (50, 70),
    "header cut after its type": (1,),
    "header cut in its length": (2, 1),
    "inside the server name": (len(MESSAGE) - 290,),
    "one byte per record": (1,) * len(MESSAGE),
}


@pytest.mark.parametrize("sizes", SPLITS.values(), ids=SPLITS.keys())
def test_a_hello_split_over_records_reads_the_same(sizes: tuple[int, ...]) -> None:
    assert read_client_hello_records(records(MESSAGE, sizes)) == EXPECTED


@pytest.mark.parametrize("sizes", SPLITS.values(), ids=SPLITS.keys())
def test_every_prefix_of_a_valid_hello_is_incomplete(sizes: tuple[int, ...]) -> None:
    stream = records(MESSAGE, sizes)
    for cut in range(len(stream)):
        assert read_client_hello_records(stream[:cut]) is None, cut
    assert read_client_hello_records(stream) == EXPECTED


def test_every_prefix_of_a_handshake_message_is_incomplete() -> None:
    for cut in range(len(MESSAGE)):
        assert read_client_hello_message(MESSAGE[:cut]) is None, cut
    assert read_client_hello_message(MESSAGE) == EXPECTED


def test_bytes_after_the_hello_are_not_looked_at() -> None:
    change_cipher_spec = b"\x14\x03\x03\x00\x01\x01"
    early_data = b"\x17\x03\x03\x00\x05" + bytes(5)
    stream = records(MESSAGE) + change_cipher_spec + early_data
    assert read_client_hello_records(stream) == EXPECTED
    assert read_client_hello_records(records(MESSAGE + b"\x99" * 10)) == EXPECTED
    assert read_client_hello_message(MESSAGE + b"garbage") == EXPECTED


# --- RFC 8448 -------------------------------------------------------------------


def test_rfc8448_simple_1rtt_client_hello() -> None:
    # RFC 8448 §3: the ClientHello names "server" and offers no ALPN.
    expected = ClientHello(Name("server", True), (), Ech.NONE)
    assert read_client_hello_message(RFC8448_CLIENT_HELLO) == expected
    # ... and the record RFC 8448 §3 shows it sent in: 16 03 01 00 c4.
    record = bytes.fromhex("16 0301 00c4") + RFC8448_CLIENT_HELLO
    assert read_client_hello_records(record) == expected


# --- refused ------------------------------------------------------------------

GOOD = records(MESSAGE)
CHANGE_CIPHER_SPEC = b"\x14\x03\x03\x00\x01\x01"


def message_with(
    extensions: list[bytes] | None = None,
    trailer: bytes = b"",
    *,
    version: int = 0x0303,
    session_id: bytes = bytes(32),
    suites: bytes = b"\x13\x01\x13\x02",
    compressions: bytes = b"\x00",
) -> bytes:
    """A hello message with one field set as given and ``trailer`` after its fields."""
    message = hello(
        [sni_ext(NAME)] if extensions is None else extensions,
        version=version,
        session_id=session_id,
        suites=suites,
        compressions=compressions,
    )
    message += trailer
    return u8(1) + u24(len(message) - 4) + message[4:]


# Faults of the handshake message itself: refused with or without records.
BAD_MESSAGES = {
    "a ServerHello": hello([sni_ext(NAME)], msg_type=2),
    "a hello over the limit, on its header alone": u8(1) + u24(MAX_CLIENT_HELLO + 1),
    "a hello that ends inside its random": u8(1) + u24(20) + bytes(20),
    "a hello that ends inside its session id": u8(1) + u24(40) + hello([])[4:44],
    "a hello that ends inside its cipher suites": u8(1) + u24(72) + hello([])[4:76],
    "a hello that ends inside its compression methods": u8(1) + u24(76) + hello([])[4:80],
    "legacy_version 2.0": message_with(version=0x0200),
    "a 33-byte session id": message_with(session_id=bytes(33)),
    "an odd cipher_suites length": message_with(suites=b"\x13\x01\x13"),
    "no cipher suites": message_with(suites=b""),
    "no compression methods": message_with(compressions=b""),
    "compression methods running past the hello": hello(None)[:-2] + b"\x05\x00",
    "a byte after the extensions": message_with(trailer=b"\x00"),
    "an extension running past the hello": message_with([ext(0x17, b"")[:2] + u16(100)]),
    "a cut extension header": message_with([sni_ext(NAME) + b"\x00\x17"]),
    "a duplicate server_name": message_with([sni_ext(NAME), sni_ext(b"other.example")]),
    "a duplicate unread extension": message_with([ext(0x17, b""), sni_ext(NAME), ext(0x17, b"")]),
    "an empty server_name extension": message_with([ext(0x0000, b"")]),
    "an empty server_name list": message_with([ext(0x0000, u16(0))]),
    "a server_name list shorter than its extension": message_with(
        [ext(0x0000, opaque16(u8(0) + opaque16(NAME)) + b"\x00")]
    ),
    "a host name running past its list": message_with(
        [ext(0x0000, opaque16(u8(0) + u16(len(NAME) + 1) + NAME))]
    ),
    "a cut ServerName entry": message_with(
        [ext(0x0000, opaque16(u8(0) + opaque16(NAME) + b"\x00"))]
    ),
    "an empty ALPN list": message_with([ext(0x0010, u16(0))]),
    "an empty ALPN id": message_with([ext(0x0010, opaque16(b"\x02h2\x00"))]),
    "an ALPN id running past its list": message_with([ext(0x0010, opaque16(b"\x02h2\x05h"))]),
    "an empty ECH extension": message_with([ext(0xFE0D, b"")]),
    "an unknown ECH type": message_with([ech_outer_ext(ech_type=7)]),
    "an empty ECH payload": message_with([ech_outer_ext(payload=0)]),
    "a byte after the ECH payload": message_with([ext(0xFE0D, ech_outer_ext()[4:] + b"\x00")]),
    "an inner ECH marker with a body": message_with([ext(0xFE0D, b"\x01\x00")]),
    "an ECH enc running past its extension": message_with([ext(0xFE0D, ech_outer_ext()[4:40])]),
}

EMPTY_RECORD = b"\x16\x03\x01\x00\x00"

# Record layers OpenSSL reads a hello from (the lab's nginx serves each, in
# tests/lab/test_evasion_tcp.py): copgate reads the same hello from them.
SERVER_READ_RECORD_LAYERS = {
    "record version 3.0": b"\x16\x03\x00" + GOOD[3:],
    "record version 3.5": b"\x16\x03\x05" + GOOD[3:],
    "record version 3.255": b"\x16\x03\xff" + GOOD[3:],
    "an empty record first": EMPTY_RECORD + GOOD,
    "as many empty records as OpenSSL skips": EMPTY_RECORD * MAX_EMPTY_RECORDS + GOOD,
    "an empty record between fragments": records(MESSAGE, (60,))[:65]
    + EMPTY_RECORD
    + records(MESSAGE, (60,))[65:],
    "1-byte records": records(MESSAGE, (1,) * (len(MESSAGE) - 1)),
}


@pytest.mark.parametrize(
    "stream", SERVER_READ_RECORD_LAYERS.values(), ids=SERVER_READ_RECORD_LAYERS.keys()
)
def test_records_a_server_reads_give_the_hello(stream: bytes) -> None:
    expected = read_client_hello_records(GOOD)
    assert expected is not None and expected.sni is not None
    assert read_client_hello_records(stream) == expected
    growing = HelloRecords()
    results = [growing.read(stream[:end]) for end in range(1, len(stream) + 1)]
    assert results[-1] == expected
    assert all(r is None for r in results[:-1])


# Faults of the record layer, and streams that are not TLS at all.
BAD_RECORD_LAYERS = {
    "an alert first": b"\x15\x03\x03\x00\x02\x02\x28",
    "a ChangeCipherSpec first": CHANGE_CIPHER_SPEC + GOOD,
    "application data": b"\x17\x03\x03\x00\x10" + bytes(16),
    "plain HTTP": b"GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n",
    "an SSLv2 hello": b"\x80\x2e\x01\x03\x01\x00\x15",
    "record version 2.0": b"\x16\x02\x00" + GOOD[3:],
    "a ChangeCipherSpec between fragments": GOOD[:5]
    + records(MESSAGE, (60,))[5:65]
    + CHANGE_CIPHER_SPEC
    + records(MESSAGE, (60,))[65:],
    "a second record of application data": records(MESSAGE, (60,))[:65]
    + b"\x17"
    + records(MESSAGE, (60,))[66:],
    "a ServerHello, seen on its first byte": b"\x16\x03\x03\x00\x50\x02",
    "more empty records than OpenSSL skips": EMPTY_RECORD * (MAX_EMPTY_RECORDS + 1) + GOOD,
    "a record over 2^14, on its header alone": b"\x16\x03\x01" + u16(MAX_RECORD + 1),
}


@pytest.mark.parametrize(
    "stream",
    [*BAD_RECORD_LAYERS.values(), *(records(m) for m in BAD_MESSAGES.values())],
    ids=[*BAD_RECORD_LAYERS, *BAD_MESSAGES],
)
def test_malformed_streams_are_wire_errors(stream: bytes) -> None:
    with pytest.raises(WireError):
        read_client_hello_records(stream)


@pytest.mark.parametrize("message", BAD_MESSAGES.values(), ids=BAD_MESSAGES.keys())
def test_malformed_messages_are_wire_errors_without_records_too(message: bytes) -> None:
    with pytest.raises(WireError):
        read_client_hello_message(message)


def test_a_record_header_is_not_a_handshake_message() -> None:
    with pytest.raises(WireError):
        read_client_hello_message(GOOD)


def padded_hello(body_size: int) -> bytes:
    """A hello whose body is exactly ``body_size`` bytes, filled by a padding extension."""
    bare = len(hello([ext(0x0015, b"")])) - 4
    return hello([ext(0x0015, bytes(body_size - bare))])


def test_a_hello_at_the_limit_is_read_and_one_byte_more_is_refused() -> None:
    at_limit = padded_hello(MAX_CLIENT_HELLO)
    assert len(at_limit) == 4 + MAX_CLIENT_HELLO
    sizes = (MAX_RECORD,) * 4
    assert read_client_hello_records(records(at_limit, sizes)) == ClientHello(None, (), Ech.NONE)
    assert read_client_hello_message(at_limit) == ClientHello(None, (), Ech.NONE)
    over = padded_hello(MAX_CLIENT_HELLO + 1)
    with pytest.raises(WireError):
        read_client_hello_records(records(over, sizes))
    with pytest.raises(WireError):
        read_client_hello_message(over[:4])  # refused on its header alone


# --- real captures ----------------------------------------------------------------

# Each capture's flows named in expected.tsv, and the ECH status their hellos carry.
REAL_CAPTURES = {
    "chrome.pcap": Ech.NONE,
    "firefox.pcap": Ech.NONE,
    "safari.pcap": Ech.NONE,
    "443-curl.pcap": Ech.NONE,
    "tls_ech.pcapng": Ech.GREASE,
    "tls_esni_sni_both.pcap": Ech.ESNI,
    "tls_2_reasms.pcapng": Ech.NONE,
    "tls_2_reasms_b.pcapng": Ech.NONE,
}
HUGE = "tls_with_huge_ch.pcapng"


@pytest.mark.shared_data
@pytest.mark.parametrize(("pcap", "ech"), REAL_CAPTURES.items(), ids=REAL_CAPTURES.keys())
def test_real_hellos_name_what_expected_tsv_says(pcap: str, ech: Ech) -> None:
    path = shared_data(f"captures/{pcap}")
    rows = expected_names(shared_data("captures/expected.tsv"), pcap)
    assert rows, f"expected.tsv names no flow of {pcap}"
    first = client_flows(path)[0]
    assert any({first.client, first.server} == {a, b} for a, b, _ in rows)
    for a, b, host in rows:
        result = read_client_hello_records(flow(path, a, b).stream)
        assert result is not None, (a, b)
        assert result.sni == Name(host, True)
        assert result.ech is ech


@pytest.mark.shared_data
def test_the_11_kb_hello_spans_twelve_segments_and_names_no_server() -> None:
    stream = client_flows(shared_data(f"captures/{HUGE}"))[0].stream
    assert stream[:6] == bytes.fromhex("16 0301 2c9a 01")  # one 11418-byte record
    result = read_client_hello_records(stream)
    # The bulk is a padding extension (RFC 7685); the client sent no server_name.
    assert result == ClientHello(None, ("h2", "http/1.1"), Ech.NONE)


@pytest.mark.shared_data
@pytest.mark.parametrize("pcap", [*REAL_CAPTURES, HUGE])
def test_real_hellos_are_incomplete_until_their_last_segment(pcap: str) -> None:
    for client_flow in client_flows(shared_data(f"captures/{pcap}")):
        full = client_flow.stream
        if full[:1] != b"\x16":
            continue
        expected = read_client_hello_records(full)
        hello_end = 5 + int.from_bytes(full[3:5], "big")
        received: dict[int, bytes] = {}
        for offset, payload in client_flow.segments:
            received.setdefault(offset, payload)
            prefix = _contiguous(received)
            result = read_client_hello_records(prefix)
            assert result == (expected if len(prefix) >= hello_end else None)


def _contiguous(pieces: dict[int, bytes]) -> bytes:
    out = bytearray()
    for offset in sorted(pieces):
        if offset > len(out):
            break
        out += pieces[offset][len(out) - offset :]
    return bytes(out)


@pytest.fixture(scope="module")
def real_hellos() -> list[bytes]:
    """Every distinct hello record of the captures, cut at the record's end."""
    hellos: set[bytes] = set()
    for pcap in [*REAL_CAPTURES, HUGE]:
        for client_flow in client_flows(shared_data(f"captures/{pcap}")):
            stream = client_flow.stream
            if stream[:1] == b"\x16" and read_client_hello_records(stream) is not None:
                hellos.add(stream[: 5 + int.from_bytes(stream[3:5], "big")])
    return sorted(hellos, key=len)


@pytest.mark.shared_data
def test_every_truncation_of_every_real_hello_is_incomplete(real_hellos: list[bytes]) -> None:
    assert len(real_hellos) >= 20
    for stream in real_hellos:
        message = stream[5:]
        for cut in range(len(stream)):
            assert read_client_hello_records(stream[:cut]) is None, cut
        for cut in range(len(message)):
            assert read_client_hello_message(message[:cut]) is None, cut


# --- properties -------------------------------------------------------------------
#
# Hypothesis draws one integer per example, and a random.Random seeded with
# it makes every choice (which hello, how to cut it, what to break). Drawing
# each choice through Hypothesis costs about 0.3 ms a draw on this machine,
# which would put 40,000 examples well past a minute; a failure still prints
# the integer that reproduces it.

BUILT = [
    records(MESSAGE),
    records(chrome_pq_hello()),
    records(hello([sni_ext(b"cloudflare-ech.com"), ech_outer_ext(payload=400)])),
    records(hello([ext(0x0A0A, b""), sni_ext(NAME), esni_ext(), alpn_ext(b"h3")])),
    records(hello([sni_ext(b"a.example", b"b.example"), alpn_ext(b"\x00\xff", b"x")])),
    bytes.fromhex("16 0301 00c4") + RFC8448_CLIENT_HELLO,
]
# Each property runs at least 20,000 examples in all: real and built hellos.
REAL_EXAMPLES = 12_000
BUILT_EXAMPLES = 8_000
SEEDS = st.integers(0, (1 << 64) - 1)


def _settings(examples: int) -> Callable[[Callable[..., None]], Callable[..., None]]:
    return settings(max_examples=examples, deadline=None)


def resplit(seed: bytes, rnd: Random) -> bytes:
    """A one-record hello cut into up to six records of random sizes."""
    top = max(1, len(seed) // 2)
    return records(seed[5:], [rnd.randint(1, top) for _ in range(rnd.randint(0, 5))])


def check_truncation(seeds: list[bytes], number: int) -> None:
    """A hello cut into any records and cut short anywhere is incomplete, never an error."""
    rnd = Random(number)
    seed = rnd.choice(seeds)
    stream = resplit(seed, rnd)
    assert read_client_hello_records(stream[: rnd.randrange(len(stream))]) is None
    assert read_client_hello_message(seed[5 : 5 + rnd.randrange(len(seed) - 5)]) is None
    assert read_client_hello_records(stream) == read_client_hello_records(seed)


@pytest.mark.shared_data
@_settings(REAL_EXAMPLES)
@given(number=SEEDS)
def test_property_real_hellos_cut_anywhere_in_any_records_are_incomplete(
    real_hellos: list[bytes], number: int
) -> None:
    check_truncation(real_hellos, number)


@_settings(BUILT_EXAMPLES)
@given(number=SEEDS)
def test_property_built_hellos_cut_anywhere_in_any_records_are_incomplete(number: int) -> None:
    check_truncation(BUILT, number)


def mutate(seed: bytes, rnd: Random) -> bytes:
    """``seed`` with one to three bit flips, insertions, deletions or extreme length fields."""
    stream = bytearray(seed)
    fields = length_fields(seed)
    for _ in range(rnd.randint(1, 3)):
        kind = rnd.choice(("flip", "insert", "delete", "length", "length"))
        at = rnd.randrange(len(stream) + 1)
        if kind == "flip" and at < len(stream):
            stream[at] ^= 1 << rnd.randrange(8)
        elif kind == "insert":
            stream[at:at] = rnd.randbytes(rnd.randint(1, 8))
        elif kind == "delete":
            del stream[at : at + rnd.randint(1, 16)]
        elif kind == "length":
            offset, size = rnd.choice(fields)
            top = (1 << (8 * size)) - 1
            old = int.from_bytes(stream[offset : offset + size], "big")
            extremes = (0, 1, top, top - 1, (old + 1) & top, (old - 1) & top)
            value = rnd.choice(extremes) if rnd.random() < 0.8 else rnd.randint(0, top)
            stream[offset : offset + size] = value.to_bytes(size, "big")
    return bytes(stream)


def check_mutant(seeds: list[bytes], number: int) -> None:
    """A mutated hello, with and without its record layer, gives a result or a WireError."""
    rnd = Random(number)
    stream = mutate(rnd.choice(seeds), rnd)
    for parse_one, data in (
        (read_client_hello_records, stream),
        (read_client_hello_message, stream[5:]),
    ):
        try:
            result = parse_one(data)
        except WireError:
            continue
        assert result is None or isinstance(result, ClientHello)


@pytest.mark.shared_data
@_settings(REAL_EXAMPLES)
@given(number=SEEDS)
def test_property_mutated_real_hellos_raise_nothing_but_wire_errors(
    real_hellos: list[bytes], number: int
) -> None:
    check_mutant(real_hellos, number)


@_settings(BUILT_EXAMPLES)
@given(number=SEEDS)
def test_property_mutated_built_hellos_raise_nothing_but_wire_errors(number: int) -> None:
    check_mutant(BUILT, number)
