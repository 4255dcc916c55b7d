"""copgate status, log and stats: they ask the daemon's socket and print what it says."""

from __future__ import annotations

import argparse
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from copgate.cli import main
from copgate.daemon.control import Params, ring_handlers
from copgate.daemon.ring import DecisionRing
from copgate.edges.control import ControlServer
from copgate.tools.ops_cmd import duration, log_line, run_log

NOW = 1_790_000_000.0
ME = frozenset({os.geteuid()})
STATUS: dict[str, object] = {
    "version": "0.1.0",
    "pid": 4242,
    "uptime": 7500.0,
    "config": {
        "file": "/etc/config/copgate",
        "groups": ["pupils", "staff"],
        "default_group": "pupils",
    },
    "lists": [{"name": "default", "release": 42, "built": NOW - 7200, "age": 7200.0}],
    "update": "unknown",
    "offload": "unknown",
    "queue": {
        "packets": 12345,
        "failures": 1,
        "fail_open": 1,
        "fail_closed": 0,
        "verdicts": {"dns": {"allow": 10, "block": 2}},
        "overflows": {"enobufs": 0, "kernel_dropped": 0, "user_dropped": 0},
    },
    "log": {"entries": 3, "capacity": 1000, "keep_allowed": True, "recorded": 3},
}


@pytest.fixture
def ring() -> DecisionRing:
    ring = DecisionRing(capacity=100, keep_allowed=True)
    for i, (client, name, verdict) in enumerate(
        [
            ("192.0.2.10", "www.example.org", "allow"),
            ("192.0.2.10", "casino.example", "block"),
            ("2001:db8:1::10", "adult.example", "block"),
        ]
    ):
        ring.record(
            time=NOW + i,
            client=client,
            group="pupils",
            kind="dns",
            name=name,
            verdict=verdict,
            reason=f"{name} reason",
            category=None if verdict == "allow" else "gambling",
            source=None if verdict == "allow" else "default",
        )
    return ring


@pytest.fixture
def socket_path(tmp_path: Path, ring: DecisionRing) -> Iterator[Path]:
    def status(_params: Params) -> object:
        return STATUS

    server = ControlServer(
        tmp_path / "control.sock",
        {"status": status, **ring_handlers(ring, lambda: NOW + 10)},
        allowed_uids=frozenset({os.geteuid()}),
    )
    server.start()
    try:
        yield server.path
    finally:
        server.close()


def test_status_json_is_what_the_daemon_said(
    socket_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "--json", "--socket", str(socket_path)]) == 0
    assert json.loads(capsys.readouterr().out) == STATUS


def test_status_for_a_person(socket_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--socket", str(socket_path)]) == 0
    out = capsys.readouterr().out
    assert "copgate 0.1.0 running (pid 4242), up 2h 05m" in out
    assert "groups: pupils, staff (default pupils)" in out
    assert "lists: default release 42" in out
    assert "last update: unknown" in out and "flow offloading: unknown" in out
    assert "queue: 12,345 packets; failures 1 (fail-open 1, fail-closed 0)" in out
    assert "  dns: allow 10, block 2" in out


def test_log_json_filters_by_client(socket_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["log", "--json", "--socket", str(socket_path), "--client", "2001:DB8:1:0::10"]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["name"] for line in lines] == ["adult.example"]


def test_log_for_a_person(socket_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["log", "--socket", str(socket_path), "--name", "*.example", "-n", "1"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.endswith(
        "2001:db8:1::10  pupils  dns  block  adult.example  gambling  default  adult.example reason"
    )


def test_follow_shows_each_new_entry_once(socket_path: Path, ring: DecisionRing) -> None:
    out = io.StringIO()
    added: list[str] = []

    def sleep(_seconds: float) -> None:
        name = f"n{len(added)}.example"
        added.append(name)
        ring.record(
            time=NOW, client="192.0.2.10", group="pupils", kind="tls", name=name,
            verdict="block", reason="r",
        )  # fmt: skip

    args = argparse.Namespace(
        socket=socket_path, json=True, follow=True, client=None, name=None, verdict=None,
        group=None, limit=2,
    )  # fmt: skip
    assert run_log(args, out, sleep=sleep, rounds=3) == 0
    names = [json.loads(line)["name"] for line in out.getvalue().splitlines()]
    assert names == ["casino.example", "adult.example", "n0.example", "n1.example"]


def test_stats_json_and_for_a_person(socket_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", "--json", "--socket", str(socket_path), "--top", "1"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["top_blocked_names"] == [{"name": "adult.example", "count": 1}]
    assert stats["top_blocked_categories"] == [{"category": "gambling", "count": 2}]
    assert main(["stats", "--socket", str(socket_path)]) == 0
    out = capsys.readouterr().out
    assert "3 decisions held, 2 blocked" in out
    assert "top blocked categories: gambling (2)" in out
    assert "client 192.0.2.10: 2 decisions, 1 blocked" in out


def test_no_daemon_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["log", "--socket", str(tmp_path / "none.sock")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("copgate log: no copgate daemon answers on") and "is it running?" in err


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (59.9, "59s"), (61, "1m 01s"), (7500, "2h 05m"), (2 * 86400 + 7300, "2d 2h")],
)
def test_durations(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_a_log_line_shows_dashes_for_what_is_missing() -> None:
    line = log_line(
        {"time": NOW, "client": "192.0.2.10", "group": "g", "kind": "dns", "verdict": "allow",
         "name": "a.example", "category": None, "source": None, "reason": "not listed"}
    )  # fmt: skip
    assert line.endswith("192.0.2.10  g  dns  allow  a.example  -  -  not listed")


def test_follow_starts_again_when_the_daemon_restarts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rings = [DecisionRing(10, True) for _ in range(2)]
    for ring, names in zip(rings, (["a.example", "b.example"], ["c.example"]), strict=True):
        for name in names:
            ring.record(
                time=NOW, client="192.0.2.10", group="g", kind="dns", name=name, verdict="block",
                reason="r",
            )  # fmt: skip
    path = tmp_path / "control.sock"
    servers = [ControlServer(path, ring_handlers(rings[0], lambda: NOW), allowed_uids=ME)]
    servers[0].start()

    def restart(_seconds: float) -> None:
        servers[-1].close()
        servers.append(ControlServer(path, ring_handlers(rings[1], lambda: NOW), allowed_uids=ME))
        servers[-1].start()

    args = argparse.Namespace(
        socket=path, json=True, follow=True, client=None, name=None, verdict=None, group=None,
        limit=0,
    )  # fmt: skip
    out = io.StringIO()
    try:
        assert run_log(args, out, sleep=restart, rounds=3) == 0
    finally:
        servers[-1].close()
    names = [json.loads(line)["name"] for line in out.getvalue().splitlines()]
    assert names == ["a.example", "b.example", "c.example"]
    assert "the daemon restarted" in capsys.readouterr().err
