"""Every answer openapi.json documents, produced once: the document promises nothing untested.

``ANSWERS`` holds one way to get each (path, method, status) the document
lists; ``Api`` checks the body and headers of each against the document, and
a static test checks that the table and the document name the same answers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.test import override_settings

from copgate.distributor.api.openapi import load
from copgate.distributor.curation.models import Category
from tests.distributor.api.conftest import Person, keyed, make_gateway, report
from tests.distributor.api.openapi_check import Answer, Api
from tests.distributor.api.tree_kit import signing_tree

REPORTS, QUEUE, PROPOSALS, RELEASES = (
    "/api/v1/reports",
    "/api/v1/queue",
    "/api/v1/proposals",
    "/api/v1/releases",
)


@dataclass
class World:
    api: Api
    rates: Callable[[str, int, int], None]
    gateway: str
    rita: Person
    eli: Person
    ada: Person
    report: int
    proposal: int
    tree: Path

    def flood(self, scope: str) -> None:
        """From now on, ``scope`` may make one more request in this window."""
        self.rates(scope, 1, 600)

    def proposal_path(self, verb: str = "") -> str:
        return f"{PROPOSALS}/{self.proposal}" + (f"/{verb}" if verb else "")


@pytest.fixture
def world(
    api: Api,
    rates: Callable[[str, int, int], None],
    person: Callable[..., Person],
    games: Category,
    tmp_path: Path,
) -> Iterator[World]:
    _, gateway = make_gateway("school-1")
    rita, eli, ada = person("rita"), person("eli", "expert"), person("ada", "administrator")
    rid = api.post(REPORTS, report(kind="site", name="games.example"), token=rita.token).body["id"]
    add = {"action": "add", "name": "games.example", "category": "games"}
    pid = api.post(PROPOSALS, add, token=eli.token).body["id"]
    signing = signing_tree(tmp_path)
    with override_settings(COPGATE_TREE_DIR=signing.tree, COPGATE_SIGNING_KEY=signing.release_sec):
        yield World(api, rates, gateway, rita, eli, ada, rid, pid, signing.tree)


def _flooded(scope: str, call: Callable[[World], Answer]) -> Callable[[World], Answer]:
    def run(w: World) -> Answer:
        w.flood(scope)
        call(w)
        return call(w)

    return run


def _raw(
    path: Callable[[World], str], who: str, raw: bytes, kind: str
) -> Callable[[World], Answer]:
    def run(w: World) -> Answer:
        person: Person = getattr(w, who)
        return w.api.post(path(w), token=person.token, raw=raw, content_type=kind)

    return run


def _without_keyset(w: World) -> Answer:
    (w.tree / "keyset.json").unlink()
    return w.api.post(RELEASES, token=w.ada.token)


def _decisions(verb: str, other: str) -> dict[tuple[str, str, str], Callable[[World], Answer]]:
    """The answers of ``verb`` (approve or reject); ``other`` decides first for the 409."""

    def as_(who: str, body: object = None, pk: str = "") -> Callable[[World], Answer]:
        def run(w: World) -> Answer:
            path = f"{PROPOSALS}/{pk}/{verb}" if pk else w.proposal_path(verb)
            token = getattr(w, who).token if who else None
            return w.api.post(path, body, token=token)

        return run

    def decided(w: World) -> Answer:
        w.api.post(w.proposal_path(other), token=w.ada.token)
        return as_("ada")(w)

    path = f"/api/v1/proposals/{{pk}}/{verb}"
    return {
        (path, "post", "200"): as_("ada"),
        (path, "post", "401"): as_(""),
        (path, "post", "403"): as_("eli"),
        (path, "post", "404"): as_("ada", pk="999999"),
        (path, "post", "409"): decided,
        (path, "post", "422"): as_("ada", {"note": 7}),
        (path, "post", "429"): _flooded("user", as_("eli")),
    }


BIG = json.dumps({"note": "n" * 20_000}).encode()
POSTED: list[tuple[str, Callable[[World], str], str]] = [
    # (path template, the path, who may post there)
    (PROPOSALS, lambda w: PROPOSALS, "eli"),
    ("/api/v1/proposals/{pk}/approve", lambda w: w.proposal_path("approve"), "ada"),
    ("/api/v1/proposals/{pk}/reject", lambda w: w.proposal_path("reject"), "ada"),
    (RELEASES, lambda w: RELEASES, "ada"),
]
BAD_BODIES = (
    ("400", b"[1, 2]", "application/json"),
    ("413", BIG, "application/json"),
    ("415", b"note=x", "application/x-www-form-urlencoded"),
)
ANSWERS: dict[tuple[str, str, str], Callable[[World], Answer]] = {
    ("/api/v1/reports", "post", "202"): lambda w: w.api.post(REPORTS, report(), token=w.gateway),
    ("/api/v1/reports", "post", "400"): lambda w: w.api.post(REPORTS, token=w.gateway, raw=b"{"),
    ("/api/v1/reports", "post", "401"): lambda w: w.api.post(REPORTS, report(), token="cgw_x"),
    ("/api/v1/reports", "post", "403"): lambda w: w.api.post(
        REPORTS, report(), token=make_gateway("gone", active=False)[1]
    ),
    ("/api/v1/reports", "post", "409"): lambda w: [
        w.api.post(REPORTS, body := report(), token=w.gateway, headers=keyed(body)),
        w.api.post(REPORTS, body, token=w.gateway, headers=keyed(body)),
    ][-1],
    ("/api/v1/reports", "post", "413"): lambda w: w.api.post(
        REPORTS, token=w.gateway, raw=b" " * 5000
    ),
    ("/api/v1/reports", "post", "415"): lambda w: w.api.post(
        REPORTS, token=w.gateway, raw=b"{}", content_type="text/plain"
    ),
    ("/api/v1/reports", "post", "422"): lambda w: w.api.post(
        REPORTS, report(kind="praise"), token=w.gateway
    ),
    ("/api/v1/reports", "post", "429"): _flooded(
        "gateway", lambda w: w.api.post(REPORTS, report(), token=w.gateway)
    ),
    ("/api/v1/reports", "get", "200"): lambda w: w.api.get(REPORTS, token=w.rita.token),
    ("/api/v1/reports", "get", "400"): lambda w: w.api.get(
        f"{REPORTS}?state=lost", token=w.rita.token
    ),
    ("/api/v1/reports", "get", "401"): lambda w: w.api.get(REPORTS),
    ("/api/v1/reports", "get", "403"): lambda w: w.api.get(REPORTS, token=w.gateway),
    ("/api/v1/reports", "get", "429"): _flooded(
        "user", lambda w: w.api.get(REPORTS, token=w.rita.token)
    ),
    ("/api/v1/reports/{pk}", "get", "200"): lambda w: w.api.get(
        f"{REPORTS}/{w.report}", token=w.rita.token
    ),
    ("/api/v1/reports/{pk}", "get", "401"): lambda w: w.api.get(f"{REPORTS}/{w.report}"),
    ("/api/v1/reports/{pk}", "get", "403"): lambda w: w.api.get(
        f"{REPORTS}/{w.report}", token=w.gateway
    ),
    ("/api/v1/reports/{pk}", "get", "404"): lambda w: w.api.get(
        f"{REPORTS}/999999", token=w.rita.token
    ),
    ("/api/v1/reports/{pk}", "get", "429"): _flooded(
        "user", lambda w: w.api.get(f"{REPORTS}/{w.report}", token=w.rita.token)
    ),
    ("/api/v1/queue", "get", "200"): lambda w: w.api.get(QUEUE, token=w.eli.token),
    ("/api/v1/queue", "get", "400"): lambda w: w.api.get(f"{QUEUE}?limit=0", token=w.eli.token),
    ("/api/v1/queue", "get", "401"): lambda w: w.api.get(QUEUE),
    ("/api/v1/queue", "get", "403"): lambda w: w.api.get(QUEUE, token=w.rita.token),
    ("/api/v1/queue", "get", "429"): _flooded(
        "user", lambda w: w.api.get(QUEUE, token=w.eli.token)
    ),
    ("/api/v1/proposals", "get", "200"): lambda w: w.api.get(PROPOSALS, token=w.eli.token),
    ("/api/v1/proposals", "get", "400"): lambda w: w.api.get(
        f"{PROPOSALS}?state=maybe", token=w.eli.token
    ),
    ("/api/v1/proposals", "get", "401"): lambda w: w.api.get(PROPOSALS),
    ("/api/v1/proposals", "get", "403"): lambda w: w.api.get(PROPOSALS, token=w.rita.token),
    ("/api/v1/proposals", "get", "429"): _flooded(
        "user", lambda w: w.api.get(PROPOSALS, token=w.eli.token)
    ),
    ("/api/v1/proposals", "post", "201"): lambda w: w.api.post(
        PROPOSALS, {"action": "remove", "name": "old.example"}, token=w.eli.token
    ),
    ("/api/v1/proposals", "post", "401"): lambda w: w.api.post(PROPOSALS, {"action": "add"}),
    ("/api/v1/proposals", "post", "403"): lambda w: w.api.post(
        PROPOSALS, {"action": "add"}, token=w.rita.token
    ),
    ("/api/v1/proposals", "post", "422"): lambda w: w.api.post(
        PROPOSALS, {"action": "add", "name": "x.example"}, token=w.eli.token
    ),
    ("/api/v1/proposals/{pk}", "get", "200"): lambda w: w.api.get(
        w.proposal_path(), token=w.eli.token
    ),
    ("/api/v1/proposals/{pk}", "get", "401"): lambda w: w.api.get(w.proposal_path()),
    ("/api/v1/proposals/{pk}", "get", "403"): lambda w: w.api.get(
        w.proposal_path(), token=w.gateway
    ),
    ("/api/v1/proposals/{pk}", "get", "404"): lambda w: w.api.get(
        f"{PROPOSALS}/999999", token=w.eli.token
    ),
    ("/api/v1/proposals/{pk}", "get", "429"): _flooded(
        "user", lambda w: w.api.get(w.proposal_path(), token=w.eli.token)
    ),
    ("/api/v1/releases", "get", "200"): lambda w: w.api.get(RELEASES, token=w.eli.token),
    ("/api/v1/releases", "get", "400"): lambda w: w.api.get(
        f"{RELEASES}?offset=x", token=w.eli.token
    ),
    ("/api/v1/releases", "get", "401"): lambda w: w.api.get(RELEASES),
    ("/api/v1/releases", "get", "403"): lambda w: w.api.get(RELEASES, token=w.rita.token),
    ("/api/v1/releases", "get", "429"): _flooded(
        "user", lambda w: w.api.get(RELEASES, token=w.eli.token)
    ),
    ("/api/v1/releases", "post", "201"): lambda w: w.api.post(RELEASES, token=w.ada.token),
    ("/api/v1/releases", "post", "409"): _without_keyset,
}
ANSWERS |= _decisions("approve", "reject") | _decisions("reject", "approve")
for template, where, who in POSTED:
    for status, raw, kind in BAD_BODIES:
        ANSWERS[(template, "post", status)] = _raw(where, who, raw, kind)
ANSWERS |= {
    ("/api/v1/releases", "post", "401"): lambda w: w.api.post(RELEASES),
    ("/api/v1/releases", "post", "403"): lambda w: w.api.post(RELEASES, token=w.eli.token),
    ("/api/v1/releases", "post", "429"): _flooded(
        "user", lambda w: w.api.post(RELEASES, token=w.ada.token)
    ),
    ("/api/v1/proposals", "post", "429"): _flooded(
        "user", lambda w: w.api.post(PROPOSALS, {"action": "add"}, token=w.eli.token)
    ),
}


def _documented() -> set[tuple[str, str, str]]:
    return {
        (path, method, status)
        for path, item in load()["paths"].items()
        if path != "/api/openapi.json"
        for method, operation in item.items()
        for status in operation["responses"]
    }


def test_the_table_names_every_documented_answer() -> None:
    assert set(ANSWERS) == _documented()


@pytest.mark.parametrize("answer", sorted(ANSWERS), ids=lambda a: f"{a[1]} {a[0]} {a[2]}")
def test_each_documented_answer_is_given(world: World, answer: tuple[str, str, str]) -> None:
    got = ANSWERS[answer](world)
    assert got.status == int(answer[2]), got.body
