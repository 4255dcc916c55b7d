"""Injector: a failure to send is counted, and a storm of them is one log line and a count.

The raw sockets are stand-ins (``socket.socket`` replaced in the module), so
no packet leaves and no root is needed; the lab sends real forged answers.
"""

from __future__ import annotations

import errno
import logging

import pytest

from copgate.daemon.lograte import WINDOW, LogRate
from copgate.edges.inject import Injector
from tests.wire.builders import udp4

ANSWER = udp4(b"\x12\x34\x81\x83" + bytes(8), sport=53, dport=40000)  # a forged DNS answer


class FailingSocket:
    """A raw socket whose every send fails with ``failure`` (None: succeeds)."""

    failure: OSError | None = None

    def __init__(self, family: int, kind: int, proto: int) -> None:
        self.sent: list[bytes] = []

    def setsockopt(self, level: int, option: int, value: int) -> None:
        pass

    def setblocking(self, flag: bool) -> None:
        pass

    def sendto(self, data: bytes, address: tuple[object, ...]) -> int:
        if FailingSocket.failure is not None:
            raise FailingSocket.failure
        self.sent.append(data)
        return len(data)

    def close(self) -> None:
        pass


@pytest.fixture
def failing(monkeypatch: pytest.MonkeyPatch) -> type[FailingSocket]:
    # The socket module's own attribute, as the injector reads it: for this test only.
    monkeypatch.setattr("copgate.edges.inject.socket.socket", FailingSocket)
    FailingSocket.failure = OSError(errno.ENOBUFS, "No buffer space available")
    return FailingSocket


def injector_at(clock: list[float], rate: LogRate | None) -> Injector:
    return Injector(rate=rate, clock=lambda: clock[0])


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "copgate.inject"]


def test_a_storm_of_failures_is_one_line_then_a_summary(
    failing: type[FailingSocket], caplog: pytest.LogCaptureFixture
) -> None:
    clock = [1000.0]
    rate = LogRate()
    injector = injector_at(clock, rate)
    with caplog.at_level(logging.INFO):
        for _ in range(5000):
            injector.send(ANSWER)
        assert injector.failed == 5000 and injector.sent == 0
        assert warnings(caplog) == [
            f"could not inject a {len(ANSWER)}-byte packet: {FailingSocket.failure}"
        ]
        assert rate.suppressed == 4999
        # The next window: its first failure is written, after the last one's count.
        clock[0] += WINDOW
        injector.send(ANSWER)
    assert len(warnings(caplog)) == 2
    summaries = [r.getMessage() for r in caplog.records if r.getMessage().startswith("repeats:")]
    assert summaries == ["repeats: inject ENOBUFS: and 4,999 more like it in 10 s"]


def test_kinds_of_failure_are_each_written_once(
    failing: type[FailingSocket], caplog: pytest.LogCaptureFixture
) -> None:
    clock = [0.0]
    injector = injector_at(clock, LogRate())
    with caplog.at_level(logging.WARNING):
        for failure in (errno.ENOBUFS, errno.ENETUNREACH, errno.ENOBUFS, errno.ENETUNREACH):
            FailingSocket.failure = OSError(failure, errno.errorcode[failure])
            injector.send(ANSWER)
    assert len(warnings(caplog)) == 2 and injector.failed == 4


def test_without_a_rate_every_failure_is_written(
    failing: type[FailingSocket], caplog: pytest.LogCaptureFixture
) -> None:
    injector = injector_at([0.0], None)
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            injector.send(ANSWER)
    assert len(warnings(caplog)) == 3


def test_a_packet_the_firewall_refuses_is_counted_not_logged(
    failing: type[FailingSocket], caplog: pytest.LogCaptureFixture
) -> None:
    FailingSocket.failure = PermissionError(errno.EPERM, "Operation not permitted")
    injector = injector_at([0.0], LogRate())
    with caplog.at_level(logging.WARNING):
        for _ in range(100):
            injector.send(ANSWER)
    assert (injector.refused, injector.failed, warnings(caplog)) == (100, 0, [])


def test_a_sent_packet_is_counted(failing: type[FailingSocket]) -> None:
    FailingSocket.failure = None
    injector = injector_at([0.0], LogRate())
    injector.send(ANSWER)
    assert (injector.sent, injector.failed) == (1, 0)
