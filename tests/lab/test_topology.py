"""The lab itself, without copgate: namespaces, NAT, servers and clients work.

Each test says what a daemon test will rely on: names resolve through the
router and through an outside resolver address, HTTPS (v4 and v6), HTTP and
HTTP/3 (QUIC v1 and v2) reach the servers through the gateway's NAT, the
gateway's netfilter queue exists, TCP is cut at the MSS, and teardown leaves
nothing behind.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from copgate.lab import clients, plan
from copgate.lab.clients import DnsTool
from copgate.lab.processes import LabError, run, running
from copgate.lab.topology import NETNS_ETC, Lab
from tests.lab.conftest import require_lab

pytestmark = pytest.mark.lab

OUTSIDE_V4 = plan.host("ns.example").v4
OUTSIDE_V6 = plan.host("ns.example").v6
ALLOWED = plan.host("allowed.example")


@pytest.mark.parametrize("tool", list(DnsTool))
@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
@pytest.mark.parametrize(
    "server",
    [plan.LAN.router_v4, plan.LAN.router_v6, OUTSIDE_V4, OUTSIDE_V6],
    ids=["router-v4", "router-v6", "outside-v4", "outside-v6"],
)
def test_dns_answers_from_router_and_outside_resolver(
    lab: Lab, tool: DnsTool, tcp: bool, server: object
) -> None:
    a = clients.dig(lab.lan, "allowed.example", server=str(server), tcp=tcp, tool=tool)
    aaaa = clients.dig(
        lab.lan, "allowed.example", server=str(server), qtype="AAAA", tcp=tcp, tool=tool
    )
    assert a.status == "NOERROR", a.output
    assert a.addresses == (str(ALLOWED.v4),)
    assert aaaa.addresses == (str(ALLOWED.v6),)


def test_dns_is_closed_unknown_names_are_nxdomain(lab: Lab) -> None:
    result = clients.dig(lab.lan, "not-in-the-lab.example", server=str(plan.LAN.router_v4))
    assert result.status == "NXDOMAIN"
    assert result.addresses == ()


def test_dns_serves_https_records_and_case_and_trailing_dot(lab: Lab) -> None:
    https = clients.dig(lab.lan, "allowed.example", server=str(OUTSIDE_V4), qtype="HTTPS")
    upper = clients.dig(lab.lan, "ALLOWED.Example.", server=str(plan.LAN.router_v4))
    assert [r.rtype for r in https.answer] == ["HTTPS"]
    assert upper.addresses == (str(ALLOWED.v4),)


def test_dns_answers_safe_search_and_canaries_with_their_own_addresses(lab: Lab) -> None:
    for name in ("www.google.com", "forcesafesearch.google.com", "use-application-dns.net"):
        result = clients.dig(lab.lan, name, server=str(plan.LAN.router_v4))
        assert result.addresses == (str(plan.host(name).v4),), name


def test_dns_timeout_is_a_result_not_a_hang(lab: Lab) -> None:
    nobody = plan.LAN_V4.network_address + 99
    result = clients.dig(lab.lan, "allowed.example", server=str(nobody), timeout=1)
    assert not result.answered


@pytest.mark.parametrize("family", [4, 6])
def test_https_through_the_gateway_nat(lab: Lab, family: int) -> None:
    result = clients.curl(lab.lan, "https://allowed.example/", cacert=lab.ca, family=family)
    wan = plan.WAN.router_v4 if family == 4 else plan.WAN.router_v6
    assert result.status == 200, result.error
    assert result.page["host"] == "allowed.example"
    assert result.page["protocol"] == "HTTP/2.0"
    # MASQUERADE: the server sees the gateway's WAN address, not the pupil's.
    assert result.page["client"] == str(wan)


def test_https_with_resolve_reaches_the_pinned_address(lab: Lab) -> None:
    result = clients.curl(lab.lan, "https://blocked.example/", resolve=ALLOWED.v6, cacert=lab.ca)
    assert result.status == 200
    assert result.page["server"] == str(ALLOWED.v6) != str(plan.host("blocked.example").v6)
    assert result.page["host"] == "blocked.example"


def test_plain_http_and_the_internet_has_no_route_back(lab: Lab) -> None:
    result = clients.curl(lab.clients["teen"], "http://www.google.com/", family=4)
    route = lab.run(lab.internet, ["ip", "route", "get", str(lab.lan.v4)])
    assert result.status == 200
    assert result.page == {
        "host": "www.google.com",
        "scheme": "http",
        "protocol": "HTTP/1.1",
        "server": str(plan.host("www.google.com").v4),
        "client": str(plan.WAN.router_v4),
    }
    assert route.returncode != 0, "the internet side must reach the LAN only through NAT"


def test_openssl_s_client_verifies_the_lab_certificate(lab: Lab) -> None:
    good = clients.s_client(lab.lan, ALLOWED.v4, "blocked.example", cafile=lab.ca)
    wrong = clients.s_client(lab.lan, ALLOWED.v4, "not-in-cert.example", cafile=lab.ca)
    assert good.connected and good.verified, good.output
    assert good.protocol == "TLSv1.3"
    assert not wrong.verified


@pytest.mark.parametrize("version", [1, 2])
def test_http3_over_quic_v1_and_v2(lab: Lab, version: int) -> None:
    result = clients.h3_get(lab.lan, ALLOWED.v4, "allowed.example", cafile=lab.ca, version=version)
    wire_version = {1: "0x1", 2: "0x6b3343cf"}[version]  # RFC 9000, RFC 9369 §3.1
    assert result.status == 200, result.error
    assert result.page["protocol"] == "HTTP/3"
    assert result.page["quic_version"] == wire_version
    assert result.page["client"] == str(plan.WAN.router_v4)


def test_http3_over_ipv6(lab: Lab) -> None:
    result = clients.h3_get(lab.lan2, ALLOWED.v6, "allowed.example", cafile=lab.ca)
    assert result.status == 200, result.error
    assert result.page["client"] == str(plan.WAN.router_v6)


def _counters(lab: Lab, chain: str) -> dict[str, int]:
    """Packet counters of ``chain``'s rules in the gateway, by rule comment."""
    saved = lab.run(lab.gateway, ["iptables-save", "-c", "-t", "filter"], check=True).stdout
    counts: dict[str, int] = {}
    for line in saved.splitlines():
        match = re.match(rf'\[(\d+):\d+\] -A {chain} .*--comment "?([\w-]+)', line)
        if match:
            counts[match.group(2)] = int(match.group(1))
    return counts


