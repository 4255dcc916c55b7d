"""Why a listed name is in a release: the proposal that put it there, or its upstream source.

A distributor's release may carry ``provenance.json`` beside its cache (the
curation service writes it: ``copgate.distributor.curation.assemble`` has the
format). It names, for every curated entry and every approved removal, the
proposal, its action, the expert who wrote it, the approver and the date,
and for the upstream bulk each source's URL, hash and categories:

    {"format": 1, "release": N,
     "sources": [{"name", "url", "format", "sha256", "fetched", "categories"}],
     "entries": [{"name", "list", "kind", "category", "proposal", "action",
                  "expert", "approver", "approved"}],
     "removed": [{"name", "list", "kind", "proposal", "action", "expert",
                  "approver", "approved"}]}

``read_provenance`` parses it strictly (a malformed file is named with what
is wrong and where); ``explain`` answers, for the listed suffix that decided
and its category, which curated entries or which sources put it there, and
which approved removals dropped the name or a parent from the upstream lists.

Only ``copgate check`` reads this file, on demand: the daemon never loads it
(a router's memory holds the cache, not its history). This module reads one
file at most and never fetches, writes or decides anything.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from copgate.errors import ProvenanceError

PROVENANCE = "provenance.json"
"""Its file name, in the release tree and in a gateway's release dir beside ``lists.cache``."""
FORMAT = 1
MAX_PROVENANCE_BYTES = 4 * 1024 * 1024
"""The largest provenance file read or downloaded: about 17,000 decisions at the
~240 bytes each the service writes (the upstream bulk is one line per source, not
per name). Reading that many costs ``copgate check`` about 20 MB at its peak
(BENCHMARKS.md, "Provenance"), what a 128 MB router can spare on demand."""
KINDS = frozenset({"block", "allow"})


@dataclass(frozen=True, slots=True)
class Decided:
    """A curated entry or an approved removal, and the proposal behind it."""

    name: str
    list: str
    kind: str
    """``block`` or ``allow`` (a white-list entry)."""
    proposal: int | None
    """None for an entry made without a proposal (an administrator's own)."""
    action: str | None
    """``add``, ``remove`` or ``recategorise``."""
    expert: str | None
    approver: str | None
    approved: str | None
    """When the approver decided (ISO 8601), as the service wrote it."""
    category: str | None = None
    """The entry's category; None for a removal."""

    def describe(self) -> str:
        """One line: ``proposal #12 (add, by erin, approved by ada on 2026-...)``."""
        if self.proposal is None:
            return f"entry without a proposal (list {self.list}, {self.kind})"
        approval = f"approved by {self.approver or '?'}"
        if self.approved:
            approval += f" on {self.approved}"
        people = f"{self.action or '?'}, by {self.expert or '?'}, {approval}"
        return f"proposal #{self.proposal} ({people}; list {self.list})"

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "list": self.list,
            "kind": self.kind,
            "category": self.category,
            "proposal": self.proposal,
            "action": self.action,
            "expert": self.expert,
            "approver": self.approver,
            "approved": self.approved,
        }


@dataclass(frozen=True, slots=True)
class Source:
    """An upstream list the release was built from."""

    name: str
    url: str | None
    format: str
    sha256: str
    fetched: str | None
    categories: frozenset[str]
    """The copgate categories its names went to (after the source's mapping)."""

    def describe(self) -> str:
        where = self.url or "uploaded"
        when = f", fetched {self.fetched}" if self.fetched else ""
        digest = f", sha256 {self.sha256[:16]}" if self.sha256 else ""
        return f"upstream source {self.name} ({self.format}, {where}{digest}{when})"

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "url": self.url,
            "format": self.format,
            "sha256": self.sha256,
            "fetched": self.fetched,
            "categories": sorted(self.categories),
        }


@dataclass(frozen=True, slots=True)
class Provenance:
    """A parsed provenance.json."""

    release: int
    sources: tuple[Source, ...]
    entries: Mapping[str, tuple[Decided, ...]]
    """Curated entries by name."""
    removed: Mapping[str, tuple[Decided, ...]]
    """Approved removals by name."""


@dataclass(frozen=True, slots=True)
class Why:
    """What the provenance says about one decision."""

    release: int
    match: str | None
    category: str | None
    entries: tuple[Decided, ...]
    """The curated entries of the matching suffix that decided (empty: upstream)."""
    sources: tuple[Source, ...]
    """The sources carrying the category, when no curated entry decided it."""
    removed: tuple[Decided, ...]
    """Approved removals of the name or a parent: why an upstream entry is gone."""

    def as_dict(self) -> dict[str, object]:
        return {
            "release": self.release,
            "entries": [e.as_dict() for e in self.entries],
            "sources": [s.as_dict() for s in self.sources],
            "removed": [r.as_dict() for r in self.removed],
        }


