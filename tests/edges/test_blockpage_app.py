"""The block page server with its app, on real loopback sockets: forms are posted and stored.

The app's routes and checks are tested on values in ``tests.requests.test_app``;
here, what the server adds: the body of a POST is read (also when it arrives
after the head), its length is required and capped, a page far larger than
one segment reaches the client whole, and a HEAD gets the head only.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest

from copgate.edges.blockpage import BlockPageServer
from copgate.requests.app import BlockPageApp
from copgate.requests.basics import MAX_BODY
from copgate.requests.csrf import CsrfKey
from copgate.requests.i18n import Catalogue
from copgate.requests.page import Recent
from copgate.requests.store import RecordKind, Store
from tests.edges.test_blockpage import _answer, _ask, _connect, _read_all

NOW = 1_800_000_000.0
PAGE = b"GET /blocked?host=casino.example&why=gambling HTTP/1.1\r\nHost: 192.0.2.1:8099\r\n\r\n"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path)


@pytest.fixture(params=["127.0.0.1", "::1"])
def server(request: pytest.FixtureRequest, store: Store) -> Iterator[BlockPageServer]:
    many = [Recent(NOW - n, f"site{n}.example", "category", "adult") for n in range(50)]
    app = BlockPageApp(Catalogue.load(), store, key=CsrfKey(b"k" * 32), recent=lambda client: many)
    served = BlockPageServer(request.param, 0, app=app, clock=lambda: NOW)
    yield served
    served.close()


def _token(server: BlockPageServer) -> str:
    page = _ask(server, PAGE).decode("utf-8")
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None
    return found[1]


def _post(body: bytes, length: int | None = None) -> bytes:
    return (
        b"POST /request HTTP/1.1\r\nHost: 192.0.2.1:8099\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: %d\r\n\r\n" % (len(body) if length is None else length)
    ) + body


def test_a_posted_form_is_stored(server: BlockPageServer, store: Store) -> None:
    body = urlencode({"csrf": _token(server), "kind": "access", "name": "casino.example"})
    response = _ask(server, _post(body.encode()))
    assert response.startswith(b"HTTP/1.1 200 OK\r\n")
    (entry,) = store.entries()
    assert (entry.record.kind, entry.record.name) == (RecordKind.ACCESS, "casino.example")
    assert entry.record.client in ("127.0.0.1", "::1")


def test_a_body_that_comes_after_the_head_is_waited_for(
    server: BlockPageServer, store: Store
) -> None:
    body = urlencode({"csrf": _token(server), "kind": "site", "name": "bad.example"}).encode()
    request = _post(body)
    client, conn = _connect(server)
    with client:
        client.sendall(request[:-10])
        for _ in range(20):
            assert not server.readable(conn)
            if server.clients[conn.fileno()].buffer == request[:-10]:
                break
        client.sendall(request[-10:])
        _answer(server, conn)
        assert _read_all(client).startswith(b"HTTP/1.1 200 OK\r\n")
    assert [e.record.name for e in store.entries()] == ["bad.example"]


def test_a_form_without_a_token_is_403(server: BlockPageServer, store: Store) -> None:
    response = _ask(server, _post(b"kind=access&name=casino.example"))
    assert response.startswith(b"HTTP/1.1 403 Forbidden\r\n")
    assert store.entries() == []


def test_a_body_over_the_cap_is_413_before_it_is_read(server: BlockPageServer) -> None:
    response = _ask(server, _post(b"", length=MAX_BODY + 1))
    assert response.startswith(b"HTTP/1.1 413 Content Too Large\r\n")


def test_a_chunked_form_is_411(server: BlockPageServer) -> None:
    request = b"POST /request HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    assert _ask(server, request).startswith(b"HTTP/1.1 411 Length Required\r\n")


def test_other_methods_are_405_naming_post(server: BlockPageServer) -> None:
    response = _ask(server, b"PUT /request HTTP/1.1\r\nHost: x\r\n\r\n")
    assert response.startswith(b"HTTP/1.1 405 Method Not Allowed\r\n")
    assert b"Allow: GET, HEAD, POST\r\n" in response


def test_a_page_of_many_segments_arrives_whole(server: BlockPageServer) -> None:
    response = _ask(server, b"GET /recent HTTP/1.1\r\nHost: x\r\n\r\n")
    head, _, body = response.partition(b"\r\n\r\n")
    assert b"200 OK" in head
    length = int(re.search(rb"Content-Length: (\d+)", head)[1])  # type: ignore[index]
    assert length == len(body) > 1500 * 3
    assert body.count(b"<tr>") == 51


def test_head_gets_the_head_only(server: BlockPageServer) -> None:
    response = _ask(server, b"HEAD /recent HTTP/1.1\r\nHost: x\r\n\r\n")
    assert response.startswith(b"HTTP/1.1 200 OK\r\n") and response.endswith(b"\r\n\r\n")


def test_the_send_buffer_takes_the_largest_page(server: BlockPageServer) -> None:
    client, conn = _connect(server)
    with client:
        assert conn.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) >= 2 * 32 * 1024
