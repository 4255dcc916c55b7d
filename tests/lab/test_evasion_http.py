"""An evader's HTTP and DNS-over-TCP tricks against copgate in the lab's gateway.

HTTP and DNS over TCP are judged for a connection's whole life: a test
fails if the lab's real server answers a request for a blocked name (its
page, titled ``lab NAME``, reaches the client) or if the real address of a
blocked name comes back over DNS. The bytes are written on a kernel TCP
connection from the ``lan2`` client (group ``lab2``, the ``school``
template), except for the segment sent ahead of the request, which the
evasion kit crafts. Each trick has its control: the same bytes for an
allowed name get the real page, so the server answers that form at all
(and for the absolute-form target, the staff client shows that the server
serves the target's host, not the ``Host`` header's). Ways of writing a
request (case, trailing dot, bare LF, empty lines first...) and of framing
the one before it (odd lengths, chunk forms, trailers...) that nginx reads
are each tried, with nginx's own reading as the control; so are fake
requests the server drops (a dying TTL, a bad checksum, an old timestamp,
an acknowledgment out of range) sent before the real one. Last, a blocked DNS
query from a LAN client that claims an internet source address must get
nothing forged towards that address.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from scapy.layers.dns import DNS, DNSQR

from copgate.lab import clients, plan
from copgate.lab.topology import Client, Lab
from copgate.wire.flows import Limits
from tests.lab import evasion_kit as kit
from tests.lab.daemon_lab import Gateway, running_copgate
from tests.lab.evasion_kit import RawTcp

pytestmark = pytest.mark.lab

BLOCKED = "blocked.example"
ALLOWED = "allowed.example"
HTTP = 80
DNS_PORT = 53
SPOOFED_HOST = 99
"""Host number of an internet-side address a spoofed query claims (``plan.HOSTS``)."""
ANSWER_WAIT = 1.5
"""Seconds a test reads a connection for the server's answer."""
MAX_AGE = Limits().max_age
"""The tracker's default age bound (the daemon runs with it)."""


@pytest.fixture(scope="module")
def gateway(lab: Lab) -> Iterator[Gateway]:
    with running_copgate(lab) as running, kit.kernel_resets_dropped(lab, lab.clients["lan2"]):
        yield running


@pytest.fixture
def evader(gateway: Gateway) -> Client:
    return gateway.lab.clients["lan2"]


def _get(host: str, *, method: str = "GET", target: str = "/") -> bytes:
    return f"{method} {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: lab\r\n\r\n".encode()


def _connection(client: Client, server: str = BLOCKED) -> socket.socket:
    return kit.tcp_socket(client, kit.server_address(server, 4), HTTP)


def _exchange(client: Client, *requests: bytes) -> bytes:
    """Each request sent in turn on one connection, each answer read: all that came back."""
    with _connection(client) as sock:
        received = b""
        for request in requests:
            try:
                sock.sendall(request)
            except (BrokenPipeError, ConnectionResetError):
                break  # closed by copgate: nothing more goes to the server
            received += kit.read_for(sock, ANSWER_WAIT)
        return received


def _assert_not_served(received: bytes, name: str = BLOCKED) -> None:
    assert kit.nginx_page(name) not in received, (
        f"the real server's page for {name} reached the client:\n{received[-600:]!r}"
    )


# -- whole-life judging ---------------------------------------------------------------


CHUNKED_POST = (
    f"POST / HTTP/1.1\r\nHost: {ALLOWED}\r\nTransfer-Encoding: chunked\r\n\r\n"
    "5\r\nhello\r\n6;name=x\r\n world\r\n0\r\n\r\n"
).encode()


def test_a_request_after_a_chunked_body_is_judged(evader: Client) -> None:
    received = _exchange(evader, CHUNKED_POST, _get(BLOCKED))
    assert kit.nginx_page(ALLOWED) in received, received  # the POST itself went through
    _assert_not_served(received)


def test_a_request_after_a_chunked_body_for_an_allowed_name_is_served(evader: Client) -> None:
    received = _exchange(evader, CHUNKED_POST, _get(ALLOWED))
    assert received.count(kit.nginx_page(ALLOWED)) == 2, received


def test_a_request_after_a_chunked_body_in_one_segment_is_judged(evader: Client) -> None:
    received = _exchange(evader, CHUNKED_POST + _get(BLOCKED))
    _assert_not_served(received)


