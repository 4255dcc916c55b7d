"""What a release holds: upstream sources, plus curated entries, minus removals.

Pure over its inputs (rows and files already fetched): it reads each
source's file with ``copgate.lists`` (the readers of ``copgate compile``),
maps upstream categories into the catalogue's, drops removed names, adds
the active curated entries and returns the entry table, the catalogue and
the provenance document. It writes nothing; ``publishing`` does.

Provenance, per entry where an entry is a decision (every curated entry
and every removal names its proposal, expert and approver) and per source
for the upstream bulk (a million UT1 names would not say more one by one):

    {"format": 1, "release": N,
     "sources": [{"name", "url", "format", "sha256", "fetched", "categories"}],
     "entries": [{"name", "list", "kind", "category", "proposal", "action",
                  "expert", "approver", "approved"}],
     "removed": [{"name", "list", "kind", "proposal", "expert", "approver", "approved"}]}

A gateway that finds a name's match in ``entries`` names the proposal;
otherwise the categories of the match came from the sources listing them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from copgate.distributor.curation.models import (
    WALLED_GARDEN,
    Category,
    Entry,
    EntryKind,
    Proposal,
    ProposalAction,
    ProposalState,
    Source,
    SourceFormat,
)
from copgate.errors import ListSourceError
from copgate.lists.compile import EntryTable
from copgate.lists.model import Category as ListCategory
from copgate.lists.model import DefaultUse
from copgate.lists.sources import SourceFormat as ListFormat
from copgate.lists.sources import read_source_file
from copgate.lists.ut1 import read_ut1, ut1_entries

PROVENANCE_ARTEFACT = "provenance.json"
PROVENANCE_FORMAT = 1
ALL_CATEGORIES = "*"
"""The mapping key of a plain list: every name of the file goes to that category."""
LIST_DEFAULT_CATEGORY = {WALLED_GARDEN: "starter_whitelist"}
"""An uncategorised white entry of a list opens under this category: every walled
garden opens ``starter_whitelist`` (copgate.policy.rules)."""
UNCATEGORISED = {EntryKind.BLOCK: "curated", EntryKind.ALLOW: "starter_whitelist"}
"""The category of a curated entry that names none and whose list has no default."""
_PLAIN_FORMATS: dict[SourceFormat, ListFormat | None] = {
    SourceFormat.PLAIN: None,  # detected from the first lines, as 'copgate compile' does
    SourceFormat.HOSTS: ListFormat.HOSTS,
    SourceFormat.ADBLOCK: ListFormat.ADBLOCK,
}


@dataclass
class Assembled:
    """The inputs of ``build_cache`` and the provenance of the release."""

    table: EntryTable = field(default_factory=EntryTable)
    catalogue: dict[str, ListCategory] = field(default_factory=dict)
    sources: list[dict[str, Any]] = field(default_factory=list)
    entries: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def proposals(self) -> set[int]:
        """The proposals this release carries out."""
        return {e["proposal"] for e in [*self.entries, *self.removed] if e["proposal"]}

    def provenance(self, release: int) -> bytes:
        """``provenance.json`` for release ``release`` (sorted, stable bytes)."""
        document = {
            "format": PROVENANCE_FORMAT,
            "release": release,
            "sources": self.sources,
            "entries": sorted(self.entries, key=lambda e: (e["name"], e["list"], e["kind"])),
            "removed": sorted(self.removed, key=lambda e: (e["name"], e["list"], e["kind"])),
        }
        return (json.dumps(document, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def catalogue_of(categories: Iterable[Category]) -> dict[str, ListCategory]:
    """The cache's catalogue from the category rows (titles and descriptions by language)."""
    return {
        row.slug: ListCategory(
            row.slug,
            DefaultUse.WHITE if row.default_use == EntryKind.ALLOW else DefaultUse.BLACK,
            titles=dict(row.names or {}),
            descriptions=dict(row.descriptions or {}),
        )
        for row in categories
    }


