"""The TLS ClientHello: which server a client names, which protocols it offers, and ECH.

Two ways in. ``read_client_hello_records`` reads the start of a client's TCP
byte stream: TLS records (RFC 8446 §5.1) whose handshake fragments are joined
until the whole ClientHello is there, however many records it was cut into
(browsers split 11 KB hellos, and bypass tools split small hellos on purpose).
``read_client_hello_message`` reads handshake-layer bytes with no records, as
QUIC carries them in CRYPTO frames (RFC 9001 §4).

Three outcomes: a ``ClientHello``; None when the bytes stop before the hello
ends (a valid hello cut anywhere is None, never an error); or ``WireError``
when the bytes cannot be the start of a ClientHello. A check is made as soon
as the bytes it needs are there, so garbage is refused on its first bytes.

What is read: the server_name (RFC 6066 §3), ALPN (RFC 7301) and whether the
name is hidden by ECH or ESNI. The rest of the hello is checked only as far
as framing: every length must fit inside its parent, and an extension type
may occur once (RFC 8446 §4.2).

This module never decrypts, never keeps state between calls, never looks at
the bytes after the ClientHello, and never raises anything but ``WireError``.

Why not ``Reader``: this runs for every TLS packet of an undecided flow, and
on the target machine a Reader call costs about 0.35 µs and a ``block()``
2.5 µs, which put a 517-byte hello at 18 µs against a budget of 15 µs for
the whole packet. So the hello is read by index, with each length checked
against its parent's end before it is used, raising the Reader's own
``Truncated``; the fuzz tests prove that nothing but WireError escapes.

ECH heuristic. GREASE ECH (a client with no ECH key sends a random
encrypted_client_hello extension, draft-ietf-tls-esni §6.2) and real ECH look
the same on the wire; what differs is the outer SNI. With real ECH it is the
provider's public name from the ECHConfig (RFC 9460 ``ech`` parameter), shared
by every site behind the provider; with GREASE it is the real name. So: an ECH
extension with an outer SNI equal to or below one of ``ECH_PUBLIC_NAMES`` is
``Ech.REAL``, with no outer SNI at all also ``Ech.REAL``, otherwise
``Ech.GREASE``. Limits: a provider missing from ``ECH_PUBLIC_NAMES`` makes
real ECH pass as GREASE, and policy then judges the provider's public name
rather than the hidden site (add the name to the set); a client that visits
the public name itself with GREASE ECH is reported REAL, which only costs
that one odd flow.
"""

from __future__ import annotations

from struct import Struct

from copgate.errors import WireError
from copgate.wire.names import Name, escape, name_from_bytes
from copgate.wire.question import ClientHello, Ech
from copgate.wire.reader import Truncated

CONTENT_HANDSHAKE = 22  # RFC 8446 §5.1 ContentType.handshake
CLIENT_HELLO = 1  # RFC 8446 §4 HandshakeType.client_hello
RECORD_HEADER = 5  # RFC 8446 §5.1: type, legacy_record_version, length
HANDSHAKE_HEADER = 4  # RFC 8446 §4: msg_type, uint24 length
MAX_RECORD = 1 << 14  # RFC 8446 §5.1: TLSPlaintext.length MUST NOT exceed 2^14
RECORD_MAJOR = 3  # SSL 3.0 (0x0300) to TLS 1.3 (0x0304), and any 3.x a server takes
TLS_CONTENT_TYPES = frozenset({20, 21, 22, 23})  # RFC 8446 §5.1: ccs, alert, handshake, data

MAX_EMPTY_RECORDS = 32
"""Empty handshake records skipped before a hello is refused.

RFC 8446 §5.1 forbids zero-length handshake fragments, but OpenSSL
(``MAX_EMPTY_RECORDS``) and BoringSSL (``kMaxEmptyRecords``) skip up to 32
in a row and read the hello after them (Go refuses the first). copgate
skips them too, so it reads the hello those servers read; past 32 (in all,
stricter than their "in a row") the stream is not a hello.
"""

MAX_CLIENT_HELLO = 1 << 16
"""Largest ClientHello body accepted, in bytes (the protocol allows 16 MiB).

Go's crypto/tls refuses any handshake message over 65536 bytes
(``maxHandshake``), so a bigger hello cannot reach a Go server; OpenSSL's cap
is 131396, the most the ClientHello fields can add up to. Real hellos stay far
below: an 11 KB one is the largest in the captures, post-quantum browser
hellos are 1.7 to 2.3 KB. The bound keeps a hostile client from making the
gateway buffer megabytes per flow.
"""

MAX_SESSION_ID = 32  # RFC 8446 §4.1.2 legacy_session_id<0..32>

