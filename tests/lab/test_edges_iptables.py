"""copgate.edges.iptables in the lab's gateway: rendered rules load, match, and go away.

No daemon listens on the queue, and every client here fails open, so with
``--queue-bypass`` every queued packet passes: traffic must flow exactly as
without copgate, while the rules' packet counters show what would have
reached copgate (SYNs and segments with data for DNS over TCP and HTTP, the
first packets of TLS flows, and the servers' SYN-ACKs of all three) and the
refusals act in the kernel. The raw table's rules for injected packets are
installed and removed with the rest: a forged answer sent with copgate's
mark reaches a LAN client, and never an internet address.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from copgate.edges import iptables as edge
from copgate.edges.inject import Injector
from copgate.firewall import (
    CHAIN,
    FORWARD_CHAIN,
    RAW_CHAIN,
    REFUSE_CHAIN,
    REFUSE_DOT,
    REFUSE_QUIC,
    REPLY_CHAIN,
    ClientKind,
    ClientMatch,
    Family,
    FirewallSpec,
    render_iptables,
)
from copgate.firewall.iptables import SYNACK
from copgate.forge.packets import udp_datagram
from copgate.lab import clients, plan
from copgate.lab.topology import Lab
from tests.lab import evasion_kit as kit

pytestmark = pytest.mark.lab

STAFF = plan.client("staff")
SPEC = FirewallSpec(
    (plan.BRIDGE, plan.LAN2_INTERFACE),
    queue_num=3,
    refusals=(
        (ClientMatch(ClientKind.INTERFACE, plan.LAN2_INTERFACE), REFUSE_DOT),
        (ClientMatch(ClientKind.CIDR, f"{STAFF.v4}/32"), REFUSE_QUIC),
        (ClientMatch(ClientKind.CIDR, f"{STAFF.v6}/128"), REFUSE_QUIC),
    ),
)
ALLOWED = plan.host("allowed.example")
ROUTER = str(plan.LAN.router_v4)
OWN = (CHAIN, REFUSE_CHAIN, REPLY_CHAIN)
"""The chains whose rules the tests count."""


@pytest.fixture
def applied(lab: Lab) -> Iterator[Lab]:
    """The lab's gateway with copgate's rules applied (twice: apply is idempotent)."""
    try:
        for _ in range(2):
            for family in Family:
                edge.apply(render_iptables(SPEC, family), netns=lab.gateway.name)
        yield lab
    finally:
        edge.remove(netns=lab.gateway.name)


def _copgate_rules(lab: Lab, family: Family) -> list[tuple[int, str]]:
    """(packet count, rule) of every rule in copgate's chain in the gateway."""
    tool = "iptables-save" if family is Family.IPV4 else "ip6tables-save"
    saved = lab.run(lab.gateway, [tool, "-c", "-t", "filter"], check=True).stdout
    rules = []
    for line in saved.splitlines():
        match = re.match(rf"\[(\d+):\d+\] (-A (?:{'|'.join(OWN)}) .*)", line)
        if match:
            rules.append((int(match.group(1)), match.group(2)))
    return rules


def _count(lab: Lab, family: Family, comment: str, *, fallback: bool = False) -> int:
    """Packets that one rule matched; ``fallback``: the payload rule's "cannot measure" half."""
    total = 0
    for count, rule in _copgate_rules(lab, family):
        if f'"copgate: {comment}"' in rule and ("! --u32" in rule) == fallback:
            total += count
    return total


def _zero(lab: Lab) -> None:
    for tool in lab.iptables:
        for chain in OWN:
            lab.run(lab.gateway, [tool, "-Z", chain], check=True)


def test_rules_are_in_place_once(applied: Lab) -> None:
    for family in Family:
        plan_rules = render_iptables(SPEC, family).rules
        loaded = _copgate_rules(applied, family)
        jumps = edge.jumps_present(family, netns=applied.gateway.name)
        assert len(loaded) == sum(1 for rule in plan_rules if rule[1] in OWN)
        assert sorted(jumps) == sorted(render_iptables(SPEC, family).jumps)
        raw = edge.jumps_present(
            family, netns=applied.gateway.name, chains=(RAW_CHAIN,), table="raw"
        )
        assert raw == [("OUTPUT", "-j", RAW_CHAIN)]
        tool = "iptables" if family is Family.IPV4 else "ip6tables"
        saved = applied.run(applied.gateway, [tool, "-t", "raw", "-S", RAW_CHAIN], check=True)
        assert saved.stdout.count("-j CT --notrack") == len(SPEC.lan_interfaces)
        assert saved.stdout.count("-j DROP") == 5  # dns udp, quic, dns tcp, tls, http


@pytest.mark.parametrize("family", list(Family))
def test_http_queues_only_segments_with_data(applied: Lab, family: Family) -> None:
    _zero(applied)
    result = clients.curl(applied.lan, "http://allowed.example/", family=family.value)
    assert result.status == 200
    # ACKs and FIN carry no data: only the one GET segment is queued, and
    # the SYN and the server's SYN-ACK (so that the daemon learns where
    # both streams start).
    assert _count(applied, family, "http") == 1
    assert _count(applied, family, "http", fallback=True) == 0
    assert _count(applied, family, "http syn") == 1
    assert _count(applied, family, "http syn-ack") == 1


def test_dns_over_tcp_queues_only_the_query_segment(applied: Lab) -> None:
    _zero(applied)
    result = clients.dig(applied.lan, "allowed.example", server=ROUTER, tcp=True)
    assert result.addresses == (str(ALLOWED.v4),)
    assert _count(applied, Family.IPV4, "dns tcp") == 1
    assert _count(applied, Family.IPV4, "dns tcp syn") == 1
    # The router's own resolver answers: its SYN-ACK is met on the output path.
    assert _count(applied, Family.IPV4, "dns tcp syn-ack") == 1