def assemble(
    sources: Iterable[tuple[Source, Path]],
    categories: Iterable[Category],
    entries: Iterable[Entry],
    removals: Iterable[Proposal],
) -> Assembled:
    """Sources (each with its fetched or uploaded file), minus removals, plus entries."""
    out = Assembled(catalogue=catalogue_of(categories))
    for source, path in sources:
        out.sources.append(_add_source(out, source, path))
    for proposal in removals:
        table = out.table.white if proposal.kind == EntryKind.ALLOW else out.table.black
        table.pop(proposal.name, None)
        out.removed.append({**_decision(proposal), "name": proposal.name})
    for entry in entries:
        category = _entry_category(entry)
        out.table.add_names([entry.name], frozenset({category}), entry.kind == EntryKind.ALLOW)
        use = DefaultUse.WHITE if entry.kind == EntryKind.ALLOW else DefaultUse.BLACK
        out.catalogue.setdefault(category, ListCategory(category, use))
        record: dict[str, Any] = {"name": entry.name, "category": category}
        if entry.proposal is not None:
            record.update(_decision(entry.proposal))
        else:
            record.update({"list": entry.list, "kind": entry.kind, "proposal": None})
        out.entries.append(record)
    return out


def _entry_category(entry: Entry) -> str:
    if entry.category is not None:
        return entry.category.slug
    return LIST_DEFAULT_CATEGORY.get(entry.list) or UNCATEGORISED[EntryKind(entry.kind)]


def _decision(proposal: Proposal) -> dict[str, Any]:
    approved = proposal.decided_at.isoformat() if proposal.decided_at else None
    return {
        "list": proposal.list,
        "kind": proposal.kind,
        "proposal": proposal.pk,
        "action": proposal.action,
        "expert": proposal.author.get_username(),
        "approver": proposal.decided_by.get_username() if proposal.decided_by else None,
        "approved": approved,
    }


def _add_source(out: Assembled, source: Source, path: Path) -> dict[str, Any]:
    mapping: Mapping[str, str] = source.category_mapping or {}
    if source.format == SourceFormat.UT1:
        used = _add_ut1(out, path, mapping)
    else:
        used = _add_plain(out, source, path, mapping)
    return {
        "name": source.name,
        "url": source.url or None,
        "format": source.format,
        "sha256": _sha256(path),
        "fetched": source.last_fetched.isoformat() if source.last_fetched else None,
        "categories": sorted(used),
    }


def _add_ut1(out: Assembled, path: Path, mapping: Mapping[str, str]) -> set[str]:
    """A UT1 tree: only the mapped categories (every category when the mapping is empty)."""
    ut1 = read_ut1(path, list(mapping) if mapping else None)
    resolved = {ut1.aliases.get(k, k): v for k, v in mapping.items()}
    used: set[str] = set()
    for entry in ut1_entries(ut1):
        mapped = (
            frozenset(resolved[c] for c in entry.categories if c in resolved)
            if resolved
            else entry.categories
        )
        if mapped:
            out.table.add_names([entry.name], mapped, entry.white)
            used |= mapped
    for upstream, record in ut1.catalogue.items():
        ours = resolved.get(upstream, upstream if not resolved else None)
        if ours is not None and ours in used:
            out.catalogue.setdefault(ours, ListCategory(ours, record.default_use))
    return used


def _add_plain(out: Assembled, source: Source, path: Path, mapping: Mapping[str, str]) -> set[str]:
    category = mapping.get(ALL_CATEGORIES)
    if not category:
        raise ListSourceError(
            f"source {source.name!r}: a plain list needs its category: mapping "
            f'{{"{ALL_CATEGORIES}": "CATEGORY"}}'
        )
    names, _report = read_source_file(path, _PLAIN_FORMATS[SourceFormat(source.format)])
    out.table.add_names(names, frozenset({category}), source.white)
    use = DefaultUse.WHITE if source.white else DefaultUse.BLACK
    out.catalogue.setdefault(category, ListCategory(category, use))
    return {category}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    if path.is_dir():  # an extracted UT1 tree: no single file to hash
        return ""
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def approved_removals() -> list[Proposal]:
    """Approved removals and recategorisations: their names leave the sources' table."""
    return list(
        Proposal.objects.filter(
            state=ProposalState.APPROVED,
            action__in=[ProposalAction.REMOVE, ProposalAction.RECATEGORISE],
        )
        .select_related("author", "decided_by")
        .order_by("decided_at", "pk")
    )


def active_entries() -> list[Entry]:
    """The active curated entries, with their proposals' people."""
    return list(
        Entry.objects.filter(active=True).select_related(
            "category", "proposal__author", "proposal__decided_by"
        )
    )
