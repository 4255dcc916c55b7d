"""Automation for experts and administrators: the review queue, proposals, decisions, releases.

Who may do what (the ``endpoint`` declarations below name the
``curation.permissions.Action`` each takes; its ``GRANTS`` table decides):

| endpoint                               | expert | administrator |
|----------------------------------------|--------|---------------|
| GET  /api/v1/queue                     | yes    | yes           |
| GET  /api/v1/proposals, /proposals/ID  | yes    | yes           |
| POST /api/v1/proposals                 | yes    | yes           |
| POST /api/v1/proposals/ID/approve      | no     | yes, not their own |
| POST /api/v1/proposals/ID/reject       | no     | yes, not their own |
| GET  /api/v1/releases                  | yes    | yes           |
| POST /api/v1/releases (publish)        | no     | yes           |

Nobody decides their own proposal (four eyes, ``curation.permissions``),
whatever their role: an administrator who proposes needs another one. The
work itself is the curation app's (``decisions``, ``evidence``,
``publishing``), which the pages call too, with its audit log; this module
reads JSON, maps refusals to statuses and answers. Every change is
written to the audit log with the row before and after.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest
from django.utils import timezone

from copgate.distributor.api import present
from copgate.distributor.api.auth import Principal
from copgate.distributor.api.http import ApiError, Body, endpoint, read_json
from copgate.distributor.api.intake import MAX_FIELD
from copgate.distributor.api.views import page
from copgate.distributor.curation import decisions, publishing
from copgate.distributor.curation.evidence import evidence_for, review_queue
from copgate.distributor.curation.models import (
    DEFAULT_LIST,
    Category,
    EntryKind,
    Proposal,
    ProposalAction,
    ProposalState,
    Release,
    Report,
    ReportState,
)
from copgate.distributor.curation.names import read_entry_name
from copgate.distributor.curation.permissions import Action
from copgate.errors import CopgateError

MAX_NOTE = 2000
"""Characters of a proposal's or a decision's note (the model's limit)."""
MAX_REPORTS = 1000
"""Reports one proposal may name."""


@endpoint("queue", {"GET": Action.REVIEW})
def queue(request: HttpRequest, caller: Principal) -> tuple[int, Body]:
    """Open reports grouped by name, most reported first, each with its evidence."""
    limit, offset = page(request)
    rows = review_queue(offset + limit)[offset:]
    total = Report.objects.filter(state=ReportState.OPEN).values("name").distinct().count()
    return 200, {"count": total, "names": [_queued(row) for row in rows]}


def _queued(row: dict[str, Any]) -> Body:
    found = evidence_for(row["name"])
    return {
        **found.as_json(),
        "name": row["name"],
        "report_ids": sorted(report.pk for report in found.reports),
        "kinds": {"mistake": row["mistakes"], "site": row["sites"]},
        "first": present.when(row["first"]),
        "last": present.when(row["last"]),
    }


@endpoint("proposals", {"GET": Action.REVIEW, "POST": Action.PROPOSE})
def proposals(request: HttpRequest, caller: Principal) -> tuple[int, Body]:
    """GET: proposals, newest first (``?state=open``). POST: propose a change."""
    if request.method == "POST":
        return 201, present.proposal(_propose(read_json(request), caller))
    rows = Proposal.objects.select_related("category", "author", "decided_by", "release")
    state = request.GET.get("state")
    if state is not None:
        if state not in ProposalState.values:
            raise ApiError(400, f"state must be one of {', '.join(ProposalState.values)}", "state")
        rows = rows.filter(state=state)
    limit, offset = page(request)
    rows = rows.order_by("-created", "-pk")
    return 200, {
        "count": rows.count(),
        "proposals": [present.proposal(p) for p in rows[offset : offset + limit]],
    }


@endpoint("proposal", {"GET": Action.REVIEW})
def proposal(request: HttpRequest, caller: Principal, pk: int) -> tuple[int, Body]:
    return 200, present.proposal(_proposal(pk))


@endpoint("approve", {"POST": Action.DECIDE})
def approve(request: HttpRequest, caller: Principal, pk: int) -> tuple[int, Body]:
    """Approve an open proposal: its entry goes into the next release."""
    return 200, present.proposal(_decide(pk, caller, read_json(request), decisions.approve))


@endpoint("reject", {"POST": Action.DECIDE})
def reject(request: HttpRequest, caller: Principal, pk: int) -> tuple[int, Body]:
    """Reject an open proposal; its reports are closed."""
    return 200, present.proposal(_decide(pk, caller, read_json(request), decisions.reject))


@endpoint("releases", {"GET": Action.REVIEW, "POST": Action.PUBLISH})
def releases(request: HttpRequest, caller: Principal) -> tuple[int, Body]:
    """GET: releases, newest first. POST: build a release now (published if signed here)."""
    if request.method == "POST":
        read_json(request)
        try:
            built = publishing.build_and_publish(caller.user, timezone.now())
        except CopgateError as exc:
            raise ApiError(409, f"cannot build a release: {exc}") from None
        return 201, present.release(built.release)
    limit, offset = page(request)
    rows = Release.objects.select_related("published_by").order_by("-number")
    return 200, {
        "count": rows.count(),
        "releases": [present.release(r) for r in rows[offset : offset + limit]],
    }


def _proposal(pk: int) -> Proposal:
    row = (
        Proposal.objects.select_related("category", "author", "decided_by", "release")
        .filter(pk=pk)
        .first()
    )
    if row is None:
        raise ApiError(404, f"no proposal {pk}")
    return row


def _propose(fields: Body, caller: Principal) -> Proposal:
    action = _choice(fields, "action", ProposalAction.values, None)
    kind = _choice(fields, "kind", EntryKind.values, EntryKind.BLOCK)
    try:
        name = read_entry_name(_string(fields, "name", 254, required=True))
    except ValidationError as exc:
        raise ApiError(422, " ".join(exc.messages), "name") from None
    try:
        row = decisions.propose(
            caller.user,
            action=action,
            name=name,
            category=_category(fields.get("category")),
            kind=kind,
            list_name=_string(fields, "list", MAX_FIELD) or DEFAULT_LIST,
            note=_string(fields, "note", MAX_NOTE),
            evidence=evidence_for(name).as_json(),
            reports=_reports(fields.get("reports"), name),
        )
    except ValidationError as exc:
        field = "category" if exc.code == "category" else None
        raise ApiError(422, " ".join(exc.messages), field) from None
    except PermissionDenied as exc:
        raise ApiError(403, str(exc)) from None
    return _proposal(row.pk)


Decide = Any
"""``decisions.approve`` or ``decisions.reject``: (who, proposal, note) -> Proposal."""


def _decide(pk: int, caller: Principal, fields: Body, decide: Decide) -> Proposal:
    note = _string(fields, "note", MAX_NOTE)
    row = _proposal(pk)
    if row.author_id == caller.user.pk:
        raise ApiError(403, "nobody decides their own proposal: another administrator must")
    if row.state != ProposalState.OPEN:
        raise ApiError(409, f"proposal {pk} is already {row.state}")
    try:
        decide(caller.user, row, note)
    except PermissionDenied as exc:  # decided by another administrator meanwhile
        raise ApiError(409, str(exc)) from None
    return _proposal(pk)


def _category(value: object) -> Category | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ApiError(422, "category must be a category's slug", "category")
    found = Category.objects.filter(slug=value).first()
    if found is None:
        raise ApiError(422, f"no category {value!r}", "category")
    return found


def _reports(value: object, name: str) -> list[Report]:
    """The reports a proposal answers: those named, else the open reports of its name."""
    if value is None:
        return list(Report.objects.filter(name=name, state=ReportState.OPEN))
    if (
        not isinstance(value, list)
        or len(value) > MAX_REPORTS
        or not all(type(v) is int for v in value)
    ):
        raise ApiError(422, f"reports must be a list of at most {MAX_REPORTS} ids", "reports")
    found = list(Report.objects.filter(pk__in=value))
    missing = set(value) - {r.pk for r in found}
    if missing:
        raise ApiError(422, f"no report {min(missing)}", "reports")
    return found


def _choice(fields: Body, field: str, allowed: list[str], default: str | None) -> str:
    value = fields.get(field, default)
    if value not in allowed:
        raise ApiError(422, f"{field} must be one of {', '.join(allowed)}", field)
    return str(value)


def _string(fields: Body, field: str, limit: int, *, required: bool = False) -> str:
    value = fields.get(field)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise ApiError(422, f"{field} must be a string", field)
    if len(value) > limit:
        raise ApiError(422, f"{field} is longer than {limit} characters", field)
    return value