EXT_SERVER_NAME = 0x0000  # RFC 6066 §3
EXT_ALPN = 0x0010  # RFC 7301 §3.1
EXT_ECH = 0xFE0D  # draft-ietf-tls-esni-13 and later §5 encrypted_client_hello
EXT_ESNI = 0xFFCE  # draft-ietf-tls-esni-01 to -06 encrypted_server_name
NAME_TYPE_HOST_NAME = 0  # RFC 6066 §3 NameType.host_name
ECH_OUTER = 0  # draft-ietf-tls-esni §5 ECHClientHelloType.outer
ECH_INNER = 1  # ... .inner: only ever inside the encrypted payload

ECH_PUBLIC_NAMES: frozenset[str] = frozenset(
    {
        # Cloudflare: the one public name shared by every ECH site it serves
        # (developers.cloudflare.com/ssl/edge-certificates/ech/).
        "cloudflare-ech.com",
    }
)
"""ECH providers' public names: an outer SNI equal to or below one is real ECH."""

_RECORD = Struct(">BBBH")  # RFC 8446 §5.1: type, legacy_record_version, length
_U32 = Struct(">I")  # RFC 8446 §4: msg_type and uint24 length in one word
_EXT_HEADER = Struct(">HH")  # RFC 8446 §4.2: extension_type, extension_data length

# What most hellos offer, whole ALPN extension bodies (RFC 7301 §3.1) as
# browsers and curl send them: one dict lookup instead of a parse per packet.
_COMMON_ALPN: dict[bytes, tuple[str, ...]] = {
    b"\x00\x0c\x02h2\x08http/1.1": ("h2", "http/1.1"),
    b"\x00\x03\x02h2": ("h2",),
    b"\x00\x09\x08http/1.1": ("http/1.1",),
    b"\x00\x03\x02h3": ("h3",),
}
# The ids most often seen, already printable: a lookup instead of escape().
_KNOWN_ALPN: dict[bytes, str] = {
    raw: raw.decode("ascii") for raw in (b"h2", b"http/1.1", b"h3", b"http/1.0", b"spdy/3.1")
}


def looks_like_tls(first: bytes | bytearray) -> bool:
    """True when a stream's first bytes could start a TLS record.

    Decides on as few bytes as given. A handshake record (0x16) is TLS
    whatever its version bytes: a server may read versions copgate does
    not (Go takes any record version below 0x1000 on a first flight), so
    such a stream is a hello copgate cannot read, never "another
    protocol". Another record type (ChangeCipherSpec, alert, application
    data) is TLS when its version's major byte is 3. Empty input is True
    (nothing rules it out). SSLv2-compatible hellos (RFC 5246 Appendix
    E.2) are not TLS records and say False.
    """
    n = len(first)
    if n == 0 or first[0] == CONTENT_HANDSHAKE:
        return True
    return first[0] in TLS_CONTENT_TYPES and (n < 2 or first[1] == RECORD_MAJOR)


def read_client_hello_records(stream: bytes) -> ClientHello | None:
    """Parse a ClientHello from the start of a client's TCP byte stream.

    The handshake message may span several records. None: need more bytes.
    WireError: not a TLS ClientHello, or malformed. Bytes after the record that
    completes the hello (ChangeCipherSpec, early data) are not looked at.
    """
    fragments: list[bytes] = []
    have = 0
    need: int | None = None  # header plus body, once the handshake header is in
    pos = 0
    total = len(stream)
    empty = 0
    while True:
        length = _record_length(stream, pos)
        if length is None:
            return None
        if not length:
            empty = _skip_empty(empty, pos)
            pos += RECORD_HEADER
            continue
        start = pos + RECORD_HEADER
        pos = start + length
        if not fragments:
            # Nearly every hello fits its first record: parse it in place.
            end = pos if pos < total else total
            need = _handshake_length(stream, start, end)
            if need is not None and start + need <= end:
                return _read_body(stream, start + HANDSHAKE_HEADER, start + need)
        fragment = stream[start:pos]
        fragments.append(fragment)
        have += len(fragment)
        if need is None:
            need = _handshake_length(b"".join(fragments), 0, have)
        if need is not None and have >= need:
            return _read_body(b"".join(fragments), HANDSHAKE_HEADER, need)
        if pos > total:
            return None