def test_clients_are_told_apart_by_address_and_interface(lab: Lab) -> None:
    chain = "LABCOUNT"
    gw = lab.gateway
    rules = [
        ("-s", str(lab.clients["pupil"].v4), "-i", plan.BRIDGE, "pupil"),
        ("-s", str(lab.clients["teen"].v4), "-i", plan.BRIDGE, "teen"),
        ("-s", str(lab.clients["staff"].v4), "-i", plan.BRIDGE, "staff"),
        ("-s", str(lab.lan2.v4), "-i", plan.LAN2_INTERFACE, "lan2"),
    ]
    lab.run(gw, ["iptables", "-N", chain], check=True)
    lab.run(gw, ["iptables", "-I", "FORWARD", "1", "-j", chain], check=True)
    try:
        for flag, address, iface_flag, iface, name in rules:
            argv = ["iptables", "-A", chain, flag, address, iface_flag, iface]
            lab.run(gw, [*argv, "-m", "comment", "--comment", name], check=True)
        for role in ("pupil", "teen", "staff", "lan2"):
            assert (
                clients.curl(lab.clients[role], "http://allowed.example/", family=4).status == 200
            )
        counts = _counters(lab, chain)
    finally:
        lab.run(gw, ["iptables", "-D", "FORWARD", "-j", chain])
        lab.run(gw, ["iptables", "-F", chain])
        lab.run(gw, ["iptables", "-X", chain])
    assert set(counts) == {"pupil", "teen", "staff", "lan2"}
    assert all(count > 0 for count in counts.values()), counts


@pytest.mark.parametrize("tool", ["iptables-nft", "iptables-legacy"])
def test_nfqueue_drops_without_listener_and_bypass_passes(lab: Lab, tool: str) -> None:
    rule = ["FORWARD", "-p", "udp", "--dport", "53", "-d", str(OUTSIDE_V4)]
    queue = ["-j", "NFQUEUE", "--queue-num", "7"]
    gw = lab.gateway
    try:
        lab.run(gw, [tool, "-I", *rule, *queue], check=True)
        dropped = clients.dig(lab.lan, "allowed.example", server=str(OUTSIDE_V4), timeout=1)
        lab.run(gw, [tool, "-D", *rule, *queue], check=True)
        lab.run(gw, [tool, "-I", *rule, *queue, "--queue-bypass"], check=True)
        bypassed = clients.dig(lab.lan, "allowed.example", server=str(OUTSIDE_V4))
    finally:
        lab.run(gw, [tool, "-D", *rule, *queue])
        lab.run(gw, [tool, "-D", *rule, *queue, "--queue-bypass"])
    # Queued with no one to read: the kernel drops it; that proves the queue.
    assert not dropped.answered
    assert bypassed.addresses == (str(ALLOWED.v4),)