_POST = f"POST / HTTP/1.1\r\nHost: {ALLOWED}\r\n".encode()
_CHUNKED = _POST + b"Transfer-Encoding: chunked\r\n\r\n"
FRAMINGS = {
    "Content-Length with leading zeros": _POST + b"Content-Length: 005\r\n\r\nhello",
    "Content-Length with spaces": _POST + b"Content-Length:   5  \r\n\r\nhello",
    "Transfer-Encoding in capitals": (
        _POST + b"Transfer-Encoding: Chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    ),
    "chunk size in upper-case hex with zeros": _CHUNKED + b"0000A\r\nhellohello\r\n0\r\n\r\n",
    "chunk extension with a quoted ';'": _CHUNKED + b'5;a="x;y"\r\nhello\r\n0\r\n\r\n',
    "chunked trailer field": _CHUNKED + b"5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n",
    "chunks with bare LF": _CHUNKED + b"5\nhello\n0\n\n",
    "GET with a body": (
        f"GET / HTTP/1.1\r\nHost: {ALLOWED}\r\nContent-Length: 5\r\n\r\nhello".encode()
    ),
    "HTTP/1.0 kept alive": (
        f"GET / HTTP/1.0\r\nHost: {ALLOWED}\r\nConnection: keep-alive\r\n\r\n".encode()
    ),
    "Expect: 100-continue": _POST + b"Expect: 100-continue\r\nContent-Length: 5\r\n\r\nhello",
}
"""A first request for the allowed name, framed in a way nginx reads, with the
request for the blocked name right after it in the same segment."""


@pytest.mark.parametrize("framing", sorted(FRAMINGS))
def test_the_server_reads_the_request_after_each_framing(gateway: Gateway, framing: str) -> None:
    received = _exchange(gateway.lab.clients["staff"], FRAMINGS[framing] + _get(BLOCKED))
    assert kit.nginx_page(BLOCKED) in received, received


@pytest.mark.parametrize("framing", sorted(FRAMINGS))
def test_the_request_after_each_framing_is_judged(evader: Client, framing: str) -> None:
    _assert_not_served(_exchange(evader, FRAMINGS[framing] + _get(BLOCKED)))


METHODS = ["MKCOL", "PROPPATCH", "UNLOCK", "BREW"]
"""WebDAV's methods and a token no RFC defines: any token is a method (RFC 9110 §9)."""


@pytest.mark.parametrize("method", METHODS)
def test_any_method_token_is_judged(evader: Client, method: str) -> None:
    _assert_not_served(_exchange(evader, _get(BLOCKED, method=method)))


@pytest.mark.parametrize("method", METHODS)
def test_the_server_answers_any_method_token(evader: Client, method: str) -> None:
    received = _exchange(evader, _get(ALLOWED, method=method))
    assert kit.nginx_page(ALLOWED) in received, received


ABSOLUTE_BLOCKED = _get(ALLOWED, target=f"http://{BLOCKED}/")
"""An absolute-form target (RFC 9112 §3.2.2) for the blocked name under an allowed Host."""


def test_the_server_serves_an_absolute_form_target_host(gateway: Gateway) -> None:
    # Unfiltered staff: the server reads the target's host, not Host's.
    received = _exchange(gateway.lab.clients["staff"], ABSOLUTE_BLOCKED)
    assert kit.nginx_page(BLOCKED) in received, received


def test_an_absolute_form_target_is_judged_by_its_host(evader: Client) -> None:
    _assert_not_served(_exchange(evader, ABSOLUTE_BLOCKED))


def test_an_absolute_form_target_for_an_allowed_name_is_served(evader: Client) -> None:
    received = _exchange(evader, _get(ALLOWED, target=f"http://{ALLOWED}/"))
    assert kit.nginx_page(ALLOWED) in received, received


REQUEST_FORMS = {
    "upper case": b"GET / HTTP/1.1\r\nHost: BLOCKED.EXAMPLE\r\n\r\n",
    "trailing dot": b"GET / HTTP/1.1\r\nHost: blocked.example.\r\n\r\n",
    "a port": b"GET / HTTP/1.1\r\nHost: blocked.example:80\r\n\r\n",
    "spaces around": b"GET / HTTP/1.1\r\nHost:    blocked.example   \r\n\r\n",
    "field name in capitals": b"GET / HTTP/1.1\r\nHOST: blocked.example\r\n\r\n",
    # RFC 9112 §2.2: a recipient may take a bare LF as a line end...
    "bare LF line ends": b"GET / HTTP/1.1\nHost: blocked.example\n\n",
    # ... and should ignore empty lines before the request line.
    "empty lines first": b"\r\n\r\nGET / HTTP/1.1\r\nHost: blocked.example\r\n\r\n",
    "HTTP/1.0 with an absolute target only": b"GET http://blocked.example/ HTTP/1.0\r\n\r\n",
    "absolute https target": (
        b"GET https://blocked.example/ HTTP/1.1\r\nHost: allowed.example\r\n\r\n"
    ),
    "absolute target with a port": (
        b"GET http://blocked.example:80/ HTTP/1.1\r\nHost: allowed.example\r\n\r\n"
    ),
}
"""Ways to write a request for the blocked name that the lab's nginx serves."""


@pytest.mark.parametrize("form", sorted(REQUEST_FORMS))
def test_the_server_serves_each_request_form(gateway: Gateway, form: str) -> None:
    received = _exchange(gateway.lab.clients["staff"], REQUEST_FORMS[form])
    assert kit.nginx_page(BLOCKED) in received, received


@pytest.mark.parametrize("form", sorted(REQUEST_FORMS))
def test_each_request_form_is_judged(evader: Client, form: str) -> None:
    _assert_not_served(_exchange(evader, REQUEST_FORMS[form]))


def test_an_ip_literal_host_meets_the_bare_address_policy(gateway: Gateway) -> None:
    # The walled garden refuses bare addresses: a Host that is one is bare.
    pupil = gateway.lab.clients["pupil"]
    literal = str(plan.host(BLOCKED).v4)
    received = _exchange(pupil, _get(literal))
    _assert_not_served(received, literal)


def test_a_long_keep_alive_session_is_judged_request_by_request(evader: Client) -> None:
    honest = [_get(ALLOWED, target=f"/page/{number}") for number in range(6)]
    received = _exchange(evader, *honest, _get(BLOCKED))
    assert received.count(kit.nginx_page(ALLOWED)) == len(honest), received
    _assert_not_served(received)


def test_a_pipelined_request_for_a_blocked_name_is_judged(evader: Client) -> None:
    received = _exchange(evader, _get(ALLOWED) + _get(BLOCKED))
    _assert_not_served(received)


def test_a_request_that_pauses_past_the_age_bound_is_judged(evader: Client) -> None:
    # The request line now, the Host line after longer than the tracker's
    # age bound: the request is still judged (or the connection closed).
    request = _get(BLOCKED)
    split = request.index(b"Host:")
    with _connection(evader) as sock:
        sock.sendall(request[:split])
        time.sleep(MAX_AGE + 1.0)
        try:
            sock.sendall(request[split:])
        except (BrokenPipeError, ConnectionResetError):
            return
        _assert_not_served(kit.read_for(sock, ANSWER_WAIT))


def test_a_segment_sent_ahead_of_the_request_does_not_hide_it(evader: Client) -> None:
    # The allowed request sits right after where the blocked one will be
    # and comes first; the blocked one then fills the gap. The server reads
    # both, in stream order.
    blocked, allowed = _get(BLOCKED), _get(ALLOWED)
    with RawTcp(evader, kit.server_address(BLOCKED, 4), HTTP) as connection:
        connection.connect()
        connection.send(allowed, len(blocked))
        time.sleep(0.1)
        connection.send(blocked, 0)
        connection.wait_for(lambda: False, ANSWER_WAIT)
        _assert_not_served(connection.stream())


FAKES = ["TTL that dies", "bad checksum", "old timestamp", "ACK too old"]
"""Fake requests the server never reads (see test_evasion_tcp for the controls)."""


def _fake_then_real(client: Client, how: str) -> bytes:
    """A fake request for the allowed name, then the real one for the blocked name
    at the same place in the stream; what the server sent back."""
    fake, real = _get(ALLOWED), _get(BLOCKED)
    assert len(fake) == len(real)
    server = kit.server_address(BLOCKED, 4)
    with RawTcp(client, server, HTTP, timestamps=how == "old timestamp") as connection:
        connection.connect()
        assert connection.rcv_nxt is not None
        if how == "TTL that dies":
            connection.send(fake, 0, ttl=kit.SHORT_TTL)
        elif how == "bad checksum":
            connection.send(fake, 0, bad_checksum=True)
        elif how == "old timestamp":
            connection.send(fake, 0, tsval=1)
        else:
            connection.send(fake, 0, ack=(connection.rcv_nxt - 2_000_000_000) % (1 << 32))
        time.sleep(0.1)
        connection.send(real, 0)
        connection.wait_for(lambda: False, ANSWER_WAIT)
        return connection.stream()


@pytest.mark.parametrize("how", FAKES)
def test_the_server_never_reads_the_fake_request(gateway: Gateway, how: str) -> None:
    lab = gateway.lab
    staff = lab.clients["staff"]
    with kit.kernel_resets_dropped(lab, staff), kit.ttl_dies_at_server(lab):
        received = _fake_then_real(staff, how)
    assert kit.nginx_page(BLOCKED) in received and kit.nginx_page(ALLOWED) not in received


@pytest.mark.parametrize("how", FAKES)
def test_a_fake_request_the_server_never_reads_does_not_cover_the_real_one(
    gateway: Gateway, evader: Client, how: str
) -> None:
    with kit.ttl_dies_at_server(gateway.lab):
        _assert_not_served(_fake_then_real(evader, how))


def test_curl_still_gets_an_allowed_page(evader: Client) -> None:
    result = clients.curl(evader, f"http://{ALLOWED}/", resolve=plan.host(ALLOWED).v4)
    assert (result.exit_code, result.status) == (0, 200), result
    assert result.page["host"] == ALLOWED


# -- DNS over TCP ---------------------------------------------------------------------


def _dns_tcp(message: bytes) -> bytes:
    return len(message).to_bytes(2, "big") + message


def _query(name: str, ident: int) -> bytes:
    return bytes(DNS(id=ident, rd=1, qd=DNSQR(qname=name, qtype="A")))


def test_dns_over_tcp_after_a_malformed_message_is_judged(evader: Client) -> None:
    # A message copgate cannot read as a query (a header with no question,
    # which the server answers with an error and keeps the connection), then
    # a query for the blocked name on the same connection to the outside
    # resolver.
    broken = bytes(DNS(id=1, rd=1, qdcount=0))
    server = plan.host("ns.example").v4
    with kit.tcp_socket(evader, server, DNS_PORT) as sock:
        try:
            sock.sendall(_dns_tcp(broken))
            kit.read_for(sock, 0.5)
            sock.sendall(_dns_tcp(_query(BLOCKED, 2)))
        except (BrokenPipeError, ConnectionResetError):
            return  # closed: the blocked query never reached the server
        received = kit.read_for(sock, ANSWER_WAIT)
    assert plan.host(BLOCKED).v4.packed not in received, received


def test_dns_over_tcp_for_an_allowed_name_is_answered(evader: Client) -> None:
    server = plan.host("ns.example").v4
    with kit.tcp_socket(evader, server, DNS_PORT) as sock:
        sock.sendall(_dns_tcp(_query(ALLOWED, 3)))
        allowed = kit.read_for(sock, ANSWER_WAIT)
        sock.sendall(_dns_tcp(_query(BLOCKED, 4)))
        blocked = kit.read_for(sock, ANSWER_WAIT)
    assert plan.host(ALLOWED).v4.packed in allowed, allowed
    assert plan.host(BLOCKED).v4.packed not in blocked, blocked


def test_a_blocked_query_claiming_an_outside_source_gets_nothing_forged(
    gateway: Gateway, evader: Client
) -> None:
    # A LAN client sends a query for the blocked name that claims to come
    # from an internet address (198.51.100.99, which the lab's internet
    # side has): an answer forged to it would make copgate a reflector.
    lab = gateway.lab
    victim, resolver = plan.Host("", SPOOFED_HOST).v4, plan.host("ns.example").v4
    with kit.udp_to(lab.internet, victim, DNS_PORT) as seen:
        kit.send_spoofed_udp(evader, victim, resolver, DNS_PORT, _query(BLOCKED, 5))
        time.sleep(ANSWER_WAIT)
    assert seen == [], f"{len(seen)} answers went to the address the query claimed"


def test_copgate_survived(gateway: Gateway) -> None:
    assert gateway.daemon.alive()
    assert gateway.counters()["failures"] == 0
