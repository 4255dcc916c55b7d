"""copgate in the lab's gateway applies each group's policy end to end.

- Safe search: the teen's www.google.com, www.youtube.com and www.bing.com
  are answered with a CNAME to the safe endpoint and the endpoint's address,
  which the daemon learned from the lab's DNS (the gateway's resolv.conf);
  staff get the plain answer.
- The walled garden: the pupil reaches white.example (white list) and
  allowed.example (own allow entry) by DNS, TLS and HTTP, and nothing else;
  traffic copgate cannot read (TCP to port 2222, UDP to 853 or 5000) is
  refused by the kernel for the pupil, DoQ (UDP 853) for the teen too, and
  staff are unaffected. The router's own services stay open to everyone.
- Time windows: a window active now blocks the teen's sites (all of them,
  or one category); one not active blocks nothing. The daemon takes each
  window config by SIGHUP, and the module's config comes back after.
"""

from __future__ import annotations

import datetime
import json
import sys
from collections.abc import Iterator
from functools import partial

import pytest

from copgate.lab import clients, plan
from copgate.lab.processes import LabProcess, python_env, run
from copgate.lab.topology import Lab
from tests.lab.daemon_lab import Gateway, running_copgate

pytestmark = pytest.mark.lab

ROUTER = plan.LAN.router_v4
ECHO_HOST = plan.host("allowed.example")
UNREADABLE_TCP = 2222
DOQ = 853  # RFC 9250 §4.1.1 DNS over QUIC (and DNS over DTLS)
UNREADABLE_UDP = 5000
ROUTER_UDP = 67  # DHCP: the router's own service, never refused
ROUTER_TCP = 22
ECHO_READY = "echo ready"


@pytest.fixture(scope="module")
def gateway(lab: Lab) -> Iterator[Gateway]:
    with running_copgate(lab) as running:
        yield running


@pytest.fixture(scope="module")
def echo(lab: Lab) -> Iterator[None]:
    """Echo servers behind the gateway (internet) and on the router itself."""
    started: list[LabProcess] = []
    for netns, name, hosts, tcp, udp in (
        (
            lab.internet,
            "echo-internet",
            (ECHO_HOST.v4, ECHO_HOST.v6),
            (UNREADABLE_TCP,),
            (DOQ, UNREADABLE_UDP),
        ),
        (lab.gateway, "echo-router", (ROUTER, plan.LAN.router_v6), (ROUTER_TCP,), (ROUTER_UDP,)),
    ):
        argv = [sys.executable, "-m", "tests.lab.echo_peer", "serve"]
        argv += [f"--host={host}" for host in hosts]
        argv += [f"--tcp={port}" for port in tcp] + [f"--udp={port}" for port in udp]
        process = lab.spawn(netns, argv, name=name, env=python_env())
        started.append(process)
        lab.wait_ready(process, partial(_says_ready, process), 10.0)
    yield
    for process in started:
        lab.stop(process)


def _says_ready(process: LabProcess) -> bool:
    return ECHO_READY in process.log_text()


def _probe(lab: Lab, role: str, address: object, port: int, *, udp: bool) -> dict[str, object]:
    argv = [sys.executable, "-m", "tests.lab.echo_peer", "probe", f"--host={address}"]
    argv += [f"--port={port}", "--timeout=1"] + (["--udp"] if udp else [])
    result = run(lab.clients[role].netns, argv, timeout=10, env=python_env())
    answer: dict[str, object] = json.loads(result.stdout)
    return answer


# -- safe search -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "endpoint"),
    [
        ("www.google.com", "forcesafesearch.google.com"),
        ("www.youtube.com", "restrictmoderate.youtube.com"),  # home-teenagers: moderate
        ("www.bing.com", "strict.bing.com"),
    ],
)
@pytest.mark.parametrize("qtype", ["A", "AAAA"])
def test_safe_search_answered_with_the_safe_endpoint(
    gateway: Gateway, name: str, endpoint: str, qtype: str
) -> None:
    gateway.wait_safe_endpoints()
    safe = plan.host(endpoint)
    result = clients.dig(gateway.lab.clients["teen"], name, server=ROUTER, qtype=qtype)
    assert result.status == "NOERROR", result.output
    assert [(r.name, r.rtype, r.data) for r in result.answer] == [
        (f"{name}.", "CNAME", f"{endpoint}."),
        (f"{endpoint}.", qtype, str(safe.v4 if qtype == "A" else safe.v6)),
    ]
    assert result.ede == ()


def test_safe_search_for_the_second_lan_and_not_for_staff(gateway: Gateway) -> None:
    gateway.wait_safe_endpoints()
    lan2 = clients.dig(gateway.lab.lan2, "www.google.com", server=plan.LAN2.router_v4)
    assert lan2.addresses == (str(plan.host("forcesafesearch.google.com").v4),), lan2.output
    staff = clients.dig(gateway.lab.clients["staff"], "www.google.com", server=ROUTER)
    assert [r.rtype for r in staff.answer] == ["A"], staff.output
    assert staff.addresses == (str(plan.host("www.google.com").v4),)


