"""Who is calling: a gateway, a person (by token or session) or nobody, and with which role.

Resolution, in order (a request is never two principals at once):

| request carries                   | principal                    | refused with             |
|-----------------------------------|------------------------------|--------------------------|
| ``Authorization: Bearer`` gateway | the gateway (role gateway)   | 401 unknown, 403 revoked |
| ``Authorization: Bearer`` person  | that person, with their role | 401 unknown, 403 revoked |
| a session cookie (signed in)      | that person; unsafe methods  | 403 without CSRF token   |
|                                   | need the CSRF token          |                          |
| nothing                           | anonymous                    |                          |

A person's role is the highest of their groups: ``administrator`` (or a
superuser), ``expert``, else ``reporter``. What each role may call is the
table in ``views`` (``Endpoint.roles``); this module only says who it is.
A malformed or unknown bearer token is refused, never read as anonymous: a
gateway with a wrong token must hear 401 and keep its reports (docs/reports.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import HttpRequest
from django.middleware.csrf import CsrfViewMiddleware
from django.utils import timezone

from copgate.distributor.api.models import ApiToken
from copgate.distributor.api.tokens import bearer, token_hash
from copgate.distributor.curation.models import Gateway

EXPERTS = "expert"
ADMINISTRATORS = "administrator"
"""The Django groups of the two curating roles (plain users report)."""


class Role(IntEnum):
    """Who calls, in increasing power; a gateway is apart and can only report."""

    anonymous = 0
    gateway = 1
    reporter = 2
    expert = 3
    administrator = 4


class AuthRefusal(Exception):
    """The credentials sent are wrong (401) or revoked (403)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of one request."""

    role: Role
    user: Any = None
    """The person (a Django user), or None for a gateway or nobody."""
    gateway: Gateway | None = None
    session: bool = False
    """Authenticated by a session cookie (so unsafe methods need the CSRF token)."""

    def rate_key(self, address: str) -> tuple[str, str]:
        """(scope, who) under which this caller's requests are counted."""
        if self.gateway is not None:
            return "gateway", f"gateway:{self.gateway.pk}"
        if self.user is not None:
            return "user", f"user:{self.user.pk}"
        return "anonymous", f"address:{address}"


def role_of(user: AbstractBaseUser | AnonymousUser) -> Role:
    """The highest role of a signed-in person."""
    if not user.is_authenticated or not user.is_active:
        return Role.anonymous
    if getattr(user, "is_superuser", False):
        return Role.administrator
    groups = set(user.groups.values_list("name", flat=True))  # type: ignore[union-attr]
    if ADMINISTRATORS in groups:
        return Role.administrator
    if EXPERTS in groups:
        return Role.expert
    return Role.reporter


def principal(request: HttpRequest) -> Principal:
    """The caller of ``request``; AuthRefusal if its credentials are refused."""
    token = bearer(request.headers.get("Authorization"))
    if token is None:
        user = request.user
        if user.is_authenticated and user.is_active:
            return Principal(role_of(user), user=user, session=True)
        return Principal(Role.anonymous)
    if not token:
        raise AuthRefusal(401, "Authorization must be 'Bearer <token>'")
    digest = token_hash(token)
    gateway = Gateway.objects.filter(token_hash=digest).first()
    if gateway is not None:
        if not gateway.active:
            raise AuthRefusal(403, "this gateway's token is revoked")
        return Principal(Role.gateway, gateway=gateway)
    api_token = ApiToken.objects.select_related("user").filter(token_hash=digest).first()
    if api_token is None:
        raise AuthRefusal(401, "unknown token")
    if not api_token.active or not api_token.user.is_active:
        raise AuthRefusal(403, "this token is revoked")
    ApiToken.objects.filter(pk=api_token.pk).update(last_used=timezone.now())
    return Principal(role_of(api_token.user), user=api_token.user)


def csrf_refusal(request: HttpRequest) -> str | None:
    """Why a session-authenticated unsafe request fails Django's CSRF check, or None."""
    check = CsrfViewMiddleware(lambda _request: None)  # type: ignore[arg-type, return-value]
    check.process_request(request)
    response = check.process_view(request, lambda _request: None, (), {})  # type: ignore[arg-type]
    if response is None:
        return None
    return "CSRF verification failed: send the csrftoken cookie's value as X-CSRFToken"