class HelloRecords:
    """``read_client_hello_records`` for a stream that grows: each byte is looked at once.

    Fed the same growing buffer again and again (the contiguous prefix of a
    client's stream), it remembers where the next record header is and which
    record bodies hold handshake bytes, so a hello sent a byte at a time costs
    a record-header read per record, not a re-parse of the prefix per byte.
    The body is parsed once, when it is whole. Same three outcomes.
    """

    __slots__ = ("_bodies", "_empty", "_have", "_need", "_next", "end")

    def __init__(self) -> None:
        self._next = 0
        """Offset of the next record header not read yet."""
        self._bodies: list[tuple[int, int]] = []
        """Start and end offsets of the record bodies read so far (the last may be cut)."""
        self._have = 0
        """Handshake bytes in the bodies before the last one."""
        self._need: int | None = None
        """Header plus body length of the hello, once its header is in."""
        self._empty = 0
        """Empty handshake records skipped so far (``MAX_EMPTY_RECORDS``)."""
        self.end = 0
        """Offset just past the record that completed the hello, once ``read`` found it."""

    def read(self, stream: bytes | bytearray) -> ClientHello | None:
        """The hello at the start of ``stream`` (which only ever grows), or None for more."""
        total = len(stream)
        bodies = self._bodies
        while True:
            if bodies:
                start, stop = bodies[-1]
                available = self._have + min(stop, total) - start
                if self._need is None:
                    self._need = self._header(stream, available)
                if self._need is not None and available >= self._need:
                    return self._complete(stream, self._need)
                if stop > total:
                    return None
            length = _record_length(stream, self._next)
            if length is None:
                return None
            if not length:
                self._empty = _skip_empty(self._empty, self._next)
                self._next += RECORD_HEADER
                continue
            if bodies:
                start, stop = bodies[-1]
                self._have += stop - start
            start = self._next + RECORD_HEADER
            self._next = start + length
            bodies.append((start, self._next))

    def copy(self) -> HelloRecords:
        """A copy that reads on independently."""
        out = HelloRecords()
        out._next, out._bodies, out._have = self._next, list(self._bodies), self._have
        out._need, out.end, out._empty = self._need, self.end, self._empty
        return out

    def _header(self, stream: bytes | bytearray, available: int) -> int | None:
        """The hello's length from its first handshake bytes, however the records cut them."""
        first = b""
        for a, b in self._bodies:
            first += stream[a : min(b, a + HANDSHAKE_HEADER - len(first))]
            if len(first) >= HANDSHAKE_HEADER:
                break
        return _handshake_length(bytes(first), 0, min(available, len(first)))

    def _complete(self, stream: bytes | bytearray, need: int) -> ClientHello:
        bodies = self._bodies
        self.end = bodies[-1][1]
        if len(bodies) == 1:  # nearly every hello fits its first record
            start = bodies[0][0]
            return _read_body(bytes(stream[start : start + need]), HANDSHAKE_HEADER, need)
        joined = b"".join(bytes(stream[a:b]) for a, b in bodies)[:need]
        return _read_body(joined, HANDSHAKE_HEADER, need)


def read_client_hello_message(handshake: bytes) -> ClientHello | None:
    """The same from handshake-layer bytes with no record layer (QUIC CRYPTO, RFC 9001 §4).

    Bytes after the ClientHello are not looked at.
    """
    need = _handshake_length(handshake, 0, len(handshake))
    if need is None or need > len(handshake):
        return None
    return _read_body(handshake, HANDSHAKE_HEADER, need)


def _record_length(stream: bytes | bytearray, pos: int) -> int | None:
    """The length of the handshake record at ``pos``, or None if its header is cut short.

    Raises WireError on the first byte that rules out a handshake record a
    server reads. OpenSSL and BoringSSL take any 3.x record version on the
    first flight (the version is fixed only by the ServerHello), Go any
    below 0x1000: copgate reads 3.x, the versions all three read; any
    other is no hello a browser sends, and an error here.
    """
    if len(stream) - pos < RECORD_HEADER:
        if pos < len(stream) and stream[pos] != CONTENT_HANDSHAKE:
            raise WireError(f"content type {stream[pos]} where a handshake record was expected")
        if len(stream) - pos >= 2 and stream[pos + 1] != RECORD_MAJOR:
            raise WireError(f"record version {stream[pos + 1]}.x at offset {pos}")
        return None
    content_type, major, minor, length = _RECORD.unpack_from(stream, pos)
    if content_type != CONTENT_HANDSHAKE:
        # Only the hello may come first: a ChangeCipherSpec or an alert is refused.
        raise WireError(f"content type {content_type} where a handshake record was expected")
    if major != RECORD_MAJOR:
        raise WireError(f"record version {major}.{minor} at offset {pos}")
    if length > MAX_RECORD:
        raise WireError(f"a {length}-byte record passes the {MAX_RECORD}-byte limit")
    return int(length)