# -- the walled garden -------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "open_"),
    [
        ("white.example", True),
        ("allowed.example", True),
        ("www.allowed.example", True),  # an own allow entry covers its subdomains
        ("blocked.example", False),
        ("games.example", False),
        ("social.example", False),
        ("www.google.com", False),
        ("dns.google", False),
    ],
)
def test_the_pupil_reaches_only_the_walled_garden(gateway: Gateway, name: str, open_: bool) -> None:
    lab = gateway.lab
    pupil = lab.clients["pupil"]
    host = plan.host(name)
    dns = clients.dig(pupil, name, server=ROUTER)
    tls = clients.curl(pupil, f"https://{name}/", resolve=host.v4, cacert=lab.ca)
    http = clients.curl(pupil, f"http://{name}/", resolve=host.v4)
    if open_:
        assert dns.addresses == (str(host.v4),), dns.output
        assert (tls.status, http.status) == (200, 200), (tls, http)
        assert tls.page["host"] == name
    else:
        assert dns.status == "NXDOMAIN", dns.output
        assert tls.status is None and tls.exit_code in (35, 56), tls
        assert http.status == 302, http


@pytest.mark.parametrize(
    ("port", "udp", "refused_for"),
    [
        (UNREADABLE_TCP, False, {"pupil"}),
        (UNREADABLE_UDP, True, {"pupil"}),
        (DOQ, True, {"pupil", "teen", "lan2"}),
    ],
)
@pytest.mark.parametrize("family", [4, 6])
def test_unreadable_traffic_refused_by_the_kernel_for_the_walled_garden(
    gateway: Gateway, echo: None, port: int, udp: bool, refused_for: set[str], family: int
) -> None:
    lab = gateway.lab
    address = ECHO_HOST.v4 if family == 4 else ECHO_HOST.v6
    counted = gateway.counters()["packets"]
    outcome = {
        role: _probe(lab, role, address, port, udp=udp)
        for role in ("pupil", "teen", "staff", "lan2")
        if family == 4 or role != "lan2"  # lan2's IPv6 is a network of its own; v4 suffices
    }
    expected = {
        role: {"ok": False, "error": "refused"} if role in refused_for else {"ok": True}
        for role in outcome
    }
    assert outcome == expected
    # Refused in the kernel or passed by it: never queued to the daemon.
    assert gateway.counters()["packets"] == counted


@pytest.mark.parametrize(("port", "udp"), [(ROUTER_UDP, True), (ROUTER_TCP, False)])
def test_the_routers_own_services_stay_open_to_the_walled_garden(
    gateway: Gateway, echo: None, port: int, udp: bool
) -> None:
    # DHCP (UDP 67) and the router's other services are its own firewall's
    # business: copgate's refusals cover forwarded traffic only.
    lab = gateway.lab
    for address in (ROUTER, plan.LAN.router_v6):
        assert _probe(lab, "pupil", address, port, udp=udp) == {"ok": True}


# -- time windows ------------------------------------------------------------


def _clock(moment: datetime.datetime) -> str:
    return moment.strftime("%H:%M")


def _window(start_hours: float, end_hours: float, what: str) -> str:
    """A daily window for the teens, from ``start_hours`` to ``end_hours`` from now (UTC)."""
    now = datetime.datetime.now(datetime.UTC)
    start = _clock(now + datetime.timedelta(hours=start_hours))
    end = _clock(now + datetime.timedelta(hours=end_hours))
    return f'\n[[group.teens.window]]\ndays = ["daily"]\nstart = "{start}"\nend = "{end}"\n{what}\n'


@pytest.fixture
def window(gateway: Gateway) -> Iterator[Gateway]:
    """The gateway, its config put back (SIGHUP) after the test."""
    yield gateway
    gateway.reload()


def _teen_reaches(gateway: Gateway, name: str) -> bool:
    lab = gateway.lab
    teen = lab.clients["teen"]
    host = plan.host(name)
    dns = clients.dig(teen, name, server=ROUTER)
    tls = clients.curl(teen, f"https://{name}/", resolve=host.v4, cacert=lab.ca)
    assert (dns.status == "NOERROR") == (tls.status == 200), (dns.output, tls)
    return tls.status == 200


def test_a_window_active_now_blocks_everything(window: Gateway) -> None:
    assert _teen_reaches(window, "allowed.example")
    since = window.mark()
    window.reload(_window(-1, 1, 'block = "all"'))
    assert not _teen_reaches(window, "allowed.example")
    assert not _teen_reaches(window, "games.example")
    rules = {(d.verdict, d.rule) for d in window.decisions(since) if d.group == "teens"}
    assert rules == {("block", "time_window")}
    # Other groups are not affected by the teens' window.
    staff = clients.dig(window.lab.clients["staff"], "allowed.example", server=ROUTER)
    assert staff.status == "NOERROR"


def test_a_window_active_now_blocks_its_categories_only(window: Gateway) -> None:
    window.reload(_window(-1, 1, 'categories = ["games"]'))
    assert not _teen_reaches(window, "games.example")
    assert _teen_reaches(window, "allowed.example")


def test_a_window_not_active_blocks_nothing(window: Gateway) -> None:
    window.reload(_window(2, 3, 'block = "all"'))
    assert _teen_reaches(window, "allowed.example")
    assert _teen_reaches(window, "games.example")
