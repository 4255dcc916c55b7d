"""The evidence an expert sees: reports counted by source, and what already carries the name."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.test import override_settings
from django.utils import timezone

from copgate.distributor.curation import decisions, publishing
from copgate.distributor.curation.evidence import evidence_for, review_queue
from copgate.distributor.curation.models import Gateway, Report
from tests.distributor.conftest import Backend
from tests.distributor.helpers import NOW, make_categories, make_tree


def _report(name: str, key: str, **fields: Any) -> Report:
    return Report.objects.create(
        kind=fields.pop("kind", "site"), name=name, created=timezone.now(), key=key, **fields
    )


def test_the_queue_counts_gateways_users_and_anonymous_apart(
    db: Backend, make_user: Callable[..., Any]
) -> None:
    one = Gateway.objects.create(name="one", token_hash="1" * 64)
    two = Gateway.objects.create(name="two", token_hash="2" * 64)
    user = make_user("rob")
    _report("x.example", "a" * 32, gateway=one)
    _report("x.example", "b" * 32, gateway=one)
    _report("x.example", "c" * 32, gateway=two, kind="mistake")
    _report("x.example", "d" * 32, user=user)
    _report("x.example", "e" * 32, anonymous=True)
    _report("closed.example", "f" * 32, gateway=one, state="closed")
    rows = review_queue()
    assert len(rows) == 1
    row = rows[0]
    assert (row["name"], row["reports"], row["gateways"], row["users"], row["anonymous"]) == (
        "x.example",
        5,
        2,
        1,
        1,
    )
    assert (row["sites"], row["mistakes"]) == (4, 1)


def test_evidence_names_what_carries_the_name_or_a_parent(
    db: Backend, make_user: Callable[..., Any], tmp_path: Path
) -> None:
    categories = make_categories()
    expert, admin = make_user("erin", "expert"), make_user("ada", "administrator")
    parent = decisions.propose(
        expert, action="add", name="games.example", category=categories["games"]
    )
    decisions.approve(admin, parent)
    signing = make_tree(tmp_path)
    with override_settings(
        COPGATE_TREE_DIR=signing.tree.root, COPGATE_SIGNING_KEY=signing.secret_path
    ):
        assert evidence_for("play.games.example").published is None
        publishing.build_and_publish(admin, NOW)
        evidence = evidence_for("play.games.example")
    assert [e.name for e in evidence.entries] == ["games.example"]
    assert evidence.published is not None
    match = evidence.published.match
    assert (evidence.published.release, match.match, match.categories) == (
        1,
        "games.example",
        frozenset({"games"}),
    )
    recorded = evidence.as_json()
    assert recorded["published"]["categories"] == ["games"]
    assert recorded["entries"][0]["proposal"] == parent.pk


def test_evidence_for_a_name_that_is_not_a_host_name(db: Backend) -> None:
    _report("<b>odd", "a" * 32, anonymous=True)
    evidence = evidence_for("<b>odd")
    assert (len(evidence.reports), evidence.entries, evidence.published) == (1, [], None)
