"""Compiling the list files a manifest names (``lists/manifest.toml``) into one cache.

The default lists ship as plain-domain files with a manifest that gives each
file's category, colour (white entries open walled gardens and are stored
exactly), source and licence, and a UT1-style ``global_usage`` catalogue.
This turns them into the bytes of one cache; writing the file is the
caller's (``copgate.lists.install``). It reads only the files the manifest
names, relative to the manifest's directory (plain or gzip).

A manifest's ``[aliases]`` table (``porn = "adult"``, ``proxy =
"redirector"``) names categories by another name. Its own entries are read
through it, and ``add_manifest`` hands it on so that ``copgate compile``
applies it to the operator's sources too (``proxy=my-list.txt`` adds to
``redirector``, which the templates block, not to a new ``proxy`` category
that nothing blocks).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from copgate.errors import ListSourceError
from copgate.lists.compile import CompileReport, EntryTable, build_cache
from copgate.lists.model import Category
from copgate.lists.report import ImportReport
from copgate.lists.sources import SourceFormat, merge_aliases, read_source_file, resolve_category
from copgate.lists.ut1 import read_global_usage


@dataclass(frozen=True, slots=True)
class ManifestList:
    """One file of a manifest."""

    path: Path
    category: str
    white: bool


@dataclass(frozen=True, slots=True)
class Manifest:
    """What a manifest says: its files, its catalogue, its category aliases."""

    lists: tuple[ManifestList, ...]
    """Each file with its category, aliases already resolved."""
    catalogue: Path | None
    aliases: Mapping[str, str] = field(default_factory=dict)
    """Alias -> category (``porn`` -> ``adult``)."""


def read_manifest(path: Path) -> Manifest:
    """The files a manifest names, its catalogue file if it names one, and its aliases."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ListSourceError(f"{path}: not a readable list manifest: {exc}") from exc
    aliases = data.get("aliases", {})
    if not isinstance(aliases, dict) or not all(
        isinstance(target, str) for target in aliases.values()
    ):
        raise ListSourceError(f"{path}: [aliases] must map names to category names")
    base = path.parent
    lists = []
    for index, item in enumerate(data.get("list", []), start=1):
        try:
            category = resolve_category(str(item["category"]), aliases)
            lists.append(ManifestList(base / str(item["path"]), category, bool(item["white"])))
        except (KeyError, TypeError) as exc:
            raise ListSourceError(f"{path}: list {index} lacks path, category or white") from exc
    catalogue = data.get("catalogue")
    return Manifest(tuple(lists), (base / str(catalogue)) if catalogue else None, aliases)


def compile_manifest(
    path: Path, *, build_time: int, release: int = 0
) -> tuple[bytes, CompileReport, list[ImportReport]]:
    """The cache bytes for every list of the manifest at ``path``."""
    table = EntryTable()
    catalogue: dict[str, Category] = {}
    reports = add_manifest(path, table, catalogue)
    data, compiled = build_cache(table, catalogue, build_time=build_time, release=release)
    return data, compiled, reports


def add_manifest(
    path: Path,
    table: EntryTable,
    catalogue: dict[str, Category],
    aliases: dict[str, str] | None = None,
) -> list[ImportReport]:
    """Add every list of the manifest at ``path`` to ``table``, its catalogue to ``catalogue``.

    For ``copgate compile``, where the default lists may go into one cache
    with an operator's own sources. The manifest's aliases go into
    ``aliases`` (``ListSourceError`` if one already means another category).
    """
    manifest = read_manifest(path)
    if aliases is not None:
        merge_aliases(aliases, manifest.aliases, str(path))
    catalogue_path = manifest.catalogue
    if catalogue_path is not None:
        try:
            text = catalogue_path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ListSourceError(f"{catalogue_path}: {exc.strerror}") from exc
        catalogue.update(read_global_usage(text, str(catalogue_path)))
    reports = []
    for item in manifest.lists:
        names, report = read_source_file(item.path, SourceFormat.DOMAINS)
        table.add_names(names, frozenset({item.category}), white=item.white)
        reports.append(report)
    return reports
