"""HTTP/1.x requests: the host a client asks for, from the start of a request.

Reads the request line and header fields (RFC 9112 §3, §5) up to the Host
field (RFC 9110 §7.2), or the authority of an absolute-form request target
(RFC 9112 §3.2.2), which takes precedence over Host. A request whose lines
are split over several segments is incomplete until the Host line has
arrived. It never reads bodies; it reports where the header section ends
and how long the body is, so a tracker can find the next request on a
keep-alive connection.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from copgate.errors import WireError
from copgate.wire.names import Name, name_from_bytes

MAX_HEADER_SECTION = 16384  # bytes; common server limits are 8 to 16 KiB
MAX_CONTENT_LENGTH_DIGITS = 18

_METHODS = (
    b"GET ",
    b"POST ",
    b"HEAD ",
    b"PUT ",
    b"DELETE ",
    b"OPTIONS ",
    b"PATCH ",
    b"CONNECT ",
    b"TRACE ",
    b"PROPFIND ",
)
_REQUEST_LINE = re.compile(rb"([A-Z]+) (\S+) HTTP/1\.[01]")
_ABSOLUTE = re.compile(rb"[a-zA-Z][a-zA-Z0-9+.-]*://([^/?#]*)")
_IPV4_LITERAL = re.compile(rb"[0-9]{1,3}(?:\.[0-9]{1,3}){3}")


class HttpRequest(NamedTuple):
    """What copgate reads from one request's header section."""

    method: str
    host: Name | None
    """From an absolute-form target or the Host field; None when neither, or
    when the host is an IP literal (a bare address, like TLS without SNI)."""
    header_end: int
    """Offset just past the blank line that ends the header section."""
    body_length: int | None
    """Content-Length, 0 without a body, None for chunked (length unknown)."""


def looks_like_http(first: bytes) -> bool:
    """True when a stream's first bytes could start an HTTP/1.x request."""
    return any(method.startswith(first[: len(method)]) for method in _METHODS) if first else False


def read_http_request(stream: bytes) -> HttpRequest | None:
    """The request at the start of ``stream``; None until its header section is complete."""
    end = stream.find(b"\r\n\r\n", 0, MAX_HEADER_SECTION + 4)
    if end < 0:
        if len(stream) > MAX_HEADER_SECTION:
            raise WireError(f"HTTP header section longer than {MAX_HEADER_SECTION} bytes")
        line_end = stream.find(b"\r\n")
        if line_end >= 0:
            _request_line(stream[:line_end])  # fail early on a bad request line
        return None
    lines = stream[:end].split(b"\r\n")
    method, target = _request_line(lines[0])
    host: bytes | None = None
    length: int | None = 0
    for line in lines[1:]:
        field, colon, value = line.partition(b":")
        if not colon:
            raise WireError(f"HTTP header line without a colon: {line[:40]!r}")
        key = field.strip().lower()
        if key == b"host" and host is None:
            host = value.strip()
        elif key == b"content-length":
            length = _content_length(value)
        elif key == b"transfer-encoding" and b"chunked" in value.lower():
            length = None
    absolute = _ABSOLUTE.match(target)
    if absolute:
        host = absolute.group(1).rpartition(b"@")[2]
    return HttpRequest(method, _host_name(host), end + 4, length)


def _request_line(line: bytes) -> tuple[str, bytes]:
    match = _REQUEST_LINE.fullmatch(line)
    if match is None:
        raise WireError(f"not an HTTP/1.x request line: {line[:60]!r}")
    return match.group(1).decode("ascii"), match.group(2)


def _content_length(value: bytes) -> int:
    digits = value.strip()
    if not digits.isdigit() or len(digits) > MAX_CONTENT_LENGTH_DIGITS:
        raise WireError(f"HTTP Content-Length is not a number: {digits[:20]!r}")
    return int(digits)


def _host_name(host: bytes | None) -> Name | None:
    if host is None or not host:
        return None
    if host.startswith(b"["):
        return None  # an IPv6 literal (RFC 3986 §3.2.2): a bare address
    name, _colon, port = host.rpartition(b":") if b":" in host else (host, b"", b"")
    if port and not port.isdigit():
        raise WireError(f"HTTP Host has a bad port: {host[:60]!r}")
    if _IPV4_LITERAL.fullmatch(name):
        return None
    return name_from_bytes(name)
