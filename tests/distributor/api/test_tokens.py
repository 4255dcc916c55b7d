"""People's API tokens: issued once, stored hashed, revoked in the admin site."""

from __future__ import annotations

import io
from collections.abc import Callable

from django.contrib.auth.models import AbstractBaseUser, User
from django.core.management import call_command
from django.test import Client

from copgate.distributor.api.models import ApiToken
from copgate.distributor.api.tokens import bearer, token_hash
from copgate.distributor.curation.models import AuditLog
from tests.distributor.api.conftest import Person
from tests.distributor.api.openapi_check import Api


def test_the_command_prints_a_token_the_database_keeps_only_hashed(
    api: Api, make_user: Callable[..., AbstractBaseUser]
) -> None:
    make_user("eli", "expert")
    out = io.StringIO()
    call_command("apitoken", "eli", "--name", "review script", stdout=out)
    token = out.getvalue().strip()
    row = ApiToken.objects.get(name="review script")
    assert token.startswith("cgu_") and row.token_hash == token_hash(token)
    assert token not in str(list(ApiToken.objects.values()))
    assert AuditLog.objects.filter(action="apitoken.issue").exists()
    assert api.get("/api/v1/queue", token=token).status == 200
    row.refresh_from_db()
    assert row.last_used is not None


def test_a_revoked_token_is_403_and_a_deactivated_user_too(
    api: Api, person: Callable[..., Person]
) -> None:
    eli = person("eli", "expert")
    ApiToken.objects.filter(user_id=eli.user.pk).update(active=False)
    assert api.get("/api/v1/queue", token=eli.token).status == 403
    sam = person("sam", "expert")
    User.objects.filter(pk=sam.user.pk).update(is_active=False)
    assert api.get("/api/v1/queue", token=sam.token).status == 403


def test_the_admin_site_lists_tokens_but_cannot_make_one(
    person: Callable[..., Person],
) -> None:
    ada = person("ada", "administrator")
    client = Client()
    client.force_login(ada.user)  # type: ignore[arg-type]
    listing = client.get("/admin/copgate_api/apitoken/")
    assert listing.status_code == 200 and b"tests" in listing.content
    assert ada.token.encode() not in listing.content
    assert client.get("/admin/copgate_api/apitoken/add/").status_code == 403


def test_bearer_headers_are_read_strictly() -> None:
    assert bearer(None) is None
    assert bearer("Bearer abc") == "abc"
    assert bearer("bearer  abc ") == "abc"
    assert bearer("Basic abc") == ""
    assert bearer("Bearer ") == ""
    assert bearer("Bearer " + "x" * 129) == ""
    assert bearer("Bearer тест") == ""
