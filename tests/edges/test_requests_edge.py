"""The daemon's side of the requests: the grants file watched, a bad queue directory survived,
the app built at the first request."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest

from copgate.edges.requests_edge import RequestsEdge
from copgate.http1.request import read_request
from copgate.policy.grants import Grant
from copgate.policy.model import Config
from copgate.policy.tz import parse_tz
from copgate.requests.grantfile import add_grant
from tests.daemon.test_engine import config

NOW = 1_800_000_000.0


def _config(reports: Path, **changes: object) -> Config:
    base = config()
    settings = dataclasses.replace(base.settings, reports_dir=str(reports), **changes)  # type: ignore[arg-type]
    return dataclasses.replace(base, settings=settings)


def test_grants_are_picked_up_when_the_file_changes(tmp_path: Path) -> None:
    edge = RequestsEdge(_config(tmp_path), lambda client: None, parse_tz("UTC0"))
    try:
        first = edge.tick()
        assert first is not None and not first
        assert edge.tick() is None
        add_grant(tmp_path / "grants.json", Grant("a.example", "pupils", None), NOW)
        grants = edge.tick()
        assert grants is not None and grants.find("pupils", "www.a.example", NOW) is not None
        (tmp_path / "grants.json").write_text("{broken")
        assert edge.tick() is None  # logged; the daemon keeps the grants it had
    finally:
        edge.close()


def test_a_queue_directory_that_cannot_be_made_leaves_the_page_working(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    edge = RequestsEdge(_config(blocker / "reports"), lambda client: None, parse_tz("UTC0"))
    assert edge.store is None and edge.app.store is None
    assert "requests and reports not taken" in caplog.text
    edge.close()


def test_a_reload_that_moves_the_reports_says_it_needs_a_restart(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    edge = RequestsEdge(_config(tmp_path), lambda client: None, parse_tz("UTC0"))
    with caplog.at_level(logging.WARNING):
        edge.reconfigure(_config(tmp_path))
        assert caplog.text == ""
        edge.reconfigure(_config(tmp_path, reports_url="https://lists.example.org/v1/reports"))
    assert "reports_url changed; it takes effect when copgate restarts" in caplog.text
    edge.close()


def test_a_reload_moves_the_pages_hosts_and_url(tmp_path: Path) -> None:
    edge = RequestsEdge(_config(tmp_path), lambda client: None, parse_tz("UTC0"))
    assert edge.app.hosts == frozenset({"blocked.copgate.lan", "192.0.2.1"})
    edge.reconfigure(_config(tmp_path, page_name="why.home.arpa"))
    assert edge.app.hosts == frozenset({"why.home.arpa", "192.0.2.1"})
    assert edge.app.page_url == "http://why.home.arpa:8099/recent"
    edge.close()


def test_the_counters_say_what_the_forms_did(tmp_path: Path) -> None:
    edge = RequestsEdge(_config(tmp_path), lambda client: None, parse_tz("UTC0"))
    edge.app.stats.stored = 2
    edge.app.stats.refused_rate = 1
    assert edge.counters() == {
        "stored": 2,
        "refused_token": 0,
        "refused_rate": 1,
        "refused_form": 0,
        "refused_full": 0,
        "forwarded": 0,
        "forward_refused": 0,
        "forward_failed": 0,
    }
    edge.close()


def test_a_reload_before_the_first_request_reaches_the_app_built_later(tmp_path: Path) -> None:
    edge = RequestsEdge(_config(tmp_path), lambda client: None, parse_tz("UTC0"))
    edge.reconfigure(_config(tmp_path, page_name="why.home.arpa"))
    assert edge.app.hosts == frozenset({"why.home.arpa", "192.0.2.1"})
    assert edge.app.page_url == "http://why.home.arpa:8099/recent"
    edge.close()


def test_the_app_is_built_at_the_first_request_and_kept(tmp_path: Path) -> None:
    edge = RequestsEdge(_config(tmp_path), lambda client: None, parse_tz("UTC0"))
    assert edge.counters()["stored"] == 0  # counted without building the app
    assert edge._app is None
    request = read_request(b"GET /recent HTTP/1.1\r\nHost: blocked.copgate.lan\r\n\r\n")
    assert request is not None
    page = edge.handle(request, b"", "192.0.2.10", NOW)
    assert page.startswith(b"HTTP/1.1 200 OK\r\n")
    built = edge._app
    assert built is not None and edge.app is built
    edge.handle(request, b"", "192.0.2.10", NOW)
    assert edge.app is built
    edge.close()
