"""The API's plumbing: one decorator that authenticates, authorises, rate-limits and answers JSON.

Every endpoint is declared with ``endpoint(name, {method: action})``: the
methods it takes and the ``curation.permissions.Action`` each needs are data
at its definition, checked against that module's ``GRANTS`` (the table the
pages enforce too). Order of checks:

1. method (405);
2. who calls (``auth.principal``: 401 / 403 for refused credentials);
3. rate limit of that caller (429 with ``Retry-After``);
4. the action's grant (401 for nobody, 403 for a role without it);
5. CSRF for a session-authenticated unsafe method (403);
6. the view, which returns ``(status, body)`` or raises ``ApiError``.

Answers are JSON objects; errors are ``{"error": message, "field": ...}``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from copgate.distributor.api import ratelimit
from copgate.distributor.api.auth import ANONYMOUS, AuthRefusal, Principal, csrf_refusal, principal
from copgate.distributor.curation.pages_reporter import client_address
from copgate.distributor.curation.permissions import Action, allows
from copgate.errors import CopgateError

Body = dict[str, Any]
View = Callable[..., tuple[int, Body]]
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_JSON = 16 * 1024
"""Bytes of an automation request's JSON body (a proposal with its note and evidence)."""


class ApiError(CopgateError):
    """A request the caller got wrong (or may not make): answered with ``status``, never a crash."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field


ENDPOINTS: dict[str, dict[str, Action]] = {}
"""URL name -> {method: the action it takes}, filled by ``endpoint``; the tests read it."""


def error(status: int, message: str, field: str | None = None, **headers: str) -> JsonResponse:
    """``{"error": message, "field": field}`` with ``status``; ``Retry_After=`` sets a header."""
    body: Body = {"error": message}
    if field is not None:
        body["field"] = field
    response = JsonResponse(body, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def endpoint(name: str, actions: dict[str, Action]) -> Callable[[View], Any]:
    """Declare the view of URL ``name``: ``{method: the action it takes}``."""
    ENDPOINTS[name] = actions

    def wrap(view: View) -> Any:
        @csrf_exempt
        def handler(request: HttpRequest, **kwargs: Any) -> HttpResponse:
            action = actions.get(request.method or "")
            if action is None:
                response = error(405, f"{request.method} is not allowed here")
                response["Allow"] = ", ".join(sorted(actions))
                return response
            try:
                caller = principal(request)
            except AuthRefusal as exc:
                refused = Principal(ANONYMOUS)
                return _limited(request, refused) or _unauthorised(exc.status, str(exc))
            limited = _limited(request, caller)
            if limited is not None:
                return limited
            if not allows(caller.roles, action):
                if caller.roles == ANONYMOUS:
                    return _unauthorised(401, "sign in or send a bearer token")
                return error(403, f"{action.value} is not allowed to a {_role(caller)}")
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


def _role(caller: Principal) -> str:
    return "/".join(sorted(role.value for role in caller.roles))


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
