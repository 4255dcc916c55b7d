"""The block page's bytes: its URL, and the HTTP response that tells a child what was blocked.

One page, two ways to the client. Normally a blocked plain-HTTP request is
redirected (``copgate.forge.tcp_reply.http_redirect``) to ``block_page_url``
on the router, where ``copgate.edges.blockpage`` answers with
``render_page``. When the router has no block-page address of the request's
family, the engine sends ``page_response`` itself, in place of the server's
answer. Either way the page is built here from the host and the reason only,
escaped; it never reads files. Builds bytes and text, sends nothing.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address
from urllib.parse import parse_qs, quote

BLOCKPAGE_PORT = 8099
"""The router's block-page port (the firewall leaves the router's own services alone)."""
MAX_HOST = 253  # RFC 1035 §2.3.4: a name is at most 255 octets on the wire, 253 as text
MAX_WHY = 120
"""A reason is a category or rule name; anything longer is not ours."""
ETHERNET_MTU = 1500
MAX_RESPONSE = ETHERNET_MTU - 40 - 20  # IPv6 (RFC 8200 §3) and TCP (RFC 9293 §3.1) headers
"""Forged inline, the response is one TCP segment: whatever the request held, it fits a frame."""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Blocked: {host}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>This site is blocked</h1>
<p><strong>{host}</strong> is not available on this network.</p>
<p>Why: {why}</p>
<p>If you think this is a mistake, tell your teacher or parent: they can ask for the site
to be reviewed.</p>
<hr><p lang="ru">Этот сайт заблокирован в этой сети.</p>
</body></html>
"""


def block_page_url(
    address: IPv4Address | IPv6Address,
    host: str,
    why: str,
    *,
    group: str = "",
    category: str = "",
    list_name: str = "",
) -> str:
    """``http://192.0.2.1:8099/blocked?host=..&why=..``; IPv6 in brackets (RFC 3986 §3.2.2).

    ``group``, ``category`` and ``list_name`` (``group``, ``cat``, ``list``
    in the query) are added when given, for the page to say them.
    """
    authority = f"[{address}]" if address.version == 6 else str(address)
    url = f"http://{authority}:{BLOCKPAGE_PORT}/blocked?host={_q(host)}&why={_q(why)}"
    for key, value in (("group", group), ("cat", category), ("list", list_name)):
        if value:
            url += f"&{key}={_q(value[:MAX_WHY])}"
    return url


def page_response(host: str, why: str) -> bytes:
    """The whole HTTP/1.1 response: 403, the page, no caching, close."""
    body = PAGE.format(
        host=_escaped(host or "this site", MAX_HOST),
        why=_escaped(why or "policy", MAX_WHY),
    ).encode("utf-8")
    head = (
        "HTTP/1.1 403 Forbidden\r\nContent-Type: text/html; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


REASONS = {
    400: "Bad Request",
    411: "Length Required",
    413: "Content Too Large",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    431: "Request Header Fields Too Large",
    501: "Not Implemented",
    505: "HTTP Version Not Supported",
}
"""The statuses the block page server answers with besides 403 (RFC 9110 §15, RFC 6585 §5)."""


def error_response(status: int, allowed: str = "GET, HEAD") -> bytes:
    """A bodiless answer with ``status``, then close: for a request the page will not serve.

    405 names the methods that are served (RFC 9110 §15.5.6 requires Allow).
    """
    allow = f"Allow: {allowed}\r\n" if status == 405 else ""
    reason = REASONS.get(status, "Error")
    return (
        f"HTTP/1.1 {status} {reason}\r\n{allow}Content-Length: 0\r\nConnection: close\r\n\r\n"
    ).encode("ascii")


def render_page(target: str) -> bytes:
    """The response for a request target such as ``/blocked?host=a&why=b``.

    Any target gets a page: only the query is read, cut at the first ``?``
    and before any ``#``. ``urlsplit`` is not used: it raises on a target
    such as ``//[x`` (a bracket in what it takes for an authority).
    """
    query = parse_qs(target.partition("?")[2].partition("#")[0])
    return page_response(query.get("host", [""])[0], query.get("why", [""])[0])


def _escaped(text: str, limit: int) -> str:
    """``text`` HTML-escaped, cut to at most ``limit`` UTF-8 bytes, never inside an entity.

    A Host copgate could not read as a name may hold anything: each ``&`` grows
    fivefold when escaped, so the limit is on what is written, not what came.

    ``html`` is imported here, when a page is built: it brings the HTML5
    entity table (about 0.35 MB resident), which the daemon would otherwise
    carry from start for a page few networks ever send inline (issue 10).
    """
    import html  # noqa: PLC0415 - lazy, see the docstring

    pieces: list[str] = []
    size = 0
    for char in text[:limit]:
        piece = html.escape(char)
        size += len(piece.encode("utf-8"))
        if size > limit:
            break
        pieces.append(piece)
    return "".join(pieces)


def _q(text: str) -> str:
    return quote(text, safe="")