def test_dns_udp_to_router_and_outside_is_queued_and_passes(applied: Lab) -> None:
    _zero(applied)
    outside = str(plan.host("ns.example").v6)
    for server in (ROUTER, outside):
        result = clients.dig(applied.lan, "allowed.example", server=server)
        assert result.addresses == (str(ALLOWED.v4),), server
    assert _count(applied, Family.IPV4, "dns udp") == 1
    assert _count(applied, Family.IPV6, "dns udp") == 1


def test_tls_flow_is_queued_until_decided(applied: Lab) -> None:
    _zero(applied)
    result = clients.curl(applied.lan, "https://allowed.example/", family=4, cacert=applied.ca)
    assert result.status == 200
    # No daemon marks it decided, so every client packet of the flow counts;
    # of the server's packets, the SYN-ACK alone.
    assert _count(applied, Family.IPV4, "tls") >= 4
    assert _count(applied, Family.IPV4, "tls syn-ack") == 1


def test_quic_refused_for_staff_only(applied: Lab) -> None:
    staff = clients.h3_get(
        applied.clients["staff"], ALLOWED.v4, "allowed.example", cafile=applied.ca, timeout=1
    )
    pupil = clients.h3_get(applied.lan, ALLOWED.v4, "allowed.example", cafile=applied.ca)
    assert staff.status is None
    assert pupil.status == 200, pupil.error
    assert _count(applied, Family.IPV4, "refuse quic") >= 1


def test_dot_refused_by_the_gateway_for_lan2(applied: Lab) -> None:
    _zero(applied)
    result = clients.curl(applied.lan2, "https://allowed.example:853/", family=6, timeout=2)
    assert result.status is None
    assert _count(applied, Family.IPV6, "refuse dot") == 1


def test_remove_leaves_no_trace_and_may_run_twice(lab: Lab) -> None:
    for family in Family:
        edge.apply(render_iptables(SPEC, family), netns=lab.gateway.name)
    edge.remove(netns=lab.gateway.name)
    edge.remove(netns=lab.gateway.name)
    for tool in lab.iptables:
        saved = lab.run(lab.gateway, [f"{tool}-save"], check=True).stdout
        assert "COPGATE" not in saved  # every table: filter and raw
        assert "MASQUERADE" in saved  # the lab's own NAT is untouched


def test_reapply_with_fewer_interfaces_drops_stale_jumps(lab: Lab) -> None:
    try:
        edge.apply(render_iptables(SPEC, Family.IPV4), netns=lab.gateway.name)
        narrower = FirewallSpec((plan.LAN2_INTERFACE,))
        edge.apply(render_iptables(narrower, Family.IPV4), netns=lab.gateway.name)
        jumps = edge.jumps_present(Family.IPV4, netns=lab.gateway.name)
    finally:
        edge.remove(netns=lab.gateway.name)
    assert jumps == [
        ("FORWARD", "-i", "lan2", "-j", FORWARD_CHAIN),
        ("FORWARD", "-o", "lan2", *SYNACK, "-j", REPLY_CHAIN),
        ("INPUT", "-i", "lan2", "-j", CHAIN),
        ("OUTPUT", "-o", "lan2", *SYNACK, "-j", REPLY_CHAIN),
    ]


def test_an_older_copgates_jumps_are_replaced(lab: Lab) -> None:
    # copgate before 2026-12-06 jumped from FORWARD to the refusals and to the
    # queue rules apart, and to the reply chain for every packet out to the LAN.
    gateway = lab.gateway
    older = [
        ("FORWARD", "-i", "lan2", "-j", REFUSE_CHAIN),
        ("FORWARD", "-i", "lan2", "-j", CHAIN),
        ("FORWARD", "-o", "lan2", "-j", REPLY_CHAIN),
    ]
    try:
        for chain in (REFUSE_CHAIN, CHAIN, REPLY_CHAIN):
            lab.run(gateway, ["iptables", "-N", chain], check=True)
        for jump in older:
            lab.run(gateway, ["iptables", "-A", *jump], check=True)
        edge.apply(
            render_iptables(FirewallSpec((plan.LAN2_INTERFACE,)), Family.IPV4), netns=gateway.name
        )
        jumps = edge.jumps_present(Family.IPV4, netns=gateway.name)
    finally:
        edge.remove(netns=gateway.name)
    assert jumps[:2] == [
        ("FORWARD", "-i", "lan2", "-j", FORWARD_CHAIN),
        ("FORWARD", "-o", "lan2", *SYNACK, "-j", REPLY_CHAIN),
    ]
    assert not set(older) & set(jumps)


def test_an_injected_answer_reaches_the_lan_and_never_the_internet(applied: Lab) -> None:
    # A forged DNS answer, as copgate sends it (its mark, the resolver's
    # address and port), to an internet address a LAN packet claimed, and
    # the same answer to a LAN client: only the second leaves the router.
    resolver = plan.host("ns.example").v4
    outside = plan.Host("", 99).v4
    client = plan.client("pupil").v4
    injector = kit.in_netns(applied.gateway, Injector)
    try:
        with (
            kit.udp_to(applied.internet, outside, 53) as to_outside,
            kit.udp_to(applied.lan.netns, client, 53) as to_client,
        ):
            for destination in (outside, client):
                answer = udp_datagram((resolver.packed, 53), (destination.packed, 40000), b"fake")
                injector.send(answer)
            time.sleep(0.5)
    finally:
        injector.close()
    # The kernel refused the one to the internet (sendto: EPERM), counted apart.
    assert (injector.sent, injector.refused, injector.failed) == (1, 1, 0)
    assert to_client == [b"fake"]
    assert to_outside == []
