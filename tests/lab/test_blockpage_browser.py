"""The block page in headless Chromium on the lab's LAN: what, why, recently blocked, requests.

Chromium (Debian's, through Debian's chromedriver; ``copgate.lab.pagebrowser``)
runs on a LAN client: a blocked plain-HTTP site is redirected to the page,
whose DOM names the site and the reason (a screenshot is kept); an HTTPS
site blocked a moment before is listed at the page's own name, which the
gateway's DNS answers with the router's address; "ask for access" reaches
``copgate requests``, ``copgate allow --for`` lets the same client in and
the site is blocked again once the grant expired; a hostile name is shown
inert; a form without a token and a flood are refused.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from copgate.lab import clients
from copgate.lab.topology import Lab
from tests.lab.blockpage_kit import (
    PAGE,
    PAGE_NAME,
    ROUTER,
    browse,
    config_with,
    copgate,
    post,
    running_with,
    token,
)
from tests.lab.conftest import require_browser
from tests.lab.daemon_lab import Gateway

pytestmark = pytest.mark.lab

GRANT_SECONDS = 8
HOSTILE = "<b>x\"'.blocked.example"
"""A name whose first label carries <, >, and quotes: DNS allows any byte in a label."""
HOSTILE_DIG = "\\060b\\062x\\034\\039.blocked.example"
"""The same name as dig reads it (RFC 1035 §5.1 \\DDD escapes)."""


@pytest.fixture(scope="module")
def artefacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots are kept: ``$COPGATE_ARTEFACTS`` or pytest's kept temp dirs."""
    given = os.environ.get("COPGATE_ARTEFACTS")
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("artefacts")


@pytest.fixture(scope="module")
def gateway(lab: Lab) -> Iterator[Gateway]:
    require_browser()
    with running_with(lab, config_with(lab)) as running:
        yield running


def test_a_blocked_http_site_shows_what_and_why(gateway: Gateway, artefacts: Path) -> None:
    teen = gateway.lab.clients["teen"]
    shot = artefacts / "blockpage-blocked.example.png"
    go, blocked, why, group, category, saved = browse(
        teen,
        [
            {"go": "http://blocked.example/some/page?q=1"},
            {"text": "#blocked"},
            {"text": "#why"},
            {"text": "#group"},
            {"text": "#category"},
            {"screenshot": str(shot)},
        ],
        hosts=["blocked.example"],
    )
    assert go["url"].startswith(f"{PAGE}/blocked?host=blocked.example&why=gambling"), go
    assert blocked == "blocked.example is not available on this network."
    assert (why, group, category) == ("gambling", "teens", "gambling")
    assert saved == str(shot) and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_page_speaks_the_browsers_language(gateway: Gateway) -> None:
    teen = gateway.lab.clients["teen"]
    _go, heading, why = browse(
        teen,
        [{"go": "http://blocked.example/"}, {"text": "h1"}, {"text": "#why"}],
        hosts=["blocked.example"],
        args=["--accept-lang=ru-RU,ru", "--lang=ru"],
    )
    assert (heading, why) == ("Этот сайт заблокирован", "азартные игры")


def test_recently_blocked_lists_an_https_site_at_the_page_name(gateway: Gateway) -> None:
    teen = gateway.lab.clients["teen"]
    answer = clients.dig(teen, PAGE_NAME, server=ROUTER)
    assert answer.status == "NOERROR" and [r.data for r in answer.answer] == [ROUTER], answer
    pupil = gateway.lab.clients["pupil"]  # the walled garden gets the same answer
    walled = clients.dig(pupil, PAGE_NAME, server=ROUTER)
    assert [r.data for r in walled.answer] == [ROUTER], walled
    https, go, table = browse(
        teen,
        [
            {"go": "https://social.example/"},
            {"go": f"http://{PAGE_NAME}:8099/"},
            {"text": "#recent-blocks"},
        ],
        hosts=["social.example"],
    )
    assert https["error"] is not None and "ERR_CONNECTION_RESET" in https["error"]
    assert go["error"] is None
    rows = table.splitlines()
    assert rows[0].split("\t") == ["Time", "Site", "Reason", "Category"]
    assert any(
        row.split("\t")[1:] == ["social.example", "on a blocked list", "social networks"]
        for row in rows[1:]
    ), table


