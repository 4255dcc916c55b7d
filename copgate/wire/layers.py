"""Readers of a client's byte stream, one per protocol, each with its own state.

A flow's stream (``copgate.wire.tcp``) hands its contiguous bytes to the
layer chosen for it once (TLS, HTTP or DNS over TCP, see ``choose_layer``),
again each time they grow. A layer returns what it read, each item with the
offset its bytes end at (so the caller can tell whether trusted bytes alone
carry it), and how many bytes it is done with (the caller discards them
from the stream; a body not received yet may be skipped, so this can pass
the bytes given). Its state is positions and counts, so a stream is read
about once however it is cut, and ``fork`` copies it cheaply to read bytes
that may never reach the server without committing to them.

Three outcomes, as everywhere in the core: items, nothing yet, or a
``WireError`` (``HttpFramingError`` when an HTTP stream can no longer be
framed). This module never holds the bytes it reads.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

from copgate.errors import WireError
from copgate.wire.dns import HEADER_SIZE, TCP_LENGTH_SIZE, read_dns_message
from copgate.wire.http import (
    EMPTY_LINE_BYTES,
    MAX_CHUNK_LINE,
    MAX_HEADER_SECTION,
    MAX_REQUEST_LINE,
    HttpFramingError,
    HttpRequest,
    head_end,
    line_end,
    looks_like_http,
    read_chunk_size,
    read_http_head,
    read_simple_request,
    request_line_ok,
    skip_empty_lines,
)
from copgate.wire.question import ClientHello, DnsQuery, Kind
from copgate.wire.tls import CONTENT_HANDSHAKE, RECORD_MAJOR, HelloRecords, looks_like_tls

TLS_HANDSHAKE_TYPE_AT = 5  # record header (5 bytes), then the handshake type
TLS_SERVER_HELLO = 2  # RFC 8446 §4
SERVER_RECORD = bytes((CONTENT_HANDSHAKE, RECORD_MAJOR))  # a server's first record header

Data = bytes | bytearray


class Malformed(NamedTuple):
    """A message that is framed but cannot be read: skipped, the stream read on."""

    reason: str


class Item(NamedTuple):
    """One thing a layer read: a hello, a request or a query, and where its bytes end."""

    end: int
    value: ClientHello | HttpRequest | DnsQuery | Malformed


class Layer(Protocol):
    """What the tracker asks of a stream reader."""

    kind: Kind
    done: bool
    """Nothing more is read on this stream (TLS after its hello)."""

    def read(self, data: Data) -> tuple[list[Item], int]:
        """Items completed in ``data``, and how many bytes the caller may discard."""
        ...

    def fork(self) -> Layer:
        """A copy that reads on without changing this one."""
        ...


class TlsLayer:
    """The ClientHello at the start of a TLS stream; nothing after it."""

    __slots__ = ("_records", "done")
    kind = Kind.TLS

    def __init__(self, records: HelloRecords | None = None) -> None:
        self._records = records or HelloRecords()
        self.done = False

    def read(self, data: Data) -> tuple[list[Item], int]:
        if self.done:
            return [], 0
        hello = self._records.read(data)
        if hello is None:
            return [], 0
        self.done = True
        return [Item(self._records.end, hello)], 0

    def fork(self) -> TlsLayer:
        copy = TlsLayer(self._records.copy())
        copy.done = self.done
        return copy


class HttpLayer:
    """Every request of an HTTP/1.x connection, framed by Content-Length or chunks."""

    __slots__ = ("_remaining", "_scanned", "_state", "done", "requests")
    kind = Kind.HTTP

    def __init__(self) -> None:
        self._state = _HEAD
        self._scanned = 0
        """Where the search for the header section's end stopped (relative to the data)."""
        self._remaining = 0
        self.done = False
        self.requests = 0
        """Requests read so far: an error in the first is malformed, later ones are evasion."""

    def read(self, data: Data) -> tuple[list[Item], int]:
        items: list[Item] = []
        pos = 0
        try:
            while pos < len(data):
                step = _STEPS[self._state](self, data, pos, items)
                if step is None:
                    break
                pos = step
        except WireError as exc:
            if self.requests and not isinstance(exc, HttpFramingError):
                raise HttpFramingError(f"request {self.requests + 1}: {exc}") from exc
            raise
        return items, pos

    def _head(self, data: Data, pos: int, items: list[Item]) -> int | None:
        if not self._scanned and data[pos] in EMPTY_LINE_BYTES:
            # Empty lines before a request line: nginx skips them (RFC 9112 §2.2).
            return skip_empty_lines(data, pos)
        if data[pos : pos + 4] == b"GET ":
            # Looked for from where the last call stopped: a line with an LF
            # before it already failed (and one with two never matches).
            since = max(pos, pos + self._scanned - 1)
            first = line_end(data, since, pos + MAX_REQUEST_LINE + 2)
            simple = read_simple_request(bytes(data[pos:first]), first + 1) if first > 0 else None
            if simple is not None:  # HTTP/0.9: the request is its one line
                self.requests += 1
                items.append(Item(first + 1, simple))
                return first + 1
        start = max(pos, pos + self._scanned - 2)
        end = head_end(data, start, pos + MAX_HEADER_SECTION + 3)
        if end < 0:
            waiting = len(data) - pos
            if waiting > MAX_HEADER_SECTION:
                raise WireError(f"HTTP header section longer than {MAX_HEADER_SECTION} bytes")
            first = line_end(data, pos, pos + MAX_REQUEST_LINE + 2)
            if first < 0 and waiting > MAX_REQUEST_LINE:
                raise WireError(f"HTTP request line longer than {MAX_REQUEST_LINE} bytes")
            self._scanned = waiting
            return None
        request = read_http_head(bytes(data[pos:end]))
        self.requests += 1
        self._scanned = 0
        items.append(Item(end, request))
        pos = end
        if request.body_length is None:
            self._state = _CHUNK_SIZE
        else:
            pos += request.body_length
        return pos

    def _chunk_size(self, data: Data, pos: int, items: list[Item]) -> int | None:
        lf = line_end(data, pos, pos + MAX_CHUNK_LINE + 2)
        if lf < 0:
            if len(data) - pos > MAX_CHUNK_LINE:
                raise HttpFramingError(f"HTTP chunk-size line longer than {MAX_CHUNK_LINE} bytes")
            return None
        line = bytes(data[pos:lf])
        size = read_chunk_size(line[:-1] if line[-1:] == b"\r" else line)
        if size == 0:
            self._state = _TRAILERS
            return lf + 1
        self._state = _CHUNK_END
        return lf + 1 + size

    def _chunk_end(self, data: Data, pos: int, items: list[Item]) -> int | None:
        ends = _line_break(data, pos)
        if ends is None:
            return None
        if not ends:
            raise HttpFramingError("HTTP chunk data not followed by CRLF (RFC 9112 §7.1)")
        self._state = _CHUNK_SIZE
        return pos + ends

    def _trailers(self, data: Data, pos: int, items: list[Item]) -> int | None:
        ends = _line_break(data, pos)
        if ends is None:
            return None
        if ends:
            self._state = _HEAD
            return pos + ends
        end = head_end(data, pos, pos + MAX_HEADER_SECTION + 3)
        if end < 0:
            if len(data) - pos > MAX_HEADER_SECTION:
                raise HttpFramingError(f"HTTP trailers longer than {MAX_HEADER_SECTION} bytes")
            return None
        self._state = _HEAD
        return end

    def fork(self) -> HttpLayer:
        copy = HttpLayer()
        copy._state = self._state
        copy._scanned = self._scanned
        copy.requests = self.requests
        return copy


