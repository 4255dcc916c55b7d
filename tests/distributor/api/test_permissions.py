"""Who may call what, as a table: every endpoint and method, for every kind of caller.

The expected statuses are written out here, not derived from the code's
grants: ``curation.permissions.GRANTS`` could be wrong and this table would
say so. Two rules about objects sit beside it: a person sees only their own
reports unless they review, and nobody decides their own proposal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.test import Client, override_settings

from copgate.distributor.api.http import ENDPOINTS
from copgate.distributor.curation.models import Category, Gateway, Proposal, Report
from tests.distributor.api.conftest import Person, make_gateway, report
from tests.distributor.api.openapi_check import Api
from tests.distributor.api.tree_kit import signing_tree

CALLERS = ("anonymous", "gateway", "reporter", "expert", "administrator")


@dataclass
class World:
    """A reporter's report, an expert's open proposal, and a token for each caller."""

    tokens: dict[str, str | None]
    report: Report
    proposal: Proposal


@pytest.fixture
def world(
    api: Api, person: Callable[..., Person], games: Category, tmp_path: Path
) -> Iterator[World]:
    _, gateway_token = make_gateway("school-1")
    reporter = person("rita")
    expert = person("eli", "expert")
    admin = person("ada", "administrator")
    posted = api.post(
        "/api/v1/reports", report(kind="site", name="games.example"), token=reporter.token
    )
    proposed = api.post(
        "/api/v1/proposals",
        {"action": "add", "name": "games.example", "category": "games"},
        token=expert.token,
    )
    signing = signing_tree(tmp_path)
    with override_settings(COPGATE_TREE_DIR=signing.tree, COPGATE_SIGNING_KEY=signing.release_sec):
        yield World(
            tokens={
                "anonymous": None,
                "gateway": gateway_token,
                "reporter": reporter.token,
                "expert": expert.token,
                "administrator": admin.token,
            },
            report=Report.objects.get(pk=posted.body["id"]),
            proposal=Proposal.objects.get(pk=proposed.body["id"]),
        )


def _report_body(w: World) -> Any:
    return report(kind="site", name="more-games.example")


# (url name, method, path, body, {caller: status})
TABLE: list[tuple[str, str, Callable[[World], str], Callable[[World], Any], dict[str, int]]] = [
    ("reports", "post", lambda w: "/api/v1/reports", _report_body,
     {"anonymous": 202, "gateway": 202, "reporter": 202, "expert": 202, "administrator": 202}),
    ("reports", "get", lambda w: "/api/v1/reports", lambda w: None,
     {"anonymous": 401, "gateway": 403, "reporter": 200, "expert": 200, "administrator": 200}),
    ("report", "get", lambda w: f"/api/v1/reports/{w.report.pk}", lambda w: None,
     {"anonymous": 401, "gateway": 403, "reporter": 200, "expert": 200, "administrator": 200}),
    ("queue", "get", lambda w: "/api/v1/queue", lambda w: None,
     {"anonymous": 401, "gateway": 403, "reporter": 403, "expert": 200, "administrator": 200}),
    ("proposals", "get", lambda w: "/api/v1/proposals", lambda w: None,
     {"anonymous": 401, "gateway": 403, "reporter": 403, "expert": 200, "administrator": 200}),
    ("proposals", "post", lambda w: "/api/v1/proposals",
     lambda w: {"action": "remove", "name": "games.example", "note": "not games after all"},
     {"anonymous": 401, "gateway": 403, "reporter": 403, "expert": 201, "administrator": 201}),
    ("proposal", "get", lambda w: f"/api/v1/proposals/{w.proposal.pk}", lambda w: None,
     {"anonymous": 401, "gateway": 403, "reporter": 403, "expert": 200, "administrator": 200}),
    ("approve", "post", lambda w: f"/api/v1/proposals/{w.proposal.pk}/approve", lambda w: {},
     {"anonymous": 401, "gateway": 403, "reporter": 403, "expert": 403, "administrator": 200}),
    ("reject", "post", lambda w: f"/api/v1/proposals/{w.proposal.pk}/reject", lambda w: {},
     {"anonymous": 401, "gateway": 403, "reporter": 403, "expert": 403, "administrator": 200}),
    ("releases", "get", lambda w: "/api/v1/releases", lambda w: None,
     {"anonymous": 401, "gateway": 403, "reporter": 403, "expert": 200, "administrator": 200}),
    ("releases", "post", lambda w: "/api/v1/releases", lambda w: {},
     {"anonymous": 401, "gateway": 403, "reporter": 403, "expert": 403, "administrator": 201}),
]  # fmt: skip

CASES = [
    pytest.param(path, method, body, caller, statuses[caller], id=f"{method}-{name}-{caller}")
    for name, method, path, body, statuses in TABLE
    for caller in CALLERS
]


def test_the_table_covers_every_endpoint_and_method() -> None:
    declared = {(name, method.lower()) for name, actions in ENDPOINTS.items() for method in actions}
    assert {(name, method) for name, method, *_ in TABLE} == declared


@pytest.mark.parametrize(("path", "method", "body", "caller", "status"), CASES)
def test_who_may_call_what(
    api: Api,
    world: World,
    path: Callable[[World], str],
    method: str,
    body: Callable[[World], Any],
    caller: str,
    status: int,
) -> None:
    answer = api.call(method, path(world), body(world), token=world.tokens[caller])
    assert answer.status == status, answer.body


def test_a_reporter_sees_only_their_own_reports(api: Api, person: Callable[..., Person]) -> None:
    rita, sam = person("rita"), person("sam")
    mine = api.post("/api/v1/reports", report(name="rita.example"), token=rita.token).body["id"]
    theirs = api.post("/api/v1/reports", report(name="sam.example"), token=sam.token).body["id"]
    listed = api.get("/api/v1/reports", token=rita.token).body
    assert [r["id"] for r in listed["reports"]] == [mine] and listed["count"] == 1
    assert api.get(f"/api/v1/reports/{theirs}", token=rita.token).status == 404
    assert api.get(f"/api/v1/reports/{mine}", token=rita.token).status == 200


def test_nobody_decides_their_own_proposal(
    api: Api, person: Callable[..., Person], games: Category
) -> None:
    ada, bob = person("ada", "administrator"), person("bob", "administrator")
    own = {"action": "add", "name": "games.example", "category": "games"}
    pk = api.post("/api/v1/proposals", own, token=ada.token).body["id"]
    for verb in ("approve", "reject"):
        refused = api.post(f"/api/v1/proposals/{pk}/{verb}", token=ada.token)
        assert refused.status == 403 and "own" in refused.body["error"]
    assert api.post(f"/api/v1/proposals/{pk}/approve", token=bob.token).status == 200


def test_a_session_post_needs_the_csrf_token(
    person: Callable[..., Person], games: Category
) -> None:
    eli = person("eli", "expert")
    client = Client(enforce_csrf_checks=True)
    api = Api(client)
    client.force_login(eli.user)  # type: ignore[arg-type]
    body = {"action": "add", "name": "games.example", "category": "games"}
    refused = api.post("/api/v1/proposals", body)
    assert refused.status == 403 and "CSRF" in refused.body["error"]
    assert not Proposal.objects.exists()
    assert api.get("/api/v1/queue").status == 200  # a safe method needs no token
    client.get("/propose/")  # a page with a form sets the csrftoken cookie, as a browser gets it
    csrf_value = client.cookies["csrftoken"].value
    taken = api.post("/api/v1/proposals", body, headers={"X-CSRFToken": csrf_value})
    assert taken.status == 201


def test_a_gateway_token_can_only_report(api: Api) -> None:
    row, token = make_gateway("school-1")
    assert api.post("/api/v1/reports", report(), token=token).status == 202
    for path in ("/api/v1/reports", "/api/v1/queue", "/api/v1/proposals", "/api/v1/releases"):
        assert api.get(path, token=token).status == 403
    assert Gateway.objects.get(pk=row.pk).active
