"""Who may do what, as a table: the rules themselves, then every page for every role."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from copgate.distributor.curation.models import Proposal, ProposalState, Release
from copgate.distributor.curation.permissions import Action, Role, allows
from tests.distributor.conftest import Backend
from tests.distributor.helpers import make_categories

A, G, R, E, M = (
    Role.ANONYMOUS,
    Role.GATEWAY,
    Role.REPORTER,
    Role.EXPERT,
    Role.ADMINISTRATOR,
)

RULES: list[tuple[Action, set[Role]]] = [
    # action          who may
    (Action.REPORT, {A, G, R, E, M}),
    (Action.OWN_REPORTS, {R, E, M}),
    (Action.REVIEW, {E, M}),
    (Action.PROPOSE, {E, M}),
    (Action.DECIDE, {M}),
    (Action.PUBLISH, {M}),
    (Action.MANAGE, {M}),
    (Action.AUDIT, {M}),
]


@pytest.mark.parametrize(("action", "allowed"), RULES)
def test_the_rules(action: Action, allowed: set[Role]) -> None:
    assert {role for role in Role if allows({role}, action)} == allowed


def test_a_gateway_token_can_only_report() -> None:
    assert [action for action in Action if allows({Role.GATEWAY}, action)] == [Action.REPORT]


# page, method: the status for anonymous, reporter, expert, administrator.
# 302: sent to sign in; 403: signed in without the role; 405: GET on a POST-only URL.
PAGES: list[tuple[str, str, tuple[int, int, int, int]]] = [
    ("curation:home", "get", (200, 200, 200, 200)),
    ("curation:report", "get", (200, 200, 200, 200)),
    ("curation:my_reports", "get", (302, 200, 200, 200)),
    ("curation:queue", "get", (302, 403, 200, 200)),
    ("curation:review_name", "get", (302, 403, 200, 200)),
    ("curation:propose", "get", (302, 403, 200, 200)),
    ("curation:proposals", "get", (302, 403, 200, 200)),
    ("curation:whitelists", "get", (302, 403, 200, 200)),
    ("curation:publish", "get", (302, 403, 403, 200)),
    ("curation:publish_now", "post", (302, 403, 403, 302)),
    ("curation:schedule", "post", (302, 403, 403, 302)),
    ("curation:fetch_sources", "post", (302, 403, 403, 302)),
    ("curation:gateways", "get", (302, 403, 403, 200)),
    ("curation:audit", "get", (302, 403, 403, 200)),
]
PRINCIPALS = ("anonymous", "reporter", "expert", "administrator")


@pytest.mark.parametrize(("page", "method", "statuses"), PAGES)
def test_every_page_for_every_role(
    db: Backend,
    make_user: Callable[..., Any],
    page: str,
    method: str,
    statuses: tuple[int, int, int, int],
    tmp_path: Path,
) -> None:
    got = []
    with override_settings(COPGATE_TREE_DIR=tmp_path / "tree", COPGATE_SIGNING_KEY=None):
        for principal in PRINCIPALS:
            client = Client()
            if principal != "anonymous":
                roles = () if principal == "reporter" else (principal,)
                client.force_login(make_user(f"{principal}-{page}", *roles))
            got.append(getattr(client, method)(reverse(page)).status_code)
    assert tuple(got) == statuses
    assert not Release.objects.exists()  # the administrator's build failed: no key set


def test_an_expert_cannot_approve_even_by_posting(
    db: Backend, make_user: Callable[..., Any]
) -> None:
    categories = make_categories()
    author, other = make_user("erin", "expert"), make_user("eve", "expert")
    proposal = Proposal.objects.create(
        action="add", name="a.example", category=categories["games"], author=author
    )
    for user in (author, other):
        client = Client()
        client.force_login(user)
        answer = client.post(
            reverse("curation:proposal", args=[proposal.pk]), {"decision": "approve"}
        )
        assert answer.status_code == 403
    proposal.refresh_from_db()
    assert proposal.state == ProposalState.OPEN


def test_an_administrator_cannot_approve_their_own(
    db: Backend, make_user: Callable[..., Any]
) -> None:
    categories = make_categories()
    admin = make_user("ada", "administrator")
    proposal = Proposal.objects.create(
        action="add", name="a.example", category=categories["games"], author=admin
    )
    client = Client()
    client.force_login(admin)
    page = client.get(reverse("curation:proposal", args=[proposal.pk]))
    assert not page.context["may_decide"]
    answer = client.post(reverse("curation:proposal", args=[proposal.pk]), {"decision": "approve"})
    assert answer.status_code == 403
    proposal.refresh_from_db()
    assert proposal.state == ProposalState.OPEN
