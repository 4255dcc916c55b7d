"""Who is calling: a gateway, a person (by token or session) or nobody, and with which role.

Resolution, in order (a request is never two principals at once):

| request carries                   | principal                    | refused with             |
|-----------------------------------|------------------------------|--------------------------|
| ``Authorization: Bearer`` gateway | the gateway (role gateway)   | 401 unknown, 403 revoked |
| ``Authorization: Bearer`` person  | that person, with their role | 401 unknown, 403 revoked |
| a session cookie (signed in)      | that person; unsafe methods  | 403 without CSRF token   |
|                                   | need the CSRF token          |                          |
| nothing                           | anonymous                    |                          |

A person's roles come from ``curation.permissions.roles_of`` (groups
``expert``, ``administrator``; a superuser holds both), and what a role may
do is that module's ``GRANTS`` table, which the pages enforce too; each
endpoint names the ``Action`` it takes (``http.endpoint``). This module only
says who calls. A malformed or unknown bearer token is refused, never read as
anonymous: a gateway with a wrong token must hear 401 and keep its reports
(docs/reports.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils import timezone

from copgate.distributor.api.models import ApiToken
from copgate.distributor.api.tokens import bearer, token_hash
from copgate.distributor.curation.models import Gateway
from copgate.distributor.curation.permissions import Role, roles_of
from copgate.errors import CopgateError

ANONYMOUS = frozenset({Role.ANONYMOUS})


class AuthRefusal(CopgateError):
    """The credentials sent are wrong (401) or revoked (403): the caller's fault."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of one request."""

    roles: frozenset[Role]
    """Its roles in ``curation.permissions``: ``{anonymous}``, ``{gateway}`` or a person's."""
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


def principal(request: HttpRequest) -> Principal:
    """The caller of ``request``; AuthRefusal if its credentials are refused."""
    token = bearer(request.headers.get("Authorization"))
    if token is None:
        user = request.user
        if user.is_authenticated and user.is_active:
            return Principal(roles_of(user), user=user, session=True)
        return Principal(ANONYMOUS)
    if not token:
        raise AuthRefusal(401, "Authorization must be 'Bearer <token>'")
    digest = token_hash(token)
    gateway = Gateway.objects.filter(token_hash=digest).first()
    if gateway is not None:
        if not gateway.active:
            raise AuthRefusal(403, "this gateway's token is revoked")
        return Principal(frozenset({Role.GATEWAY}), gateway=gateway)
    api_token = ApiToken.objects.select_related("user").filter(token_hash=digest).first()
    if api_token is None:
        raise AuthRefusal(401, "unknown token")
    if not api_token.active or not api_token.user.is_active:
        raise AuthRefusal(403, "this token is revoked")
    ApiToken.objects.filter(pk=api_token.pk).update(last_used=timezone.now())
    return Principal(roles_of(api_token.user), user=api_token.user)


def csrf_refusal(request: HttpRequest) -> str | None:
    """Why a session-authenticated unsafe request fails Django's CSRF check, or None."""
    check = CsrfViewMiddleware(_no_response)
    check.process_request(request)
    if check.process_view(request, _no_response, (), {}) is None:
        return None
    return "CSRF verification failed: send the csrftoken cookie's value as X-CSRFToken"


def _no_response(request: HttpRequest) -> HttpResponse:
    """The view the CSRF check is run for: it is never called."""
    raise AssertionError("never called")
