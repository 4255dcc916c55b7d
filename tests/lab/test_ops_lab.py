"""copgate status, log, stats and the metrics endpoint reflect a known sequence of probes.

The lab's copgate runs with its control socket in the lab's work directory
and the Prometheus endpoint on the router's LAN address. Five probes go
through it (the teen: dig allowed, dig blocked, HTTPS to a blocked site,
plain HTTP to a blocked site; staff: dig a name blocked for others), and
then ``copgate status --json``, ``copgate log --json`` and ``copgate stats
--json``, run as the admin would, and a scrape from a LAN client, must say
exactly that, in that order, and nothing else.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from copgate.lab import clients, plan
from copgate.lab.gateway import (
    LISTS_BUILT,
    compile_lab_lists,
    control_socket,
    start_copgate,
    write_config,
)
from copgate.lab.topology import Lab
from tests.lab.daemon_lab import Gateway

pytestmark = pytest.mark.lab

ROUTER_V4 = plan.LAN.router_v4
METRICS_PORT = 9119
PROBES = [
    # (role, client address, kind, name, verdict, category)
    ("teen", "192.0.2.11", "dns", "allowed.example", "allow", None),
    ("teen", "192.0.2.11", "dns", "blocked.example", "block", "gambling"),
    ("teen", "192.0.2.11", "tls", "adult.example", "block", "adult"),
    ("teen", "192.0.2.11", "http", "social.example", "block", "social_networks"),
    ("staff", "192.0.2.12", "dns", "blocked.example", "allow", None),
]
NAMED_KINDS = ("dns", "tls", "quic", "http")


@pytest.fixture(scope="module")
def gateway(lab: Lab) -> Iterator[Gateway]:
    lists = compile_lab_lists(lab.workdir)
    config = write_config(lab.workdir, lists)
    text = config.read_text()
    config.write_text(
        text.replace(
            "[general]\n",
            f'[general]\nlog_entries = 100\nmetrics_listen = "{ROUTER_V4}:{METRICS_PORT}"\n',
            1,
        )
    )
    daemon = start_copgate(lab, config)
    try:
        yield Gateway(lab, daemon, lists, config)
    finally:
        if daemon.alive():
            status = lab.stop(daemon)
            assert status == 0, daemon.log_text()[-3000:]
    assert not control_socket(lab).exists()  # removed on the way out


@pytest.fixture(scope="module")
def probed(gateway: Gateway) -> Gateway:
    """The gateway after the five probes, each checked to have done what it should."""
    lab = gateway.lab
    teen, staff = lab.clients["teen"], lab.clients["staff"]
    assert clients.dig(teen, "allowed.example", server=ROUTER_V4).status == "NOERROR"
    assert clients.dig(teen, "blocked.example", server=ROUTER_V4).status == "NXDOMAIN"
    adult = plan.host("adult.example")
    tls = clients.s_client(teen, adult.v4, "adult.example", cafile=lab.ca)
    assert not tls.connected, tls.output
    social = str(plan.host("social.example").v4)
    response = _http_get(lab, "teen", social, 80, "social.example")
    assert response.startswith("HTTP/1.1 302 "), response
    assert clients.dig(staff, "blocked.example", server=ROUTER_V4).status == "NOERROR"
    return gateway


def _http_get(lab: Lab, role: str, address: str, port: int, host: str, path: str = "/") -> str:
    """GET http://host/path from ``role``'s client straight to ``address``: the response.

    Not curl, here or for HTTPS (openssl instead): curl also asks DNS for the
    machine's own host name, which the log would show (rightly) and this test
    does not expect.
    """
    code = (
        "import socket,sys\n"
        "with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5) as c:\n"
        "    c.sendall(f'GET {sys.argv[4]} HTTP/1.1\\r\\nHost: {sys.argv[3]}\\r\\n"
        "Connection: close\\r\\n\\r\\n'.encode())\n"
        "    sys.stdout.write(c.makefile('rb').read().decode())\n"
    )
    argv = [sys.executable, "-c", code, address, str(port), host, path]
    return lab.run(lab.clients[role], argv, check=True).stdout


def _copgate(gateway: Gateway, *args: str) -> Any:
    """``copgate ARGS --json --socket ...`` as the admin runs it; its JSON output."""
    argv = [sys.executable, "-m", "copgate", *args, "--json"]
    argv += ["--socket", str(control_socket(gateway.lab))]
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=30, env=gateway.lab.python_env(), check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_log_has_exactly_the_probes_in_order(probed: Gateway) -> None:
    lines = _copgate(probed, "log").splitlines()
    entries = [json.loads(line) for line in lines]
    assert [(e["client"], e["kind"], e["name"], e["verdict"], e["category"]) for e in entries] == [
        (client, kind, name, verdict, category)
        for _, client, kind, name, verdict, category in PROBES
    ]
    assert [e["seq"] for e in entries] == [1, 2, 3, 4, 5]
    assert [e["group"] for e in entries] == ["teens"] * 4 + ["staff"]
    assert all(e["reason"] for e in entries)
    assert entries[1]["source"] == "lab-lists"


def test_log_filters_by_client_and_name(probed: Gateway) -> None:
    staff = [
        json.loads(line) for line in _copgate(probed, "log", "--client", "192.0.2.12").splitlines()
    ]
    assert [(e["name"], e["verdict"]) for e in staff] == [("blocked.example", "allow")]
    named = _copgate(probed, "log", "--name", "blocked.example").splitlines()
    assert [json.loads(line)["client"] for line in named] == ["192.0.2.11", "192.0.2.12"]


def test_status_counts_the_probes(probed: Gateway) -> None:
    status = json.loads(_copgate(probed, "status"))
    assert status["uptime"] > 0
    assert status["config"] == {
        "file": str(probed.config),
        "groups": ["pupils", "teens", "staff", "lab2"],
        "default_group": "pupils",
    }
    assert [(held["name"], held["release"], held["built"]) for held in status["lists"]] == [
        ("default-lists", 0, LISTS_BUILT),
        ("lab-lists", 0, LISTS_BUILT),
    ]
    assert status["lists"][0]["age"] > 0
    assert (status["update"], status["offload"]) == ("unknown", "unknown")
    queue = status["queue"]
    named = {kind: actions for kind, actions in queue["verdicts"].items() if kind in NAMED_KINDS}
    assert named == {"dns": {"allow": 2, "block": 1}, "tls": {"block": 1}, "http": {"block": 1}}
    assert queue["packets"] >= len(PROBES)
    assert queue["failures"] == 0 and queue["fail_open"] == 0
    assert status["log"]["recorded"] == len(PROBES) and status["log"]["capacity"] == 100
    assert status["control"]["socket"] == str(control_socket(probed.lab))


def test_stats_count_the_probes(probed: Gateway) -> None:
    stats = json.loads(_copgate(probed, "stats"))
    assert (stats["decisions"], stats["blocked"]) == (5, 3)
    assert stats["top_blocked_names"] == [
        {"name": "adult.example", "count": 1},
        {"name": "blocked.example", "count": 1},
        {"name": "social.example", "count": 1},
    ]
    assert stats["top_blocked_categories"] == [
        {"category": "adult", "count": 1},
        {"category": "gambling", "count": 1},
        {"category": "social_networks", "count": 1},
    ]
    assert stats["groups"]["teens"]["blocked"] == 3
    assert stats["groups"]["staff"]["verdicts"] == {"allow": 1}
    assert stats["clients"]["192.0.2.11"]["decisions"] == 4
    assert sum(minute["total"] for minute in stats["per_minute"]) == 5


def test_the_metrics_endpoint_on_the_lan_serves_the_counters(probed: Gateway) -> None:
    lab = probed.lab
    response = _http_get(lab, "staff", str(ROUTER_V4), METRICS_PORT, str(ROUTER_V4), "/metrics")
    head, _, body = response.replace("\r\n", "\n").partition("\n\n")
    assert head.startswith("HTTP/1.0 200 OK"), response
    lines = set(body.splitlines())
    for expected in (
        'copgate_verdicts_total{kind="dns",action="allow"} 2',
        'copgate_verdicts_total{kind="dns",action="block"} 1',
        'copgate_verdicts_total{kind="tls",action="block"} 1',
        'copgate_verdicts_total{kind="http",action="block"} 1',
        "copgate_decisions_recorded_total 5",
        'copgate_list_release{list="lab-lists"} 0',
    ):
        assert expected in lines, body
    # Loopback is not served: the endpoint is bound to the one address configured.
    refused = lab.run(
        lab.gateway, ["curl", "-sS", "-m", "2", f"http://127.0.0.1:{METRICS_PORT}/metrics"]
    )
    assert refused.returncode != 0


def test_the_log_survives_a_reload(probed: Gateway) -> None:
    probed.sighup(expect="reloaded: ")
    entries = [json.loads(line) for line in _copgate(probed, "log").splitlines()]
    assert [(e["seq"], e["name"]) for e in entries] == [
        (seq, name) for seq, (_, _, _, name, _, _) in enumerate(PROBES, start=1)
    ]
