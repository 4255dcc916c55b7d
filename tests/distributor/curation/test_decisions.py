"""Proposals and decisions: who may, and what an approval does to the curated entries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from copgate.distributor.curation import decisions
from copgate.distributor.curation.models import (
    AuditLog,
    Entry,
    ProposalState,
    Report,
    ReportState,
)
from tests.distributor.conftest import Backend
from tests.distributor.helpers import make_categories


def _report(name: str, **fields: Any) -> Report:
    return Report.objects.create(
        kind="site", name=name, created=timezone.now(), key=f"{abs(hash(name)):032x}"[:32], **fields
    )


def test_an_approved_addition_makes_an_entry_with_its_provenance(
    db: Backend, make_user: Callable[..., Any]
) -> None:
    categories = make_categories()
    expert, admin = make_user("erin", "expert"), make_user("ada", "administrator")
    report = _report("casino.example", anonymous=True)
    proposal = decisions.propose(
        expert,
        action="add",
        name="HTTPS://Casino.Example/poker",
        category=categories["gambling"],
        note="reported by a school",
        reports=[report],
    )
    assert proposal.name == "casino.example"
    report.refresh_from_db()
    assert report.state == ReportState.PROPOSED
    decisions.approve(admin, proposal, "agreed")
    entry = Entry.objects.get(name="casino.example")
    assert (entry.active, entry.proposal, entry.category) == (
        True,
        proposal,
        categories["gambling"],
    )
    report.refresh_from_db()
    assert report.state == ReportState.CLOSED
    actions = list(AuditLog.objects.order_by("id").values_list("action", "who__username"))
    assert actions == [("proposal.create", "erin"), ("proposal.approved", "ada")]
    approved = AuditLog.objects.get(action="proposal.approved")
    assert approved.before is not None and approved.after is not None
    assert (approved.before["state"], approved.after["state"]) == ("open", "approved")


def test_removal_retires_entries_and_recategorisation_replaces_them(
    db: Backend, make_user: Callable[..., Any]
) -> None:
    categories = make_categories()
    expert, admin = make_user("erin", "expert"), make_user("ada", "administrator")
    add = decisions.propose(
        expert, action="add", name="play.example", category=categories["gambling"]
    )
    decisions.approve(admin, add)
    move = decisions.propose(
        expert, action="recategorise", name="play.example", category=categories["games"]
    )
    decisions.approve(admin, move)
    active = Entry.objects.filter(name="play.example", active=True)
    assert [e.category.slug for e in active if e.category] == ["games"]
    remove = decisions.propose(expert, action="remove", name="play.example")
    decisions.approve(admin, remove)
    assert not Entry.objects.filter(name="play.example", active=True).exists()
    assert Entry.objects.filter(name="play.example").count() == 2


def test_nobody_decides_their_own_proposal(db: Backend, make_user: Callable[..., Any]) -> None:
    categories = make_categories()
    admin = make_user("ada", "administrator")
    own = decisions.propose(admin, action="add", name="a.example", category=categories["games"])
    with pytest.raises(PermissionDenied, match="own proposal"):
        decisions.approve(admin, own)
    own.refresh_from_db()
    assert own.state == ProposalState.OPEN


def test_an_expert_cannot_decide_and_a_decision_is_final(
    db: Backend, make_user: Callable[..., Any]
) -> None:
    categories = make_categories()
    expert, other = make_user("erin", "expert"), make_user("eve", "expert")
    admin = make_user("ada", "administrator")
    proposal = decisions.propose(
        expert, action="add", name="b.example", category=categories["games"]
    )
    with pytest.raises(PermissionDenied):
        decisions.approve(other, proposal)
    decisions.reject(admin, proposal, "not a game")
    with pytest.raises(PermissionDenied, match="already rejected"):
        decisions.approve(make_user("abe", "administrator"), proposal)
    assert not Entry.objects.exists()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"action": "add", "name": "c.example"}, "needs a category"),
        ({"action": "add", "name": "bad_<b>.example!"}, "not a host name"),
        ({"action": "add", "name": "org", "category": None}, "top-level"),
        (
            {"action": "add", "name": "d.example", "list": "walled_garden", "kind": "block"},
            "only holds",
        ),
    ],
)
def test_a_proposal_that_makes_no_sense_is_refused(
    db: Backend, make_user: Callable[..., Any], fields: dict[str, Any], message: str
) -> None:
    expert = make_user("erin", "expert")
    fields = dict(fields)  # the parameters are shared by both backends' runs
    list_name = fields.pop("list", "default")
    with pytest.raises(ValidationError) as caught:
        decisions.propose(expert, list_name=list_name, **fields)
    assert message in " ".join(caught.value.messages)


def test_a_white_list_entry_needs_no_category(db: Backend, make_user: Callable[..., Any]) -> None:
    expert, admin = make_user("erin", "expert"), make_user("ada", "administrator")
    proposal = decisions.propose(
        expert, action="add", name="maths.example", kind="allow", list_name="walled_garden"
    )
    decisions.approve(admin, proposal)
    entry = Entry.objects.get(name="maths.example")
    assert (entry.kind, entry.list, entry.category) == ("allow", "walled_garden", None)


def test_a_reporter_cannot_propose(db: Backend, make_user: Callable[..., Any]) -> None:
    with pytest.raises(PermissionDenied):
        decisions.propose(make_user("rob"), action="remove", name="e.example")
