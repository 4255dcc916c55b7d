"""HTTP/1.x requests: the hosts a client asks for, and where each request ends.

Reads the request line and header fields (RFC 9112 §3, §5): the Host field
(RFC 9110 §7.2) and the authority of an absolute-form request target
(RFC 9112 §3.2.2). Both are reported: a server or proxy may route by either,
so both must be judged. An IP-literal host is reported as the literal (a
``Name`` whose text is the address), so that bare-address policy applies.

It also frames messages (RFC 9112 §6): how long the body is, by
Content-Length or chunked transfer coding (§7.1), so that a reader of a
keep-alive connection finds every later request. A request whose body
length cannot be known, or is stated two ways, is ``HttpFramingError``: the
server and copgate could read different next requests (request smuggling),
so nothing after it can be trusted.

Lines are read as nginx reads them, which RFC 9112 allows: a bare LF ends
a line as a CRLF does (§2.2: a recipient MAY take LF as a line terminator),
empty lines before a request line are skipped (§2.2: a server SHOULD ignore
at least one; nginx skips any number), and the request line may have runs of
spaces between its parts and after the version, and any HTTP/1.minor (nginx
takes minors to 99); an HTTP/0.9 request (``GET target``, no version, no
fields) is read too, with the host of an absolute target or none. Reading
more forms than a server takes costs nothing; reading fewer would let a
request pass as "another protocol". (nginx 1.22 serves every form above.)

Any method token is read (RFC 9110 §9.1: ``method = token``). This module
never reads bodies' contents and never keeps state; ``copgate.wire.layers``
keeps the position in a stream.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from copgate.errors import WireError
from copgate.wire.names import Name, name_from_bytes

MAX_HEADER_SECTION = 16384  # bytes; common server limits are 8 to 16 KiB
MAX_REQUEST_LINE = 8192  # RFC 9112 §3: at least 8000 octets SHOULD be supported
MAX_METHOD = 32  # no registered method is longer than 17 (RFC 9110 §16.1 registry)
MAX_CONTENT_LENGTH_DIGITS = 18
MAX_CHUNK_LINE = 4096  # a chunk size and its extensions (RFC 9112 §7.1.1)
MAX_CHUNK_SIZE_DIGITS = 15  # hex digits; more would pass any sane body

# RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-"
# / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1," + str(MAX_METHOD).encode() + rb"}"
_METHOD_START = re.compile(_TOKEN + rb"(?: |\Z)")
_REQUEST_LINE = re.compile(rb"(" + _TOKEN + rb") +([^\x00- \x7f]+) +HTTP/1\.[0-9]+ *")
# RFC 1945 §4.1 Simple-Request (HTTP/0.9): "GET" SP Request-URI CRLF, no
# version and no header fields. nginx still serves it (its default server,
# or the host of an absolute target), so it is a request, not another protocol.
_SIMPLE_REQUEST = re.compile(rb"GET +([^\x00- \x7f]+) *")
_HEAD_END = re.compile(rb"\n\r?\n")  # an empty line, CRLF or bare LF (RFC 9112 §2.2)
EMPTY_LINE_BYTES = b"\r\n"
"""What may come before a request line (RFC 9112 §2.2; nginx skips CR and LF there)."""
_ABSOLUTE = re.compile(rb"[a-zA-Z][a-zA-Z0-9+.-]*://([^/?#]*)")
_IPV4_LITERAL = re.compile(rb"[0-9]{1,3}(?:\.[0-9]{1,3}){3}")
_IPV6_LITERAL = re.compile(rb"\[([0-9A-Fa-f:.]+)\]")
_CHUNK_SIZE = re.compile(
    rb"([0-9A-Fa-f]{1," + str(MAX_CHUNK_SIZE_DIGITS).encode() + rb"})[ \t]*(?:;[^\r\n]*)?"
)


class HttpFramingError(WireError):
    """A request whose end cannot be known for sure: what follows it cannot be read."""


class HttpRequest(NamedTuple):
    """What copgate reads from one request's header section."""

    method: str
    host: Name | None
    """From an absolute-form target, else the Host field; None when neither."""
    header_end: int
    """Offset just past the blank line that ends the header section."""
    body_length: int | None
    """Content-Length, 0 without a body, None for chunked (framed chunk by chunk)."""
    field_host: Name | None = None
    """The Host field when an absolute-form target named another host: judged too."""


def looks_like_http(first: bytes | bytearray) -> bool:
    """True when a stream's first bytes could start an HTTP/1.x request line.

    A method is any token (RFC 9110 §9.1), so this says only that the bytes
    so far are a token, perhaps followed by a space; ``request_line_ok``
    decides once the line is whole.
    """
    return bool(first) and _METHOD_START.match(bytes(first[: MAX_METHOD + 1])) is not None


def request_line_ok(line: bytes) -> bool:
    """True when ``line`` (without its LF, CR or not) is an HTTP/1.x request line."""
    line = _chomp(line)
    return _REQUEST_LINE.fullmatch(line) is not None or _SIMPLE_REQUEST.fullmatch(line) is not None


def read_simple_request(line: bytes, end: int) -> HttpRequest | None:
    """The HTTP/0.9 request whose line (without its LF) is ``line``, ending at ``end``; or None.

    It has no Host field: the host is an absolute target's, else None (the
    server's default site, as for an HTTP/1.0 request without Host).
    """
    match = _SIMPLE_REQUEST.fullmatch(_chomp(line))
    if match is None:
        return None
    absolute = _ABSOLUTE.match(match.group(1))
    host = _host_name(absolute.group(1).rpartition(b"@")[2]) if absolute else None
    return HttpRequest("GET", host, end, 0)


