"""The experts' and administrators' automation: queue, proposals, decisions, releases.

Every call goes through ``Api``, which checks the answer against openapi.json.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django.test import override_settings

from copgate.distributor.curation.models import (
    AuditLog,
    Category,
    Entry,
    Gateway,
    Proposal,
    Report,
)
from tests.distributor.api.conftest import Person, make_gateway, report
from tests.distributor.api.openapi_check import Api
from tests.distributor.api.tree_kit import signing_tree


@pytest.fixture
def eli(person: Callable[..., Person]) -> Person:
    return person("eli", "expert")


@pytest.fixture
def ada(person: Callable[..., Person]) -> Person:
    return person("ada", "administrator")


def _reports(api: Api, gateway: tuple[Gateway, str], names: list[str]) -> list[int]:
    return [
        api.post("/api/v1/reports", report(kind="site", name=n), token=gateway[1]).body["id"]
        for n in names
    ]


def test_the_queue_groups_open_reports_by_name_most_reported_first(
    api: Api, gateway: tuple[Gateway, str], eli: Person, person: Callable[..., Person]
) -> None:
    ids = _reports(api, gateway, ["a.example", "b.example", "b.example"])
    _, other = make_gateway("school-2")
    api.post("/api/v1/reports", report(kind="mistake", name="b.example"), token=other)
    api.post("/api/v1/reports", report(kind="site", name="b.example"), token=person("rita").token)
    api.post("/api/v1/reports", report(kind="site", name="b.example", category="adult"))
    queue = api.get("/api/v1/queue", token=eli.token).body
    assert queue["count"] == 2
    b, a = queue["names"]
    assert (b["name"], b["reports"], b["gateways"], b["users"], b["anonymous"]) == (
        "b.example",
        5,
        2,
        1,
        1,
    )
    assert b["kinds"] == {"mistake": 1, "site": 4}
    assert set(b["reported_categories"]) == {"games", "adult"}
    assert (a["name"], a["report_ids"]) == ("a.example", [ids[0]])
    paged = api.get("/api/v1/queue?limit=1&offset=1", token=eli.token).body
    assert [n["name"] for n in paged["names"]] == ["a.example"]


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=x", "offset=-1"])
def test_bad_paging_is_400(api: Api, eli: Person, query: str) -> None:
    answer = api.get(f"/api/v1/queue?{query}", token=eli.token)
    assert answer.status == 400 and answer.body["field"] in {"limit", "offset"}


def test_a_proposal_answers_the_open_reports_of_its_name(
    api: Api, gateway: tuple[Gateway, str], eli: Person, games: Category
) -> None:
    ids = _reports(api, gateway, ["games.example", "games.example", "other.example"])
    body = {"action": "add", "name": "Games.Example", "category": "games", "note": "<i>n</i>"}
    answer = api.post("/api/v1/proposals", body, token=eli.token)
    assert answer.status == 201
    proposal = answer.body
    assert (proposal["name"], proposal["author"], proposal["state"]) == (
        "games.example",
        "eli",
        "open",
    )
    assert proposal["reports"] == ids[:2] and proposal["note"] == "<i>n</i>"
    assert proposal["evidence"]["reports"] == 2 and proposal["evidence"]["gateways"] == 1
    states = dict(Report.objects.values_list("pk", "state"))
    assert (states[ids[0]], states[ids[1]], states[ids[2]]) == ("proposed", "proposed", "open")
    assert AuditLog.objects.filter(action="proposal.create", object_id=str(proposal["id"])).exists()
    queue = api.get("/api/v1/queue", token=eli.token).body
    assert [n["name"] for n in queue["names"]] == ["other.example"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x.example", "category": "games"}, "action"),
        ({"action": "delete", "name": "x.example"}, "action"),
        ({"action": "add", "category": "games"}, "name"),
        ({"action": "add", "name": "not a name", "category": "games"}, "name"),
        ({"action": "add", "name": "example", "category": "games"}, "name"),
        ({"action": "add", "name": "x.example"}, "category"),
        ({"action": "add", "name": "x.example", "category": "nope"}, "category"),
        ({"action": "add", "name": "x.example", "category": 7}, "category"),
        ({"action": "add", "name": "x.example", "category": "games", "kind": "grey"}, "kind"),
        ({"action": "add", "name": "x.example", "category": "games", "list": "l" * 121}, "list"),
        ({"action": "add", "name": "x.example", "category": "games", "note": "n" * 2001}, "note"),
        (
            {"action": "add", "name": "x.example", "category": "games", "reports": [99999]},
            "reports",
        ),
        ({"action": "add", "name": "x.example", "category": "games", "reports": "1"}, "reports"),
    ],
)
def test_a_wrong_proposal_is_422_and_nothing_is_made(
    api: Api, eli: Person, games: Category, body: dict[str, object], field: str
) -> None:
    answer = api.post("/api/v1/proposals", body, token=eli.token)
    assert (answer.status, answer.body.get("field")) == (422, field), answer.body
    assert not Proposal.objects.exists()


def test_the_walled_garden_takes_only_allow_entries(api: Api, eli: Person, games: Category) -> None:
    wrong = {"action": "add", "name": "x.example", "category": "games", "list": "walled_garden"}
    assert api.post("/api/v1/proposals", wrong, token=eli.token).status == 422
    right = {"action": "add", "name": "school.example", "kind": "allow", "list": "walled_garden"}
    assert api.post("/api/v1/proposals", right, token=eli.token).status == 201


def test_approving_makes_the_entry_and_closes_the_reports(
    api: Api, gateway: tuple[Gateway, str], eli: Person, ada: Person, games: Category
) -> None:
    (rid,) = _reports(api, gateway, ["games.example"])
    body = {"action": "add", "name": "games.example", "category": "games"}
    pk = api.post("/api/v1/proposals", body, token=eli.token).body["id"]
    decided = api.post(f"/api/v1/proposals/{pk}/approve", {"note": "ok"}, token=ada.token)
    assert decided.status == 200
    assert (decided.body["state"], decided.body["decided_by"], decided.body["decision_note"]) == (
        "approved",
        "ada",
        "ok",
    )
    entry = Entry.objects.get(name="games.example", active=True)
    assert (entry.proposal_id, entry.category) == (pk, games)
    assert Report.objects.get(pk=rid).state == "closed"
    log = AuditLog.objects.get(action="proposal.approved", object_id=str(pk))
    assert log.before is not None and log.after is not None
    assert (log.before["state"], log.after["state"]) == ("open", "approved")
    again = api.post(f"/api/v1/proposals/{pk}/reject", token=ada.token)
    assert again.status == 409 and Proposal.objects.get(pk=pk).state == "approved"


def test_rejecting_makes_nothing(
    api: Api, gateway: tuple[Gateway, str], eli: Person, ada: Person, games: Category
) -> None:
    (rid,) = _reports(api, gateway, ["games.example"])
    body = {"action": "add", "name": "games.example", "category": "games"}
    pk = api.post("/api/v1/proposals", body, token=eli.token).body["id"]
    assert api.post(f"/api/v1/proposals/{pk}/reject", token=ada.token).body["state"] == "rejected"
    assert not Entry.objects.exists()
    assert Report.objects.get(pk=rid).state == "closed"


def test_unknown_proposals_are_404(api: Api, eli: Person, ada: Person) -> None:
    assert api.get("/api/v1/proposals/999", token=eli.token).status == 404
    assert api.post("/api/v1/proposals/999/approve", token=ada.token).status == 404


def test_proposals_are_listed_by_state(api: Api, eli: Person, ada: Person, games: Category) -> None:
    for name in ("a.example", "b.example"):
        api.post(
            "/api/v1/proposals",
            {"action": "add", "name": name, "category": "games"},
            token=eli.token,
        )
    first = Proposal.objects.get(name="a.example").pk
    api.post(f"/api/v1/proposals/{first}/approve", token=ada.token)
    open_ = api.get("/api/v1/proposals?state=open", token=eli.token).body
    assert [p["name"] for p in open_["proposals"]] == ["b.example"]
    every = api.get("/api/v1/proposals", token=eli.token).body
    assert every["count"] == 2
    assert api.get("/api/v1/proposals?state=maybe", token=eli.token).status == 400


def test_publishing_builds_a_signed_release_with_the_approved_entry(
    api: Api, eli: Person, ada: Person, games: Category, tmp_path: Path
) -> None:
    signing = signing_tree(tmp_path)
    body = {"action": "add", "name": "games.example", "category": "games"}
    pk = api.post("/api/v1/proposals", body, token=eli.token).body["id"]
    api.post(f"/api/v1/proposals/{pk}/approve", token=ada.token)
    with override_settings(COPGATE_TREE_DIR=signing.tree, COPGATE_SIGNING_KEY=signing.release_sec):
        built = api.post("/api/v1/releases", token=ada.token)
        assert built.status == 201
        assert (built.body["number"], built.body["signed"], built.body["published"]) == (
            1,
            True,
            True,
        )
        assert built.body["names"] == 1 and built.body["published_by"] == "ada"
        assert (signing.tree / "release.json.sig").exists()
        listed = api.get("/api/v1/releases", token=eli.token).body
        assert [r["number"] for r in listed["releases"]] == [1]
        assert api.get(f"/api/v1/proposals/{pk}", token=eli.token).body["release"] == 1
        queue_evidence = api.post(
            "/api/v1/proposals",
            {"action": "remove", "name": "www.games.example"},
            token=eli.token,
        ).body["evidence"]
        assert queue_evidence["published"]["match"] == "games.example"
        assert queue_evidence["published"]["categories"] == ["games"]


def test_publishing_without_a_key_set_is_409(api: Api, ada: Person, tmp_path: Path) -> None:
    with override_settings(COPGATE_TREE_DIR=tmp_path / "tree", COPGATE_SIGNING_KEY=None):
        refused = api.post("/api/v1/releases", token=ada.token)
    assert refused.status == 409 and "release" in refused.body["error"]