def _line_break(data: Data, pos: int) -> int | None:
    """Length of the CRLF or bare LF at ``pos`` (nginx takes either), 0 for none, None for more."""
    if len(data) - pos < 1:
        return None
    first = data[pos]
    if first == 0x0A:
        return 1
    if first != 0x0D:
        return 0
    if len(data) - pos < 2:
        return None
    return 2 if data[pos + 1] == 0x0A else 0


_HEAD, _CHUNK_SIZE, _CHUNK_END, _TRAILERS = range(4)
_STEPS = {
    _HEAD: HttpLayer._head,
    _CHUNK_SIZE: HttpLayer._chunk_size,
    _CHUNK_END: HttpLayer._chunk_end,
    _TRAILERS: HttpLayer._trailers,
}


class DnsLayer:
    """Every length-framed DNS message of a TCP stream (RFC 1035 §4.2.2).

    The length prefix frames each message, so one that cannot be read (a
    header with no question, a bad name) is reported and skipped: the
    server answers it with an error and reads on, and so does copgate. Only
    a length too short for a header breaks the framing.
    """

    __slots__ = ("done",)
    kind = Kind.DNS

    def __init__(self) -> None:
        self.done = False

    def read(self, data: Data) -> tuple[list[Item], int]:
        items: list[Item] = []
        pos = 0
        while pos + TCP_LENGTH_SIZE <= len(data):
            length = (data[pos] << 8) | data[pos + 1]
            if length < HEADER_SIZE:
                raise DnsFramingError(f"DNS-over-TCP message length {length} is too short")
            end = pos + TCP_LENGTH_SIZE + length
            if end > len(data):
                break
            try:
                query = read_dns_message(bytes(data[pos + TCP_LENGTH_SIZE : end]))
            except WireError as exc:
                items.append(Item(end, Malformed(f"DNS: {exc}")))
            else:
                items.append(Item(end, query))
            pos = end
        return items, pos

    def fork(self) -> DnsLayer:
        return DnsLayer()