def _skip_empty(empty: int, pos: int) -> int:
    """One more empty handshake record skipped; WireError past ``MAX_EMPTY_RECORDS``."""
    if empty >= MAX_EMPTY_RECORDS:
        raise WireError(f"more than {MAX_EMPTY_RECORDS} empty handshake records (at {pos})")
    return empty + 1


def _handshake_length(data: bytes, start: int, end: int) -> int | None:
    """Header plus body length of the handshake message at ``start``, or None if cut short.

    Raises WireError as soon as the type byte is not client_hello or the
    length passes MAX_CLIENT_HELLO.
    """
    if end - start < HANDSHAKE_HEADER:
        if end > start and data[start] != CLIENT_HELLO:
            raise WireError(f"handshake type {data[start]} where a ClientHello (1) was expected")
        return None
    word = int(_U32.unpack_from(data, start)[0])
    if word >> 24 != CLIENT_HELLO:
        raise WireError(f"handshake type {word >> 24} where a ClientHello (1) was expected")
    length = word & 0xFFFFFF
    if length > MAX_CLIENT_HELLO:
        raise WireError(f"a {length}-byte ClientHello passes the {MAX_CLIENT_HELLO}-byte limit")
    return HANDSHAKE_HEADER + length


def _read_body(data: bytes, start: int, end: int) -> ClientHello:
    """The ClientHello body in ``data[start:end]`` (RFC 8446 §4.1.2), complete.

    The message is whole, so running out of bytes inside it is malformed, not
    incomplete: ``Truncated``, a WireError.
    """
    pos = start + 2 + 32  # legacy_version, random
    if pos >= end:
        raise Truncated(f"a {end - start}-byte ClientHello ends before its legacy_session_id")
    if data[start] != RECORD_MAJOR:
        raise WireError("ClientHello legacy_version is not 3.x")
    session_id = data[pos]
    if session_id > MAX_SESSION_ID:
        raise WireError(f"a {session_id}-byte legacy_session_id (at most {MAX_SESSION_ID})")
    pos += 1 + session_id
    suites = _u16(data, pos, end)
    if suites == 0 or suites % 2:
        raise WireError(f"cipher_suites of {suites} bytes: not a non-empty list of pairs")
    pos += 2 + suites
    if pos >= end:
        raise Truncated("the ClientHello ends before legacy_compression_methods")
    compressions = data[pos]
    if compressions == 0:
        raise WireError("empty legacy_compression_methods")
    pos += 1 + compressions
    if pos >= end:
        if pos > end:
            raise Truncated("legacy_compression_methods run past the ClientHello")
        # RFC 5246 §7.4.1.2: a TLS 1.2 hello may end here, with no extensions.
        return ClientHello(None, (), Ech.NONE)
    _exact(data, pos, end, "extensions")
    return _read_extensions(data, pos + 2, end)


def _read_extensions(data: bytes, pos: int, end: int) -> ClientHello:
    """Walk the extensions in ``data[pos:end]`` (RFC 8446 §4.2), reading the few copgate needs.

    This loop runs 15 to 20 times per hello, so it does the least it can: it
    notes where each extension's data starts, then reads the wanted ones.
    An extension that runs past ``end``, or a header cut by it, leaves ``pos``
    off ``end`` and ends the loop, so one check after the loop covers them
    all; duplicates show as fewer distinct types than extensions.
    """
    starts: dict[int, int] = {}
    count = 0
    unpack = _EXT_HEADER.unpack_from
    while pos + 4 <= end:
        ext_type, length = unpack(data, pos)
        pos += 4
        starts[ext_type] = pos
        pos += length
        count += 1
    if pos != end:
        raise Truncated(f"the extensions end {pos - end:+} bytes off the end of the hello")
    if len(starts) != count:
        raise WireError("an extension type occurs twice (RFC 8446 §4.2)")
    sni: Name | None = None
    alpn: tuple[str, ...] = ()
    ech = Ech.NONE
    at = starts.get(EXT_SERVER_NAME)
    if at is not None:
        sni = _read_server_name(data, at, _data_end(data, at))
    at = starts.get(EXT_ALPN)
    if at is not None:
        alpn = _read_alpn(data, at, _data_end(data, at))
    at = starts.get(EXT_ECH)
    if at is not None:
        _check_ech(data, at, _data_end(data, at))
        ech = Ech.REAL if sni is None or is_ech_public_name(sni.text) else Ech.GREASE
    if EXT_ESNI in starts:
        # Drafts -01 to -06 changed its layout; its presence is what matters.
        ech = Ech.ESNI
    return ClientHello(sni, alpn, ech)


