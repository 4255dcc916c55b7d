"""copgate.daemon.verdict_log: a flood of blocked queries is one line and one count, not a flood.

The lines themselves are read back with the lab's parser in
``tests.daemon.test_run``; here, how many are written.
"""

from __future__ import annotations

import logging

import pytest

from copgate.daemon.run import LOG
from copgate.daemon.verdict_log import VerdictLog
from tests.daemon.test_engine import META, engine
from tests.lab.daemon_lab import decisions
from tests.wire.builders import SERVER4, dns_query, ipv4, udp, udp4


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _text(caplog: pytest.LogCaptureFixture) -> str:
    return "".join(
        f"2026-12-05 22:00:00,000 {r.name} {r.levelname} {r.getMessage()}\n" for r in caplog.records
    )


def test_a_flood_of_one_blocked_name_is_one_line_and_a_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    log = VerdictLog(clock)
    eng = engine()
    verdicts = [
        eng.judge(udp4(dns_query("casino.example"), sport=40000 + n), META) for n in range(50)
    ]
    with caplog.at_level(logging.INFO, logger=LOG.name):
        for verdict in verdicts:
            log(verdict)
        assert len(decisions(_text(caplog))) == 1
        clock.now += 10.0
        log.flush(clock.now)
    (summary,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("repeats:")]
    assert summary.startswith("repeats: block dns client=192.0.2.10 group=pupils rule=category")
    assert summary.endswith(": and 49 more like it in 10 s")
    assert len(decisions(_text(caplog))) == 1  # a summary is not read as a decision


def test_other_clients_and_reasons_get_their_own_line(caplog: pytest.LogCaptureFixture) -> None:
    log = VerdictLog(Clock())
    eng = engine()
    blocked = eng.judge(udp4(dns_query("casino.example")), META)
    other = bytes([192, 0, 2, 99])
    other_client = eng.judge(
        ipv4(other, SERVER4, 17, udp(40000, 53, dns_query("casino.example"))), META
    )
    other_reason = eng.judge(udp4(dns_query("adult.example")), META)
    with caplog.at_level(logging.INFO, logger=LOG.name):
        for verdict in (blocked, other_client, other_reason, blocked):
            log(verdict)
    written = [(d.client_address, d.name) for d in decisions(_text(caplog))]
    assert written == [
        ("192.0.2.10", "casino.example"),
        ("192.0.2.99", "casino.example"),
        ("192.0.2.10", "adult.example"),
    ]


def test_at_debug_level_every_line_is_written(caplog: pytest.LogCaptureFixture) -> None:
    log = VerdictLog(Clock())
    eng = engine()
    with caplog.at_level(logging.DEBUG, logger=LOG.name):
        for n in range(20):
            log(eng.judge(udp4(dns_query("casino.example"), sport=40000 + n), META))
    assert len(decisions(_text(caplog))) == 20
    assert log.rate.suppressed == 0
