"""The API's plumbing: one decorator that authenticates, authorises, rate-limits and answers JSON.

Every endpoint is declared with ``endpoint(method, roles)``: the methods and
roles it takes are data at its definition, and the permission table the
tests check is read from the same declarations. Order of checks:

1. method (405);
2. who calls (``auth.principal``: 401 / 403 for refused credentials);
3. rate limit of that caller (429 with ``Retry-After``);
4. role (401 for nobody, 403 for a role not listed);
5. CSRF for a session-authenticated unsafe method (403);
6. the view, which returns ``(status, body)`` or raises ``ApiError``.

Answers are JSON objects; errors are ``{"error": message, "field": ...}``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from copgate.distributor.api import ratelimit
from copgate.distributor.api.auth import AuthRefusal, Principal, Role, csrf_refusal, principal

Body = dict[str, Any]
View = Callable[..., tuple[int, Body]]
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_JSON = 16 * 1024
"""Bytes of an automation request's JSON body (a proposal with its note and evidence)."""


class ApiError(Exception):
    """A request the view refuses: answered with ``status`` and ``message``."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field


@dataclass(frozen=True, slots=True)
class Endpoint:
    """What one URL takes: its methods and, per method, the roles allowed to call it."""

    roles: dict[str, frozenset[Role]]


ENDPOINTS: dict[str, Endpoint] = {}
"""URL name -> its declaration, filled by ``endpoint``; the permission tests read it."""


def error(status: int, message: str, field: str | None = None, **headers: str) -> JsonResponse:
    body: Body = {"error": message}
    if field is not None:
        body["field"] = field
    response = JsonResponse(body, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def client_address(request: HttpRequest) -> str:
    """The caller's address; behind ``COPGATE_PROXY_HOPS`` proxies, from X-Forwarded-For."""
    hops: int = getattr(settings, "COPGATE_PROXY_HOPS", 0)
    remote = str(request.META.get("REMOTE_ADDR", ""))
    if hops <= 0:
        return remote
    forwarded = [a.strip() for a in request.headers.get("X-Forwarded-For", "").split(",")]
    forwarded = [a for a in forwarded if a]
    return forwarded[-hops] if len(forwarded) >= hops else remote


def endpoint(name: str, roles: dict[str, frozenset[Role]]) -> Callable[[View], Any]:
    """Declare the view of URL ``name``: ``{method: roles}``."""
    ENDPOINTS[name] = Endpoint(roles)

    def wrap(view: View) -> Any:
        @csrf_exempt
        def handler(request: HttpRequest, **kwargs: Any) -> HttpResponse:
            allowed = roles.get(request.method or "")
            if allowed is None:
                response = error(405, f"{request.method} is not allowed here")
                response["Allow"] = ", ".join(sorted(roles))
                return response
            try:
                caller = principal(request)
            except AuthRefusal as exc:
                refused = Principal(Role.anonymous)
                return _limited(request, refused) or _unauthorised(exc.status, str(exc))
            limited = _limited(request, caller)
            if limited is not None:
                return limited
            if caller.role not in allowed:
                if caller.role is Role.anonymous:
                    return _unauthorised(401, "sign in or send a bearer token")
                return error(403, f"a {caller.role.name} may not {request.method} here")
            if caller.session and request.method in UNSAFE:
                why = csrf_refusal(request)
                if why is not None:
                    return error(403, why)
            try:
                status, body = view(request, caller, **kwargs)
            except ApiError as exc:
                return error(exc.status, str(exc), exc.field)
            return JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})

        handler.__name__ = view.__name__
        handler.__doc__ = view.__doc__
        return handler

    return wrap


def _unauthorised(status: int, message: str) -> JsonResponse:
    if status == 401:
        return error(401, message, WWW_Authenticate='Bearer realm="copgate"')
    return error(status, message)


def _limited(request: HttpRequest, caller: Principal) -> JsonResponse | None:
    scope, who = caller.rate_key(client_address(request))
    if ratelimit.allow(scope, who, time.time()):
        return None
    _, window = ratelimit.rate(scope)
    return error(
        429, f"too many requests; try again later ({scope} limit)", Retry_After=str(window)
    )


def read_json(request: HttpRequest) -> Body:
    """The JSON object of an automation request's body (400 / 413 / 415 when it is none).

    An empty body is ``{}`` whatever its type: ``approve`` needs no fields."""
    if _length(request) == 0:
        return {}
    media = request.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        raise ApiError(415, "Content-Type must be application/json")
    length = _length(request)
    if length > MAX_JSON:
        raise ApiError(413, f"a request body is at most {MAX_JSON} bytes")
    data = request.read(MAX_JSON + 1)
    if len(data) > MAX_JSON:
        raise ApiError(413, f"a request body is at most {MAX_JSON} bytes")
    try:
        document = json.loads(data.decode("utf-8")) if data else {}
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, f"the body is not a UTF-8 JSON document: {exc}") from None
    if not isinstance(document, dict):
        raise ApiError(400, "the body must be a JSON object")
    return document


def _length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0
