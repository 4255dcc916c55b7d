"""Stream readers: the layer chosen by a stream's first bytes, and each read incrementally."""

from __future__ import annotations

import pytest

from copgate.errors import WireError
from copgate.tools.samples import client_hello
from copgate.wire.http import HttpFramingError, HttpRequest
from copgate.wire.layers import DnsLayer, HttpLayer, TlsLayer, Unreadable, choose_layer
from copgate.wire.question import ClientHello, DnsQuery
from tests.wire.builders import dns_query


def read_in_pieces(layer: HttpLayer | DnsLayer | TlsLayer, stream: bytes, step: int) -> list[str]:
    """Feed ``stream`` ``step`` bytes at a time as the tracker does, discarding what is used."""
    data = bytearray()
    skip = 0  # bytes the layer skipped past what it was given (a body not received yet)
    out: list[str] = []
    for at in range(0, len(stream), step):
        piece = stream[at : at + step]
        cut = min(skip, len(piece))
        skip -= cut
        data += piece[cut:]
        items, used = layer.read(data)
        for item in items:
            value = item.value
            name = value.sni if isinstance(value, ClientHello) else None
            if isinstance(value, HttpRequest | DnsQuery):
                name = value.host if isinstance(value, HttpRequest) else value.name
            out.append(name.text if name else "")
        if used > len(data):
            skip += used - len(data)
        del data[:used]
    return out


@pytest.mark.parametrize(
    ("first", "chosen"),
    [
        (b"\x16\x03\x01\x02\x00\x01", TlsLayer),
        (b"GET / HTTP/1.1\r\n", HttpLayer),
        (b"MKCOL /d HTTP/1.1\r\n", HttpLayer),
    ],
)
def test_the_first_bytes_choose_the_layer(first: bytes, chosen: type) -> None:
    assert isinstance(choose_layer(first, dns_port=False), chosen)
    assert isinstance(choose_layer(first, dns_port=True), DnsLayer)


@pytest.mark.parametrize(
    ("first", "server"),
    [
        (b"\x16\x03\x03\x00\x30\x02", True),
        (b"HTTP/1.1 200 OK\r\n", True),
        (b"SSH-2.0-OpenSSH_9.2\r\n", False),
        (b"\x00\x01", False),
        (b"GET / SPDY/3\r\n", False),
    ],
)
def test_what_is_neither_tls_nor_an_http_request_is_unreadable(first: bytes, server: bool) -> None:
    chosen = choose_layer(first, dns_port=False)
    assert isinstance(chosen, Unreadable) and chosen.server is server


@pytest.mark.parametrize("first", [b"", b"\x16\x03", b"G", b"PROPPATCH /x HT"])
def test_too_few_bytes_choose_nothing_yet(first: bytes) -> None:
    assert choose_layer(first, dns_port=False) is None


def test_an_http_request_line_longer_than_the_bound_is_unreadable() -> None:
    assert isinstance(choose_layer(b"GET /" + b"a" * 9000, dns_port=False), Unreadable)


def test_tls_reads_the_hello_once_whatever_the_cuts() -> None:
    hello = client_hello("a.example", padding=3000)
    for step in (1, 3, 700, len(hello)):
        assert read_in_pieces(TlsLayer(), hello + b"\x14\x03\x03", step) == ["a.example"], step


def test_http_frames_bodies_by_length_and_chunks_whatever_the_cuts() -> None:
    stream = (
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789"
        b"POST / HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nX-Trailer: 1\r\n\r\n"
        b"GET / HTTP/1.1\r\nHost: c\r\n\r\n"
    )
    for step in range(1, 40):
        assert read_in_pieces(HttpLayer(), stream, step) == ["a", "b", "c"], step


def test_a_fork_reads_on_without_moving_the_original() -> None:
    layer = HttpLayer()
    head = b"GET / HTTP/1.1\r\nHost: a\r\n"
    layer.read(bytearray(head))
    fork = layer.fork()
    items, _used = fork.read(bytearray(head + b"\r\n"))
    assert len(items) == 1 and layer.requests == 0


def test_an_error_after_the_first_request_is_a_framing_error() -> None:
    layer = HttpLayer()
    first = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
    layer.read(bytearray(first))
    with pytest.raises(HttpFramingError, match="request 2"):
        layer.read(bytearray(b"GET / HTTP/1.1\r\nno colon\r\n\r\n"))


def test_a_first_request_that_is_malformed_is_a_plain_wire_error() -> None:
    with pytest.raises(WireError) as caught:
        HttpLayer().read(bytearray(b"GET / HTTP/1.1\r\nno colon\r\n\r\n"))
    assert not isinstance(caught.value, HttpFramingError)


def test_dns_reads_every_framed_message() -> None:
    messages = [dns_query(f"n{i}.example") for i in range(5)]
    stream = b"".join(len(m).to_bytes(2, "big") + m for m in messages)
    for step in (1, 5, len(stream)):
        assert read_in_pieces(DnsLayer(), stream, step) == [f"n{i}.example" for i in range(5)]
    with pytest.raises(WireError, match="too short"):
        DnsLayer().read(bytearray(b"\x00\x03abc"))
