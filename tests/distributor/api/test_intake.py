"""The intake answers as docs/reports.md says, and stores each report once.

Every call goes through ``Api``, which checks the answer against openapi.json.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from copgate.distributor.curation.models import Gateway, Report
from tests.distributor.api.conftest import Person, keyed, make_gateway, report
from tests.distributor.api.openapi_check import Api

URL = "/api/v1/reports"


def test_a_gateway_report_is_stored_once_and_answered_202(
    api: Api, gateway: tuple[Gateway, str]
) -> None:
    row, token = gateway
    body = report()
    answer = api.post(URL, body, token=token, headers=keyed(body))
    assert answer.status == 202 and answer.body["state"] == "open"
    stored = Report.objects.get(pk=answer.body["id"])
    assert (stored.gateway, stored.user, stored.anonymous) == (row, None, False)
    assert (stored.kind, stored.name, stored.group, stored.list, stored.reason) == (
        "mistake",
        "school-games.example",
        "pupils",
        "default",
        "category",
    )
    assert stored.created.isoformat() == "2026-12-06T00:12:39+00:00"
    assert Gateway.objects.get(pk=row.pk).last_seen is not None


def test_the_same_key_again_answers_409_and_stores_nothing(
    api: Api, gateway: tuple[Gateway, str]
) -> None:
    _, token = gateway
    body = report()
    assert api.post(URL, body, token=token, headers=keyed(body)).status == 202
    again = api.post(URL, {**body, "comment": "changed"}, token=token, headers=keyed(body))
    assert again.status == 409 and again.body["field"] == "key"
    (stored,) = Report.objects.all()
    assert stored.comment == "we use it in maths lessons"


def test_another_gateway_may_use_the_same_key(api: Api, gateway: tuple[Gateway, str]) -> None:
    _, first = gateway
    _, second = make_gateway("school-2")
    body = report()
    assert api.post(URL, body, token=first, headers=keyed(body)).status == 202
    assert api.post(URL, body, token=second, headers=keyed(body)).status == 202
    assert Report.objects.count() == 2


def test_without_a_token_a_report_is_anonymous(api: Api) -> None:
    body = report(kind="site", name="casino.example", category="gambling")
    answer = api.post(URL, body, headers=keyed(body))
    assert answer.status == 202
    stored = Report.objects.get(pk=answer.body["id"])
    assert (stored.anonymous, stored.gateway, stored.user) == (True, None, None)


def test_a_persons_report_is_theirs(api: Api, person: Callable[..., Person]) -> None:
    parent = person("parent")
    answer = api.post(URL, report(kind="site", name="casino.example"), token=parent.token)
    assert answer.status == 202
    stored = Report.objects.get(pk=answer.body["id"])
    assert (stored.user, stored.anonymous) == (parent.user, False)
    mine = api.get(URL, token=parent.token)
    assert [r["name"] for r in mine.body["reports"]] == ["casino.example"]
    assert mine.body["reports"][0]["origin"] == "user"


def test_an_unknown_token_is_401_and_a_revoked_gateway_403(api: Api) -> None:
    body = report()
    unknown = api.post(URL, body, token="cgw_not-a-token", headers=keyed(body))
    assert unknown.status == 401 and "Bearer" in unknown.headers["WWW-Authenticate"]
    _, revoked = make_gateway("old", active=False)
    assert api.post(URL, body, token=revoked, headers=keyed(body)).status == 403
    malformed = api.post(URL, body, headers={"Authorization": "Basic dXNlcjpwdw=="})
    assert malformed.status == 401
    assert not Report.objects.exists()


def test_a_body_over_4_kib_is_413_unread(api: Api, gateway: tuple[Gateway, str]) -> None:
    _, token = gateway
    body = report()
    raw = json.dumps(body).encode() + b" " * 4096
    answer = api.post(URL, token=token, raw=raw, headers=keyed(body))
    assert answer.status == 413
    assert not Report.objects.exists()


def test_exactly_4_kib_is_taken(api: Api, gateway: tuple[Gateway, str]) -> None:
    _, token = gateway
    body = report()
    raw = json.dumps(body).encode()
    raw += b" " * (4096 - len(raw))
    assert api.post(URL, token=token, raw=raw, headers=keyed(body)).status == 202


@pytest.mark.parametrize(
    ("raw", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"\xff\xfe{}", "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b'{"version": 1, "version": 1}', "application/json", 400),
        (b"kind=site&name=x.example", "application/x-www-form-urlencoded", 415),
        (b"{}", "text/plain", 415),
    ],
    ids=["not-json", "not-utf8", "not-an-object", "duplicate-key", "form", "text"],
)
def test_malformed_bodies_are_refused_for_good(
    api: Api, gateway: tuple[Gateway, str], raw: bytes, content_type: str, status: int
) -> None:
    _, token = gateway
    assert api.post(URL, token=token, raw=raw, content_type=content_type).status == status
    assert not Report.objects.exists()


INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("version-missing", {"version": None}, "version"),
    ("version-text", {"version": "1"}, "version"),
    ("version-bool", {"version": True}, "version"),
    ("key-short", {"key": "abc"}, "key"),
    ("key-upper", {"key": "3F6C0B1E9D2A4C5B8E7F60A1B2C3D4E5"}, "key"),
    ("kind", {"kind": "complaint"}, "kind"),
    ("name-empty", {"name": ""}, "name"),
    ("name-missing", {"name": None}, "name"),
    ("name-long", {"name": ("a" * 62 + ".") * 4 + "example"}, "name"),
    ("name-label-64", {"name": "a" * 64 + ".example"}, "name"),
    ("name-empty-label", {"name": "a..example"}, "name"),
    ("name-space", {"name": "bad name.example"}, "name"),
    ("name-control", {"name": "bad\x00.example"}, "name"),
    ("name-newline", {"name": "bad\n.example"}, "name"),
    ("name-number", {"name": 42}, "name"),
    ("created-zone", {"created": "2026-12-06T00:12:39+01:00"}, "created"),
    ("created-garbage", {"created": "yesterday"}, "created"),
    ("comment-long", {"comment": "x" * 501}, "comment"),
    ("group-long", {"group": "g" * 121}, "group"),
    ("list-number", {"list": 3}, "list"),
]


@pytest.mark.parametrize(("fields", "field"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_a_wrong_field_is_422_naming_it(
    api: Api, gateway: tuple[Gateway, str], fields: dict[str, Any], field: str
) -> None:
    _, token = gateway
    body = report()
    for key, value in fields.items():
        if value is None:
            del body[key]
        else:
            body[key] = value
    answer = api.post(URL, token=token, raw=json.dumps(body).encode())
    assert (answer.status, answer.body.get("field")) == (422, field)
    assert not Report.objects.exists()


def test_the_header_key_must_be_the_body_key(api: Api, gateway: tuple[Gateway, str]) -> None:
    _, token = gateway
    body = report()
    answer = api.post(URL, body, token=token, headers={"Idempotency-Key": "0" * 32})
    assert (answer.status, answer.body["field"]) == (422, "key")


def test_unknown_fields_of_a_later_version_are_ignored(
    api: Api, gateway: tuple[Gateway, str]
) -> None:
    _, token = gateway
    body = report(version=2, severity="high")
    assert api.post(URL, body, token=token, headers=keyed(body)).status == 202


def test_names_are_lower_cased_and_lose_the_trailing_dot(
    api: Api, gateway: tuple[Gateway, str]
) -> None:
    _, token = gateway
    answer = api.post(URL, report(name="Games.Example."), token=token)
    assert Report.objects.get(pk=answer.body["id"]).name == "games.example"


def test_markup_is_stored_as_data(api: Api, person: Callable[..., Person]) -> None:
    parent = person("parent")
    hostile = {
        "name": '<script>alert("x")</script>.example',
        "comment": "<img src=x onerror=alert(1)> & 'quotes'",
        "group": "<b>pupils</b>",
    }
    answer = api.post(URL, report(**hostile), token=parent.token)
    assert answer.status == 202
    stored = Report.objects.get(pk=answer.body["id"])
    assert (stored.name, stored.comment, stored.group) == (
        hostile["name"],
        hostile["comment"],
        hostile["group"],
    )
    shown = api.get(f"{URL}/{stored.pk}", token=parent.token).body
    assert (shown["name"], shown["comment"]) == (hostile["name"], hostile["comment"])


def test_a_flood_from_one_token_is_429_and_nothing_more_is_stored(
    api: Api, gateway: tuple[Gateway, str], rates: Callable[[str, int, int], None]
) -> None:
    _, token = gateway
    _, other = make_gateway("school-2")
    rates("gateway", 5, 600)
    statuses = [api.post(URL, report(), token=token).status for _ in range(8)]
    assert statuses == [202] * 5 + [429] * 3
    flooded = api.post(URL, report(), token=token)
    assert flooded.status == 429 and int(flooded.headers["Retry-After"]) == 600
    assert api.post(URL, report(), token=other).status == 202
    assert Report.objects.count() == 6


def test_anonymous_floods_are_counted_per_address(
    api: Api, rates: Callable[[str, int, int], None]
) -> None:
    rates("anonymous", 3, 600)
    here = [api.post(URL, report()).status for _ in range(4)]
    elsewhere = api.post(URL, report(), meta={"REMOTE_ADDR": "198.51.100.9"})
    assert (here, elsewhere.status) == ([202, 202, 202, 429], 202)
    assert Report.objects.filter(anonymous=True).count() == 4


def test_bad_tokens_are_counted_against_the_address(
    api: Api, rates: Callable[[str, int, int], None]
) -> None:
    rates("anonymous", 2, 600)
    statuses = [api.post(URL, report(), token=f"cgw_guess{i}").status for i in range(3)]
    assert statuses == [401, 401, 429]