def _data_end(data: bytes, start: int) -> int:
    """Where the data of the extension starting at ``start`` ends (its length sits before it)."""
    return start + ((data[start - 2] << 8) | data[start - 1])


def _read_server_name(data: bytes, pos: int, end: int) -> Name | None:
    """The first host_name of the ServerNameList in ``data[pos:end]`` (RFC 6066 §3).

    RFC 6066 allows one name per type; OpenSSL and Go refuse a list with two
    host_names, so a server that accepts the hello sees the first, and so does
    copgate. Other name types (none defined) start with a 16-bit length, as
    RFC 6066 requires of future types, and are skipped.
    """
    _exact(data, pos, end, "server_name")
    if end - pos >= 5 and data[pos + 2] == NAME_TYPE_HOST_NAME:
        size = (data[pos + 3] << 8) | data[pos + 4]
        if pos + 5 + size == end:  # the one entry every client sends
            return name_from_bytes(data[pos + 5 : end])
    pos += 2
    if pos == end:
        raise WireError("an empty server_name list")
    first: Name | None = None
    while pos < end:
        if end - pos < 3:
            raise Truncated(f"a ServerName entry cut at offset {pos}")
        name_type = data[pos]
        size = (data[pos + 1] << 8) | data[pos + 2]
        pos += 3
        if pos + size > end:
            raise Truncated(f"a {size}-byte server name runs past its list")
        if name_type == NAME_TYPE_HOST_NAME and first is None:
            first = name_from_bytes(data[pos : pos + size])
        pos += size
    return first


def _read_alpn(data: bytes, pos: int, end: int) -> tuple[str, ...]:
    """The protocol ids of the ProtocolNameList in ``data[pos:end]`` (RFC 7301 §3.1), escaped."""
    common = _COMMON_ALPN.get(data[pos:end])
    if common is not None:
        return common
    _exact(data, pos, end, "application_layer_protocol_negotiation")
    pos += 2
    if pos == end:
        raise WireError("an empty ALPN protocol list (RFC 7301 §3.1)")
    ids: list[str] = []
    while pos < end:
        size = data[pos]
        pos += 1
        if size == 0:
            raise WireError("an empty ALPN protocol id (RFC 7301 §3.1)")
        if pos + size > end:
            raise Truncated(f"a {size}-byte ALPN protocol id runs past its list")
        raw = data[pos : pos + size]
        ids.append(_KNOWN_ALPN.get(raw) or escape(raw))
        pos += size
    return tuple(ids)


def _check_ech(data: bytes, pos: int, end: int) -> None:
    """Check the framing of the ECHClientHello in ``data[pos:end]`` (draft-ietf-tls-esni §5).

    An outer hello carries type 0 with cipher suite, config id, enc and
    payload; type 1 (inner) is empty and only expected inside the encrypted
    payload. Neither says whether the payload is GREASE: that is the SNI's job.
    """
    if pos >= end:
        raise Truncated("an empty encrypted_client_hello extension")
    ech_type = data[pos]
    pos += 1
    if ech_type == ECH_OUTER:
        pos += 4 + 1  # HpkeSymmetricCipherSuite (kdf_id, aead_id), config_id
        pos += 2 + _u16(data, pos, end)  # enc
        payload = _u16(data, pos, end)
        if payload == 0:
            raise WireError("an empty ECH payload")
        pos += 2 + payload
    elif ech_type != ECH_INNER:
        raise WireError(f"unknown ECHClientHelloType {ech_type}")
    if pos != end:
        raise WireError(
            f"encrypted_client_hello framing ends {pos - end:+} bytes off its extension"
        )


def _u16(data: bytes, pos: int, end: int) -> int:
    """The big-endian uint16 at ``pos``, which must lie before ``end``."""
    if end - pos < 2:
        raise Truncated(f"need 2 bytes at offset {pos}, have {max(end - pos, 0)}")
    return (data[pos] << 8) | data[pos + 1]


def _exact(data: bytes, pos: int, end: int, what: str) -> None:
    """Check that the uint16-prefixed vector at ``pos`` fills ``data[pos:end]`` exactly."""
    length = _u16(data, pos, end)
    if pos + 2 + length != end:
        raise WireError(f"{what} of {length} bytes in a {end - pos - 2}-byte space")


def is_ech_public_name(text: str) -> bool:
    """True when ``text`` equals or lies below one of ``ECH_PUBLIC_NAMES``."""
    if text in ECH_PUBLIC_NAMES:
        return True
    dot = text.find(".")
    while dot != -1:
        if text[dot + 1 :] in ECH_PUBLIC_NAMES:
            return True
        dot = text.find(".", dot + 1)
    return False
