"""The walled garden's firewall refuses what copgate cannot read, never NTP or ICMP.

The policy's table (``EXEMPT_FROM_UNREADABLE``) says NTP, ICMP and ICMPv6
are never refused: without the time, certificates and time windows fail,
and without ICMP path MTU discovery and IPv6 do. Under the lab's school
config the pupil is in the walled garden: its UDP to port 123 behind the
gateway comes back from an echo server, while the same datagram to another
unreadable port is refused by the kernel, and a ping crosses the gateway
over IPv4 and IPv6. The teen's filter refuses neither: the control.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from functools import partial

import pytest

from copgate.lab import plan
from copgate.lab.processes import LabProcess, python_env, run
from copgate.lab.topology import Lab
from tests.lab.daemon_lab import Gateway, running_copgate

pytestmark = pytest.mark.lab

ECHO_HOST = plan.host("allowed.example")
NTP = 123  # RFC 5905 §7.2
OTHER_UDP = 124
ECHO_READY = "echo ready"


@pytest.fixture(scope="module")
def gateway(lab: Lab) -> Iterator[Gateway]:
    with running_copgate(lab) as running:
        yield running


@pytest.fixture(scope="module")
def echo(lab: Lab) -> Iterator[None]:
    argv = [sys.executable, "-m", "tests.lab.echo_peer", "serve"]
    argv += [f"--host={ECHO_HOST.v4}", f"--host={ECHO_HOST.v6}", f"--udp={NTP}"]
    argv.append(f"--udp={OTHER_UDP}")
    process = lab.spawn(lab.internet, argv, name="echo-ntp", env=python_env())
    lab.wait_ready(process, partial(_says_ready, process), 10.0)
    yield
    lab.stop(process)


def _says_ready(process: LabProcess) -> bool:
    return ECHO_READY in process.log_text()


def _probe(lab: Lab, role: str, address: object, port: int) -> dict[str, object]:
    argv = [sys.executable, "-m", "tests.lab.echo_peer", "probe", f"--host={address}"]
    argv += [f"--port={port}", "--timeout=1", "--udp"]
    result = run(lab.clients[role].netns, argv, timeout=10, env=python_env())
    answer: dict[str, object] = json.loads(result.stdout)
    return answer


@pytest.mark.parametrize("address", [ECHO_HOST.v4, ECHO_HOST.v6], ids=["ipv4", "ipv6"])
def test_the_walled_garden_lets_ntp_through_and_refuses_other_udp(
    gateway: Gateway, echo: None, address: object
) -> None:
    lab = gateway.lab
    assert _probe(lab, "pupil", address, NTP) == {"ok": True}
    assert _probe(lab, "pupil", address, OTHER_UDP) == {"ok": False, "error": "refused"}
    assert _probe(lab, "teen", address, OTHER_UDP) == {"ok": True}


PING = r"""
import socket, struct, sys, time

address = sys.argv[1]
v6 = ":" in address
if v6:
    sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    request, reply = 128, 129  # RFC 4443 §4.1, §4.2 (the kernel sums ICMPv6)
else:
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    request, reply = 8, 0  # RFC 792
body = struct.pack(">HH", 0xC0DE, 1) + b"copgate"
message = struct.pack(">BBH", request, 0, 0) + body
if not v6:
    padded = message + b"\0" * (len(message) % 2)
    words = sum(struct.unpack(">%dH" % (len(padded) // 2), padded))
    while words >> 16:
        words = (words & 0xFFFF) + (words >> 16)
    message = message[:2] + struct.pack(">H", ~words & 0xFFFF) + message[4:]
sock.sendto(message, (address, 0))
sock.settimeout(0.2)
deadline = time.monotonic() + 2.0
while time.monotonic() < deadline:
    try:
        data, source = sock.recvfrom(2048)
    except socket.timeout:
        continue
    icmp = data if v6 else data[(data[0] & 0xF) * 4 :]
    if source[0] == address and icmp[0] == reply and icmp[4:] == body:
        print("echo reply")
        break
else:
    print("no reply")
"""


@pytest.mark.parametrize("address", [ECHO_HOST.v4, ECHO_HOST.v6], ids=["ipv4", "ipv6"])
def test_the_walled_garden_lets_icmp_through(gateway: Gateway, address: object) -> None:
    lab = gateway.lab
    result = lab.run(lab.lan, [sys.executable, "-c", PING, str(address)], timeout=10)
    assert result.stdout.strip() == "echo reply", result.stdout + result.stderr
