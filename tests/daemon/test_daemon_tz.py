"""The daemon and ``copgate check`` read the local timezone the same way.

Before, the daemon fell back to UTC where ``copgate check`` read /etc/TZ, so
a time window shifted by the UTC offset on the router and not in the check.
Here neither the config nor /etc/TZ names a zone, and /etc/localtime is a
TZif file whose footer says Berlin: both must judge in Berlin time.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from copgate.cli import main
from copgate.daemon.run import Daemon
from copgate.edges import localtz
from copgate.policy.tz import parse_tz
from tests.daemon.test_daemon_survival import CONFIG, options, site  # noqa: F401  (fixture)
from tests.edges.test_localtz import BERLIN, tzif


def test_the_daemon_and_copgate_check_agree_on_the_zone(
    site: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    localtime = site / "localtime"
    localtime.write_bytes(tzif(BERLIN))
    monkeypatch.setattr(localtz, "ETC_TZ", site / "no-TZ")
    monkeypatch.setattr(localtz, "LOCALTIME", localtime)
    text = CONFIG.replace('timezone = "UTC0"\n', "").format(cache=site / "lists.cgc", extra="")
    (site / "copgate.toml").write_text(text)

    daemon = Daemon(options(site))
    try:
        assert daemon.engine.tz == parse_tz(BERLIN)
    finally:
        daemon.shutdown()

    status = main(
        [
            "check", "casino.example", "--config", str(site / "copgate.toml"),
            "--templates", str(site / "templates"), "--client", "192.0.2.10",
            "--at", "2025-07-01T12:00+00:00", "--json",
        ]
    )  # fmt: skip
    assert status == 0
    assert json.loads(capsys.readouterr().out)["time"] == "2025-07-01T14:00+02:00"  # CEST
