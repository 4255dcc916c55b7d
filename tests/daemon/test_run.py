"""copgate.daemon.run: the log lines the lab and operators read.

The daemon's log is how the lab proves what happened to a flow: each
decision names the client's address and port, and at debug level each
packet passed while its hello was incomplete names its flow. These tests
write those lines from real verdicts and read them back with the lab's own
parser (``tests.lab.daemon_lab``), so the two cannot drift apart.
"""

from __future__ import annotations

import logging

import pytest

from copgate.daemon.engine import PacketVerdict
from copgate.daemon.run import LOG, Daemon, _endpoint
from copgate.tools.samples import client_hello
from tests.daemon.test_engine import META, engine
from tests.lab.daemon_lab import decisions, pending
from tests.wire.builders import CLIENT4, CLIENT6, SERVER6, dns_query, ipv6, tcp, tcp4, udp4

STAMP = "2026-11-22 08:00:00,000"


def _logged(caplog: pytest.LogCaptureFixture, *verdicts: PacketVerdict) -> str:
    """The lines ``copgate run`` writes for ``verdicts``, in its format (see run_cmd)."""
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger=LOG.name):
        for verdict in verdicts:
            Daemon._log_verdict(object.__new__(Daemon), verdict)
    return "".join(f"{STAMP} {r.name} {r.levelname} {r.getMessage()}\n" for r in caplog.records)


def test_endpoints_are_written_as_address_and_port() -> None:
    assert _endpoint(CLIENT4, 40000) == "192.0.2.10:40000"
    assert _endpoint(CLIENT6, 53) == "[2001:db8:1::10]:53"
    assert _endpoint(b"\x01\x02", 5) == "?:5"


def test_a_decision_names_its_client(caplog: pytest.LogCaptureFixture) -> None:
    verdict = engine().judge(udp4(dns_query("WWW.Casino.Example"), sport=40123), META)
    (decision,) = decisions(_logged(caplog, verdict))
    assert decision[:3] == ("block", "dns", "www.casino.example")
    assert decision.client == "192.0.2.10:40123"
    assert decision.group == "pupils" and decision.rule == "category"


def test_a_held_packet_and_its_decision_share_the_flow(caplog: pytest.LogCaptureFixture) -> None:
    hello = client_hello("adult.example", padding=1700)
    eng = engine()
    first = eng.judge(ipv6(CLIENT6, SERVER6, 6, tcp(41000, 443, 1, hello[:1400])), META)
    second = eng.judge(ipv6(CLIENT6, SERVER6, 6, tcp(41000, 443, 1401, hello[1400:])), META)
    text = _logged(caplog, first, second)
    ((client, server),) = pending(text)
    (decision,) = decisions(text)
    assert decision.client == client == "[2001:db8:1::10]:41000"
    assert server == "[2001:db8:2::80]:443"
    assert (decision.verdict, decision.kind, decision.name) == ("block", "tls", "adult.example")


def test_an_allowed_verdict_is_logged_only_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    verdict = engine().judge(tcp4(1, client_hello("www.example.org")), META)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=LOG.name):
        Daemon._log_verdict(object.__new__(Daemon), verdict)
    assert caplog.records == []
    assert [d.verdict for d in decisions(_logged(caplog, verdict))] == ["allow"]
