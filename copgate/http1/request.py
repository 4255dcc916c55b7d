"""A strict HTTP/1.1 request-head reader for the block page: bytes in, a request or a refusal out.

The block page faces every LAN client, so its reader is as strict as h11's
(and in places stricter): anything a proxy and a server could read two
ways is refused, never guessed at. ``read_request(buffer)`` has three
outcomes (STYLE.md §3):

- a ``Request``, once the head (request line, fields, blank line) is whole;
- ``None``: incomplete, feed me more;
- ``RequestError`` with the status to answer (400, 431, 501 or 505), then
  the connection is closed.

Whether a buffer is refused never depends on how it was cut into reads: a
prefix is refused only for what the whole would be refused for (a bare CR
or LF, a NUL, a head past the limit), with the same status.

What is refused, and why (RFC 9110, RFC 9112):

- a line ending in a bare LF or a bare CR (§2.2 lets a recipient accept a
  bare LF; two readers that disagree on line ends disagree on the message);
- a request line that is not ``token SP target SP HTTP/d.d`` (§3), a
  version other than 1.0 and 1.1 (505);
- a field line starting with whitespace, i.e. obs-fold (§5.2), whitespace
  before the colon (§5.1), a name that is not a token, a value with a
  control character other than HTAB (RFC 9110 §5.5);
- more than ``MAX_FIELDS`` fields or a head over ``MAX_HEAD`` bytes (431,
  RFC 6585 §5);
- an HTTP/1.1 request without exactly one Host (§3.2);
- more than one Content-Length or one that is not digits (RFC 9110 §8.6),
  more than one Transfer-Encoding, both (§6.1: request smuggling), a
  Transfer-Encoding in HTTP/1.0 (§6.1), and one other than ``chunked``
  (501, §6.1).

The body is never read here: the block page server takes a form's body
(Content-Length only, ``head_size`` says where it starts) and closes. Pure: no
sockets, no clock; ``copgate.edges.blockpage`` does the I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from copgate.errors import WireError

MAX_HEAD = 8192
"""Bytes of request line, fields and blank line (RFC 9112 §3 asks for 8000-octet lines
at least; the block page's own URLs are under 400)."""
MAX_FIELDS = 64
"""Field lines per request: browsers send about 20."""
MAX_CONTENT_LENGTH_DIGITS = 20  # as h11: more than a 64-bit length is not a length

BAD_REQUEST = 400
TOO_LARGE = 431  # RFC 6585 §5: Request Header Fields Too Large
NOT_IMPLEMENTED = 501  # RFC 9112 §6.1: a transfer coding the server does not understand
VERSION_NOT_SUPPORTED = 505

END_OF_HEAD = b"\r\n\r\n"
# RFC 9110 §5.6.2: tchar; the grammar as regular expressions, after h11's _abnf.py.
_TOKEN = rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+"
_REQUEST_LINE = re.compile(
    rb"(?P<method>" + _TOKEN + rb") (?P<target>[\x21-\x7e]+) HTTP/(?P<version>[0-9]\.[0-9])"
)
_FIELD_LINE = re.compile(
    rb"(?P<name>" + _TOKEN + rb"):[ \t]*(?P<value>[^\x00-\x08\x0a-\x1f\x7f]*?)[ \t]*"
)
"""RFC 9112 §5.1; the value's grammar (RFC 9110 §5.5) is checked by _FIELD_VALUE."""
_FIELD_VALUE = re.compile(rb"(?:[\x21-\x7e\x80-\xff]+(?:[ \t]+[\x21-\x7e\x80-\xff]+)*)?")
_BARE_LF = re.compile(rb"(?<!\r)\n")
_BARE_CR = re.compile(rb"\r(?!\n)(?=.)", re.S)
"""A CR followed by anything but LF; a CR at the end of a buffer may yet be followed by one."""
VERSIONS = frozenset({"1.0", "1.1"})


class RequestError(WireError):
    """A request the block page refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, why: str) -> None:
        super().__init__(why)
        self.status = status


@dataclass(frozen=True, slots=True)
class Request:
    """A request head that passed every check."""

    method: str
    target: str
    """As sent: origin form (``/blocked?host=..``) or absolute form."""
    version: str
    """``1.0`` or ``1.1``."""
    fields: tuple[tuple[str, str], ...]
    """(lower-case name, value) in the order sent."""

    def field(self, name: str) -> str | None:
        """The value of the one field called ``name`` (lower case), or None."""
        return next((value for key, value in self.fields if key == name), None)


def read_request(buffer: bytes) -> Request | None:
    """The request whose head starts ``buffer``; None if more is needed; RequestError if bad."""
    end = buffer.find(END_OF_HEAD, 0, MAX_HEAD)
    if end < 0:
        _check_bytes(buffer[:MAX_HEAD])
        if len(buffer) >= MAX_HEAD:
            raise RequestError(TOO_LARGE, f"request head over {MAX_HEAD} bytes")
        return None
    head = buffer[:end]
    _check_bytes(head + b"\r\n")
    request_line, *field_lines = head.split(b"\r\n")
    method, target, version = read_request_line(request_line)
    fields = read_fields(field_lines)
    check_framing(version, fields)
    return Request(method, target, version, fields)


def head_size(buffer: bytes) -> int:
    """Bytes of the whole head (blank line included) at the start of ``buffer``, which
    ``read_request`` has read as a whole request; what follows is the body."""
    end = buffer.find(END_OF_HEAD, 0, MAX_HEAD)
    if end < 0:
        raise RequestError(BAD_REQUEST, "no whole request head")
    return end + len(END_OF_HEAD)


def read_request_line(line: bytes) -> tuple[str, str, str]:
    """Method, target and version of a request line (RFC 9112 §3)."""
    found = _REQUEST_LINE.fullmatch(line)
    if found is None:
        raise RequestError(BAD_REQUEST, f"bad request line {line[:60]!r}")
    version = found["version"].decode("ascii")
    if version not in VERSIONS:
        raise RequestError(VERSION_NOT_SUPPORTED, f"HTTP/{version} is not served")
    return found["method"].decode("ascii"), found["target"].decode("ascii"), version


def read_fields(lines: list[bytes]) -> tuple[tuple[str, str], ...]:
    """(lower-case name, value) of each field line (RFC 9112 §5)."""
    if len(lines) > MAX_FIELDS:
        raise RequestError(TOO_LARGE, f"more than {MAX_FIELDS} header fields")
    fields: list[tuple[str, str]] = []
    for line in lines:
        if line[:1] in (b" ", b"\t"):
            raise RequestError(BAD_REQUEST, "obs-fold: a field line starts with whitespace")
        found = _FIELD_LINE.fullmatch(line)
        if found is None or _FIELD_VALUE.fullmatch(found["value"]) is None:
            raise RequestError(BAD_REQUEST, f"bad field line {line[:60]!r}")
        name = found["name"].decode("ascii").lower()
        fields.append((name, found["value"].decode("latin-1")))
    return tuple(fields)


def check_framing(version: str, fields: tuple[tuple[str, str], ...]) -> None:
    """Refuse what two readers could frame two ways (RFC 9112 §3.2, §6.1, §6.3)."""
    counts: dict[str, int] = {}
    for name, _value in fields:
        counts[name] = counts.get(name, 0) + 1
    for name in ("host", "content-length", "transfer-encoding"):
        if counts.get(name, 0) > 1:
            raise RequestError(BAD_REQUEST, f"more than one {name} field")
    if version == "1.1" and "host" not in counts:
        raise RequestError(BAD_REQUEST, "HTTP/1.1 request without Host")
    values = dict(fields)
    length = values.get("content-length")
    if length is not None and (
        not length.isascii() or not length.isdigit() or len(length) > MAX_CONTENT_LENGTH_DIGITS
    ):
        raise RequestError(BAD_REQUEST, f"bad Content-Length {length[:30]!r}")
    coding = values.get("transfer-encoding")
    if coding is None:
        return
    if length is not None:
        raise RequestError(BAD_REQUEST, "both Transfer-Encoding and Content-Length")
    if version == "1.0":
        raise RequestError(BAD_REQUEST, "Transfer-Encoding in HTTP/1.0")
    if coding.lower() != "chunked":
        raise RequestError(NOT_IMPLEMENTED, f"transfer coding {coding[:30]!r} not served")


def _check_bytes(data: bytes) -> None:
    """Refuse a NUL, a bare LF or a bare CR anywhere in the head read so far."""
    if b"\x00" in data:
        raise RequestError(BAD_REQUEST, "NUL in the request head")
    if _BARE_LF.search(data):
        raise RequestError(BAD_REQUEST, "a line ends in a bare LF")
    if _BARE_CR.search(data):
        raise RequestError(BAD_REQUEST, "a bare CR")
