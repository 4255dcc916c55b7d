"""HTTP/1.x requests: the Host of each request, split or whole (RFC 9112, RFC 9110 §7.2)."""

from __future__ import annotations

import pytest

from copgate.errors import WireError
from copgate.wire.http import (
    HttpFramingError,
    looks_like_http,
    read_chunk_size,
    read_http_request,
    request_line_ok,
)
from copgate.wire.names import Name

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


def test_an_absolute_form_target_and_a_different_host_field_are_both_reported() -> None:
    request = read_http_request(
        b"GET http://user@a.example:81/x HTTP/1.1\r\nHost: b.example\r\n\r\n"
    )
    assert request is not None and request.host is not None and request.host.text == "a.example"
    assert request.field_host is not None and request.field_host.text == "b.example"
    same = read_http_request(b"GET http://a.example/ HTTP/1.1\r\nHost: A.example\r\n\r\n")
    assert same is not None and same.field_host is None


@pytest.mark.parametrize(
    ("host", "literal"),
    [
        (b"192.0.2.1", "192.0.2.1"),
        (b"192.0.2.1:8080", "192.0.2.1"),
        (b"[2001:DB8::1]:80", "2001:db8::1"),
        (b"[2001:db8::1]", "2001:db8::1"),
    ],
)
def test_ip_literal_hosts_are_reported_as_the_literal(host: bytes, literal: str) -> None:
    request = read_http_request(b"GET / HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
    assert request is not None and request.host is not None
    assert request.host.text == literal and request.host.valid


def test_an_empty_host_is_no_name() -> None:
    request = read_http_request(b"GET / HTTP/1.1\r\nHost: \r\n\r\n")
    assert request is not None and request.host is None


@pytest.mark.parametrize("method", [b"MKCOL", b"PROPPATCH", b"UNLOCK", b"M-SEARCH", b"X!#$%&'*+"])
def test_any_method_token_is_read(method: bytes) -> None:
    data = method + b" /x HTTP/1.1\r\nHost: a.example\r\n\r\n"
    assert looks_like_http(data[:9])
    request = read_http_request(data)
    assert request is not None and request.method == method.decode()


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
        (b"GE(T / HTTP/1.1\r\n\r\n", "not an HTTP/1.x request line"),
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "two different"),
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


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (b"Content-Length: 3\r\nContent-Length: 4\r\n", "disagree"),
        (b"Content-Length: 3, 4\r\n", "disagree"),
        (b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n", "both"),
        (b"Transfer-Encoding: chunked, gzip\r\n", "does not end"),
        (b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", "does not end"),
        (b"Content-Length: -1\r\n", "not a number"),
    ],
)
def test_requests_whose_end_cannot_be_known_are_framing_errors(fields: bytes, message: str) -> None:
    """RFC 9112 §6.3: a body stated two ways could end where the server does not think."""
    with pytest.raises(HttpFramingError, match=message):
        read_http_request(b"POST / HTTP/1.1\r\nHost: a\r\n" + fields + b"\r\n")


def test_repeated_equal_content_lengths_are_one_length() -> None:
    request = read_http_request(
        b"POST / HTTP/1.1\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\n"
    )
    assert request is not None and request.body_length == 4


def test_chunk_size_lines() -> None:
    assert read_chunk_size(b"1a") == 26
    assert read_chunk_size(b"0") == 0
    assert read_chunk_size(b"FF;name=value") == 255
    for bad in (b"", b"g", b"-1", b"1" * 16, b" 1"):
        with pytest.raises(HttpFramingError):
            read_chunk_size(bad)


@pytest.mark.parametrize(
    "data",
    [
        b"GET / HTTP/1.1\nHost: a.example\n\n",
        b"GET / HTTP/1.1\r\nHost: a.example\n\r\n",
        b"\r\n\n\r\nGET / HTTP/1.1\r\nHost: a.example\r\n\r\n",
        b"GET  /  HTTP/1.1 \r\nHost: a.example\r\n\r\n",
        b"GET / HTTP/1.01\r\nHost: a.example\r\n\r\n",
    ],
    ids=["bare LF", "LF then CRLF", "empty lines first", "spaces", "HTTP/1.01"],
)
def test_requests_are_read_as_nginx_reads_them(data: bytes) -> None:
    """RFC 9112 §2.2: a bare LF may end a line, empty lines before the request line are skipped."""
    request = read_http_request(data)
    assert request is not None and request.host == Name("a.example", True)
    assert request.header_end == len(data)
    assert all(read_http_request(data[:end]) is None for end in range(len(data)))


@pytest.mark.parametrize(
    "line", [b"GET / HTTP/2.0", b"GET / HTTP/1.", b"GET /\tx HTTP/1.1", b"GET / HTTP/1.1 x"]
)
def test_lines_no_http_1_server_reads_are_not_request_lines(line: bytes) -> None:
    assert not request_line_ok(line)
