"""copgate.daemon.run survives what its LAN and its operator throw at it.

A real ``Daemon`` on a real config, list cache and templates in a temporary
directory, without the netfilter queues or the firewall (the lab tests
those, in ``tests/lab/test_daemon_survival.py``):

- no exception in a handler ends the loop; it is counted and logged with
  its traceback;
- ``serve`` always shuts down, and when the loop itself dies it leaves the
  firewall rules in place, so every group fails the way its config says;
- a reload that fails in any way, including the malformed
  ``site-content.toml`` that used to kill the daemon, keeps the old config;
- a queue bound by another process stops the start with a clear message,
  before any firewall rule is touched.
"""

from __future__ import annotations

import json
import logging
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from copgate.daemon import reload, run
from copgate.daemon.run import Daemon, Options
from copgate.edges import iptables
from copgate.edges.firewall import IptablesFirewall
from copgate.edges.nfqueue import QueueBusyError
from copgate.edges.queue import QueueStats
from copgate.lists.compile import EntryTable, build_cache
from copgate.lists.install import install_cache

REPO_LISTS = Path(__file__).resolve().parents[2] / "lists"
CONFIG = """\
[general]
lists = ["{cache}"]
timezone = "UTC0"
default_group = "pupils"

[group.pupils]
template = "school"
addresses = ["192.0.2.10/32"]
{extra}
"""


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A config, a list cache, and the repository's templates and site-content table."""
    table = EntryTable()
    table.add_names(["casino.example"], frozenset({"gambling"}), white=False)
    data, _report = build_cache(table, build_time=1_700_000_000)
    install_cache(data, tmp_path / "lists.cgc")
    shutil.copytree(REPO_LISTS / "templates", tmp_path / "templates")
    shutil.copy(REPO_LISTS / "site-content.toml", tmp_path / "site-content.toml")
    write_config(tmp_path)
    return tmp_path


def write_config(site: Path, extra: str = "") -> None:
    cache = site / "lists.cgc"
    (site / "copgate.toml").write_text(CONFIG.format(cache=cache, extra=extra))


def options(site: Path) -> Options:
    return Options(config=site / "copgate.toml", firewall=False, templates_dir=site / "templates")


@pytest.fixture
def daemon(site: Path) -> Iterator[Daemon]:
    made = Daemon(options(site))
    yield made
    if made.selector.get_map() is not None:  # not shut down by the test
        made.shutdown()


