"""Reports from the block page survive a daemon restart and reach a fake distributor once.

A child reports a mistake while the distributor is unreachable: the post
fails, the report stays queued on the router's disk. The daemon stops; the
distributor comes up (in the gateway namespace, on loopback); the daemon
starts again and forwards the report, which the distributor acknowledges.
A third start sends nothing: what was acknowledged is never sent again.
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

import pytest

from copgate.lab.processes import python_env
from copgate.lab.topology import Lab
from tests.lab.blockpage_kit import config_with, copgate, post, running_with, token

pytestmark = pytest.mark.lab

TOKEN = "lab-intake-token"
SETTLE = 1.5
"""Seconds a started daemon gets to post what is due (it posts at once)."""


def _lines(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_report_survives_a_restart_and_is_acknowledged_once(lab: Lab) -> None:
    port = random.randint(20000, 60000)
    received = lab.workdir / "distributor.jsonl"
    config = config_with(
        lab,
        f'reports_url = "http://127.0.0.1:{port}/v1/reports"\nreports_token = "{TOKEN}"\n',
    )
    teen = lab.clients["teen"]

    with running_with(lab, config) as gateway:
        since = gateway.mark()
        fields = {"csrf": token(teen), "kind": "mistake", "name": "blocked.example"}
        assert post(teen, {**fields, "comment": "a school site", "why": "gambling"}) == 200
        gateway.wait_log(r"report 1 not forwarded \(no answer", since)
    assert (lab.workdir / "reports" / "1.json").exists()
    waiting = json.loads(copgate("requests", "--config", str(config), "--json").stdout)
    assert [(r["name"], r["state"]) for r in waiting["requests"]] == [
        ("blocked.example", "waiting to be forwarded")
    ]

    argv = [sys.executable, "-m", "tests.lab.fake_distributor", "--port", str(port)]
    argv += ["--out", str(received)]
    distributor = lab.spawn(lab.gateway, argv, name="distributor", env=python_env())
    lab.wait_ready(distributor, lambda: "ready" in distributor.log_text(), 10.0)
    try:
        with running_with(lab, config) as gateway:
            gateway.wait_log(r"report 1 \(mistake blocked\.example\) acknowledged \(202\)", 0)
        with running_with(lab, config):
            time.sleep(SETTLE)
    finally:
        lab.stop(distributor)

    (line,) = _lines(received)
    assert (line["status"], line["authorization"]) == (202, f"Bearer {TOKEN}")
    body = line["body"]
    assert isinstance(body, dict)
    assert (body["kind"], body["name"], body["group"], body["comment"]) == (
        "mistake",
        "blocked.example",
        "teens",
        "a school site",
    )
    assert body["key"] == line["key"] and "client" not in body
    done = json.loads(copgate("requests", "--config", str(config), "--json", "--all").stdout)
    assert [r["state"] for r in done["requests"]] == ["forwarded"]
