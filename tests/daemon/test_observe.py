"""copgate.daemon.observe: the ring survives a reload; the socket and metrics serve the status."""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import urllib.request
from collections.abc import Iterator
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from copgate.daemon.observe import Observers
from copgate.daemon.run import Daemon, Options
from copgate.edges.control import ask
from copgate.lists.compile import EntryTable, build_cache
from copgate.lists.install import install_cache
from tests.daemon.test_engine import settings

ME = frozenset({os.geteuid()})
CONFIG = """\
[general]
lists = ["{cache}"]
timezone = "UTC0"
{general}
[group.pupils]
addresses = ["192.0.2.10/32"]
block_categories = ["gambling"]
"""


def _record(observers: Observers, name: str, verdict: str = "block") -> None:
    observers.ring.record(
        time=1000.0, client="192.0.2.10", group="pupils", kind="dns", name=name,
        verdict=verdict, reason="r",
    )  # fmt: skip


@pytest.fixture
def observers(tmp_path: Path) -> Iterator[Observers]:
    made = Observers(
        dataclasses.replace(settings(), metrics_listen=(IPv4Address("127.0.0.1"), 0)),
        tmp_path / "control.sock",
        ME,
    )
    made.start(lambda: {"packets": 3, "queue": {"packets": 3}}, lambda: 2000.0)
    yield made
    made.close()


def test_the_socket_answers_status_log_and_stats(observers: Observers) -> None:
    _record(observers, "casino.example")
    path = observers.control_path
    assert path is not None
    assert ask(path, "status") == {"packets": 3, "queue": {"packets": 3}}
    log = ask(path, "log")
    assert isinstance(log, dict) and [e["name"] for e in log["entries"]] == ["casino.example"]
    stats = ask(path, "stats")
    assert isinstance(stats, dict) and stats["blocked"] == 1


def test_the_metrics_endpoint_renders_the_status(observers: Observers) -> None:
    assert observers.metrics is not None
    host, port = observers.metrics.address
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5) as reply:
        body = reply.read().decode()
    assert "copgate_packets_total 3\n" in body
    section = observers.section()
    assert section["metrics"] == {"listen": f"{host}:{port}", "served": 1}


def test_reconfigure_resizes_the_ring_in_place_and_warns_of_a_new_endpoint(
    observers: Observers, caplog: pytest.LogCaptureFixture
) -> None:
    ring = observers.ring
    for name in ("a.example", "b.example", "c.example"):
        _record(observers, name)
    with caplog.at_level(logging.WARNING, logger="copgate"):
        observers.reconfigure(dataclasses.replace(settings(), log_entries=2, log_allowed=False))
    assert observers.ring is ring
    assert [e.name for e in ring.entries()] == ["b.example", "c.example"]
    assert not ring.keep_allowed
    assert "metrics_listen changes when copgate restarts" in caplog.text


def test_a_socket_that_cannot_open_is_logged_and_the_rest_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "control.sock").write_text("not a socket")
    made = Observers(settings(), tmp_path / "control.sock", ME)
    with caplog.at_level(logging.ERROR, logger="copgate"):
        made.start(dict, lambda: 0.0)
    assert made.control is None and made.metrics is None
    assert "control socket not opened" in caplog.text
    _record(made, "still.example")
    assert len(made.ring.entries()) == 1
    made.close()


def test_a_metrics_port_in_use_is_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        made = Observers(
            dataclasses.replace(settings(), metrics_listen=(IPv4Address("127.0.0.1"), port)),
            None,
        )
        with caplog.at_level(logging.ERROR, logger="copgate"):
            made.start(dict, lambda: 0.0)
    assert made.metrics is None and "metrics endpoint not opened" in caplog.text


# -- in the daemon ------------------------------------------------------------------------


@pytest.fixture
def site(tmp_path: Path) -> Path:
    table = EntryTable()
    table.add_names(["casino.example"], frozenset({"gambling"}), white=False)
    data, _report = build_cache(table, build_time=1_700_000_000)
    install_cache(data, tmp_path / "lists.cgc")
    _write(tmp_path, "log_entries = 10")
    return tmp_path


def _write(site: Path, general: str) -> None:
    text = CONFIG.format(cache=site / "lists.cgc", general=general)
    (site / "copgate.toml").write_text(text)


def test_the_daemons_log_survives_a_reload_and_takes_its_new_size(site: Path) -> None:
    daemon = Daemon(Options(config=site / "copgate.toml", firewall=False, control=None))
    try:
        ring = daemon.observers.ring
        assert ring.capacity == 10 and daemon.verdict_log.ring is ring
        for name in ("a.example", "b.example", "c.example"):
            _record(daemon.observers, name)
        _write(site, "log_entries = 2\nlog_allowed = false")
        assert daemon.reload()
        assert daemon.observers.ring is ring and daemon.verdict_log.ring is ring
        assert [e.name for e in ring.entries()] == ["b.example", "c.example"]
        assert (ring.capacity, ring.keep_allowed) == (2, False)
        status = daemon.status()
        assert status["log"] == {
            "entries": 2, "capacity": 2, "keep_allowed": False, "recorded": 3, "not_kept": 0,
            "last_seq": 3,
        }  # fmt: skip
        assert status["config"] == {
            "file": str(site / "copgate.toml"),
            "groups": ["pupils"],
            "default_group": "pupils",
        }
        assert status["update"] == "unknown" and status["offload"] == "unknown"
    finally:
        daemon.shutdown()