def read_provenance(data: bytes, where: str) -> Provenance:
    """Parse provenance.json bytes; ``where`` names the file in errors."""
    if len(data) > MAX_PROVENANCE_BYTES:
        raise ProvenanceError(f"{where}: {len(data)} bytes, more than {MAX_PROVENANCE_BYTES}")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProvenanceError(f"{where}: not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise ProvenanceError(f"{where}: not a JSON object")
    if type(doc.get("format")) is not int or doc["format"] != FORMAT:
        raise ProvenanceError(f"{where}: format {doc.get('format')!r}, this reader knows {FORMAT}")
    release = _field(doc, "release", int, where)
    sources = tuple(
        _source(item, f"{where}: sources[{index}]")
        for index, item in enumerate(_field(doc, "sources", list, where))
    )
    return Provenance(
        release=release,
        sources=sources,
        entries=_by_name(_field(doc, "entries", list, where), f"{where}: entries", True),
        removed=_by_name(_field(doc, "removed", list, where), f"{where}: removed", False),
    )


def read_provenance_file(path: Path) -> Provenance | None:
    """The provenance file at ``path``; None if there is none (a release may lack it)."""
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_PROVENANCE_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ProvenanceError(f"{path}: cannot be read: {exc.strerror}") from None
    return read_provenance(data, str(path))


def beside(cache: Path | str) -> Path:
    """Where a cache's provenance is: in the same release dir."""
    return Path(cache).parent / PROVENANCE


def explain(
    provenance: Provenance,
    name: str | None,
    match: str | None,
    category: str | None,
    kind: str | None,
) -> Why:
    """Why ``match`` (the listed suffix that decided for ``name``) carries ``category``.

    A curated entry of ``match`` of that kind (``block``/``allow``; None: any)
    and category decided it; failing one of that category, any curated entry of
    ``match`` is shown, with the sources whose categories include ``category``
    (they put it there). Removals are looked up for ``name`` and each of its
    parents, since a removal drops exactly its name from the upstream lists.
    """
    entries: tuple[Decided, ...] = ()
    sources: tuple[Source, ...] = ()
    if match is not None:
        of_kind = [e for e in provenance.entries.get(match, ()) if kind in (None, e.kind)]
        same = [e for e in of_kind if category is not None and e.category == category]
        entries = tuple(same or of_kind)
        if not same and category is not None:
            sources = tuple(s for s in provenance.sources if category in s.categories)
    removed = tuple(r for parent in _suffixes(name) for r in provenance.removed.get(parent, ()))
    return Why(provenance.release, match, category, entries, sources, removed)


def why_lines(why: Why) -> list[str]:
    """Lines for ``copgate check`` (indented under the decision)."""
    lines = [f"listed by {entry.describe()}" for entry in why.entries]
    lines.extend(f"from {source.describe()}" for source in why.sources)
    if not lines and why.match is not None and why.category is None:
        lines.append(f"{why.match}: no curated entry; listed by the upstream sources")
    elif not lines and why.match is not None:
        lines.append(f"{why.match}: no curated entry, and no source names {why.category}")
    for removal in why.removed:
        lines.append(f"{removal.name} removed from the upstream lists by {removal.describe()}")
    return [f"release {why.release}: {line}" for line in lines]


def _suffixes(name: str | None) -> list[str]:
    if not name:
        return []
    labels = name.rstrip(".").lower().split(".")
    return [".".join(labels[index:]) for index in range(len(labels))]


def _by_name(items: Sequence[Any], where: str, entry: bool) -> dict[str, tuple[Decided, ...]]:
    table: dict[str, list[Decided]] = {}
    for index, item in enumerate(items):
        decided = _decided(item, f"{where}[{index}]", entry)
        table.setdefault(decided.name, []).append(decided)
    return {name: tuple(rows) for name, rows in table.items()}


def _decided(item: Any, where: str, entry: bool) -> Decided:
    if not isinstance(item, dict):
        raise ProvenanceError(f"{where}: not an object")
    kind = _field(item, "kind", str, where)
    if kind not in KINDS:
        raise ProvenanceError(f"{where}: kind {kind!r}, expected one of {sorted(KINDS)}")
    return Decided(
        name=_field(item, "name", str, where).lower(),
        list=_field(item, "list", str, where),
        kind=kind,
        proposal=_optional(item, "proposal", int, where),
        action=_optional(item, "action", str, where),
        expert=_optional(item, "expert", str, where),
        approver=_optional(item, "approver", str, where),
        approved=_optional(item, "approved", str, where),
        category=_field(item, "category", str, where) if entry else None,
    )


def _source(item: Any, where: str) -> Source:
    if not isinstance(item, dict):
        raise ProvenanceError(f"{where}: not an object")
    categories = _field(item, "categories", list, where)
    if not all(isinstance(c, str) for c in categories):
        raise ProvenanceError(f"{where}: 'categories' must list strings")
    return Source(
        name=_field(item, "name", str, where),
        url=_optional(item, "url", str, where),
        format=_field(item, "format", str, where),
        sha256=_field(item, "sha256", str, where),
        fetched=_optional(item, "fetched", str, where),
        categories=frozenset(categories),
    )


def _field(doc: Mapping[str, Any], name: str, kind: type, where: str) -> Any:
    if name not in doc:
        raise ProvenanceError(f"{where}: missing field '{name}'")
    value = _optional(doc, name, kind, where)
    if value is None:
        raise ProvenanceError(f"{where}: field '{name}' must be a {kind.__name__}, not null")
    return value


def _optional(doc: Mapping[str, Any], name: str, kind: type, where: str) -> Any:
    """The field's value, None when absent or null; a value of another type is refused."""
    value = doc.get(name)
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        raise ProvenanceError(f"{where}: field '{name}' must be a {kind.__name__}")
    return value
