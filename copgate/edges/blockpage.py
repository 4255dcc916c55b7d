"""The block page server: a tiny HTTP server that tells a child what was blocked and why.

Blocked plain-HTTP requests are redirected here (``copgate.forge.tcp_reply``).
One server listens on one address; the daemon runs one per configured
block-page address (IPv4 and IPv6) in its event loop. Without an ``app`` it
serves one page (``copgate.forge.blockpage.render_page``, from the query
string's ``host`` and ``why``); with one (``copgate.requests.app``) the app
answers: the block page with its forms, "recently blocked", and the forms'
posts. Either way without blocking: each connection gets one request, read
strictly (``copgate.http1.request``), with the body of a POST of at most
``MAX_BODY`` bytes (Content-Length only: a chunked form gets 411), then the
answer or an error status, then close. An answer is at most ``MAX_PAGE``
bytes and the socket's send buffer is set larger, so one non-blocking send
on the fresh connection takes it whole whatever the client's window.

Every LAN client can reach it, so no client may take it from the others:

- a request head is at most ``MAX_HEAD`` bytes (431 beyond);
- a connection that sends no whole request within ``IDLE_TIMEOUT`` seconds
  is closed (the daemon calls ``expire`` from its housekeeping);
- one client address holds at most ``MAX_PER_CLIENT`` connections: its
  next one closes its oldest, so 64 idle sockets from one client cost it
  its own old ones and nobody else's;
- all clients together hold at most ``MAX_CONNECTIONS``: the next closes
  the oldest, so a new request is always read.

It never reads files or runs code from the request.
"""

from __future__ import annotations

import errno
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from copgate.errors import CopgateError
from copgate.forge.blockpage import error_response, render_page
from copgate.http1.request import MAX_HEAD, Request, RequestError, head_size, read_request
from copgate.requests.basics import MAX_BODY, MAX_PAGE

LOG = logging.getLogger("copgate.blockpage")
MAX_CONNECTIONS = 64
MAX_PER_CLIENT = 8
"""A browser opens up to 6 connections to one host; more from one address is not a browser."""
IDLE_TIMEOUT = 10.0
"""Seconds a connection may take to send its request (a browser sends it at once)."""
READ_SIZE = 4096
SERVED_METHODS = frozenset({"GET", "HEAD"})
APP_METHODS = frozenset({"GET", "HEAD", "POST"})
"""With an app, forms are posted."""
METHOD_NOT_ALLOWED = 405
LENGTH_REQUIRED = 411  # RFC 9110 §15.5.12: a form's body must say its length
TOO_LARGE = 413  # RFC 9110 §15.5.14
SEND_BUFFER = 2 * MAX_PAGE
IP_FREEBIND = 15
"""linux/in.h; Python's socket module does not export it. Set at ``SOL_IP``
it also lets an IPv6 socket bind an address the host does not (yet) have."""


class PageApp(Protocol):
    """What answers a whole request: ``copgate.requests.app.BlockPageApp``, or the
    daemon's ``RequestsEdge``, which builds one at the first request."""

    def handle(self, request: Request, body: bytes, client: str, now: float) -> bytes: ...


@dataclass(slots=True)
class _Client:
    """One accepted connection and what it has sent so far."""

    sock: socket.socket
    peer: str
    deadline: float
    buffer: bytearray = field(default_factory=bytearray)


@dataclass(slots=True)
class BlockPageStats:
    """What the server did, for the daemon's status line."""

    served: int = 0
    refused: int = 0
    """Requests answered with an error status (malformed, too large, other methods)."""
    timed_out: int = 0
    evicted: int = 0
    """Connections closed to make room (per-client or overall cap)."""


