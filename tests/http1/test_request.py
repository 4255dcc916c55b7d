"""copgate.http1.request: the block page's request reader, as strict as h11.

Each framing rule has its own case below, with the RFC section beside it;
then property tests: every prefix of a good request asks for more, random
and mutated bytes give one of the three outcomes and nothing else, and the
outcome never depends on where the bytes were cut into reads.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from copgate.http1.request import (
    BAD_REQUEST,
    MAX_FIELDS,
    MAX_HEAD,
    NOT_IMPLEMENTED,
    TOO_LARGE,
    VERSION_NOT_SUPPORTED,
    Request,
    RequestError,
    read_request,
)

# What Chromium sends after copgate's redirect to the page (captured in the lab).
BROWSER = (
    b"GET /blocked?host=casino.example&why=gambling HTTP/1.1\r\n"
    b"Host: 192.0.2.1:8099\r\n"
    b"Connection: keep-alive\r\n"
    b"Upgrade-Insecure-Requests: 1\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)\r\n"
    b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    b"Accept-Encoding: gzip, deflate\r\n"
    b"Accept-Language: en-US,en;q=0.9\r\n"
    b"\r\n"
)
CURL = b"GET /blocked?host=a.example HTTP/1.1\r\nHost: 192.0.2.1:8099\r\nAccept: */*\r\n\r\n"


def outcome(data: bytes) -> Request | int | None:
    """The request, None for "more", or the refusal's status."""
    try:
        return read_request(data)
    except RequestError as exc:
        return exc.status


def test_a_browser_request_is_read() -> None:
    request = read_request(BROWSER + b"body bytes are never read")
    assert request is not None
    assert (request.method, request.target, request.version) == (
        "GET",
        "/blocked?host=casino.example&why=gambling",
        "1.1",
    )
    assert request.field("host") == "192.0.2.1:8099"
    assert request.field("accept-language") == "en-US,en;q=0.9"
    assert len(request.fields) == 7


def test_every_prefix_of_a_good_request_asks_for_more() -> None:
    for end in range(len(BROWSER)):
        assert read_request(BROWSER[:end]) is None, end


def test_whitespace_around_a_value_is_not_part_of_it() -> None:
    # RFC 9112 §5.1: OWS before and after the value; HTAB inside is kept.
    request = read_request(b"GET / HTTP/1.1\r\nHost: \t a.example \t\r\nX-A: b\tc\r\n\r\n")
    assert request is not None
    assert request.fields == (("host", "a.example"), ("x-a", "b\tc"))


def test_a_target_urlsplit_would_choke_on_is_read() -> None:
    # The request that killed the daemon: it must be read (or refused), never raise.
    request = read_request(b"GET //[x HTTP/1.1\r\nHost: 192.0.2.1\r\n\r\n")
    assert request is not None and request.target == "//[x"


def test_http_1_0_needs_no_host() -> None:
    request = read_request(b"GET /blocked HTTP/1.0\r\n\r\n")
    assert request is not None and request.version == "1.0"


