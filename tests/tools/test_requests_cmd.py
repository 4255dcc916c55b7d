"""``copgate requests``, ``allow`` and ``deny``: the admin's side of the block page."""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from pathlib import Path

import pytest

from copgate.requests.store import RecordKind, Store
from copgate.tools import requests_cmd
from copgate.tools.requests_cmd import duration
from tests.tools.test_policy_cmd import cache, run  # noqa: F401  (the cache fixture)


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    return tmp_path / "reports"


@pytest.fixture
def config(tmp_path: Path, cache: Path, reports: Path) -> Path:  # noqa: F811
    path = tmp_path / "copgate.toml"
    path.write_text(
        f"""
[general]
lists = ["{cache}"]
reports_dir = "{reports}"
default_group = "kids"

[group.kids]
block_categories = ["adult"]

[group.staff]
mode = "off"
addresses = ["192.0.2.200/32"]
""",
        encoding="utf-8",
    )
    return path


def _check(capsys: pytest.CaptureFixture[str], config: Path) -> dict[str, object]:
    status, out = run(capsys, "check", "www.adult.example", "--config", str(config), "--json")
    assert status == 0
    result: dict[str, object] = json.loads(out)
    return result


def test_a_request_is_listed_granted_and_the_grant_shows_in_check(
    capsys: pytest.CaptureFixture[str], config: Path, reports: Path
) -> None:
    store = Store(reports)
    asked = store.add(
        RecordKind.ACCESS,
        "adult.example",
        "kids",
        "192.0.2.10",
        time.time() - 60,
        comment="homework",
    )
    status, out = run(capsys, "requests", "--config", str(config))
    assert status == 0
    (line,) = out.splitlines()
    expected = (
        r"   1 access   adult\.example group=kids client=192\.0\.2\.10 age=6[01]s state=open "
        r"comment='homework'"
    )
    assert re.fullmatch(expected, line), line
    assert _check(capsys, config)["verdict"] == "block"

    status, out = run(
        capsys, "allow", "Adult.Example", "--group", "kids", "--for", "2h", "--config", str(config)
    )
    assert (status, out) == (0, "granted: adult.example for group kids for 7200s\n")
    decision = _check(capsys, config)
    assert (decision["verdict"], decision["rule"], decision["match"]) == (
        "allow",
        "grant",
        "adult.example",
    )
    assert "without it: www.adult.example is in adult" in str(decision["reason"])
    assert Store(reports).get(asked.id).closed == "granted"  # type: ignore[union-attr]
    status, out = run(capsys, "requests", "--config", str(config), "--json")
    listing = json.loads(out)
    assert listing["requests"] == []
    assert [(g["name"], g["group"]) for g in listing["grants"]] == [("adult.example", "kids")]

    status, out = run(
        capsys, "allow", "adult.example", "--group", "kids", "--revoke", "--config", str(config)
    )
    assert status == 0
    assert _check(capsys, config)["verdict"] == "block"


def test_an_expired_grant_is_gone_by_itself(
    capsys: pytest.CaptureFixture[str], config: Path, reports: Path
) -> None:
    run(capsys, "allow", "adult.example", "--group", "kids", "--for", "1s", "--config", str(config))
    time.sleep(1.1)
    assert _check(capsys, config)["verdict"] == "block"


def test_deny_closes_an_access_request(capsys: pytest.CaptureFixture[str], reports: Path) -> None:
    store = Store(reports)
    store.add(RecordKind.ACCESS, "a.example", "kids", "192.0.2.10", time.time())
    report = store.add(RecordKind.MISTAKE, "b.example", "kids", "192.0.2.10", time.time())
    status, out = run(capsys, "deny", "1", "--dir", str(reports))
    assert (status, out) == (0, "denied: request 1 (a.example for group kids)\n")
    status, out = run(capsys, "deny", str(report.id), "--dir", str(reports))
    assert status == 2 and "no access request 2" in out
    status, out = run(capsys, "requests", "--dir", str(reports))
    assert "b.example" in out and "waiting to be forwarded" in out and "a.example" not in out
    status, out = run(capsys, "requests", "--all", "--dir", str(reports))
    assert "state=denied" in out


def test_allow_refuses_an_unknown_group_and_a_bad_name(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    status, out = run(capsys, "allow", "a.example", "--group", "pupils", "--config", str(config))
    assert status == 2 and "no group 'pupils'" in out and "kids, staff" in out
    status, out = run(capsys, "allow", "a..example", "--group", "kids", "--config", str(config))
    assert status == 2 and "not a host name" in out


@pytest.mark.parametrize(
    ("text", "seconds"), [("20s", 20), ("30m", 1800), ("2h", 7200), ("1d", 86400), ("1h30m", 5400)]
)
def test_durations(text: str, seconds: int) -> None:
    assert duration(text) == seconds


@pytest.mark.parametrize("text", ["", "2", "2x", "0s", "400d", "h"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        duration(text)


def test_without_config_or_dir_the_routers_config_is_read(
    capsys: pytest.CaptureFixture[str],
    config: Path,
    reports: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(requests_cmd, "DEFAULT_CONFIGS", (config.with_name("absent"), config))
    Store(reports).add(RecordKind.ACCESS, "a.example", "kids", "192.0.2.10", time.time())
    status, out = run(capsys, "requests")
    assert status == 0 and "a.example group=kids" in out


def test_reports_without_a_distributor_are_kept_here(
    capsys: pytest.CaptureFixture[str], config: Path, reports: Path
) -> None:
    Store(reports).add(RecordKind.SITE, "bad.example", "kids", "192.0.2.10", time.time())
    status, out = run(capsys, "requests", "--config", str(config))
    assert status == 0 and "state=kept here (no reports_url)" in out


def test_a_file_it_cannot_write_is_one_line(
    capsys: pytest.CaptureFixture[str], reports: Path
) -> None:
    Store(reports).add(RecordKind.ACCESS, "a.example", "kids", "192.0.2.10", time.time())
    (reports / "1.closed" / "in-the-way").mkdir(parents=True)  # a directory where a file goes
    status, out = run(capsys, "deny", "1", "--dir", str(reports))
    assert status == 2
    assert out.startswith("copgate deny: ") and "1.closed" in out and "Traceback" not in out
    assert not [name for name in os.listdir(reports) if name.startswith(".tmp-")]
