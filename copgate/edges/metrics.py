"""The Prometheus endpoint: ``GET /metrics`` on one loopback or LAN address, from a thread.

Off unless ``metrics_listen`` is set; the config refuses a global or
wildcard address (``copgate.config.values.listen_address``), so the WAN
never sees it. HTTP/1.0 without keep-alive is all a scraper needs: one
request per connection, read within ``TIMEOUT`` seconds and at most
``MAX_REQUEST`` bytes, answered and closed. It has no authentication,
which is why the address is the protection.

It serves what ``render`` returns; what the metrics are is
``copgate.daemon.metrics``'s.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address

from copgate.daemon.metrics import CONTENT_TYPE
from copgate.edges.listener import OneAtATime

TIMEOUT = 2.0
"""Seconds a scraper has to send its request and take the reply."""
MAX_REQUEST = 8192
"""Bytes of request head read at most (a scraper sends a few hundred)."""
PATH = b"/metrics"


class MetricsServer(OneAtATime):
    """A listener on (address, port) and the thread that answers it."""

    def __init__(
        self,
        address: IPv4Address | IPv6Address,
        port: int,
        render: Callable[[], str],
        *,
        timeout: float = TIMEOUT,
    ) -> None:
        self.render = render
        self.served = 0
        family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((str(address), port))
            listener.listen(8)
        except OSError:
            listener.close()
            raise
        self.address: tuple[str, int] = listener.getsockname()[:2]
        """Where it listens (the port the kernel chose when asked for 0)."""
        super().__init__(listener, "metrics", timeout)

    def wake(self) -> None:
        with contextlib.suppress(OSError), socket.create_connection(self.address, 0.5):
            pass

    def handle(self, conn: socket.socket) -> None:
        conn.sendall(self._respond(_read_head(conn)))

    def _respond(self, head: bytes) -> bytes:
        method, _, rest = head.partition(b" ")
        target = rest.split(b" ", 1)[0].split(b"?", 1)[0]
        if method not in (b"GET", b"HEAD"):
            return _response(405, "Method Not Allowed", b"GET only\n", allow=True)
        if target != PATH:
            return _response(404, "Not Found", b"see /metrics\n")
        self.served += 1
        body = self.render().encode()
        return _response(200, "OK", b"" if method == b"HEAD" else body, length=len(body))


def _read_head(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data and b"\n\n" not in data and len(data) < MAX_REQUEST:
        chunk = conn.recv(MAX_REQUEST - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _response(
    status: int, reason: str, body: bytes, *, length: int | None = None, allow: bool = False
) -> bytes:
    headers = [
        f"HTTP/1.0 {status} {reason}",
        f"Content-Type: {CONTENT_TYPE if status == 200 else 'text/plain'}",
        f"Content-Length: {len(body) if length is None else length}",
        "Connection: close",
    ]
    if allow:
        headers.append("Allow: GET, HEAD")
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + body
