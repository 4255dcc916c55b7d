"""Each group fails the way its config says, in the lab's kernel.

With no daemon on the queues, a fail-closed client's packets to judge are
dropped (its queue has no bypass), while a fail-open client's pass (bypass):
first with rules alone (what a router has between boot and copgate's start,
or after a crash), then with copgate killed by ``kill -9`` under the lab's
school config, whose walled garden (the pupil, and the default group) fails
closed and whose teen filter fails open. A restart after the kill repairs
the leftover rules (each jump once) and judges both groups again.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Iterator

import pytest

from copgate.edges import iptables as edge
from copgate.firewall import (
    RAW_CHAIN,
    ClientKind,
    ClientMatch,
    Family,
    FirewallSpec,
    WhenAbsent,
    render_iptables,
)
from copgate.lab import clients, plan
from copgate.lab.gateway import start_copgate
from copgate.lab.topology import Lab
from tests.lab.daemon_lab import running_copgate

pytestmark = pytest.mark.lab

PUPIL = plan.client("pupil")
TEEN = plan.client("teen")
OUTSIDE = plan.host("ns.example")
ALLOWED = plan.host("allowed.example")
BLOCKED = plan.host("blocked.example")
LOOKUPS = 10
"""Lookups per client and check (the issue measured 10 of 10 answered)."""
CLOSED_PUPIL = FirewallSpec(
    (plan.BRIDGE, plan.LAN2_INTERFACE),
    queue_num=3,
    failures=(
        (ClientMatch(ClientKind.CIDR, f"{PUPIL.v4}/32"), WhenAbsent.DROP),
        (ClientMatch(ClientKind.CIDR, f"{PUPIL.v6}/128"), WhenAbsent.DROP),
    ),
)
"""The pupil fails closed, everyone else open; nobody listens on queue 3 or 4."""


@pytest.fixture
def rules_only(lab: Lab) -> Iterator[Lab]:
    try:
        for family in Family:
            edge.apply(render_iptables(CLOSED_PUPIL, family), netns=lab.gateway.name)
        yield lab
    finally:
        edge.remove(netns=lab.gateway.name)


def _answered(lab: Lab, role: str, name: str, server: str) -> list[str | None]:
    """The status of ``LOOKUPS`` lookups of ``name`` by one client (None: no answer)."""
    return [
        clients.dig(lab.clients[role], name, server=server, timeout=1).status
        for _ in range(LOOKUPS)
    ]


@pytest.mark.parametrize("server", [str(OUTSIDE.v4), str(OUTSIDE.v6), str(plan.LAN.router_v4)])
def test_with_no_daemon_a_closed_client_gets_no_answer_an_open_one_does(
    rules_only: Lab, server: str
) -> None:
    assert _answered(rules_only, "pupil", "allowed.example", server) == [None] * LOOKUPS
    assert _answered(rules_only, "teen", "allowed.example", server) == ["NOERROR"] * LOOKUPS


def test_with_no_daemon_a_closed_client_reaches_no_web_server(rules_only: Lab) -> None:
    url = "http://allowed.example/"
    pupil = clients.curl(rules_only.lan, url, resolve=ALLOWED.v4, timeout=2)
    teen = clients.curl(rules_only.clients["teen"], url, resolve=ALLOWED.v4, timeout=2)
    assert pupil.status is None  # its SYN went to queue 4: dropped
    assert teen.status == 200


def test_with_no_daemon_a_servers_syn_ack_passes_and_opens_nothing(rules_only: Lab) -> None:
    # Servers' SYN-ACKs go to the open queue with bypass, whatever the
    # client's group: the teen's TLS connection works with no daemon; the
    # pupil's does not, since its own packets still go to its closed queue.
    url = "https://allowed.example/"
    teen = clients.curl(
        rules_only.clients["teen"], url, resolve=ALLOWED.v4, cacert=rules_only.ca, timeout=2
    )
    pupil = clients.curl(rules_only.lan, url, resolve=ALLOWED.v4, cacert=rules_only.ca, timeout=2)
    assert teen.status == 200
    assert pupil.status is None
    saved = rules_only.run(rules_only.gateway, ["iptables-save", "-c"], check=True).stdout
    counts = re.findall(r'^\[(\d+):\d+\] -A COPGATE-REPLY .*"copgate: tls syn-ack"', saved, re.M)
    assert [int(count) for count in counts] == [1]  # the teen's, queued and passed


def _jumps(lab: Lab, family: Family) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    """copgate's jumps in the gateway: (filter's, raw's)."""
    netns = lab.gateway.name
    raw = edge.jumps_present(family, netns=netns, chains=(RAW_CHAIN,), table="raw")
    return edge.jumps_present(family, netns=netns), raw


def test_after_kill_9_the_closed_group_stays_closed_and_a_restart_repairs(lab: Lab) -> None:
    outside = str(OUTSIDE.v4)
    try:
        with running_copgate(lab) as gateway:
            assert lab.stop(gateway.daemon, signal.SIGKILL) == -signal.SIGKILL
            # The pupil (walled garden: fails closed) gets nothing while
            # copgate is gone, not even a blocked name's real address; the
            # teen (filter: fails open) is answered unjudged.
            assert _answered(lab, "pupil", "blocked.example", outside) == [None] * LOOKUPS
            assert _answered(lab, "teen", "blocked.example", outside) == ["NOERROR"] * LOOKUPS
            restarted = start_copgate(lab, gateway.config)
            try:
                for family in Family:
                    filter_jumps, raw_jumps = _jumps(lab, family)
                    # In from both LANs: refusals then queue (FORWARD), queue
                    # (INPUT); out to both: SYN-ACKs (FORWARD, OUTPUT).
                    assert len(filter_jumps) == len(set(filter_jumps)) == 8, filter_jumps
                    assert raw_jumps == [("OUTPUT", "-j", RAW_CHAIN)]
                for role in ("pupil", "teen"):
                    result = clients.dig(lab.clients[role], "blocked.example", server=outside)
                    assert result.status == "NXDOMAIN", (role, result.output)
                pupil = clients.dig(lab.lan, "allowed.example", server=outside)
                assert pupil.addresses == (str(ALLOWED.v4),), pupil.output
            finally:
                assert lab.stop(restarted) == 0
    finally:
        edge.remove(netns=lab.gateway.name)
    for family in Family:
        assert _jumps(lab, family) == ([], [])
