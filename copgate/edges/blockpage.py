"""The block page server: a tiny HTTP server that tells a child what was blocked and why.

Blocked plain-HTTP requests are redirected here (``copgate.forge.tcp_reply``).
One server listens on one address; the daemon runs one per configured
block-page address (IPv4 and IPv6) in its event loop. It serves one page
(``copgate.forge.blockpage.render_page``, from the query string's ``host``
and ``why``) and nothing else, without blocking: each connection gets at
most one request of at most ``MAX_REQUEST`` bytes, then the page, then
close. It never reads files or runs code from the request.
"""

from __future__ import annotations

import errno
import logging
import socket

from copgate.forge.blockpage import render_page

LOG = logging.getLogger("copgate.blockpage")
MAX_REQUEST = 8192
MAX_CONNECTIONS = 64
IP_FREEBIND = 15
"""linux/in.h; Python's socket module does not export it. Set at ``SOL_IP``
it also lets an IPv6 socket bind an address the host does not (yet) have."""


class BlockPageServer:
    """A listening socket plus the connections being answered."""

    def __init__(self, address: str, port: int) -> None:
        """Listen on ``address`` (IPv4 or IPv6) and ``port``; OSError if it cannot.

        An address the host does not have yet is still listened on (with
        IP_FREEBIND), and ``address_pending`` says so: at a router's boot the
        LAN's IPv6 address is often still in duplicate address detection, or
        its bridge not up, when copgate starts, and the page must work once
        it is. The caller warns, since a mistyped address looks the same.
        """
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        self.listener = socket.socket(family, socket.SOCK_STREAM)
        self.address_pending = False
        try:
            self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                self.listener.bind((address, port))
            except OSError as exc:
                if exc.errno != errno.EADDRNOTAVAIL:
                    raise
                self.listener.setsockopt(socket.SOL_IP, IP_FREEBIND, 1)
                self.listener.bind((address, port))
                self.address_pending = True
            self.listener.listen(16)
            self.listener.setblocking(False)
        except OSError:
            self.listener.close()
            raise
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
