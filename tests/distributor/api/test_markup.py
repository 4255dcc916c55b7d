"""Markup posted to the API is data: stored as sent, escaped on every page that shows it."""

from __future__ import annotations

import html
from collections.abc import Callable
from urllib.parse import urlencode

import pytest
from django.test import Client

from copgate.distributor.curation.models import Category, Gateway
from tests.distributor.api.conftest import Person, report
from tests.distributor.api.openapi_check import Api

NAME = '<script>alert("n")</script>.example'
COMMENT = "<img src=x onerror=alert(1)> & 'quoted'"
GROUP = "<b>pupils</b>"


@pytest.fixture
def hostile(api: Api, gateway: tuple[Gateway, str], person: Callable[..., Person]) -> Person:
    """A report full of markup from a gateway, and the same from a reporter."""
    body = report(kind="site", name=NAME, comment=COMMENT, group=GROUP)
    assert api.post("/api/v1/reports", body, token=gateway[1]).status == 202
    rita = person("rita")
    assert (
        api.post("/api/v1/reports", report(name=NAME, comment=COMMENT), token=rita.token).status
        == 202
    )
    return rita


def _page(user: object, path: str) -> str:
    client = Client()
    client.force_login(user)  # type: ignore[arg-type]
    response = client.get(path)
    assert response.status_code == 200, path
    return response.content.decode()


def _escaped(page: str, *texts: str) -> None:
    for text in texts:
        assert text not in page
        assert html.escape(text, quote=False) in page or html.escape(text) in page, text


def test_the_reporters_page_escapes_their_report(hostile: Person) -> None:
    _escaped(_page(hostile.user, "/reports/mine/"), NAME, COMMENT)


def test_the_review_pages_escape_reports(
    hostile: Person, person: Callable[..., Person], games: Category
) -> None:
    eli = person("eli", "expert")
    _escaped(_page(eli.user, "/review/"), NAME)
    _escaped(_page(eli.user, "/review/name/?" + urlencode({"name": NAME})), NAME, COMMENT)


def test_the_admin_site_escapes_reports(hostile: Person, person: Callable[..., Person]) -> None:
    ada = person("ada", "administrator")
    _escaped(_page(ada.user, "/admin/curation/report/"), NAME)