def test_ask_for_access_then_a_timed_grant_lets_the_same_browser_in(gateway: Gateway) -> None:
    teen = gateway.lab.clients["teen"]
    config = str(gateway.config)
    results = browse(
        teen,
        [
            {"go": "http://adult.example/"},
            {"fill": "#form-access input[name=comment]", "value": "for a biology project"},
            {"click": "#submit-access"},
            {"wait": "#message"},
            {"text": "#message"},
        ],
        hosts=["adult.example"],
    )
    _go, _fill, _click, _wait, message = results
    assert message == "Your request was sent. You will get access if it is granted.", results
    listing = json.loads(copgate("requests", "--config", config, "--json").stdout)
    mine = [r for r in listing["requests"] if r["name"] == "adult.example"]
    assert [(r["kind"], r["group"], r["client"], r["comment"], r["state"]) for r in mine] == [
        ("access", "teens", str(teen.v4), "for a biology project", "open")
    ]

    since = gateway.mark()
    allowed = copgate(
        "allow",
        "adult.example",
        "--group",
        "teens",
        "--for",
        f"{GRANT_SECONDS}s",
        "--config",
        config,
    )
    granted_at = time.monotonic()
    assert allowed.returncode == 0, allowed.stderr
    gateway.wait_log(r"grants loaded: 1", since)
    check = copgate("check", "adult.example", "--config", config, "--client", str(teen.v4))
    assert "rule: grant" in check.stdout and "verdict: allow" in check.stdout, check.stdout
    go, title, forms = browse(
        teen,
        [{"go": "http://adult.example/"}, {"text": "title"}, {"count": "form"}],
        hosts=["adult.example"],
    )
    assert (go["url"], go["error"]) == ("http://adult.example/", None)
    assert (title, forms) == ("lab adult.example", 0)  # the lab server's page itself

    time.sleep(max(0.0, granted_at + GRANT_SECONDS + 1 - time.monotonic()))
    again, _ = browse(
        teen, [{"go": "http://adult.example/"}, {"text": "#blocked"}], hosts=["adult.example"]
    )
    assert again["url"].startswith(f"{PAGE}/blocked?host=adult.example"), again
    listing = json.loads(copgate("requests", "--config", config, "--json", "--all").stdout)
    assert [r["state"] for r in listing["requests"] if r["name"] == "adult.example"] == ["granted"]


def test_a_hostile_name_is_shown_inert_on_the_page_and_in_recent(gateway: Gateway) -> None:
    teen = gateway.lab.clients["teen"]
    answer = clients.dig(teen, HOSTILE_DIG, server=ROUTER)
    assert answer.status == "NXDOMAIN", answer  # blocked: its parent is in gambling
    url = f"{PAGE}/blocked?host=%3Cb%3Ex%22%27.blocked.example&why=%3Ci%3Egambling"
    _go, strong, injected, why, _recent, listed, injected_recent = browse(
        teen,
        [
            {"go": url},
            {"text": "#blocked strong"},
            {"count": "#blocked b, #why i, body script"},
            {"text": "#why"},
            {"go": f"http://{PAGE_NAME}:8099/recent"},
            {"text": "#recent-blocks"},
            {"count": "#recent-blocks b"},
        ],
    )
    assert (strong, injected, why) == (HOSTILE, 0, "<i>gambling")
    assert HOSTILE in listed and injected_recent == 0, listed


def test_a_form_without_a_token_and_a_flood_are_refused(gateway: Gateway) -> None:
    staff = gateway.lab.clients["staff"]
    assert post(staff, {"kind": "access", "name": "x.example"}) == 403
    csrf = token(staff)
    statuses = [
        post(staff, {"csrf": csrf, "kind": "access", "name": f"flood{n}.example"}) for n in range(8)
    ]
    assert statuses == [200] * 5 + [429] * 3
    listing = json.loads(copgate("requests", "--config", str(gateway.config), "--json").stdout)
    flood = [r["name"] for r in listing["requests"] if r["name"].startswith("flood")]
    assert flood == [f"flood{n}.example" for n in range(5)]
