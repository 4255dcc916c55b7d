"""copgate in the lab's gateway judges TLS connections by their SNI alone.

curl with ``--resolve`` and openssl s_client with ``-connect IP`` ask no DNS,
so only the ClientHello's server name can tell the gateway where they go. A
blocked name gets a TCP reset to both ends at once (curl exit 35 or 56 in
well under a second, not a timeout), an allowed one gets the page, over
IPv4 and IPv6 alike. Safe search holds over TLS: www.google.com is reached
at its safe endpoint's address only. A walled garden refuses HTTPS to a bare
address (no SNI); the teen's filter does not.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from copgate.lab import clients, plan
from copgate.lab.clients import HttpResult
from copgate.lab.topology import Client, Lab
from tests.lab.daemon_lab import Gateway, running_copgate

pytestmark = pytest.mark.lab

RESET_EXITS = (35, 56)
"""curl: 35 the TLS handshake failed (reset during it), 56 failure receiving data."""
FAST = 1.0
"""Seconds within which a reset connection must fail: a drop would take the timeout."""
CURL_TIMEOUT = 5.0
ALLOWED = plan.host("allowed.example")


@pytest.fixture(scope="module")
def gateway(lab: Lab) -> Iterator[Gateway]:
    with running_copgate(lab) as running:
        yield running


def _https(
    gateway: Gateway, role: str, name: str, family: int, via: plan.Host | None = None
) -> tuple[HttpResult, float]:
    """GET https://name/ pinned to the address of ``via`` (default: the name's own host).

    Returns the result and the seconds it took.
    """
    lab = gateway.lab
    host = via or plan.host(name)
    started = time.monotonic()
    result = clients.curl(
        lab.clients[role],
        f"https://{name}/",
        resolve=host.v4 if family == 4 else host.v6,
        cacert=lab.ca,
        timeout=CURL_TIMEOUT,
    )
    return result, time.monotonic() - started


def _assert_reset(result: HttpResult, seconds: float) -> None:
    assert result.exit_code in RESET_EXITS, result
    assert result.error is not None and "reset" in result.error.lower(), result
    assert seconds < FAST, f"took {seconds:.2f} s: a drop, not a reset"


def _assert_page(result: HttpResult, name: str) -> None:
    assert (result.exit_code, result.status) == (0, 200), result
    assert result.page["host"] == name
    assert result.page["scheme"] == "https"


@pytest.mark.parametrize("family", [4, 6])
@pytest.mark.parametrize(
    ("role", "name"),
    [
        ("teen", "blocked.example"),
        ("teen", "social.example"),
        ("teen", "www.blocked.example"),  # a listed name covers its subdomains
        ("pupil", "blocked.example"),
        ("pupil", "games.example"),
        ("lan2", "games.example"),
    ],
)
def test_curl_to_a_blocked_name_is_reset_at_once(
    gateway: Gateway, role: str, name: str, family: int
) -> None:
    since = gateway.mark()
    result, seconds = _https(gateway, role, name, family)
    _assert_reset(result, seconds)
    tls = [d for d in gateway.decisions(since) if d.kind == "tls"]
    assert tls and {d.verdict for d in tls} == {"block"}
    assert {d.name for d in tls} == {name}
    client = gateway.lab.clients[role]
    assert {d.client_address for d in tls} == {str(client.v4 if family == 4 else client.v6)}


@pytest.mark.parametrize("family", [4, 6])
@pytest.mark.parametrize(
    ("role", "name"),
    [
        ("teen", "allowed.example"),
        ("teen", "games.example"),
        ("pupil", "white.example"),
        ("pupil", "allowed.example"),
        ("lan2", "allowed.example"),
        ("staff", "blocked.example"),
        ("staff", "adult.example"),
    ],
)
def test_curl_to_an_allowed_name_gets_the_page(
    gateway: Gateway, role: str, name: str, family: int
) -> None:
    result, _seconds = _https(gateway, role, name, family)
    _assert_page(result, name)
    client = gateway.lab.clients[role]
    assert result.remote_ip == str(plan.host(name).v4 if family == 4 else plan.host(name).v6)
    # Through the gateway's NAT: the server saw its WAN address.
    assert result.page["client"] == str(plan.WAN.router_v4 if family == 4 else plan.WAN.router_v6)
    assert client.role == role


def _s_client(gateway: Gateway, role: str, name: str, address: str) -> clients.TlsResult:
    lab = gateway.lab
    return clients.s_client(lab.clients[role], address, name, cafile=lab.ca, timeout=CURL_TIMEOUT)


@pytest.mark.parametrize("family", [4, 6])
def test_s_client_to_a_blocked_name_is_reset(gateway: Gateway, family: int) -> None:
    host = plan.host("blocked.example")
    started = time.monotonic()
    result = _s_client(gateway, "teen", "BLOCKED.example", str(host.v4 if family == 4 else host.v6))
    assert not result.connected, result.output
    assert "errno=104" in result.output or "reset" in result.output.lower(), result.output
    assert time.monotonic() - started < FAST + 1.0


@pytest.mark.parametrize("family", [4, 6])
def test_s_client_to_an_allowed_name_completes_the_handshake(gateway: Gateway, family: int) -> None:
    result = _s_client(
        gateway, "teen", "allowed.example", str(ALLOWED.v4 if family == 4 else ALLOWED.v6)
    )
    assert result.connected and result.verified, result.output
    assert result.protocol in ("TLSv1.3", "TLSv1.2")


@pytest.mark.parametrize("family", [4, 6])
def test_google_over_tls_only_at_its_safe_endpoint(gateway: Gateway, family: int) -> None:
    plain, safe = plan.host("www.google.com"), plan.host("forcesafesearch.google.com")
    # The daemon learns the safe endpoints' addresses from the lab's DNS at
    # start; the reset below proves it knew them (not knowing, the teen's
    # open failure mode would let the connection through).
    gateway.wait_safe_endpoints()
    since = gateway.mark()
    refused, seconds = _https(gateway, "teen", "www.google.com", family, plain)
    _assert_reset(refused, seconds)
    result, _ = _https(gateway, "teen", "www.google.com", family, safe)
    _assert_page(result, "www.google.com")
    rules = [(d.verdict, d.rule) for d in gateway.decisions(since) if d.kind == "tls"]
    assert ("block", "safesearch") in rules and ("allow", "safesearch") in rules


def test_google_unrestricted_for_staff(gateway: Gateway) -> None:
    plain = plan.host("www.google.com")
    result, _ = _https(gateway, "staff", "www.google.com", 4, plain)
    _assert_page(result, "www.google.com")


def _bare_ip(client: Client) -> tuple[HttpResult, float]:
    # No name at all: curl sends no SNI to an IP address.
    started = time.monotonic()
    result = clients.curl(client, f"https://{ALLOWED.v4}/", timeout=CURL_TIMEOUT, extra=["-k"])
    return result, time.monotonic() - started


def test_https_to_a_bare_address_refused_for_the_walled_garden(gateway: Gateway) -> None:
    since = gateway.mark()
    result, seconds = _bare_ip(gateway.lab.clients["pupil"])
    _assert_reset(result, seconds)
    rules = {(d.verdict, d.rule) for d in gateway.decisions(since) if d.kind == "tls"}
    assert rules == {("block", "bypass")}


def test_https_to_a_bare_address_allowed_for_the_teen(gateway: Gateway) -> None:
    result, _ = _bare_ip(gateway.lab.clients["teen"])
    assert (result.exit_code, result.status) == (0, 200), result


def test_a_kept_connection_is_judged_once(gateway: Gateway) -> None:
    # Two requests on one kept-alive connection: the flow is decided by its
    # hello, then the kernel passes the rest (the connmark skips the queue).
    lab = gateway.lab
    since = gateway.mark()
    url = "https://allowed.example/"
    result = clients.curl(
        lab.clients["teen"],
        url,
        resolve=ALLOWED.v4,
        cacert=lab.ca,
        extra=[url, "--no-progress-meter"],
    )
    assert result.exit_code == 0, result
    assert result.body.count("host=allowed.example") == 2
    tls = [d for d in gateway.decisions(since) if d.kind == "tls"]
    assert [(d.verdict, d.name) for d in tls] == [("allow", "allowed.example")]


def test_no_verdict_failed(gateway: Gateway) -> None:
    counters = gateway.counters()
    assert counters["failures"] == 0 and counters["malformed"] == 0
    assert counters["inject_failed"] == 0
    assert counters["verdicts"].get("tls:block", 0) > 0
