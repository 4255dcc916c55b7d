"""Hostile input on the pages: refused with nothing lost, or stored as data and escaped."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from copgate.distributor.curation import decisions
from copgate.distributor.curation.models import (
    AuditLog,
    Gateway,
    Proposal,
    ProposalState,
    Report,
)
from tests.distributor.conftest import Backend
from tests.distributor.helpers import make_categories

MARKUP = '<script>alert("x")</script><img src=x onerror=alert(1)>'
NAME = "bad<b>\"name'.example"  # DNS allows these bytes in a label; a report keeps them


def _client(make_user: Callable[..., Any], name: str, *roles: str, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(make_user(name, *roles))
    return client


def _assert_escaped(page: str) -> None:
    assert MARKUP not in page
    assert "<b>" not in page
    assert html.escape(MARKUP) in page or html.escape(MARKUP, quote=False) in page


def test_markup_in_reports_and_proposals_is_escaped_everywhere(
    db: Backend, make_user: Callable[..., Any]
) -> None:
    categories = make_categories()
    gateway = Gateway.objects.create(name="school", token_hash="1" * 64)
    Report.objects.create(
        kind="site",
        name=NAME,
        comment=MARKUP,
        group=MARKUP[:120],
        created=timezone.now(),
        key="a" * 32,
        gateway=gateway,
    )
    reporter = make_user("rob")
    Report.objects.create(
        kind="site",
        name="own.example",
        comment=MARKUP,
        created=timezone.now(),
        key="b" * 32,
        user=reporter,
    )
    expert = make_user("erin", "expert")
    proposal = decisions.propose(
        expert, action="add", name="ok.example", category=categories["games"], note=MARKUP
    )
    admin = _client(make_user, "ada", "administrator")
    pages = {
        "queue": admin.get(reverse("curation:queue")),
        "review": admin.get(reverse("curation:review_name"), {"name": NAME}),
        "proposal": admin.get(reverse("curation:proposal", args=[proposal.pk])),
        "audit": admin.get(reverse("curation:audit")),
        "admin reports": admin.get("/admin/curation/report/"),
    }
    own = Client()
    own.force_login(reporter)
    pages["my reports"] = own.get(reverse("curation:my_reports"))
    for where, answer in pages.items():
        assert answer.status_code == 200, where
        page = answer.content.decode()
        assert "<b>" not in page, where
        assert MARKUP not in page, where
    for where in ("review", "proposal", "my reports"):
        _assert_escaped(pages[where].content.decode())
    assert html.escape(NAME) in pages["queue"].content.decode()


@pytest.mark.parametrize("path", ["report", "login"])
def test_a_form_posted_without_its_csrf_token_is_refused(db: Backend, path: str) -> None:
    client = Client(enforce_csrf_checks=True)
    url = reverse("curation:report") if path == "report" else reverse("login")
    answer = client.post(url, {"kind": "site", "name": "a.example", "username": "x"})
    assert answer.status_code == 403
    assert not Report.objects.exists()


def test_a_decision_without_its_csrf_token_changes_nothing(
    db: Backend, make_user: Callable[..., Any]
) -> None:
    categories = make_categories()
    proposal = Proposal.objects.create(
        action="add", name="x.example", category=categories["games"], author=make_user("erin")
    )
    admin = _client(make_user, "ada", "administrator", csrf=True)
    answer = admin.post(reverse("curation:proposal", args=[proposal.pk]), {"decision": "approve"})
    assert answer.status_code == 403
    proposal.refresh_from_db()
    assert proposal.state == ProposalState.OPEN
    assert not AuditLog.objects.filter(action="proposal.approved").exists()


def test_the_csrf_token_the_page_gives_is_accepted(db: Backend) -> None:
    client = Client(enforce_csrf_checks=True)
    client.get(reverse("curation:report"))
    token = client.cookies["csrftoken"].value
    answer = client.post(
        reverse("curation:report"),
        {"kind": "site", "name": "a.example", "csrfmiddlewaretoken": token},
    )
    assert answer.status_code == 302
    assert Report.objects.filter(name="a.example").exists()


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"kind": "site", "name": "x" * 254}, "longer than 253"),
        ({"kind": "site", "name": "a\x07b.example"}, "control characters"),
        ({"kind": "site", "name": "a.example", "comment": "c" * 501}, "at most 500"),
        ({"kind": "tea", "name": "a.example"}, "valid choice"),
        ({"kind": "site", "name": "   "}, "required"),
    ],
)
def test_a_bad_report_is_refused_with_a_reason(
    db: Backend, fields: dict[str, str], error: str
) -> None:
    answer = Client().post(reverse("curation:report"), fields)
    assert answer.status_code == 200
    assert error in answer.content.decode()
    assert not Report.objects.exists()


def test_an_invalid_name_is_not_proposed(db: Backend, make_user: Callable[..., Any]) -> None:
    expert = _client(make_user, "erin", "expert")
    answer = expert.post(
        reverse("curation:propose"),
        {"action": "remove", "name": "<b>.example", "kind": "block", "list": "default"},
    )
    assert answer.status_code == 200
    assert "is not a host name" in answer.content.decode()
    assert not Proposal.objects.exists()
