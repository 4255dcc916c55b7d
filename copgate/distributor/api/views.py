"""Reports: the gateways' intake (docs/reports.md), people's reports, and a person's own list.

``POST /api/v1/reports`` is the intake every gateway posts to. Its answers
are the contract's, one per outcome:

| outcome                                              | status |
|------------------------------------------------------|--------|
| stored                                               | 202    |
| a report with this key was taken before (nothing stored) | 409 |
| the body is not a JSON object, not UTF-8             | 400    |
| more than 4 KiB (refused before it is read)          | 413    |
| not ``application/json``                             | 415    |
| a field is wrong (name, key, kind, created, lengths) | 422    |
| a bearer token unknown / revoked                     | 401 / 403 |
| too many requests from this token or address         | 429    |

A report posted with a gateway's token is that gateway's; with a person's
token or session, that person's (they can follow it); with neither, it is
anonymous, counted per address. Keys are unique per gateway, and among the
reports sent without a gateway, so a report repeated after a power cut is
stored once.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest, JsonResponse
from django.utils import timezone

from copgate.distributor.api import present
from copgate.distributor.api.auth import ANONYMOUS, Principal
from copgate.distributor.api.http import ApiError, Body, endpoint, error
from copgate.distributor.api.intake import (
    MAX_BODY,
    IntakeRefusal,
    ReportIn,
    check_content_type,
    read_report,
)
from copgate.distributor.curation.models import Gateway, Report, ReportState
from copgate.distributor.curation.permissions import Action, visible_reports

MAX_PAGE = 100
"""Rows of one answer of a list (``?limit=``, at most this)."""


@endpoint("reports", {"POST": Action.REPORT, "GET": Action.OWN_REPORTS})
def reports(request: HttpRequest, caller: Principal) -> tuple[int, Body]:
    """POST: the intake. GET: the caller's own reports, newest first."""
    if request.method == "GET":
        return 200, _own_reports(request, caller)
    try:
        check_content_type(request.headers.get("Content-Type"))
        if _content_length(request) > MAX_BODY:
            raise IntakeRefusal(413, f"a report is at most {MAX_BODY} bytes")
        report = read_report(request.read(MAX_BODY + 1), request.headers.get("Idempotency-Key"))
    except IntakeRefusal as exc:
        raise ApiError(exc.status, str(exc), exc.field) from None
    row = _store(report, caller)
    if row is None:
        raise ApiError(409, "a report with this key was taken before", "key")
    return 202, {"id": row.pk, "state": row.state}


@endpoint("report", {"GET": Action.OWN_REPORTS})
def report(request: HttpRequest, caller: Principal, pk: int) -> tuple[int, Body]:
    """A report the caller may see (their own; any, for reviewers); else 404, as if none."""
    row = visible_reports(caller.user).filter(pk=pk).first()
    if row is None:
        raise ApiError(404, f"no report {pk} of yours")
    return 200, present.report(row)


def not_found(request: HttpRequest) -> JsonResponse:
    """Any other path under ``/api/``: 404 in JSON, naming the document that lists the API."""
    return error(404, f"no such endpoint: {request.path}; see /api/openapi.json")


def _store(report: ReportIn, caller: Principal) -> Report | None:
    """The stored report, or None if its key was taken before (nothing is stored then)."""
    gateway: Gateway | None = caller.gateway
    if Report.objects.filter(gateway=gateway, key=report.key).exists():
        return None
    try:
        with transaction.atomic():
            row = Report.objects.create(
                kind=str(report.kind),
                name=report.name,
                category=report.category,
                comment=report.comment,
                group=report.group,
                list=report.list_name,
                reason=report.reason,
                created=report.created,
                key=report.key,
                gateway=gateway,
                user=caller.user,
                anonymous=caller.roles == ANONYMOUS,
                state=ReportState.OPEN,
            )
    except IntegrityError:  # the same key, posted twice at once: the other one stored it
        return None
    if gateway is not None:
        Gateway.objects.filter(pk=gateway.pk).update(last_seen=timezone.now())
    return row


def _own_reports(request: HttpRequest, caller: Principal) -> Body:
    rows = Report.objects.filter(user=caller.user).order_by("-received", "-pk")
    state = request.GET.get("state")
    if state is not None:
        if state not in ReportState.values:
            raise ApiError(400, f"state must be one of {', '.join(ReportState.values)}", "state")
        rows = rows.filter(state=state)
    limit, offset = page(request)
    return {
        "count": rows.count(),
        "reports": [present.report(r) for r in rows[offset : offset + limit]],
    }


def page(request: HttpRequest) -> tuple[int, int]:
    """(limit, offset) of ``?limit=&offset=``; 400 when they are not small whole numbers."""
    return _number(request, "limit", MAX_PAGE, 1, MAX_PAGE), _number(request, "offset", 0, 0, None)


def _number(request: HttpRequest, field: str, default: int, low: int, high: int | None) -> int:
    text = request.GET.get(field)
    if text is None:
        return default
    if not text.isdigit() or len(text) > 9:
        raise ApiError(400, f"{field} must be a whole number", field)
    value = int(text)
    if value < low or (high is not None and value > high):
        raise ApiError(400, f"{field} must be between {low} and {high or 'any'}", field)
    return value


def _content_length(request: HttpRequest) -> int:
    value: Any = request.META.get("CONTENT_LENGTH") or 0
    try:
        return int(value)
    except ValueError:
        return 0
