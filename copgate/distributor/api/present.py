"""Rows as the API's JSON: one function per object, the shapes ``openapi.json`` names.

Names, comments and notes go out as the data they are: JSON needs no HTML
escaping, and whatever renders them (a page, a script) escapes for itself.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from copgate.distributor.curation.models import Proposal, Release, Report

Body = dict[str, Any]


def when(moment: datetime | None) -> str | None:
    """RFC 3339 UTC with ``Z``, seconds only, as docs/reports.md writes times."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def report(row: Report) -> Body:
    """A report as its reporter (or an expert) sees it."""
    origin = "gateway" if row.gateway_id else ("anonymous" if row.anonymous else "user")
    return {
        "id": row.pk,
        "kind": row.kind,
        "name": row.name,
        "category": row.category,
        "comment": row.comment,
        "group": row.group,
        "list": row.list,
        "reason": row.reason,
        "created": when(row.created),
        "received": when(row.received),
        "state": row.state,
        "origin": origin,
    }


def proposal(row: Proposal) -> Body:
    """A proposal with its decision, if made."""
    return {
        "id": row.pk,
        "action": row.action,
        "name": row.name,
        "category": row.category.slug if row.category else None,
        "kind": row.kind,
        "list": row.list,
        "note": row.note,
        "evidence": row.evidence,
        "author": row.author.get_username(),
        "created": when(row.created),
        "state": row.state,
        "decided_by": row.decided_by.get_username() if row.decided_by else None,
        "decided_at": when(row.decided_at),
        "decision_note": row.decision_note,
        "reports": sorted(r.pk for r in row.reports.all()),
        "release": row.release.number if row.release else None,
    }


def release(row: Release) -> Body:
    """A release the service built."""
    return {
        "number": row.number,
        "created": when(row.created),
        "signed": row.signed,
        "published": row.published,
        "published_by": row.published_by.get_username() if row.published_by else None,
        "names": row.names,
        "size": row.size,
    }
