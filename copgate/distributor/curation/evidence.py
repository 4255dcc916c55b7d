"""The review queue and the evidence an expert sees for a name.

The queue groups open reports by name: how many reports, from how many
gateways and users, anonymous ones apart, of which kind. The evidence for
one name adds what already carries it or a parent: curated entries in the
database, proposals about it, and the last published cache, looked up with
``copgate.lists`` exactly as a gateway would (most specific listed suffix).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import Count, Max, Min, Q

from copgate.dist.tree import Tree
from copgate.distributor.curation.models import Entry, Proposal, Report, ReportKind, ReportState
from copgate.distributor.curation.names import parents
from copgate.errors import CopgateError
from copgate.lists.cache import ListCache
from copgate.lists.model import ListMatch
from copgate.wire.names import name_from_bytes

QUEUE_PAGE = 200
"""Names shown at once in the queue (most reported first)."""


def review_queue(limit: int = QUEUE_PAGE) -> list[dict[str, Any]]:
    """Open reports grouped by name, most reported first."""
    rows = (
        Report.objects.filter(state=ReportState.OPEN)
        .values("name")
        .annotate(
            reports=Count("id"),
            gateways=Count("gateway", distinct=True),
            users=Count("user", distinct=True),
            anonymous=Count("id", filter=Q(anonymous=True)),
            mistakes=Count("id", filter=Q(kind=ReportKind.MISTAKE)),
            sites=Count("id", filter=Q(kind=ReportKind.SITE)),
            first=Min("received"),
            last=Max("received"),
        )
        .order_by("-reports", "-last", "name")[:limit]
    )
    return [dict(row) for row in rows]


@dataclass(frozen=True, slots=True)
class Published:
    """What the last published release says about a name."""

    release: int
    match: ListMatch


@dataclass(frozen=True)
class Evidence:
    """Everything the review page shows for one name."""

    name: str
    reports: list[Report]
    gateways: int
    users: int
    anonymous: int
    reported_categories: list[str]
    reported_lists: list[str]
    entries: list[Entry]
    """Active curated entries for the name or a parent."""
    proposals: list[Proposal]
    published: Published | None

    def as_json(self) -> dict[str, Any]:
        """The part kept in a proposal's ``evidence``."""
        published = None
        if self.published is not None:
            match = self.published.match
            published = {
                "release": self.published.release,
                "listed": match.listed,
                "match": match.match,
                "categories": sorted(match.categories),
                "white": match.white,
            }
        return {
            "reports": len(self.reports),
            "gateways": self.gateways,
            "users": self.users,
            "anonymous": self.anonymous,
            "reported_categories": self.reported_categories,
            "reported_lists": self.reported_lists,
            "entries": [
                {
                    "name": e.name,
                    "list": e.list,
                    "kind": e.kind,
                    "category": e.category.slug if e.category else None,
                    "proposal": e.proposal_id,
                }
                for e in self.entries
            ],
            "published": published,
        }


def evidence_for(name: str) -> Evidence:
    """The evidence for ``name`` (the reports are its open ones)."""
    reports = list(
        Report.objects.filter(name=name, state=ReportState.OPEN).select_related("gateway")
    )
    suffixes = parents(name) if name_from_bytes(name.encode("utf-8", "replace")).valid else [name]
    entries = list(
        Entry.objects.filter(name__in=suffixes, active=True).select_related("category", "proposal")
    )
    return Evidence(
        name=name,
        reports=reports,
        gateways=len({r.gateway_id for r in reports if r.gateway_id}),
        users=len({r.user_id for r in reports if r.user_id}),
        anonymous=sum(r.anonymous for r in reports),
        reported_categories=sorted({r.category for r in reports if r.category}),
        reported_lists=sorted({r.list for r in reports if r.list}),
        entries=entries,
        proposals=list(Proposal.objects.filter(name=name).select_related("author", "category")),
        published=published_lookup(name),
    )


def published_cache(tree_dir: Path | None = None) -> tuple[int, Path] | None:
    """The published release number and its cache file, or None before the first."""
    tree = Tree(Path(tree_dir or settings.COPGATE_TREE_DIR))
    try:
        manifest = tree.published()
    except CopgateError:
        return None
    if manifest is None:
        return None
    path = tree.root / tree.cache_relpath(manifest.release)
    return (manifest.release, path) if path.is_file() else None


def published_lookup(name: str, tree_dir: Path | None = None) -> Published | None:
    """Look ``name`` up in the published cache as a gateway would."""
    found = published_cache(tree_dir)
    if found is None:
        return None
    release, path = found
    normalised = name_from_bytes(name.encode("utf-8", "replace"))
    if not normalised.valid:
        return None
    try:
        with ListCache.open(path) as cache:
            return Published(release, cache.lookup(normalised.text))
    except CopgateError:
        return None
