"""Headless Chromium in the lab, without copgate: TCP and QUIC pages load.

What the daemon's browser tests rely on: Debian's chromium, driven through
Debian's chromedriver inside a LAN namespace, loads a lab page over TLS on
TCP and over QUIC, trusts the lab's server key by its pin, and its
post-quantum ClientHello reaches the gateway cut into more than one segment.
"""

from __future__ import annotations

import re

import pytest

from copgate.lab import clients, plan
from copgate.lab.topology import Lab
from tests.lab.conftest import require_browser

pytestmark = pytest.mark.lab

ALLOWED = plan.host("allowed.example")
FULL_SEGMENT = "1400:1500"
"""IP lengths of a segment cut at the MSS of a 1500-byte link."""


def _pin(lab: Lab) -> str:
    assert lab.pki is not None
    return lab.pki.spki_sha256


def test_chromium_loads_over_tcp_and_the_client_hello_spans_segments(lab: Lab) -> None:
    require_browser()
    gw = lab.gateway
    rule = ["FORWARD", "-i", plan.BRIDGE, "-p", "tcp", "--dport", "443"]
    rule += ["-m", "length", "--length", FULL_SEGMENT, "-m", "comment", "--comment", "full"]
    lab.run(gw, ["iptables", "-I", *rule], check=True)
    try:
        page = clients.chromium(
            lab.lan,
            "https://allowed.example/",
            spki_pin=_pin(lab),
            resolve=ALLOWED.v4,
            log=lab.workdir / "chromedriver.log",
        )
        saved = lab.run(gw, ["iptables-save", "-c", "-t", "filter"], check=True).stdout
    finally:
        lab.run(gw, ["iptables", "-D", *rule])
    assert page.error is None
    assert page.title == "lab allowed.example"
    assert page.page["protocol"] == "HTTP/2.0"
    counted = re.search(r"^\[(\d+):\d+\] -A FORWARD .*--comment full", saved, re.M)
    assert counted is not None
    # A request this small never fills a segment: only the ~1.8 KB
    # post-quantum ClientHello does, so it crossed as two segments at least.
    assert int(counted.group(1)) >= 1


def test_chromium_loads_over_quic(lab: Lab) -> None:
    require_browser()
    page = clients.chromium(
        lab.lan2, "https://allowed.example/", spki_pin=_pin(lab), resolve=ALLOWED.v6, quic=True
    )
    assert page.error is None
    assert page.page["protocol"] == "HTTP/3"
    assert page.page["client"] == str(plan.WAN.router_v6)


def test_chromium_reports_a_failed_load(lab: Lab) -> None:
    require_browser()
    page = clients.chromium(
        lab.lan, "https://allowed.example:853/", spki_pin=_pin(lab), resolve=ALLOWED.v4
    )
    assert page.error is not None
    assert "ERR_CONNECTION_REFUSED" in page.error
