"""The pages of each role, through Django's test client (server-side rendering, no script)."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from copgate.distributor.curation.models import (
    AuditLog,
    Gateway,
    Proposal,
    ProposalState,
    Report,
    ReportState,
    Source,
)
from tests.distributor.conftest import Backend
from tests.distributor.helpers import make_categories


def _signed_in(make_user: Callable[..., Any], name: str, *roles: str) -> Client:
    user = make_user(name, *roles)
    client = Client()
    client.force_login(user)
    return client


def _gateway_report(name: str, key: str, gateway: Gateway, **fields: Any) -> Report:
    return Report.objects.create(
        kind=fields.pop("kind", "site"),
        name=name,
        created=timezone.now(),
        key=key,
        gateway=gateway,
        **fields,
    )


def test_an_anonymous_report_is_stored_as_anonymous(client: Client) -> None:
    answer = client.post(
        reverse("curation:report"),
        {"kind": "site", "name": "https://Casino.Example/x?y", "comment": "please"},
    )
    assert answer.status_code == 302
    report = Report.objects.get()
    assert (report.name, report.anonymous, report.user, report.state) == (
        "casino.example",
        True,
        None,
        "open",
    )
    assert len(report.key) == 32


def test_anonymous_reports_are_rate_limited(client: Client) -> None:
    for _ in range(5):
        assert client.post(reverse("curation:report"), {"kind": "site", "name": "a.example"})
    answer = client.post(reverse("curation:report"), {"kind": "site", "name": "b.example"})
    assert answer.status_code == 429
    assert Report.objects.count() == 5
    assert not Report.objects.filter(name="b.example").exists()


def test_a_user_sees_only_their_own_reports(db: Backend, make_user: Callable[..., Any]) -> None:
    alice, bob = _signed_in(make_user, "alice"), _signed_in(make_user, "bob")
    alice.post(reverse("curation:report"), {"kind": "mistake", "name": "alice-site.example"})
    bob.post(reverse("curation:report"), {"kind": "site", "name": "bob-site.example"})
    page = alice.get(reverse("curation:my_reports")).content.decode()
    assert "alice-site.example" in page
    assert "bob-site.example" not in page
    assert Report.objects.get(name="alice-site.example").anonymous is False


def test_the_queue_groups_by_name_with_evidence(db: Backend, make_user: Callable[..., Any]) -> None:
    make_categories()
    one = Gateway.objects.create(name="school-1", token_hash="1" * 64)
    two = Gateway.objects.create(name="school-2", token_hash="2" * 64)
    _gateway_report("games.example", "a" * 32, one, category="games", list="default")
    _gateway_report("games.example", "b" * 32, two, category="games", list="school.block")
    _gateway_report("other.example", "c" * 32, one)
    expert = _signed_in(make_user, "erin", "expert")
    queue = expert.get(reverse("curation:queue")).content.decode()
    assert queue.index("games.example") < queue.index("other.example")
    page = expert.get(reverse("curation:review_name"), {"name": "games.example"})
    text = page.content.decode()
    assert "from 2 gateways, 0 users, 0 anonymous" in text
    assert "default, school.block" in text
    assert page.context["form"].initial["category"].slug == "games"


def test_an_expert_proposes_from_the_review_page(
    db: Backend, make_user: Callable[..., Any]
) -> None:
    categories = make_categories()
    gateway = Gateway.objects.create(name="school-1", token_hash="1" * 64)
    report = _gateway_report("games.example", "a" * 32, gateway, category="games")
    expert = _signed_in(make_user, "erin", "expert")
    answer = expert.post(
        reverse("curation:review_name") + "?name=games.example",
        {
            "name_reported": "games.example",
            "action": "add",
            "name": "games.example",
            "category": categories["games"].pk,
            "kind": "block",
            "list": "default",
            "note": "a games portal",
        },
    )
    proposal = Proposal.objects.get()
    assert answer.status_code == 302 and answer["Location"].endswith(f"/proposals/{proposal.pk}/")
    assert list(proposal.reports.all()) == [report]
    assert proposal.evidence["gateways"] == 1
    report.refresh_from_db()
    assert report.state == ReportState.PROPOSED


def test_an_administrator_approves_on_the_proposal_page(
    db: Backend, make_user: Callable[..., Any]
) -> None:
    categories = make_categories()
    author = make_user("erin", "expert")
    proposal = Proposal.objects.create(
        action="add", name="x.example", category=categories["games"], author=author
    )
    admin = _signed_in(make_user, "ada", "administrator")
    page = admin.get(reverse("curation:proposal", args=[proposal.pk]))
    assert page.context["may_decide"]
    admin.post(
        reverse("curation:proposal", args=[proposal.pk]), {"decision": "approve", "note": "ok"}
    )
    proposal.refresh_from_db()
    assert proposal.state == ProposalState.APPROVED
    assert AuditLog.objects.filter(action="proposal.approved", who__username="ada").exists()


def test_a_token_is_shown_once_and_stored_hashed(
    db: Backend, make_user: Callable[..., Any]
) -> None:
    admin = _signed_in(make_user, "ada", "administrator")
    answer = admin.post(reverse("curation:gateways"), {"name": "school-7"})
    token = answer.context["token"]
    assert token and token in answer.content.decode()
    assert answer["Cache-Control"] == "no-store"
    gateway = Gateway.objects.get(name="school-7")
    assert token not in gateway.token_hash
    again = admin.get(reverse("curation:gateways")).content.decode()
    assert token not in again
    audit = AuditLog.objects.get(action="gateway.issue")
    assert audit.after is not None and audit.after["token_hash"] == "(secret)"


def test_the_admin_site_is_for_administrators_and_audited(
    db: Backend, make_user: Callable[..., Any]
) -> None:
    expert = _signed_in(make_user, "erin", "expert")
    assert expert.get("/admin/curation/category/").status_code == 302  # to the admin login
    admin = _signed_in(make_user, "ada", "administrator")
    answer = admin.post(
        "/admin/curation/category/add/",
        {
            "slug": "social",
            "names": '{"en": "Social", "ru": "Соцсети"}',
            "descriptions": "{}",
            "default_use": "block",
        },
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    row = AuditLog.objects.get(action="category.add")
    assert row.after is not None and row.after["names"] == {"en": "Social", "ru": "Соцсети"}


def test_pages_speak_russian(db: Backend, make_user: Callable[..., Any]) -> None:
    client = Client(headers={"accept-language": "ru"})
    page = client.get(reverse("curation:report")).content.decode()
    assert "Сообщить о сайте" in page


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        (
            {"format": "plain", "url": "http://192.0.2.1/l.txt", "category_mapping": "{}"},
            "needs its category",
        ),
        ({"format": "ut1", "category_mapping": "{}"}, "give a URL"),
        (
            {
                "format": "ut1",
                "url": "http://192.0.2.1/ut1.tgz",
                "category_mapping": '{"porn": "Not A Slug"}',
            },
            "JSON object of category names",
        ),
    ],
)
def test_a_source_that_cannot_be_built_is_refused_in_the_admin_site(
    db: Backend, make_user: Callable[..., Any], fields: dict[str, str], error: str
) -> None:
    admin = _signed_in(make_user, "ada", "administrator")
    answer = admin.post(
        "/admin/curation/source/add/",
        {"name": "upstream", "schedule_hours": "24", "active": "on", **fields},
    )
    assert answer.status_code == 200
    assert html.escape(error) in answer.content.decode() or error in answer.content.decode()
    assert not Source.objects.exists()


def test_an_administrator_adds_a_source_by_url(db: Backend, make_user: Callable[..., Any]) -> None:
    admin = _signed_in(make_user, "ada", "administrator")
    answer = admin.post(
        "/admin/curation/source/add/",
        {
            "name": "ut1",
            "format": "ut1",
            "url": "http://192.0.2.1/blacklists.tar.gz",
            "category_mapping": '{"porn": "adult", "gambling": "gambling"}',
            "schedule_hours": "24",
            "active": "on",
        },
    )
    assert answer.status_code == 302
    source = Source.objects.get()
    assert source.category_mapping == {"porn": "adult", "gambling": "gambling"}
    assert AuditLog.objects.filter(action="source.add", who__username="ada").exists()
