"""copgate in the lab's gateway against headless Chromium and real QUIC clients.

Chromium's post-quantum ClientHello (about 1.9 KB) crosses the gateway as
two TCP segments, and as two QUIC Initial packets: the daemon logs each
packet it passes while the hello is incomplete (``pending CLIENT > SERVER``)
and then its decision for that same client port, which proves reassembly
on the real path. Over TCP an allowed site loads (HTTP/2) and a blocked one
fails at once with ERR_CONNECTION_RESET. Over QUIC (Chromium forced onto
it with ``--origin-to-force-quic-on``) the teen's group, which allows QUIC,
loads the allowed site over HTTP/3 and gets nothing for the blocked one
(its packets are dropped); the walled garden refuses QUIC in the kernel, so
no QUIC packet of the pupil ever reaches the daemon. aioquic's client shows
the same for QUIC v1 and v2.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from copgate.lab import clients, plan
from copgate.lab.clients import PageResult
from copgate.lab.topology import Lab
from tests.lab.conftest import require_browser
from tests.lab.daemon_lab import Decision, Gateway, pending, running_copgate

pytestmark = pytest.mark.lab

PAGE_TIMEOUT = 10.0
RESET_FAST = 5.0
"""Seconds a reset page load may take, Chromium's own start included (a drop takes the timeout)."""
QUIC_DROPPED = 2.0
"""Seconds aioquic's client waits before a dropped flow counts as failed."""


@pytest.fixture(scope="module")
def gateway(lab: Lab) -> Iterator[Gateway]:
    with running_copgate(lab) as running:
        yield running


def _chromium(
    gateway: Gateway, role: str, name: str, *, quic: bool = False, family: int = 4
) -> tuple[PageResult, float]:
    require_browser()
    lab = gateway.lab
    assert lab.pki is not None
    host = plan.host(name)
    started = time.monotonic()
    page = clients.chromium(
        lab.clients[role],
        f"https://{name}/",
        spki_pin=lab.pki.spki_sha256,
        resolve=host.v4 if family == 4 else host.v6,
        quic=quic,
        timeout=PAGE_TIMEOUT,
        log=lab.workdir / "chromedriver.log",
    )
    return page, time.monotonic() - started


def _flow_decision(gateway: Gateway, since: int, kind: str, name: str) -> Decision:
    """The one decision of kind ``kind`` for ``name`` logged since ``since``."""
    found = [d for d in gateway.decisions(since) if (d.kind, d.name) == (kind, name)]
    assert found, gateway.log(since)[-3000:]
    return found[0]


def _assert_reassembled(gateway: Gateway, since: int, decision: Decision) -> None:
    """The decided flow's client port had packets held before its decision."""
    held = [client for client, _server in pending(gateway.log(since))]
    assert decision.client in held, (decision, held)


def test_chromium_loads_an_allowed_site_over_tcp_from_a_hello_in_two_segments(
    gateway: Gateway,
) -> None:
    since = gateway.mark()
    page, _ = _chromium(gateway, "teen", "allowed.example")
    assert page.error is None, page
    assert page.title == "lab allowed.example"
    assert page.page["protocol"] == "HTTP/2.0"
    decision = _flow_decision(gateway, since, "tls", "allowed.example")
    assert (decision.verdict, decision.group) == ("allow", "teens")
    _assert_reassembled(gateway, since, decision)


def test_chromium_gets_a_reset_for_a_blocked_site_over_tcp(gateway: Gateway) -> None:
    since = gateway.mark()
    page, seconds = _chromium(gateway, "teen", "blocked.example")
    assert page.error is not None and "ERR_CONNECTION_RESET" in page.error, page
    assert seconds < RESET_FAST
    decision = _flow_decision(gateway, since, "tls", "blocked.example")
    assert (decision.verdict, decision.rule) == ("block", "category")
    _assert_reassembled(gateway, since, decision)


def test_chromium_loads_an_allowed_site_over_quic(gateway: Gateway) -> None:
    since = gateway.mark()
    page, _ = _chromium(gateway, "teen", "allowed.example", quic=True)
    assert page.error is None, page
    assert page.page["protocol"] == "HTTP/3"
    decision = _flow_decision(gateway, since, "quic", "allowed.example")
    assert decision.verdict == "allow"
    # Chromium's post-quantum hello fills two Initial packets, too.
    _assert_reassembled(gateway, since, decision)


def test_chromium_over_ipv6_quic_on_the_second_lan(gateway: Gateway) -> None:
    # lan2's school group allows QUIC: its exemption from the default group's
    # refusal holds for the whole flow, not only its first packets.
    page, _ = _chromium(gateway, "lan2", "allowed.example", quic=True, family=6)
    assert page.error is None, page
    assert page.page["protocol"] == "HTTP/3"
    assert page.page["client"] == str(plan.WAN.router_v6)


def test_chromium_gets_nothing_for_a_blocked_site_over_quic(gateway: Gateway) -> None:
    since = gateway.mark()
    page, _ = _chromium(gateway, "teen", "blocked.example", quic=True)
    # Forced onto QUIC, Chromium cannot fall back to TCP: its error page.
    shown = f"{page.error} {page.text}"
    assert "ERR_QUIC" in shown or "ERR_TIMED_OUT" in shown, page
    assert "host=blocked.example" not in shown
    decision = _flow_decision(gateway, since, "quic", "blocked.example")
    assert (decision.verdict, decision.group) == ("block", "teens")


def test_chromium_quic_refused_by_the_kernel_for_the_walled_garden(gateway: Gateway) -> None:
    pupil = plan.client("pupil")
    refused = gateway.rule_packets("refuse quic", source=f"{pupil.v4}/32")
    since = gateway.mark()
    page, _ = _chromium(gateway, "pupil", "allowed.example", quic=True)
    assert "ERR_QUIC" in f"{page.error} {page.text}", page
    assert gateway.rule_packets("refuse quic", source=f"{pupil.v4}/32") > refused
    assert not [d for d in gateway.decisions(since) if d.kind == "quic"]


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("role", ["teen", "staff"])
def test_h3_client_gets_an_allowed_site(gateway: Gateway, role: str, version: int) -> None:
    lab = gateway.lab
    host = plan.host("allowed.example")
    result = clients.h3_get(lab.clients[role], host.v4, host.name, cafile=lab.ca, version=version)
    assert result.status == 200, result
    assert result.page["protocol"] == "HTTP/3"


@pytest.mark.parametrize("version", [1, 2])
def test_h3_client_dropped_for_a_blocked_site(gateway: Gateway, version: int) -> None:
    lab = gateway.lab
    host = plan.host("blocked.example")
    since = gateway.mark()
    result = clients.h3_get(
        lab.clients["teen"],
        host.v6,
        host.name,
        cafile=lab.ca,
        version=version,
        timeout=QUIC_DROPPED,
    )
    assert result.status is None, result
    decision = _flow_decision(gateway, since, "quic", "blocked.example")
    assert decision.verdict == "block"
    assert decision.client_address == str(plan.client("teen").v6)


def test_counters_show_the_held_packets(gateway: Gateway) -> None:
    counters = gateway.counters()
    assert counters["failures"] == 0 and counters["malformed"] == 0
    assert counters["pending"] > 0
