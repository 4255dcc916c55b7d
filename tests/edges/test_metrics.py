"""copgate.edges.metrics: GET /metrics answers the rendered text; anything else is refused."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv6Address

import pytest

from copgate.edges.metrics import MetricsServer

BODY = "# TYPE copgate_packets_total counter\ncopgate_packets_total 7\n"


@pytest.fixture
def server() -> Iterator[MetricsServer]:
    metrics = MetricsServer(IPv4Address("127.0.0.1"), 0, lambda: BODY, timeout=0.3)
    metrics.start()
    try:
        yield metrics
    finally:
        metrics.close()


def _get(address: tuple[str, int], request: bytes) -> bytes:
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as conn:
        conn.settimeout(5.0)
        conn.connect(address)
        conn.sendall(request)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_metrics_are_served(server: MetricsServer) -> None:
    reply = _get(server.address, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200 OK\r\n")
    assert b"Content-Type: text/plain; version=0.0.4; charset=utf-8" in head
    assert f"Content-Length: {len(BODY)}".encode() in head
    assert body == BODY.encode()
    assert server.served == 1


@pytest.mark.parametrize(
    ("request_line", "status"),
    [
        (b"GET / HTTP/1.0\r\n\r\n", b"404"),
        (b"POST /metrics HTTP/1.0\r\n\r\n", b"405"),
        (b"garbage\r\n\r\n", b"405"),
    ],
)
def test_other_requests_are_refused(
    server: MetricsServer, request_line: bytes, status: bytes
) -> None:
    assert _get(server.address, request_line).startswith(b"HTTP/1.0 " + status)
    assert server.served == 0


def test_head_has_no_body(server: MetricsServer) -> None:
    reply = _get(server.address, b"HEAD /metrics HTTP/1.0\r\n\r\n")
    assert reply.endswith(b"\r\n\r\n") and b"200 OK" in reply


def test_a_silent_client_does_not_stop_the_next(server: MetricsServer) -> None:
    with socket.create_connection(server.address):
        reply = _get(server.address, b"GET /metrics?x=1 HTTP/1.0\r\n\r\n")
    assert reply.endswith(BODY.encode())


def test_ipv6_loopback() -> None:
    try:
        metrics = MetricsServer(IPv6Address("::1"), 0, lambda: BODY)
    except OSError as exc:  # pragma: no cover - a host without IPv6
        pytest.fail(f"no IPv6 loopback here: {exc}")
    metrics.start()
    try:
        assert _get(metrics.address, b"GET /metrics HTTP/1.0\r\n\r\n").endswith(BODY.encode())
    finally:
        metrics.close()
