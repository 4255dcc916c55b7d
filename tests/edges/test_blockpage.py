"""The block page server on real loopback sockets, IPv4 and IPv6, driven by hand.

The daemon drives it from its selector (``tests.daemon.test_run``); here each
step is called directly: accept, read, answer, close. The framing rules
themselves are tested on bytes in ``tests.http1.test_request``; here, that
a refused request is answered with its status and closed, and that no
client can take the page from the others (idle timeout, per-client and
overall caps).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

from copgate.edges import blockpage
from copgate.edges.blockpage import IDLE_TIMEOUT, MAX_PER_CLIENT, BlockPageServer

PAGE = b"GET /blocked?host=casino.example&why=gambling HTTP/1.1\r\nHost: 192.0.2.1:8099\r\n\r\n"


@pytest.fixture(params=["127.0.0.1", "::1"])
def server(request: pytest.FixtureRequest) -> Iterator[BlockPageServer]:
    served = BlockPageServer(request.param, 0)
    yield served
    served.close()


@pytest.fixture
def server4() -> Iterator[BlockPageServer]:
    served = BlockPageServer("127.0.0.1", 0)
    yield served
    served.close()


def _connect(
    server: BlockPageServer, source: str | None = None, now: float | None = None
) -> tuple[socket.socket, socket.socket]:
    """A client connected to ``server`` (from ``source``), and the server's end once accepted."""
    client = socket.socket(server.listener.family, socket.SOCK_STREAM)
    client.settimeout(5.0)
    if source is not None:
        client.bind((source, 0))
    client.connect(server.listener.getsockname()[:2])
    conn = server.accept(now)  # on loopback the handshake is done when connect returns
    assert conn is not None
    return client, conn


def _read_all(client: socket.socket) -> bytes:
    response = b""
    while chunk := client.recv(65536):
        response += chunk
    return response


def _answer(server: BlockPageServer, conn: socket.socket) -> None:
    for _ in range(1000):
        if server.readable(conn):
            return
    raise AssertionError("the request was never answered")


def _ask(server: BlockPageServer, request: bytes, source: str | None = None) -> bytes:
    client, conn = _connect(server, source)
    with client:
        client.sendall(request)
        _answer(server, conn)
        return _read_all(client)


def test_a_request_gets_the_page_and_the_connection_closes(server: BlockPageServer) -> None:
    response = _ask(server, PAGE)
    assert response.startswith(b"HTTP/1.1 403 Forbidden\r\n")
    assert b"<title>Blocked: casino.example</title>" in response
    assert server.clients == {}
    assert server.stats.served == 1


def test_the_request_that_killed_the_daemon_gets_the_page(server: BlockPageServer) -> None:
    response = _ask(server, b"GET //[x HTTP/1.1\r\nHost: 192.0.2.1\r\n\r\n")
    assert response.startswith(b"HTTP/1.1 403 Forbidden\r\n")


def test_a_request_sent_byte_by_byte_is_answered_once_whole(server: BlockPageServer) -> None:
    client, conn = _connect(server)
    with client:
        for byte in PAGE[:-1]:
            client.send(bytes([byte]))
            assert not server.readable(conn)
        client.send(PAGE[-1:])
        _answer(server, conn)
        assert _read_all(client).startswith(b"HTTP/1.1 403 Forbidden\r\n")


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\nHost: a\r\n\r\n", b"400"),
        (b"GET / HTTP/1.1\nHost: a\n\n", b"400"),
        (b"GET / HTTP/1.1\r\n\r\n", b"400"),  # no Host
        (b"GET / HTTP/1.1\r\nX: " + b"a" * 9000, b"431"),
        (b"POST /blocked HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", b"405"),
        (b"GET / HTTP/3.0\r\nHost: a\r\n\r\n", b"505"),
    ],
)
def test_a_refused_request_gets_its_status_and_is_closed(
    server: BlockPageServer, request_bytes: bytes, status: bytes
) -> None:
    response = _ask(server, request_bytes)
    assert response.startswith(b"HTTP/1.1 " + status + b" ")
    assert response.endswith(b"Content-Length: 0\r\nConnection: close\r\n\r\n")
    assert server.clients == {} and server.stats.refused == 1