def test_offloads_are_off_so_tcp_arrives_cut_at_the_mss(lab: Lab) -> None:
    features = lab.run(lab.gateway, ["ethtool", "-k", plan.WAN_INTERFACE], check=True).stdout
    for feature in ("tcp-segmentation-offload", "generic-segmentation-offload"):
        assert re.search(rf"^{feature}: off", features, re.M), feature
    assert re.search(r"^generic-receive-offload: off", features, re.M)
    chain = "LABSIZE"
    gw = lab.gateway
    lab.run(gw, ["iptables", "-N", chain], check=True)
    jump = ["FORWARD", "-i", plan.WAN_INTERFACE, "-j", chain]
    lab.run(gw, ["iptables", "-I", *jump], check=True)
    try:
        for name, lengths in (("over-mtu", "1501:65535"), ("full", "1400:1500")):
            argv = ["iptables", "-A", chain, "-m", "length", "--length", lengths]
            lab.run(gw, [*argv, "-m", "comment", "--comment", name], check=True)
        download = clients.curl(lab.lan, "http://allowed.example/big", family=4)
        counts = _counters(lab, chain)
    finally:
        lab.run(gw, ["iptables", "-D", *jump])
        lab.run(gw, ["iptables", "-F", chain])
        lab.run(gw, ["iptables", "-X", chain])
    assert download.status == 200
    assert counts["over-mtu"] == 0, "a GRO/TSO super-packet crossed the gateway"
    assert counts["full"] > 500  # 1 MiB in segments of one MSS


def _leftovers(built: Lab, pids: list[int]) -> list[str]:
    listed = set(run(None, ["ip", "netns", "list"]).stdout.split())
    found = [ns.name for ns in built.namespaces if ns.name in listed]
    found += [str(NETNS_ETC / ns.name) for ns in built.namespaces if (NETNS_ETC / ns.name).exists()]
    found += [f"pid {pid}" for pid in pids if running(pid)]
    return found


def test_teardown_after_a_failing_body_leaves_nothing(tmp_path: Path) -> None:
    require_lab()
    built = Lab(tmp_path)
    with pytest.raises(RuntimeError, match="the test failed"), built:
        pids = [process.pid for process in built.processes]
        pids.append(built.spawn(built.lan.netns, ["sleep", "300"], name="stray").pid)
        raise RuntimeError("the test failed")
    assert len(pids) == 5
    assert _leftovers(built, pids) == []


def test_teardown_after_ctrl_c_leaves_nothing(tmp_path: Path) -> None:
    require_lab()
    built = Lab(tmp_path, start_servers=False)
    with pytest.raises(KeyboardInterrupt), built:
        # A process started behind the lab's back inside its namespace.
        lab_sleep = built.run(built.gateway, ["sh", "-c", "sleep 300 >/dev/null 2>&1 & echo $!"])
        pids = [int(lab_sleep.stdout)]
        raise KeyboardInterrupt
    assert _leftovers(built, pids) == []


def test_namespaces_are_unique_per_run() -> None:
    first, second = Lab(start_servers=False), Lab(start_servers=False)
    try:
        assert not {ns.name for ns in first.namespaces} & {ns.name for ns in second.namespaces}
        assert all(ns.name.startswith(f"cg-{first.id}-") for ns in first.namespaces)
    finally:
        first.close()
        second.close()


def test_a_failed_build_is_torn_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_lab()
    built = Lab(tmp_path, start_servers=False)

    def broken_wire() -> None:
        raise LabError("wiring failed on purpose")

    monkeypatch.setattr(built, "_wire", broken_wire)
    with pytest.raises(LabError, match="on purpose"), built:
        pass
    assert _leftovers(built, []) == []
    assert os.path.isdir(tmp_path)  # a caller's directory is the caller's