def test_a_single_chunked_transfer_encoding_is_accepted() -> None:
    # RFC 9112 §6.1: chunked is the coding every HTTP/1.1 recipient knows.
    assert read_request(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n")


REFUSED = [
    # (why, request, status)
    ("bare LF ends a line (RFC 9112 §2.2)", b"GET / HTTP/1.1\nHost: a\r\n\r\n", BAD_REQUEST),
    ("bare LF only", b"GET / HTTP/1.1\n\n", BAD_REQUEST),
    ("bare CR (RFC 9112 §2.2)", b"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", BAD_REQUEST),
    ("NUL in a value", b"GET / HTTP/1.1\r\nHost: a\x00\r\n\r\n", BAD_REQUEST),
    ("empty line before the request line", b"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", BAD_REQUEST),
    ("no target (RFC 9112 §3)", b"GET HTTP/1.1\r\nHost: a\r\n\r\n", BAD_REQUEST),
    ("two spaces", b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", BAD_REQUEST),
    ("tab for space", b"GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", BAD_REQUEST),
    ("method not a token", b"G(T / HTTP/1.1\r\nHost: a\r\n\r\n", BAD_REQUEST),
    ("space in the target", b"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", BAD_REQUEST),
    ("non-ASCII target", b"GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", BAD_REQUEST),
    ("lower-case version", b"GET / http/1.1\r\nHost: a\r\n\r\n", BAD_REQUEST),
    ("HTTP/0.9 style", b"GET /\r\n\r\n", BAD_REQUEST),
    ("HTTP/2.0", b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", VERSION_NOT_SUPPORTED),
    ("obs-fold (RFC 9112 §5.2)", b"GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n", BAD_REQUEST),
    ("obs-fold by tab", b"GET / HTTP/1.1\r\nHost: a\r\n\tb\r\n\r\n", BAD_REQUEST),
    ("space before colon (RFC 9112 §5.1)", b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", BAD_REQUEST),
    ("no colon", b"GET / HTTP/1.1\r\nHost a\r\n\r\n", BAD_REQUEST),
    ("empty name", b"GET / HTTP/1.1\r\n: a\r\nHost: a\r\n\r\n", BAD_REQUEST),
    ("control in a value (RFC 9110 §5.5)", b"GET / HTTP/1.1\r\nHost: a\x01\r\n\r\n", BAD_REQUEST),
    ("DEL in a value", b"GET / HTTP/1.1\r\nHost: a\x7fb\r\n\r\n", BAD_REQUEST),
    ("no Host in 1.1 (RFC 9112 §3.2)", b"GET / HTTP/1.1\r\n\r\n", BAD_REQUEST),
    ("two Hosts (RFC 9112 §3.2)", b"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", BAD_REQUEST),
    (
        "duplicate Content-Length (RFC 9110 §8.6)",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
        BAD_REQUEST,
    ),
    (
        "conflicting Content-Length",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        BAD_REQUEST,
    ),
    (
        "Content-Length list",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\n",
        BAD_REQUEST,
    ),
    (
        "signed Content-Length",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n",
        BAD_REQUEST,
    ),
    (
        "Content-Length of 21 digits",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: " + b"1" * 21 + b"\r\n\r\n",
        BAD_REQUEST,
    ),
    (
        "non-ASCII digits in Content-Length",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \xb2\r\n\r\n",  # superscript two
        BAD_REQUEST,
    ),
    (
        "Transfer-Encoding with Content-Length (RFC 9112 §6.1)",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        BAD_REQUEST,
    ),
    (
        "two Transfer-Encodings",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n",
        BAD_REQUEST,
    ),
    (
        "Transfer-Encoding in HTTP/1.0",
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        BAD_REQUEST,
    ),
    (
        "unknown transfer coding (RFC 9112 §6.1)",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        NOT_IMPLEMENTED,
    ),
    (
        "too many fields (RFC 6585 §5)",
        b"GET / HTTP/1.1\r\nHost: a\r\n" + b"X: y\r\n" * MAX_FIELDS + b"\r\n",
        TOO_LARGE,
    ),
    (
        "a head over the limit",
        b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"y" * MAX_HEAD + b"\r\n\r\n",
        TOO_LARGE,
    ),
]


@pytest.mark.parametrize(("why", "data", "status"), REFUSED, ids=[r[0] for r in REFUSED])
def test_each_framing_rule_refuses(why: str, data: bytes, status: int) -> None:
    with pytest.raises(RequestError) as refused:
        read_request(data)
    assert refused.value.status == status, (why, str(refused.value))


def test_a_head_that_never_ends_is_refused_at_the_limit() -> None:
    assert read_request(b"GET / HTTP/1.1\r\nX: " + b"y" * (MAX_HEAD - 30)) is None
    assert outcome(b"GET / HTTP/1.1\r\nX: " + b"y" * MAX_HEAD) == TOO_LARGE


def test_a_bare_lf_is_refused_before_the_head_ends() -> None:
    # The reader need not wait for a blank line that a bare-LF client never sends.
    assert outcome(b"GET / HTTP/1.1\nHost: a") == BAD_REQUEST
    assert read_request(b"GET / HTTP/1.1\r") is None  # a CR at the end may yet get its LF


# -- properties --------------------------------------------------------------------------


def _fed_in_pieces(data: bytes, cuts: list[int]) -> Request | int | None:
    """Feed ``data`` as the event loop would, read by read; the first outcome that is not None."""
    buffer = b""
    for start, end in zip([0, *cuts], [*cuts, len(data)], strict=True):
        buffer += data[start:end]
        result = outcome(buffer)
        if result is not None:
            return result
    return None


@pytest.mark.parametrize("data", [BROWSER, CURL] + [r[1] for r in REFUSED])
def test_a_split_at_any_byte_changes_nothing(data: bytes) -> None:
    whole = outcome(data)
    for cut in range(1, len(data)):
        assert _fed_in_pieces(data, [cut]) == whole, cut


@given(st.binary(max_size=300))
def test_random_bytes_give_one_of_three_outcomes(data: bytes) -> None:
    result = outcome(data)
    assert result is None or isinstance(result, Request | int)


_MUTATION = st.tuples(
    st.sampled_from(["insert", "delete", "replace"]),
    st.integers(min_value=0, max_value=len(BROWSER) - 1),
    st.sampled_from([b"\r", b"\n", b"\r\n", b" ", b"\t", b":", b"\x00", b"\xff", b"a", b"/"]),
)


@given(st.lists(_MUTATION, min_size=1, max_size=4), st.lists(st.integers(1, 400), max_size=5))
def test_a_mutated_request_split_anywhere_reads_as_it_does_whole(
    mutations: list[tuple[str, int, bytes]], cuts: list[int]
) -> None:
    data = bytearray(BROWSER)
    for how, where, piece in mutations:
        at = min(where, len(data) - 1)
        if how == "insert":
            data[at:at] = piece
        elif how == "delete":
            del data[at]
        else:
            data[at : at + 1] = piece
    whole = outcome(bytes(data))
    assert whole is None or isinstance(whole, Request | int)
    splits = sorted({c for c in cuts if c < len(data)})
    assert _fed_in_pieces(bytes(data), splits) == whole


@given(
    st.binary(min_size=1, max_size=60).filter(lambda b: b"\r\n\r\n" not in b),
    st.lists(st.integers(1, 200), max_size=4),
)
def test_random_bytes_after_a_request_line_read_the_same_split_anywhere(
    tail: bytes, cuts: list[int]
) -> None:
    data = b"GET / HTTP/1.1\r\n" + tail + b"\r\n\r\n"
    splits = sorted({c for c in cuts if c < len(data)})
    assert _fed_in_pieces(data, splits) == outcome(data)
