"""copgate.daemon.verdict_log: every decision goes to the ring; lines only at debug level.

The lines themselves are read back with the lab's parser in
``tests.daemon.test_run``; here, where decisions go and how many lines are written.
"""

from __future__ import annotations

import logging

import pytest

from copgate.daemon.ring import DecisionRing
from copgate.daemon.run import LOG
from copgate.daemon.verdict_log import VerdictLog
from copgate.policy.model import Mode
from copgate.tools.samples import client_hello
from copgate.wire.packet import read_ip
from tests.daemon.test_engine import META, engine
from tests.lab.daemon_lab import decisions
from tests.wire.builders import SERVER4, dns_query, ipv4, syn4, tcp4, udp, udp4


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _text(caplog: pytest.LogCaptureFixture) -> str:
    return "".join(
        f"2026-12-05 22:00:00,000 {r.name} {r.levelname} {r.getMessage()}\n" for r in caplog.records
    )


def test_a_flood_of_blocked_queries_is_in_the_ring_and_not_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ring = DecisionRing(capacity=100, keep_allowed=True)
    log = VerdictLog(Clock(), ring=ring)
    eng = engine()
    verdicts = [
        eng.judge(udp4(dns_query("casino.example"), sport=40000 + n), META) for n in range(50)
    ]
    with caplog.at_level(logging.INFO, logger=LOG.name):
        for verdict in verdicts:
            log(verdict)
    assert caplog.records == []
    entries = ring.entries()
    assert len(entries) == 50
    first = entries[0]
    assert (first.seq, first.time, first.client, first.group) == (1, 1000.0, "192.0.2.10", "pupils")
    assert (first.kind, first.name, first.verdict, first.rule) == (
        "dns",
        "casino.example",
        "block",
        "category",
    )
    assert first.category is not None and first.source is not None and first.reason


def test_each_client_and_kind_is_recorded_as_it_was(caplog: pytest.LogCaptureFixture) -> None:
    ring = DecisionRing(capacity=100, keep_allowed=True)
    log = VerdictLog(Clock(), ring=ring)
    eng = engine()
    other = bytes([192, 0, 2, 99])
    for verdict in (
        eng.judge(udp4(dns_query("casino.example")), META),
        eng.judge(ipv4(other, SERVER4, 17, udp(40000, 53, dns_query("casino.example"))), META),
        eng.judge(tcp4(1, client_hello("www.example.org")), META),
    ):
        log(verdict)
    assert [(e.client, e.kind, e.name, e.verdict) for e in ring.entries()] == [
        ("192.0.2.10", "dns", "casino.example", "block"),
        ("192.0.2.99", "dns", "casino.example", "block"),
        ("192.0.2.10", "tls", "www.example.org", "allow"),
    ]


def test_packets_without_a_decision_are_not_recorded() -> None:
    ring = DecisionRing(capacity=100, keep_allowed=True)
    log = VerdictLog(Clock(), ring=ring)
    hello = client_hello("adult.example", padding=1700)
    held = engine().judge(tcp4(1, hello[:1400]), META)
    assert held.decision is None
    log(held)
    assert ring.entries() == [] and ring.recorded == 0


def test_at_debug_level_every_decision_is_also_written(caplog: pytest.LogCaptureFixture) -> None:
    ring = DecisionRing(capacity=100, keep_allowed=False)
    log = VerdictLog(Clock(), ring=ring)
    eng = engine()
    with caplog.at_level(logging.DEBUG, logger=LOG.name):
        for n in range(20):
            log(eng.judge(udp4(dns_query("casino.example"), sport=40000 + n), META))
        log(eng.judge(tcp4(1, client_hello("www.example.org")), META))
    assert len(decisions(_text(caplog))) == 21
    assert len(ring.entries()) == 20  # the allowed one is logged at debug, never kept


def test_summaries_of_other_lines_are_flushed(caplog: pytest.LogCaptureFixture) -> None:
    log = VerdictLog(Clock())
    log.rate.admit(("failure", "handler", "KeyError"), 0.0)
    log.rate.admit(("failure", "handler", "KeyError"), 1.0)
    with caplog.at_level(logging.INFO, logger=LOG.name):
        log.flush(20.0)
    (line,) = [r.getMessage() for r in caplog.records]
    assert line == "repeats: failure handler KeyError: and 1 more like it in 10 s"


def test_a_flow_refused_without_a_name_is_recorded_when_its_packet_is_named() -> None:
    ssh = b"SSH-2.0-OpenSSH_9.2\r\n"
    garden = engine(Mode.WHITELIST)
    garden.judge(syn4(0, dport=22), META)
    packet = tcp4(1, ssh, dport=22)
    refused = garden.judge(packet, META)
    assert refused.decision is not None and refused.question is None
    ring = DecisionRing(capacity=10, keep_allowed=True)
    log = VerdictLog(Clock(), ring=ring)
    log(refused._replace(packet=None))  # as the engine answers today: no client to name
    assert ring.entries() == []
    log(refused._replace(packet=read_ip(packet)))  # once the engine names the packet
    (entry,) = ring.entries()
    assert (entry.client, entry.kind, entry.verdict, entry.rule) == (
        "192.0.2.10",
        "unreadable",
        "block",
        "unreadable",
    )
    assert entry.name.endswith(":22") and entry.group == "pupils"