def _chomp(line: bytes) -> bytes:
    """``line`` without the CR of its CRLF."""
    return line[:-1] if line[-1:] == b"\r" else line


def skip_empty_lines(data: bytes | bytearray, pos: int) -> int:
    """Where the request line starts: past the CR and LF bytes at ``pos`` (RFC 9112 §2.2)."""
    end = len(data)
    while pos < end and data[pos] in EMPTY_LINE_BYTES:
        pos += 1
    return pos


def head_end(data: bytes | bytearray, pos: int, end: int) -> int:
    """Offset just past the empty line that ends the header section from ``pos``, or -1.

    Looks in ``data[pos:end]``; a section ends with CRLF or LF, then CRLF or LF.
    """
    match = _HEAD_END.search(data, pos, end)
    return -1 if match is None else match.end()


def line_end(data: bytes | bytearray, pos: int, end: int) -> int:
    """Offset of the LF that ends the line at ``pos`` (within ``end``), or -1."""
    return data.find(b"\n", pos, end)


def read_http_request(stream: bytes) -> HttpRequest | None:
    """The request at the start of ``stream``; None until its header section is complete."""
    start = skip_empty_lines(stream, 0)
    end = head_end(stream, start, start + MAX_HEADER_SECTION + 4)
    if end < 0:
        if len(stream) - start > MAX_HEADER_SECTION:
            raise WireError(f"HTTP header section longer than {MAX_HEADER_SECTION} bytes")
        first = line_end(stream, start, len(stream))
        if first >= 0:
            _request_line(_chomp(stream[start:first]))  # fail early on a bad request line
        return None
    return read_http_head(stream[start:end])._replace(header_end=end)


def read_http_head(head: bytes) -> HttpRequest:
    """The request whose whole header section, empty line included, is ``head``."""
    lines = [_chomp(line) for line in head.split(b"\n")[:-2]]
    method, target = _request_line(lines[0])
    host: bytes | None = None
    lengths: set[int] = set()
    codings: list[bytes] = []
    for line in lines[1:]:
        field, colon, value = line.partition(b":")
        if not colon:
            raise WireError(f"HTTP header line without a colon: {line[:40]!r}")
        key = field.strip().lower()
        if key == b"host":
            if host is not None and value.strip() != host:
                raise WireError("two different HTTP Host fields (RFC 9112 §3.2)")
            host = value.strip()
        elif key == b"content-length":
            lengths.update(_content_length(v) for v in value.split(b","))
        elif key == b"transfer-encoding":
            codings += [c.strip().lower() for c in value.split(b",") if c.strip()]
    length = _body_length(lengths, codings)
    field_host = _host_name(host)
    absolute = _ABSOLUTE.match(target)
    if absolute:
        target_host = _host_name(absolute.group(1).rpartition(b"@")[2])
        other = field_host if field_host != target_host else None
        return HttpRequest(method, target_host, len(head), length, other)
    return HttpRequest(method, field_host, len(head), length)


def _body_length(lengths: set[int], codings: list[bytes]) -> int | None:
    """RFC 9112 §6.3: the body length, None for chunked; refuse what cannot be framed."""
    if codings:
        if lengths:
            # §6.3 item 3: "ought to be handled as an error"; h11 refuses it too.
            raise HttpFramingError("HTTP request with both Transfer-Encoding and Content-Length")
        if codings[-1] != b"chunked" or codings.count(b"chunked") > 1:
            # §6.3 item 4: a request body whose end is not chunked cannot be framed.
            raise HttpFramingError("HTTP Transfer-Encoding does not end in one chunked coding")
        return None
    if len(lengths) > 1:
        raise HttpFramingError("HTTP Content-Length values disagree (RFC 9112 §6.3 item 5)")
    return lengths.pop() if lengths else 0


def read_chunk_size(line: bytes) -> int:
    """The size on a chunk-size line, without its CRLF (RFC 9112 §7.1)."""
    match = _CHUNK_SIZE.fullmatch(line)
    if match is None:
        raise HttpFramingError(f"not an HTTP chunk-size line: {line[:40]!r}")
    return int(match.group(1), 16)


def _request_line(line: bytes) -> tuple[str, bytes]:
    match = _REQUEST_LINE.fullmatch(line)
    if match is None:
        raise WireError(f"not an HTTP/1.x request line: {line[:60]!r}")
    return match.group(1).decode("ascii"), match.group(2)


def _content_length(value: bytes) -> int:
    digits = value.strip()
    if not digits.isdigit() or len(digits) > MAX_CONTENT_LENGTH_DIGITS:
        raise HttpFramingError(f"HTTP Content-Length is not a number: {digits[:20]!r}")
    return int(digits)


def _host_name(host: bytes | None) -> Name | None:
    """The host of a Host field or authority, port dropped; an IP literal as its text."""
    if host is None or not host:
        return None
    v6 = _IPV6_LITERAL.match(host)
    if v6 is not None:
        rest = host[v6.end() :]
        if rest and not (rest[:1] == b":" and rest[1:].isdigit()):
            raise WireError(f"HTTP Host has a bad port: {host[:60]!r}")
        # RFC 3986 §3.2.2: an IPv6 literal, which policy treats as a bare address.
        return Name(v6.group(1).lower().decode("ascii"), True)
    name, _colon, port = host.rpartition(b":") if b":" in host else (host, b"", b"")
    if port and not port.isdigit():
        raise WireError(f"HTTP Host has a bad port: {host[:60]!r}")
    if _IPV4_LITERAL.fullmatch(name):
        return Name(name.decode("ascii"), True)
    return name_from_bytes(name)
