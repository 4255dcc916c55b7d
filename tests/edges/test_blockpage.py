"""The block page server on real loopback sockets, IPv4 and IPv6, driven by hand.

The daemon drives it from its selector (``tests.daemon.test_run``); here each
step is called directly: accept, read, answer, close.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

from copgate.edges.blockpage import BlockPageServer


@pytest.fixture(params=["127.0.0.1", "::1"])
def server(request: pytest.FixtureRequest) -> Iterator[BlockPageServer]:
    served = BlockPageServer(request.param, 0)
    yield served
    served.close()


def _connect(server: BlockPageServer) -> tuple[socket.socket, socket.socket]:
    """A client connected to ``server``, and the server's end once accepted."""
    client = socket.socket(server.listener.family, socket.SOCK_STREAM)
    client.settimeout(5.0)
    client.connect(server.listener.getsockname()[:2])
    conn = server.accept()  # on loopback the handshake is done when connect returns
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


def test_a_request_gets_the_page_and_the_connection_closes(server: BlockPageServer) -> None:
    client, conn = _connect(server)
    with client:
        client.sendall(b"GET /blocked?host=casino.example&why=gambling HTTP/1.1\r\n\r\n")
        _answer(server, conn)
        response = _read_all(client)
    assert response.startswith(b"HTTP/1.1 403 Forbidden\r\n")
    assert b"<title>Blocked: casino.example</title>" in response
    assert server.clients == {}


def test_a_request_cut_short_is_answered_when_the_client_stops_sending(
    server: BlockPageServer,
) -> None:
    client, conn = _connect(server)
    with client:
        client.sendall(b"GET /blocked?host=a.example HTTP/1.1\r\nX: y")
        assert not server.readable(conn)  # no blank line yet: wait for more
        client.shutdown(socket.SHUT_WR)
        _answer(server, conn)
        assert _read_all(client) == b""  # the client gave up: nothing is sent
    assert server.clients == {}


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
