"""One client cannot take DNS away from everyone: the per-client rate in front of the queue.

One LAN client floods the router's resolver with DNS queries from one socket
as fast as Python sends them, over IPv4 or IPv6; meanwhile another client (on the second LAN)
asks the outside resolver a blocked and an allowed name in turn, 20 times. Every one of the
other client's lookups is answered, and judged by copgate (the lab's server
gives blocked.example an address, so an NXDOMAIN is copgate's). What the
flooder sends over its rate gets its group's evasion treatment, not its
failure one (a flood is the client's doing, not copgate failing): the teen's
filter fails open but refuses evasion, so its excess is dropped and it gets
at most what its rate lets copgate judge, as does the pupil's walled garden
(fails closed); staff, whom copgate does not filter, have their excess
passed unqueued and answered by the resolver.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Iterator

import pytest

from copgate.firewall import QUEUE_BURST, QUEUE_RATE
from copgate.lab import clients, plan
from copgate.lab.processes import LabProcess
from copgate.lab.topology import Lab
from tests.lab.daemon_lab import Gateway, running_copgate

pytestmark = pytest.mark.lab

OUTSIDE = plan.host("ns.example")
ALLOWED = plan.host("allowed.example")
FLOOD_SECONDS = 3.0
OTHER_LOOKUPS = 20
JUDGED_AT_MOST = QUEUE_BURST + QUEUE_RATE * (FLOOD_SECONDS + 1.0)
"""What the rate lets through to copgate in the flood (a second of slack)."""

FLOOD = r"""
import json, socket, struct, sys, time

server, name, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
sock = socket.socket(socket.AF_INET6 if ":" in server else socket.AF_INET, socket.SOCK_DGRAM)
sock.setblocking(False)
labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split("."))
question = labels + b"\0" + struct.pack(">HH", 1, 1)
sent = answered = 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    for _ in range(64):
        head = struct.pack(">HHHHHH", sent & 0xFFFF, 0x0100, 1, 0, 0, 0)
        try:
            sock.sendto(head + question, (server, 53))
            sent += 1
        except BlockingIOError:
            break
    try:
        while True:
            sock.recv(4096)
            answered += 1
    except BlockingIOError:
        pass
drain = time.monotonic() + 1.0
while time.monotonic() < drain:
    try:
        sock.recv(4096)
        answered += 1
    except BlockingIOError:
        time.sleep(0.01)
print(json.dumps({"sent": sent, "answered": answered}))
"""


@pytest.fixture(scope="module")
def gateway(lab: Lab) -> Iterator[Gateway]:
    with running_copgate(lab) as running:
        yield running


def _flood(lab: Lab, role: str, family: int) -> LabProcess:
    # The flood goes to the router's resolver, the other client asks the
    # outside one: a fail-open flood's excess reaches its resolver, and a
    # resolver it overwhelms is not what this test is about.
    client = lab.clients[role]
    server = str(client.router_v4 if family == 4 else client.router_v6)
    argv = [sys.executable, "-c", FLOOD, server, "allowed.example", str(FLOOD_SECONDS)]
    return lab.spawn(lab.clients[role].netns, argv, name=f"flood-{role}-{time.monotonic_ns()}")


def _flood_result(lab: Lab, process: LabProcess) -> dict[str, int]:
    process.popen.wait(timeout=FLOOD_SECONDS + 10)
    lab.stop(process)
    lines = process.log_text().strip().splitlines()
    result: dict[str, int] = json.loads(lines[-1])
    return result


def _over_rate(lab: Lab, family: int) -> int:
    """Packets copgate's rate rules (both failure chains) found over a client's rate."""
    tool = "iptables-save" if family == 4 else "ip6tables-save"
    saved = lab.run(lab.gateway, [tool, "-c", "-t", "filter"], check=True).stdout
    return sum(
        int(count)
        for count, rule in re.findall(r"^\[(\d+):\d+\] (-A COPGATE-\S+ .*)$", saved, re.M)
        if '--comment "copgate: over the client rate"' in rule
    )


def _other_client_lookups(lab: Lab) -> list[tuple[str, str | None, tuple[str, ...]]]:
    """The second LAN's client asks a blocked and an allowed name in turn."""
    answers = []
    for number in range(OTHER_LOOKUPS):
        name = "blocked.example" if number % 2 == 0 else "allowed.example"
        result = clients.dig(lab.lan2, name, server=OUTSIDE.v4, timeout=2)
        answers.append((name, result.status, result.addresses))
    return answers


@pytest.mark.parametrize("family", [4, 6], ids=["ipv4", "ipv6"])
@pytest.mark.parametrize(
    ("flooder", "excess_passes"),
    [("teen", False), ("pupil", False), ("staff", True)],
    ids=["open-filter", "closed-walled-garden", "open-unfiltered"],
)
def test_a_flood_gets_its_groups_evasion_treatment_and_others_are_still_judged(
    gateway: Gateway, flooder: str, excess_passes: bool, family: int
) -> None:
    lab = gateway.lab
    over_before = _over_rate(lab, family)
    process = _flood(lab, flooder, family)
    time.sleep(0.5)  # the flood is under way, its burst spent
    answers = _other_client_lookups(lab)
    flood = _flood_result(lab, process)
    over = _over_rate(lab, family) - over_before

    expected = [
        ("blocked.example", "NXDOMAIN", ())
        if number % 2 == 0
        else ("allowed.example", "NOERROR", (str(ALLOWED.v4),))
        for number in range(OTHER_LOOKUPS)
    ]
    assert answers == expected, flood
    # The flood went over its rate, and only the flooder's packets did.
    assert flood["sent"] > 2 * JUDGED_AT_MOST, flood
    assert over >= flood["sent"] - JUDGED_AT_MOST, (over, flood)
    if excess_passes:
        # Over the rate it passes unqueued: the resolver answers much more
        # than copgate was handed.
        assert flood["answered"] > JUDGED_AT_MOST, flood
    else:
        # Over the rate it is dropped, even for a group that fails open: no
        # more answers than the rate judged.
        assert 0 < flood["answered"] <= JUDGED_AT_MOST, flood
