"""copgate in the lab's gateway judges real DNS clients' questions.

dig and kdig, over UDP and TCP, asked the router (whose resolver forwards
upstream) or an outside resolver address (so the question crosses the
gateway's NAT), over IPv4 and IPv6: a blocked name gets copgate's forged
NXDOMAIN with its SOA (and, where the query had EDNS, an RFC 8914 Extended
DNS Error), whatever its case or trailing dot, and never reaches a
resolver; an allowed one gets the real answer. The canaries and DNS HTTPS
records (type 65) get no data for filtered groups; staff get real answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import IPv4Address, IPv6Address

import pytest

from copgate.lab import clients, plan
from copgate.lab.clients import DnsResult, DnsTool
from copgate.lab.topology import Client, Lab
from tests.lab.daemon_lab import Gateway, running_copgate

pytestmark = pytest.mark.lab

ROUTER_V4 = plan.LAN.router_v4
ROUTER_V6 = plan.LAN.router_v6
OUTSIDE = plan.host("ns.example")
SERVERS: dict[str, IPv4Address | IPv6Address] = {
    "router-v4": ROUTER_V4,
    "router-v6": ROUTER_V6,
    "outside-v4": OUTSIDE.v4,
    "outside-v6": OUTSIDE.v6,
}
EDE_BLOCKED = 15  # RFC 8914 §4.16
EDE_FILTERED = 17  # RFC 8914 §4.18
SOA_OWNER = "copgate.invalid."
CANARIES = ("use-application-dns.net", "mask.icloud.com", "mask-h2.icloud.com")


@pytest.fixture(scope="module")
def gateway(lab: Lab) -> Iterator[Gateway]:
    with running_copgate(lab) as running:
        yield running


def _ask(
    client: Client,
    name: str,
    server: str,
    *,
    qtype: str = "A",
    tcp: bool = False,
    tool: DnsTool = DnsTool.DIG,
) -> DnsResult:
    return clients.dig(client, name, server=SERVERS[server], qtype=qtype, tcp=tcp, tool=tool)


def _resolver_logs(lab: Lab) -> str:
    """What the gateway's resolver and the outside server were asked (dnsmasq log-queries)."""
    return "".join(
        (lab.workdir / f"{name}.log").read_text(errors="replace").lower()
        for name in ("resolver", "dns-server")
    )


SHAPES = [
    pytest.param(tool, tcp, server, id=f"{tool.value}-{'tcp' if tcp else 'udp'}-{server}")
    for tool in DnsTool
    for tcp in (False, True)
    for server in SERVERS
]


@pytest.mark.parametrize(("tool", "tcp", "server"), SHAPES)
def test_a_blocked_name_gets_the_forged_nxdomain(
    gateway: Gateway, tool: DnsTool, tcp: bool, server: str
) -> None:
    lab = gateway.lab
    asked_before = _resolver_logs(lab).count("blocked.example")
    # Upper case and a trailing dot: the name is judged case-folded, and the
    # answer echoes the question as asked.
    result = _ask(lab.clients["teen"], "BLOCKED.example.", server, tcp=tcp, tool=tool)
    assert result.status == "NXDOMAIN", result.output
    assert result.answer == ()
    # kdig prints every name in lower case; dig shows the answer's own bytes.
    owner = "BLOCKED.example." if tool is DnsTool.DIG else "blocked.example."
    assert [(r.name, r.rtype) for r in result.authority] == [(owner, "SOA")]
    assert result.authority[0].data.startswith(SOA_OWNER)
    if tool is DnsTool.DIG:  # dig sends EDNS by default, kdig does not
        assert result.ede == (EDE_BLOCKED,)
    # Dropped at the gateway: no resolver ever saw the question.
    assert _resolver_logs(lab).count("blocked.example") == asked_before


@pytest.mark.parametrize(("tool", "tcp", "server"), SHAPES)
def test_an_allowed_name_gets_the_real_answer(
    gateway: Gateway, tool: DnsTool, tcp: bool, server: str
) -> None:
    teen = gateway.lab.clients["teen"]
    allowed = plan.host("allowed.example")
    result = _ask(teen, "Allowed.Example.", server, qtype="AAAA", tcp=tcp, tool=tool)
    assert result.status == "NOERROR", result.output
    assert result.addresses == (str(allowed.v6),)
    assert result.ede == ()
    v4 = _ask(teen, "allowed.example", server, tcp=tcp, tool=tool)
    assert v4.addresses == (str(allowed.v4),)


