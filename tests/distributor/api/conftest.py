"""Fixtures of the API's tests: a checked client, gateways and people with tokens, reports."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.test import Client, override_settings

from copgate.distributor.api.models import ApiToken
from copgate.distributor.api.tokens import GATEWAY_PREFIX, new_token, token_hash
from copgate.distributor.curation.models import Category, Gateway
from tests.distributor.api.openapi_check import Api
from tests.distributor.conftest import Backend


@dataclass(frozen=True)
class Person:
    user: AbstractBaseUser
    token: str
    """Their API token (``cgu_...``)."""


@pytest.fixture(autouse=True)
def _fast_passwords() -> Iterator[None]:
    """A cheap hasher: the tests make many users, and PBKDF2 is slow on purpose."""
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture
def api(db: Backend) -> Iterator[Api]:
    cache.clear()
    yield Api(Client())
    cache.clear()


@pytest.fixture
def gateway(db: Backend) -> tuple[Gateway, str]:
    """A gateway and its token."""
    return make_gateway("school-1")


def make_gateway(name: str, *, active: bool = True) -> tuple[Gateway, str]:
    token = new_token(GATEWAY_PREFIX)
    row = Gateway.objects.create(name=name, token_hash=token_hash(token), active=active)
    return row, token


@pytest.fixture
def person(make_user: Callable[..., AbstractBaseUser]) -> Callable[..., Person]:
    """``person("eve", "expert")``: a user in those roles, with an API token."""

    def make(name: str, *roles: str) -> Person:
        user = make_user(name, *roles)
        _, token = ApiToken.issue(user, "tests")
        return Person(user, token)

    return make


@pytest.fixture
def games(db: Backend) -> Category:
    return Category.objects.get_or_create(slug="games", defaults={"names": {"en": "Games"}})[0]


@pytest.fixture
def rates() -> Iterator[Callable[[str, int, int], None]]:
    """``rates("gateway", 5, 60)``: a low limit for one test; the defaults come back after."""
    configured: dict[str, tuple[int, int]] = {}
    with override_settings(COPGATE_API_RATES=configured):
        yield lambda scope, limit, window: configured.__setitem__(scope, (limit, window))


def report(**fields: Any) -> dict[str, Any]:
    """A valid report of docs/reports.md with a fresh key; ``fields`` override."""
    body: dict[str, Any] = {
        "version": 1,
        "key": secrets.token_hex(16),
        "kind": "mistake",
        "name": "school-games.example",
        "created": "2026-12-06T00:12:39Z",
        "group": "pupils",
        "category": "games",
        "list": "default",
        "reason": "category",
        "comment": "we use it in maths lessons",
    }
    body.update(fields)
    return body


def keyed(body: dict[str, Any]) -> dict[str, str]:
    """The Idempotency-Key header of ``body``, as a gateway sends it."""
    return {"Idempotency-Key": str(body["key"])}
