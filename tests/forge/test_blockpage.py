"""The block page's URL and response: one page, whether served by the router or forged inline."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

import pytest

from copgate.forge.blockpage import (
    MAX_HOST,
    MAX_RESPONSE,
    block_page_url,
    error_response,
    page_response,
    render_page,
)


def _split(response: bytes) -> tuple[str, str]:
    head, body = response.split(b"\r\n\r\n", 1)
    assert f"Content-Length: {len(body)}".encode() in head
    return head.decode("ascii"), body.decode("utf-8")


def test_an_ipv6_address_is_bracketed_in_the_url() -> None:
    # RFC 3986 §3.2.2: an IP literal in a URL's authority is written in brackets.
    assert block_page_url(IPv6Address("2001:db8:1::1"), "a.example", "adult") == (
        "http://[2001:db8:1::1]:8099/blocked?host=a.example&why=adult"
    )
    assert block_page_url(IPv4Address("192.0.2.1"), "a.example", "adult") == (
        "http://192.0.2.1:8099/blocked?host=a.example&why=adult"
    )


def test_the_served_page_and_the_forged_page_are_the_same_bytes() -> None:
    url = block_page_url(IPv4Address("192.0.2.1"), "casino.example", "gambling")
    target = url.removeprefix("http://192.0.2.1:8099")
    assert render_page(target) == page_response("casino.example", "gambling")


def test_the_page_names_the_host_and_the_reason_escaped() -> None:
    head, body = _split(page_response("<b>x</b>.example", 'a"&b'))
    assert head.startswith("HTTP/1.1 403 Forbidden\r\n")
    assert "Cache-Control: no-store" in head and "Connection: close" in head
    assert "<title>Blocked: &lt;b&gt;x&lt;/b&gt;.example</title>" in body
    assert "Why: a&quot;&amp;b" in body
    assert "<b>" not in body


def test_missing_values_read_as_this_site_and_policy() -> None:
    _head, body = _split(render_page("/blocked"))
    assert "<strong>this site</strong>" in body and "Why: policy" in body


def test_a_long_name_is_cut_at_a_name_s_length() -> None:
    _head, body = _split(page_response("a" * (MAX_HOST + 100), "social_networks"))
    assert body.count("a" * MAX_HOST) == 2 and "a" * (MAX_HOST + 1) not in body


def test_an_escaped_value_is_cut_whole_and_never_inside_an_entity() -> None:
    _head, body = _split(page_response("&" * 100, "policy"))
    assert f"<strong>{'&amp;' * (MAX_HOST // 5)}</strong>" in body


def test_the_largest_page_fits_one_ethernet_frame() -> None:
    # Forged inline, the page goes out as one TCP segment, IPv6 and TCP headers
    # included: it must fit a 1500-byte Ethernet MTU whatever the request held.
    for filler in ("a", "&", '"', "я", "\U0001f600"):
        largest = page_response(filler * 1000, filler * 1000)
        assert len(largest) <= MAX_RESPONSE, (filler, len(largest))


@pytest.mark.parametrize(
    "target",
    ["//[x", "http://[::1/blocked?host=a", "/blocked?host=%zz&why=%", "?", "#?host=a", "*"],
)
def test_any_target_gets_the_page_never_an_exception(target: str) -> None:
    # ``GET //[x`` once made urlsplit raise and the daemon die: only the query is read.
    assert render_page(target).startswith(b"HTTP/1.1 403 Forbidden\r\n")


def test_the_query_is_read_from_an_absolute_target_and_before_a_fragment() -> None:
    page = render_page("http://192.0.2.1:8099/blocked?host=a.example&why=adult#top")
    assert page == page_response("a.example", "adult")


def test_an_error_answer_has_no_body_and_closes() -> None:
    assert error_response(400) == (
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    # RFC 9110 §15.5.6: a 405 names the methods that are allowed.
    assert b"\r\nAllow: GET, HEAD\r\n" in error_response(405)
    assert error_response(431).startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
