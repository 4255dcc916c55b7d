"""copgate's forged DNS answers leave as forged: NAT never rewrites them.

A client asks the outside resolver (through the gateway's NAT) an allowed
name and then, from the same source port, a blocked one. The allowed
query's NAT entry is still there when copgate injects the blocked one's
answer from the resolver's address to that port, and NAT's clash fix-up
used to give the forged answer another source port (``198.51.100.2.255 >
192.0.2.10.40153``): the client never read it. copgate's raw-table rule
leaves injected packets towards the LAN untracked, so every blocked answer
must come from port 53. The script runs in the client's namespace with a
plain UDP socket (not connected, so that an answer from a wrong port is
seen rather than filtered out).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import NamedTuple

import pytest

from copgate.lab import plan
from copgate.lab.topology import Lab
from tests.lab.daemon_lab import Gateway, running_copgate

pytestmark = pytest.mark.lab

OUTSIDE = plan.host("ns.example")
ROUNDS = 20
"""Allowed-then-blocked pairs per family, each from a source port of its own."""
NXDOMAIN = 3  # RFC 1035 §4.1.1 RCODE
DNS_PORT = 53

ASK_IN_PAIRS = r"""
import json, socket, struct, sys, time

server, rounds = sys.argv[1], int(sys.argv[2])
family = socket.AF_INET6 if ":" in server else socket.AF_INET

def query(qid, name):
    head = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split("."))
    return head + labels + b"\0" + struct.pack(">HH", 1, 1)

def answer(sock, qid):
    deadline = time.monotonic() + 2.0
    seen = []
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data, source = sock.recvfrom(4096)
        except socket.timeout:
            break
        if len(data) >= 4 and struct.unpack(">H", data[:2])[0] == qid:
            return {"port": source[1], "address": source[0], "rcode": data[3] & 0xF}
        seen.append(source[1])
    return {"port": None, "address": None, "rcode": None, "other_ports": seen}

results = []
for r in range(rounds):
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", 0))
    pair = []
    for qid, name in ((2 * r + 1, "allowed.example"), (2 * r + 2, "blocked.example")):
        sock.sendto(query(qid, name), (server, 53))
        pair.append(answer(sock, qid))
    results.append({"client_port": sock.getsockname()[1], "pair": pair})
    sock.close()
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def gateway(lab: Lab) -> Iterator[Gateway]:
    with running_copgate(lab) as running:
        yield running


class Answer(NamedTuple):
    """The first answer with the question's id: where it came from and its RCODE."""

    address: str | None
    port: int | None
    rcode: int | None


def _ask_in_pairs(gateway: Gateway, server: str) -> list[tuple[int, Answer, Answer]]:
    """(client port, allowed answer, blocked answer) of each round, from the teen."""
    teen = gateway.lab.clients["teen"]
    result = gateway.lab.run(
        teen, [sys.executable, "-c", ASK_IN_PAIRS, server, str(ROUNDS)], timeout=120, check=True
    )
    rounds = []
    for item in json.loads(result.stdout):
        allowed, blocked = (
            Answer(one["address"], one["port"], one["rcode"]) for one in item["pair"]
        )
        rounds.append((int(item["client_port"]), allowed, blocked))
    return rounds


@pytest.mark.parametrize("server", [str(OUTSIDE.v4), str(OUTSIDE.v6)])
def test_a_blocked_answer_after_an_allowed_one_from_the_same_port_comes_from_port_53(
    gateway: Gateway, server: str
) -> None:
    since = gateway.mark()
    rounds = _ask_in_pairs(gateway, server)
    assert len(rounds) == ROUNDS
    # Without the raw rule every blocked answer here came from another port
    # (202, 400, 401...: NAT's pick), 20 of 20.
    wrong = [
        (port, allowed, blocked)
        for port, allowed, blocked in rounds
        if (allowed.port, allowed.rcode) != (DNS_PORT, 0)
        or blocked != Answer(server, DNS_PORT, NXDOMAIN)
    ]
    assert not wrong, wrong
    # The lab's server answers blocked.example with an address: an NXDOMAIN
    # is copgate's own, and its log says so (repeats may be summarised).
    teen = plan.client("teen")
    assert [
        d
        for d in gateway.decisions(since)
        if d.name == "blocked.example" and d.client_address in (str(teen.v4), str(teen.v6))
    ]