def test_head_gets_the_page_s_head_only(server: BlockPageServer) -> None:
    response = _ask(server, PAGE.replace(b"GET", b"HEAD", 1))
    assert response.startswith(b"HTTP/1.1 403 Forbidden\r\n") and response.endswith(b"\r\n\r\n")
    assert b"<html" not in response


def test_a_request_cut_short_is_closed_without_an_answer(server: BlockPageServer) -> None:
    client, conn = _connect(server)
    with client:
        client.sendall(b"GET /blocked?host=a.example HTTP/1.1\r\nX: y")
        assert not server.readable(conn)  # no blank line yet: wait for more
        client.shutdown(socket.SHUT_WR)
        _answer(server, conn)
        assert _read_all(client) == b""  # the client gave up: nothing is sent
    assert server.clients == {}


def test_an_idle_connection_is_closed_after_the_timeout(server: BlockPageServer) -> None:
    closed: list[socket.socket] = []
    server._on_close = closed.append
    client, conn = _connect(server, now=100.0)
    with client:
        assert server.next_deadline() == 100.0 + IDLE_TIMEOUT
        assert server.expire(100.0 + IDLE_TIMEOUT - 0.1) == 0
        assert server.expire(100.0 + IDLE_TIMEOUT) == 1
        assert closed == [conn] and server.clients == {}
        assert server.next_deadline() is None and server.stats.timed_out == 1
        assert _read_all(client) == b""
        assert server.readable(conn)  # a late event for it is harmless


def test_one_client_s_idle_connections_cost_only_its_own(server4: BlockPageServer) -> None:
    # Measured before: 64 idle connections from one client disabled the page.
    hog = [_connect(server4, "127.0.0.1") for _ in range(70)]
    try:
        assert len(server4.clients) == MAX_PER_CLIENT
        assert server4.stats.evicted == 70 - MAX_PER_CLIENT
        # The newest of the hog's connections are the ones kept.
        assert {c.sock for c in server4.clients.values()} == {conn for _c, conn in hog[-8:]}
        response = _ask(server4, PAGE, source="127.0.0.2")  # another client
        assert response.startswith(b"HTTP/1.1 403 Forbidden\r\n")
    finally:
        for client, _conn in hog:
            client.close()


def test_all_clients_together_are_capped_oldest_first(
    server4: BlockPageServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(blockpage, "MAX_CONNECTIONS", 4)
    held = [_connect(server4, f"127.0.0.{n}") for n in range(2, 8)]
    try:
        assert len(server4.clients) == 4
        assert {c.peer for c in server4.clients.values()} == {f"127.0.0.{n}" for n in (4, 5, 6, 7)}
        assert _read_all(held[0][0]) == b""  # the oldest was closed
    finally:
        for client, _conn in held:
            client.close()


@pytest.mark.parametrize("address", ["192.0.2.254", "2001:db8::dead"])  # RFC 5737, RFC 3849
def test_an_address_the_host_lacks_is_listened_on_and_flagged_pending(address: str) -> None:
    # At boot the LAN address may come after copgate: the listener must wait for it.
    served = BlockPageServer(address, 0)
    try:
        assert served.address_pending
        assert served.listener.getsockname()[0] == address
    finally:
        served.close()


def test_an_address_the_host_has_is_not_pending(server: BlockPageServer) -> None:
    assert not server.address_pending


def test_a_port_in_use_fails_to_bind_and_leaves_no_socket(server: BlockPageServer) -> None:
    address, port = server.listener.getsockname()[:2]
    before = len(os.listdir("/proc/self/fd"))
    with pytest.raises(OSError):
        BlockPageServer(address, port)
    assert len(os.listdir("/proc/self/fd")) == before