def test_a_malformed_site_content_table_keeps_the_old_config(
    daemon: Daemon, site: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # It raised ConfigError past a reload that caught only ConfigErrors.
    before = daemon.config
    (site / "site-content.toml").write_text("[sites\nnot toml")
    with caplog.at_level(logging.INFO, logger="copgate"):
        assert daemon.reload() is False
    assert daemon.config is before and daemon.engine.config is before
    refused = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(refused) == 1 and refused[0].startswith("reload refused: ")
    assert "site-content.toml" in refused[0]
    assert refused[0].endswith("the running config stays in force")


def test_any_error_in_a_reload_keeps_the_old_config(
    daemon: Daemon, site: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    before, lists = daemon.config, daemon.lists

    def broken(*_args: object, **_kwargs: object) -> object:
        raise RuntimeError("a bug in a reload step")

    monkeypatch.setattr(reload, "local_tz", broken)
    with caplog.at_level(logging.INFO, logger="copgate"):
        assert daemon.reload() is False
    assert daemon.config is before and daemon.lists is lists and daemon.failures == 1
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.getMessage().startswith("reload failed: the running config and lists stay")
    assert record.exc_info is not None  # with its traceback


def test_a_good_reload_swaps_config_and_lists(daemon: Daemon, site: Path) -> None:
    old_lists = daemon.lists
    write_config(site, 'block = ["games.example"]')
    assert daemon.reload() is True
    assert daemon.engine.config is daemon.config
    assert "games.example" in daemon.config.group("pupils").block  # type: ignore[union-attr]
    assert daemon.lists is not old_lists


def test_a_failing_handler_is_counted_and_the_loop_goes_on(
    daemon: Daemon, caplog: pytest.LogCaptureFixture
) -> None:
    reader, writer = socket.socketpair()
    calls: list[int] = []

    def handler() -> None:
        reader.recv(1)
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("urlsplit said no")  # the exception that killed the daemon
        daemon.running = False

    daemon.selector.register(reader, 1, handler)
    writer.send(b"ab")
    daemon.running = True
    with caplog.at_level(logging.INFO, logger="copgate"), reader, writer:
        assert daemon.serve() == 0
    assert calls == [1, 1] and daemon.failures == 1
    failed = [
        r
        for r in caplog.records
        if r.getMessage().startswith(
            "handler test_a_failing_handler_is_counted_and_the_loop_goes_on.<locals>.handler failed"
        )
    ]
    assert len(failed) == 1 and failed[0].exc_info is not None
    assert caplog.records[-1].getMessage() == "copgate stopped"


@pytest.mark.parametrize("dies", [False, True])
def test_serve_always_shuts_down_and_a_death_leaves_the_rules(
    daemon: Daemon, monkeypatch: pytest.MonkeyPatch, dies: bool
) -> None:
    removed: list[bool] = []
    monkeypatch.setattr(iptables, "remove", lambda **_k: removed.append(True))
    daemon.rules = IptablesFirewall()
    daemon._firewall_applied = True
    daemon.running = True

    def select(_timeout: float | None = None) -> list[object]:
        if dies:
            raise RuntimeError("the loop itself failed")
        daemon.running = False
        return []

    monkeypatch.setattr(daemon.selector, "select", select)
    if dies:
        with pytest.raises(RuntimeError):
            daemon.serve()
    else:
        assert daemon.serve() == 0
    # A clean stop removes the rules; a death leaves them: open groups'
    # rules bypass the unbound queue, closed groups' rules hold their traffic.
    assert removed == ([] if dies else [True])
    assert daemon.selector.get_map() is None  # closed: the shutdown ran


class _FakeQueue:
    """A QueueEdge stand-in: queue 1 is held by another process."""

    bound: ClassVar[list[_FakeQueue]] = []

    def __init__(self, queue_num: int, *_args: object, fail_open: bool, **_kw: object) -> None:
        if queue_num == 1:
            raise QueueBusyError("bind refused: EBUSY", 16)
        self.queue_num, self.fail_open, self.closed = queue_num, fail_open, False
        self.pair = socket.socketpair()
        _FakeQueue.bound.append(self)

    def fileno(self) -> int:
        return self.pair[0].fileno()

    def drain(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True
        for sock in self.pair:
            sock.close()


def test_a_queue_bound_elsewhere_stops_the_start_and_touches_no_rule(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    touched: list[str] = []
    _FakeQueue.bound.clear()
    monkeypatch.setattr(run, "QueueEdge", _FakeQueue)
    monkeypatch.setattr(iptables, "apply", lambda *_a, **_k: touched.append("apply"))
    monkeypatch.setattr(iptables, "remove", lambda *_a, **_k: touched.append("remove"))
    with pytest.raises(QueueBusyError, match=r"^queue 1 is bound by another process"):
        run.run(Options(config=site / "copgate.toml", templates_dir=site / "templates"))
    assert touched == []
    (first,) = _FakeQueue.bound
    assert first.queue_num == 0 and first.fail_open and first.closed


class _QueueWithStats:
    def __init__(self, queue_num: int) -> None:
        self.queue_num = queue_num

    def stats(self) -> QueueStats:
        return QueueStats(10 + self.queue_num, 0, 1, 2, 3, 0)


def test_the_status_line_has_both_queues_failures_and_lines_left_out(
    daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(daemon, "queues", [_QueueWithStats(0), _QueueWithStats(1)])
    daemon.failures = 2
    daemon.verdict_log.rate.admit(("drop", "client=192.0.2.10", "flood"), 0.0)
    daemon.verdict_log.rate.admit(("drop", "client=192.0.2.10", "flood"), 0.1)
    daemon.engine.blocked.add((bytes([192, 0, 2, 10]), 40000, bytes(4), 443, 6), 0.0)
    daemon.engine.counters.count_evasion("bound hit (32768 bytes)")
    counters = daemon.counters()
    daemon.queues = []
    assert counters["queues"] == {
        "0": QueueStats(10, 0, 1, 2, 3, 0)._asdict(),
        "1": QueueStats(11, 0, 1, 2, 3, 0)._asdict(),
    }
    assert counters["handler_failures"] == 2 and counters["log_suppressed"] == 1
    engine = daemon.engine.counters.as_dict()
    assert {key: counters[key] for key in engine} == engine  # every engine counter
    assert counters["blocked_flows"] == 1 and counters["evasion"] == {"bound hit": 1}
    assert json.loads(json.dumps(counters)) == counters  # what SIGUSR1 logs is JSON


def test_a_start_that_fails_after_the_rules_leaves_them(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Removing them would open what fail-closed groups close; a restart replaces them.
    touched: list[str] = []
    _FakeQueue.bound.clear()
    monkeypatch.setattr(run, "QueueEdge", _FakeQueue)
    monkeypatch.setattr(run, "QUEUES", ((0, True), (2, False)))  # both bind

    def worker(_apply: object) -> None:
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(iptables, "apply", lambda *_a, **_k: touched.append("apply"))
    monkeypatch.setattr(iptables, "remove", lambda *_a, **_k: touched.append("remove"))
    monkeypatch.setattr(run, "FirewallWorker", worker)
    with pytest.raises(OSError, match="Too many open files"):
        run.run(Options(config=site / "copgate.toml", templates_dir=site / "templates"))
    assert "apply" in touched and "remove" not in touched
    assert all(queue.closed for queue in _FakeQueue.bound)
