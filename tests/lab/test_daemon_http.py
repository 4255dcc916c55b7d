"""copgate in the lab's gateway sends plain HTTP to a blocked name to its block page.

The request's Host is judged on the client-to-server segment that carries
it; a blocked one is dropped and the client gets, as if from the server, a
302 to the block page on the router's address of the request's family
(``http://192.0.2.1:8099/blocked?host=...&why=...`` over IPv4,
``http://[2001:db8:1::1]:8099/...`` over IPv6), served by the daemon
itself, and following it shows a page that names the host. curl runs with
``-4`` or ``-6``, so an IPv6 client that follows the redirect never falls
back to IPv4. The walled garden's clients reach that page too (the kernel's
refusals apply to forwarded traffic, not to the router's own services).
Without a block-page address of the request's family, the client gets the
page itself in the server's place.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from copgate.lab import clients, plan
from copgate.lab.clients import HttpResult
from copgate.lab.topology import Lab
from tests.lab.daemon_lab import Gateway, running_copgate

pytestmark = pytest.mark.lab

BLOCK_PAGE = {
    4: f"http://{plan.LAN.router_v4}:8099/blocked",
    6: f"http://[{plan.LAN.router_v6}]:8099/blocked",
}
BLOCKPAGE_IPV6_LINE = f'blockpage_ipv6 = "{plan.LAN.router_v6}"\n'


@pytest.fixture(scope="module")
def gateway(lab: Lab) -> Iterator[Gateway]:
    with running_copgate(lab) as running:
        yield running


def _http(
    gateway: Gateway,
    role: str,
    name: str,
    *,
    path: str = "/",
    family: int = 4,
    follow: bool = False,
) -> HttpResult:
    host = plan.host(name)
    return clients.curl(
        gateway.lab.clients[role],
        f"http://{name}{path}",
        resolve=host.v4 if family == 4 else host.v6,
        family=family,
        extra=["-L"] if follow else [],
    )


@pytest.mark.parametrize("family", [4, 6])
@pytest.mark.parametrize(
    ("role", "name", "why"),
    [
        ("teen", "blocked.example", "gambling"),
        ("teen", "social.example", "social_networks"),
        ("pupil", "blocked.example", "whitelist_only"),
        ("lan2", "games.example", "games"),
    ],
)
def test_a_blocked_name_is_redirected_to_the_block_page(
    gateway: Gateway, role: str, name: str, why: str, family: int
) -> None:
    since = gateway.mark()
    result = _http(gateway, role, name, path="/some/page?q=1", family=family)
    assert (result.exit_code, result.status) == (0, 302), result
    assert result.redirect is not None
    location = urlsplit(result.redirect)
    assert f"{location.scheme}://{location.netloc}{location.path}" == BLOCK_PAGE[family]
    query = parse_qs(location.query)
    assert (query["host"], query["why"]) == ([name], [why])
    http = [d for d in gateway.decisions(since) if d.kind == "http"]
    assert [(d.verdict, d.name) for d in http] == [("block", name)]


def test_the_block_page_listens_on_both_addresses(gateway: Gateway) -> None:
    for where in (f"{plan.LAN.router_v4}:8099", f"[{plan.LAN.router_v6}]:8099"):
        assert f"block page served on {where}" in gateway.log()
    assert "block page not served" not in gateway.log()


@pytest.mark.parametrize("family", [4, 6])
@pytest.mark.parametrize("role", ["teen", "pupil", "lan2"])
def test_following_the_redirect_shows_the_page_naming_the_host(
    gateway: Gateway, role: str, family: int
) -> None:
    name = "games.example" if role == "lan2" else "blocked.example"
    result = _http(gateway, role, name, family=family, follow=True)
    assert (result.exit_code, result.status) == (0, 403), result
    router = plan.LAN.router_v4 if family == 4 else plan.LAN.router_v6
    assert result.remote_ip == str(router)  # the page came from the router, over this family
    assert f"<title>Blocked: {name}</title>" in result.body
    assert f"<strong>{name}</strong> is not available" in result.body


@pytest.mark.parametrize("family", [4, 6])
@pytest.mark.parametrize(
    ("role", "name"),
    [
        ("teen", "allowed.example"),
        ("pupil", "white.example"),
        ("staff", "blocked.example"),
    ],
)
def test_an_allowed_name_gets_the_page(gateway: Gateway, role: str, name: str, family: int) -> None:
    result = _http(gateway, role, name, family=family)
    assert (result.exit_code, result.status) == (0, 200), result
    assert result.page["host"] == name
    assert result.page["scheme"] == "http"


def test_a_download_never_crosses_into_the_daemon(gateway: Gateway) -> None:
    # Only client-to-server segments with data are queued: a 1 MiB download
    # costs the daemon one packet (the request), however many segments it is.
    queued = gateway.rule_packets("http")
    judged = gateway.counters()["verdicts"].get("http:allow", 0)
    result = clients.curl(
        gateway.lab.clients["teen"],
        "http://allowed.example/big",
        resolve=plan.host("allowed.example").v4,
        extra=["-o", "/dev/null"],
    )
    assert (result.exit_code, result.status) == (0, 200), result
    assert gateway.rule_packets("http") - queued == 1
    assert gateway.counters()["verdicts"]["http:allow"] - judged == 1


def test_without_an_ipv6_block_page_address_an_ipv6_client_gets_the_page_itself(
    gateway: Gateway,
) -> None:
    text = gateway.config.read_text()
    assert BLOCKPAGE_IPV6_LINE in text
    gateway.config.write_text(text.replace(BLOCKPAGE_IPV6_LINE, ""))
    try:
        gateway.sighup(expect="reloaded: ")
        inline = _http(gateway, "teen", "blocked.example", family=6)
        # Not a redirect to the IPv4 page (an IPv6-only client could not follow
        # it): the page, in the server's place and from the server's address.
        assert (inline.exit_code, inline.status, inline.redirect) == (0, 403, None), inline
        assert inline.remote_ip == str(plan.host("blocked.example").v6)
        assert "<title>Blocked: blocked.example</title>" in inline.body
        assert "Why: gambling" in inline.body
        over_ipv4 = _http(gateway, "teen", "blocked.example", family=4)
        assert over_ipv4.status == 302 and over_ipv4.redirect is not None, over_ipv4
        assert over_ipv4.redirect.startswith(BLOCK_PAGE[4] + "?")
    finally:
        gateway.reload()
    assert _http(gateway, "teen", "blocked.example", family=6).status == 302


def test_no_verdict_failed(gateway: Gateway) -> None:
    counters = gateway.counters()
    assert counters["failures"] == 0 and counters["inject_failed"] == 0
    assert counters["verdicts"].get("http:block", 0) >= 8
