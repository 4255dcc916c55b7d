"""HTTP/1.x requests: the Host of each request, split or whole (RFC 9112, RFC 9110 §7.2)."""

from __future__ import annotations

import pytest

from copgate.errors import WireError
from copgate.wire.http import looks_like_http, read_http_request

REQUEST = b"GET /index.html HTTP/1.1\r\nUser-Agent: t\r\nHost: WWW.Example.ORG:8080\r\n\r\n"


def test_the_host_field_gives_the_name_without_port() -> None:
    request = read_http_request(REQUEST)
    assert request is not None and request.host is not None
    assert request.host.text == "www.example.org"
    assert request.method == "GET" and request.header_end == len(REQUEST)
    assert request.body_length == 0


def test_every_split_point_is_incomplete_until_the_header_section_ends() -> None:
    for end in range(len(REQUEST)):
        assert read_http_request(REQUEST[:end]) is None, end


def test_an_absolute_form_target_beats_the_host_field() -> None:
    request = read_http_request(
        b"GET http://user@a.example:81/x HTTP/1.1\r\nHost: b.example\r\n\r\n"
    )
    assert request is not None and request.host is not None and request.host.text == "a.example"


@pytest.mark.parametrize("host", [b"192.0.2.1", b"192.0.2.1:8080", b"[2001:db8::1]:80", b""])
def test_ip_literals_and_empty_hosts_are_bare_addresses(host: bytes) -> None:
    request = read_http_request(b"GET / HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
    assert request is not None and request.host is None


def test_content_length_and_chunked_bodies_are_reported() -> None:
    posted = read_http_request(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n")
    assert posted is not None and posted.body_length == 12
    chunked = read_http_request(
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
    )
    assert chunked is not None and chunked.body_length is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"GET / SPDY/3\r\n", "not an HTTP/1.x request line"),
        (b"GET / HTTP/1.1\r\nno colon here\r\n\r\n", "without a colon"),
        (b"GET / HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n", "not a number"),
        (b"GET / HTTP/1.1\r\nHost: a.example:http\r\n\r\n", "bad port"),
        (b"GET / HTTP/1.1\r\nX: " + b"a" * 20000, "longer than"),
    ],
)
def test_malformed_requests_are_wire_errors(data: bytes, message: str) -> None:
    with pytest.raises(WireError, match=message):
        read_http_request(data)


def test_request_starts_are_recognised_from_a_few_bytes() -> None:
    assert looks_like_http(b"G") and looks_like_http(b"POS") and looks_like_http(b"OPTIONS ")
    assert (
        not looks_like_http(b"\x16\x03")
        and not looks_like_http(b"")
        and not looks_like_http(b"HTTP/")
    )