class BlockPageServer:
    """A listening socket plus the connections being answered."""

    def __init__(
        self,
        address: str,
        port: int,
        *,
        on_close: Callable[[socket.socket], None] | None = None,
        app: PageApp | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Listen on ``address`` (IPv4 or IPv6) and ``port``; OSError if it cannot.

        An address the host does not have yet is still listened on (with
        IP_FREEBIND), and ``address_pending`` says so: at a router's boot the
        LAN's IPv6 address is often still in duplicate address detection, or
        its bridge not up, when copgate starts, and the page must work once
        it is. The caller warns, since a mistyped address looks the same.
        ``on_close`` is called with each client socket before the server
        closes it (the daemon unregisters it from its selector).
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
            self.listener.listen(64)
            self.listener.setblocking(False)
        except OSError:
            self.listener.close()
            raise
        self._on_close = on_close
        self.app = app
        self._clock = clock
        """Wall time for the app (CSRF tokens, records); deadlines use the monotonic clock."""
        self.clients: dict[int, _Client] = {}
        """fd -> client, oldest first (dicts keep insertion order)."""
        self.stats = BlockPageStats()

    def accept(self, now: float | None = None) -> socket.socket | None:
        """Take one waiting connection, making room for it; None if there was none."""
        now = time.monotonic() if now is None else now
        try:
            conn, peer = self.listener.accept()
        except (BlockingIOError, InterruptedError):
            return None
        except OSError as exc:  # ECONNABORTED, EMFILE: the next one may work
            LOG.warning("block page: accept failed: %s", exc)
            return None
        address = str(peer[0])
        mine = [c for c in self.clients.values() if c.peer == address]
        if len(mine) >= MAX_PER_CLIENT:
            self._evict(mine[0])
        elif len(self.clients) >= MAX_CONNECTIONS:
            self._evict(next(iter(self.clients.values())))
        conn.setblocking(False)
        if self.app is not None:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        self.clients[conn.fileno()] = _Client(conn, address, now + IDLE_TIMEOUT)
        return conn

    def readable(self, conn: socket.socket) -> bool:
        """Read from a client; True when the connection is finished and closed."""
        client = self.clients.get(conn.fileno())
        if client is None:
            return True  # closed already (evicted or expired)
        try:
            chunk = conn.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            chunk = b""
        if not chunk:  # the client gave up before its request was whole
            self._finish(client, None)
            return True
        client.buffer += chunk
        try:
            request = read_request(bytes(client.buffer))
        except RequestError as exc:
            LOG.debug("block page: %s refused (%d): %s", client.peer, exc.status, exc)
            self.stats.refused += 1
            self._finish(client, error_response(exc.status))
            return True
        if request is None:
            return False
        if self.app is not None:
            return self._answer(client, request)
        if request.method not in SERVED_METHODS:
            self.stats.refused += 1
            self._finish(client, error_response(METHOD_NOT_ALLOWED))
            return True
        response = render_page(request.target)
        if request.method == "HEAD":
            response = response.partition(b"\r\n\r\n")[0] + b"\r\n\r\n"
        self.stats.served += 1
        self._finish(client, response)
        return True

    def _answer(self, client: _Client, request: Request) -> bool:
        """Answer through the app once the request (and a POST's body) is whole."""
        assert self.app is not None
        if request.method not in APP_METHODS:
            self.stats.refused += 1
            self._finish(client, error_response(METHOD_NOT_ALLOWED, "GET, HEAD, POST"))
            return True
        body = b""
        if request.method == "POST":
            if request.field("transfer-encoding") is not None:
                self._refuse(client, LENGTH_REQUIRED)
                return True
            length = int(request.field("content-length") or "0")
            if length > MAX_BODY:
                self._refuse(client, TOO_LARGE)
                return True
            start = head_size(bytes(client.buffer))
            if len(client.buffer) < start + length:
                return False  # the body is still on its way
            body = bytes(client.buffer[start : start + length])
        response = self.app.handle(request, body, client.peer, self._clock())
        if request.method == "HEAD":
            response = response.partition(b"\r\n\r\n")[0] + b"\r\n\r\n"
        self.stats.served += 1
        self._finish(client, response)
        return True

    def _refuse(self, client: _Client, status: int) -> None:
        self.stats.refused += 1
        self._finish(client, error_response(status))

    def expire(self, now: float | None = None) -> int:
        """Close the connections whose time to send a request has run out; how many."""
        now = time.monotonic() if now is None else now
        late = [c for c in self.clients.values() if c.deadline <= now]
        for client in late:
            self.stats.timed_out += 1
            self._finish(client, None)
        return len(late)

    def next_deadline(self) -> float | None:
        """When ``expire`` next has work (monotonic seconds), or None."""
        return min((c.deadline for c in self.clients.values()), default=None)

    def close(self) -> None:
        for client in list(self.clients.values()):
            self._finish(client, None)
        self.listener.close()

    def _evict(self, client: _Client) -> None:
        self.stats.evicted += 1
        self._finish(client, None)

    def _finish(self, client: _Client, response: bytes | None) -> None:
        """Send ``response`` (if any) and close; the socket is forgotten either way."""
        self.clients.pop(client.sock.fileno(), None)
        if response is not None:
            try:
                # At most MAX_PAGE bytes on a fresh socket whose buffer is larger
                # (SEND_BUFFER): the kernel takes it whole.
                client.sock.send(response)
                client.sock.shutdown(socket.SHUT_WR)
                _discard_unread(client.sock)
            except OSError as exc:
                LOG.debug("block page not sent to %s: %s", client.peer, exc)
        if self._on_close is not None:
            try:
                self._on_close(client.sock)
            except (CopgateError, KeyError, ValueError) as exc:
                LOG.debug("block page: on_close: %s", exc)
        client.sock.close()


def _discard_unread(sock: socket.socket) -> None:
    """Read what the client sent beyond its head, up to ``MAX_HEAD`` bytes.

    Closing a socket with unread data makes the kernel send a reset, which
    can reach the client before it has read our answer (RFC 9112 §9.6);
    what has already arrived is read and dropped so that the answer stands.
    """
    left = MAX_HEAD
    while left > 0:
        try:
            chunk = sock.recv(min(left, READ_SIZE))
        except (BlockingIOError, InterruptedError):
            return
        if not chunk:
            return
        left -= len(chunk)