class DnsFramingError(WireError):
    """A DNS-over-TCP length too short for a message: what follows cannot be framed."""


class Unreadable(NamedTuple):
    """Why a stream's first bytes are none of the protocols read here."""

    reason: str
    server: bool = False
    """True when they are a server's side (a ServerHello, an HTTP response)."""


def choose_layer(prefix: Data, dns_port: bool) -> Layer | Unreadable | None:
    """The layer for a stream starting with ``prefix``; None while it cannot be told yet.

    A stream that looks like TLS gets the TLS layer even when its first
    record is no hello copgate reads (a handshake record of another
    version, an alert first): the layer's error then says so, and the
    tracker takes it as evasion, not as another protocol.
    """
    if dns_port:
        return DnsLayer()
    if not prefix:
        return None
    if looks_like_tls(prefix[:3]):
        if len(prefix) <= TLS_HANDSHAKE_TYPE_AT:
            return None
        if prefix[TLS_HANDSHAKE_TYPE_AT] == TLS_SERVER_HELLO and prefix[:2] == SERVER_RECORD:
            return Unreadable("a server's TLS stream", server=True)
        return TlsLayer()
    if prefix[:5] == b"HTTP/":
        return Unreadable("a server's HTTP stream", server=True)
    start = skip_empty_lines(prefix, 0) if prefix[0] in EMPTY_LINE_BYTES else 0
    if start == len(prefix):  # empty lines only: a request line may follow (RFC 9112 §2.2)
        return None if start <= MAX_REQUEST_LINE else Unreadable("neither TLS nor HTTP")
    if looks_like_http(prefix[start : start + 9]):
        lf = line_end(prefix, start, start + MAX_REQUEST_LINE + 2)
        if lf < 0:
            if len(prefix) - start <= MAX_REQUEST_LINE:
                return None
            return Unreadable("neither TLS nor HTTP")
        if request_line_ok(bytes(prefix[start:lf])):
            return HttpLayer()
    return Unreadable("neither TLS nor HTTP")