def test_decisions_are_logged_with_the_client(gateway: Gateway) -> None:
    since = gateway.mark()
    _ask(gateway.lab.clients["teen"], "blocked.example", "router-v6", qtype="AAAA")
    decision = gateway.decisions(since)[-1]
    assert decision[:3] == ("block", "dns", "blocked.example")
    assert decision.client_address == str(plan.client("teen").v6)
    assert (decision.group, decision.rule) == ("teens", "category")


@pytest.mark.parametrize(
    ("role", "name", "blocked"),
    [
        ("pupil", "white.example", False),
        ("pupil", "allowed.example", False),
        ("pupil", "blocked.example", True),
        ("pupil", "games.example", True),
        ("teen", "games.example", False),
        ("teen", "social.example", True),
        ("teen", "adult.example", True),
        ("lan2", "games.example", True),
        ("lan2", "allowed.example", False),
        ("staff", "blocked.example", False),
        ("staff", "adult.example", False),
    ],
)
def test_each_group_gets_its_own_policy(
    gateway: Gateway, role: str, name: str, blocked: bool
) -> None:
    client = gateway.lab.clients[role]
    result = clients.dig(client, name, server=client.router_v4)
    if blocked:
        assert (result.status, result.addresses) == ("NXDOMAIN", ()), result.output
        assert result.ede == (EDE_BLOCKED,)
    else:
        assert result.status == "NOERROR", result.output
        assert result.addresses == (str(plan.host(name).v4),)


@pytest.mark.parametrize("name", CANARIES)
@pytest.mark.parametrize("role", ["teen", "pupil", "lan2"])
def test_canaries_get_no_data_for_filtered_groups(gateway: Gateway, role: str, name: str) -> None:
    client = gateway.lab.clients[role]
    for qtype in ("A", "AAAA"):
        result = clients.dig(client, name, server=client.router_v4, qtype=qtype)
        assert (result.status, result.answer) == ("NOERROR", ()), result.output
        assert [r.rtype for r in result.authority] == ["SOA"]
        assert result.ede == (EDE_FILTERED,)


def test_canaries_answer_for_staff(gateway: Gateway) -> None:
    staff = gateway.lab.clients["staff"]
    for name in CANARIES:
        result = clients.dig(staff, name, server=ROUTER_V4)
        assert result.addresses == (str(plan.host(name).v4),), result.output


@pytest.mark.parametrize("server", ["router-v4", "outside-v6"])
@pytest.mark.parametrize("role", ["teen", "pupil"])
def test_https_records_get_no_data_for_filtered_groups(
    gateway: Gateway, role: str, server: str
) -> None:
    # The lab's DNS serves an HTTPS record for allowed.example (alpn h2):
    # the filtered groups must never see it (it would carry ECH keys).
    result = _ask(gateway.lab.clients[role], "allowed.example", server, qtype="TYPE65")
    assert (result.status, result.answer) == ("NOERROR", ()), result.output
    assert result.ede == (EDE_FILTERED,)


def test_https_records_answer_for_staff(gateway: Gateway) -> None:
    result = _ask(gateway.lab.clients["staff"], "allowed.example", "router-v4", qtype="TYPE65")
    assert result.status == "NOERROR", result.output
    assert [r.rtype for r in result.answer] in (["HTTPS"], ["TYPE65"])


def test_every_query_got_a_verdict(gateway: Gateway) -> None:
    counters = gateway.counters()
    assert counters["failures"] == 0
    assert counters["malformed"] == 0
    assert counters["verdicts"].get("dns:block", 0) >= len(SHAPES)
    assert counters["verdicts"].get("dns:allow", 0) >= 2 * len(SHAPES)
    assert counters["inject_failed"] == 0
    assert counters["inject_refused"] == 0  # every forged answer left for the LAN
