"""The block page: a tiny HTTP server that tells a child what was blocked and why.

Blocked plain-HTTP requests are redirected here (``copgate.forge.tcp_reply``).
It serves one page from the query string (``host``, ``why``) and nothing
else, from the event loop without blocking: each connection gets at most one
request of at most ``MAX_REQUEST`` bytes, then the page, then close. It
never reads files or runs code from the request.
"""

from __future__ import annotations

import html
import logging
import socket
from urllib.parse import parse_qs, urlsplit

LOG = logging.getLogger("copgate.blockpage")
MAX_REQUEST = 8192
MAX_CONNECTIONS = 64

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


def render_page(target: str) -> bytes:
    """The HTTP response for a request target such as ``/blocked?host=a&why=b``."""
    query = parse_qs(urlsplit(target).query)
    host = html.escape(query.get("host", ["this site"])[0][:253])
    why = html.escape(query.get("why", ["policy"])[0][:200])
    body = PAGE.format(host=host, why=why).encode("utf-8")
    head = (
        "HTTP/1.1 403 Forbidden\r\nContent-Type: text/html; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class BlockPageServer:
    """A listening socket plus the connections being answered."""

    def __init__(self, address: str, port: int) -> None:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        self.listener = socket.socket(family, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((address, port))
        self.listener.listen(16)
        self.listener.setblocking(False)
        self.clients: dict[int, tuple[socket.socket, bytearray]] = {}

    def accept(self) -> socket.socket | None:
        try:
            conn, _peer = self.listener.accept()
        except BlockingIOError:
            return None
        if len(self.clients) >= MAX_CONNECTIONS:
            conn.close()
            return None
        conn.setblocking(False)
        self.clients[conn.fileno()] = (conn, bytearray())
        return conn

    def readable(self, conn: socket.socket) -> bool:
        """Read from a client; True when the connection is finished and closed."""
        _sock, buffer = self.clients[conn.fileno()]
        try:
            chunk = conn.recv(4096)
        except BlockingIOError:
            return False
        except OSError:
            chunk = b""
        buffer += chunk
        if chunk and b"\r\n\r\n" not in buffer and len(buffer) < MAX_REQUEST:
            return False
        if chunk:
            line = bytes(buffer).split(b"\r\n", 1)[0].decode("latin-1")
            parts = line.split(" ")
            target = parts[1] if len(parts) >= 2 else "/"
            try:
                conn.send(render_page(target))
            except OSError as exc:
                LOG.debug("block page not sent: %s", exc)
        self.clients.pop(conn.fileno(), None)
        conn.close()
        return True

    def close(self) -> None:
        for conn, _buffer in self.clients.values():
            conn.close()
        self.clients.clear()
        self.listener.close()
