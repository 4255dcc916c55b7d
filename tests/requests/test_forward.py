"""Reports reach a (fake) distributor exactly once, through failures, backoff and restarts."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from copgate.edges.report_post import ForwardWorker, http_post
from copgate.requests.forward import BACKOFF_FIRST, BACKOFF_MAX, Forwarder, backoff, report_json
from copgate.requests.store import RecordKind, Store

NOW = 1_800_000_000.0
TOKEN = "t0ken"


class FakeDistributor(ThreadingHTTPServer):
    """An intake that answers from a script of statuses, then 202; it keeps what it took."""

    def __init__(self, script: list[int]) -> None:
        super().__init__(("127.0.0.1", 0), _Intake)
        self.script = script
        self.received: list[tuple[dict[str, str], dict[str, object]]] = []
        self.keys: set[str] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1/reports"


class _Intake(BaseHTTPRequestHandler):
    server: FakeDistributor

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        status = self.server.script.pop(0) if self.server.script else 202
        if status == 202:
            key = self.headers["Idempotency-Key"]
            status = 409 if key in self.server.keys else 202
            self.server.keys.add(key)
            self.server.received.append((dict(self.headers), json.loads(body)))
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def distributor() -> Iterator[FakeDistributor]:
    server = FakeDistributor([])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def _store(tmp_path: Path) -> Store:
    store = Store(tmp_path)
    store.add(RecordKind.ACCESS, "local.example", "kids", "192.0.2.10", NOW)
    store.add(
        RecordKind.MISTAKE,
        "school.example",
        "kids",
        "192.0.2.10",
        NOW,
        comment="homework",
        category="games",
        list_name="ut1",
        reason="category",
    )
    store.add(RecordKind.SITE, "bad.example", "kids", "192.0.2.11", NOW)
    return store


def _no_jitter(low: float, high: float) -> float:
    return 1.0


def test_the_body_is_the_documented_format_without_the_clients_address(tmp_path: Path) -> None:
    record = _store(tmp_path).entries()[1].record
    assert json.loads(report_json(record)) == {
        "version": 1,
        "key": record.key,
        "kind": "mistake",
        "name": "school.example",
        "created": "2027-01-15T08:00:00Z",
        "group": "kids",
        "category": "games",
        "list": "ut1",
        "reason": "category",
        "comment": "homework",
    }


def test_failures_back_off_then_each_report_is_acknowledged_once(
    tmp_path: Path, distributor: FakeDistributor
) -> None:
    store = _store(tmp_path)
    distributor.script[:] = [503, 500]
    forwarder = Forwarder(store, distributor.url, TOKEN, http_post, uniform=_no_jitter)
    assert forwarder.run_once(NOW) == 0  # both reports fail: 503, then 500
    assert forwarder.next_due(NOW) == NOW + BACKOFF_FIRST
    assert forwarder.run_once(NOW + BACKOFF_FIRST - 1) == 0  # not due: nothing posted
    assert forwarder.run_once(NOW + BACKOFF_FIRST) == 2
    assert forwarder.run_once(NOW + 10 * BACKOFF_MAX) == 0
    assert forwarder.next_due(NOW) is None
    names = sorted(str(body["name"]) for _headers, body in distributor.received)
    assert names == ["bad.example", "school.example"]  # never the local access request
    headers = distributor.received[0][0]
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["Content-Type"] == "application/json"
    assert (forwarder.stats.sent, forwarder.stats.failed) == (2, 2)


def test_acknowledged_reports_are_not_sent_after_a_restart(
    tmp_path: Path, distributor: FakeDistributor
) -> None:
    Forwarder(_store(tmp_path), distributor.url, None, http_post).run_once(NOW)
    again = Forwarder(Store(tmp_path), distributor.url, None, http_post)
    assert again.pending() == []
    assert again.run_once(NOW + 1) == 0
    assert len(distributor.received) == 2
    assert "Authorization" not in distributor.received[0][0]


def test_a_repeat_after_a_lost_acknowledgement_is_a_duplicate_to_the_intake(
    tmp_path: Path, distributor: FakeDistributor
) -> None:
    """Posted, acknowledged, power cut before ``.sent``: the next post carries the same
    key, the intake says 409, and the gateway takes that as acknowledged."""
    store = _store(tmp_path)
    Forwarder(store, distributor.url, None, http_post).run_once(NOW)
    for entry in store.entries():
        (tmp_path / f"{entry.record.id}.sent").unlink(missing_ok=True)
    forwarder = Forwarder(Store(tmp_path), distributor.url, None, http_post)
    assert forwarder.run_once(NOW + 1) == 2
    assert len(distributor.keys) == 2
    assert forwarder.pending() == []


def test_a_refused_report_is_dropped_not_retried(
    tmp_path: Path, distributor: FakeDistributor
) -> None:
    distributor.script[:] = [422]
    store = _store(tmp_path)
    forwarder = Forwarder(store, distributor.url, None, http_post)
    assert forwarder.run_once(NOW) == 1
    assert forwarder.pending() == []
    assert forwarder.stats.refused == 1
    assert (tmp_path / "2.sent").read_text() == "refused 422"


def test_no_distributor_is_retried_with_doubling_waits(tmp_path: Path) -> None:
    calls: list[str] = []

    def unreachable(url: str, headers: Mapping[str, str], body: bytes) -> int:
        calls.append(url)
        raise OSError("connection refused")

    forwarder = Forwarder(
        _store(tmp_path), "http://192.0.2.1/", None, unreachable, uniform=_no_jitter
    )
    now = NOW
    waits = []
    for _ in range(4):
        forwarder.run_once(now)
        due = forwarder.next_due(now)
        assert due is not None
        waits.append(due - now)
        now = due
    assert waits == [30.0, 60.0, 120.0, 240.0]
    assert len(calls) == 8


def test_backoff_is_capped_and_jittered() -> None:
    assert backoff(1, _no_jitter) == BACKOFF_FIRST
    assert backoff(50, _no_jitter) == BACKOFF_MAX
    assert backoff(1, lambda low, high: low) == pytest.approx(BACKOFF_FIRST * 0.8)


def test_the_worker_forwards_when_poked(tmp_path: Path, distributor: FakeDistributor) -> None:
    store = Store(tmp_path)
    worker = ForwardWorker(Forwarder(store, distributor.url, None, http_post))
    try:
        store.add(RecordKind.SITE, "bad.example", "kids", "c", NOW)
        worker.poke()
        deadline = threading.Event()
        for _ in range(100):
            if distributor.received:
                break
            deadline.wait(0.05)
    finally:
        assert worker.close()
    assert [body["name"] for _headers, body in distributor.received] == ["bad.example"]
