"""What an expert sees about a name: who reported it, and what already lists it or its parents.

The review queue groups the open reports by name. For each name it counts
the reports, the gateways and people behind them, the kinds (mistake or
site) and the categories reporters named; and it says which entries carry
the name or a parent of it: the service's own entries (proposal-made, with
their provenance) and the last published release's compiled lists, which
hold the upstream sources. A proposal stores this as its evidence, so the
administrator who decides sees what the expert saw.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import Count, Max, Min, Q

from copgate.distributor.api.present import when
from copgate.distributor.curation.models import Entry, Release, Report, ReportState
from copgate.errors import CacheError
from copgate.lists.cache import ListCache

Body = dict[str, Any]
MAX_QUEUE = 100
"""Names in one answer of the queue: most reported first."""


def parents(name: str) -> list[str]:
    """``a.b.example`` -> ``[a.b.example, b.example, example]``: what can list a name."""
    labels = name.split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


def queue(limit: int, offset: int) -> Body:
    """Open reports grouped by name, most reported first, each with its evidence."""
    grouped = (
        Report.objects.filter(state=ReportState.OPEN)
        .values("name")
        .annotate(
            reports=Count("id"),
            gateways=Count("gateway", distinct=True),
            users=Count("user", distinct=True),
            anonymous=Count("id", filter=Q(anonymous=True)),
            first=Min("received"),
            last=Max("received"),
        )
        .order_by("-reports", "name")
    )
    total = grouped.count()
    published = _published()
    try:
        names = [_group(row, published) for row in grouped[offset : offset + min(limit, MAX_QUEUE)]]
    finally:
        if published is not None:
            published[1].close()
    return {"count": total, "names": names}


def for_name(name: str) -> Body:
    """The evidence about one name now (stored with a proposal)."""
    reports = Report.objects.filter(name=name, state=ReportState.OPEN)
    published = _published()
    try:
        return {
            "reports": reports.count(),
            "gateways": reports.exclude(gateway=None).values("gateway").distinct().count(),
            "users": reports.exclude(user=None).values("user").distinct().count(),
            "anonymous": reports.filter(anonymous=True).count(),
            **_details(name, published),
        }
    finally:
        if published is not None:
            published[1].close()


def _group(row: Mapping[str, Any], published: tuple[int, ListCache] | None) -> Body:
    return {
        "name": row["name"],
        "reports": row["reports"],
        "gateways": row["gateways"],
        "users": row["users"],
        "anonymous": row["anonymous"],
        "first": when(row["first"]),
        "last": when(row["last"]),
        **_details(row["name"], published),
    }


def _details(name: str, published: tuple[int, ListCache] | None) -> Body:
    open_reports = Report.objects.filter(name=name, state=ReportState.OPEN)
    kinds = Counter(open_reports.values_list("kind", flat=True))
    categories = Counter(c for c in open_reports.values_list("category", flat=True) if c)
    return {
        "kinds": {kind: kinds.get(kind, 0) for kind in ("mistake", "site")},
        "categories": dict(categories.most_common()),
        "report_ids": sorted(open_reports.values_list("pk", flat=True)),
        "entries": _entries(name),
        "published": _lookup(name, published),
    }


def _entries(name: str) -> list[Body]:
    rows = Entry.objects.filter(name__in=parents(name), active=True).select_related(
        "category", "source", "proposal"
    )
    return [
        {
            "name": e.name,
            "kind": e.kind,
            "list": e.list,
            "category": e.category.slug if e.category else None,
            "source": e.source.name if e.source else None,
            "proposal": e.proposal_id,
        }
        for e in rows.order_by("name", "list")
    ]


def _published() -> tuple[int, ListCache] | None:
    """The newest published release's number and compiled lists, if its cache is readable."""
    release = Release.objects.filter(published=True).order_by("-number").first()
    tree: Path | None = getattr(settings, "COPGATE_TREE_DIR", None)
    if release is None or tree is None:
        return None
    try:
        return release.number, ListCache.open(
            Path(tree) / "releases" / str(release.number) / "lists.cache"
        )
    except CacheError:
        return None


def _lookup(name: str, published: tuple[int, ListCache] | None) -> Body | None:
    if published is None:
        return None
    number, cache = published
    found = cache.lookup(name)
    return {
        "release": number,
        "listed": found.listed,
        "match": found.match,
        "white": found.white,
        "categories": sorted(found.categories),
    }
