"""Compiling the list files a manifest names (``lists/manifest.toml``) into one cache.

The default lists ship as plain-domain files with a manifest that gives each
file's category, colour (white entries open walled gardens and are stored
exactly), source and licence, and a UT1-style ``global_usage`` catalogue.
This turns them into the bytes of one cache; writing the file is the
caller's (``copgate.lists.install``). It reads only the files the manifest
names, relative to the manifest's directory.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from copgate.errors import ListSourceError
from copgate.lists.compile import CompileReport, EntryTable, build_cache
from copgate.lists.model import Category
from copgate.lists.report import ImportReport
from copgate.lists.sources import SourceFormat, read_source_file
from copgate.lists.ut1 import read_global_usage


@dataclass(frozen=True, slots=True)
class ManifestList:
    """One file of a manifest."""

    path: Path
    category: str
    white: bool


def read_manifest(path: Path) -> tuple[list[ManifestList], Path | None]:
    """The files a manifest names, and its catalogue file if it names one."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ListSourceError(f"{path}: not a readable list manifest: {exc}") from exc
    base = path.parent
    lists = []
    for index, item in enumerate(data.get("list", []), start=1):
        try:
            lists.append(
                ManifestList(base / str(item["path"]), str(item["category"]), bool(item["white"]))
            )
        except (KeyError, TypeError) as exc:
            raise ListSourceError(f"{path}: list {index} lacks path, category or white") from exc
    catalogue = data.get("catalogue")
    return lists, (base / str(catalogue)) if catalogue else None


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
    path: Path, table: EntryTable, catalogue: dict[str, Category]
) -> list[ImportReport]:
    """Add every list of the manifest at ``path`` to ``table``, its catalogue to ``catalogue``.

    For ``copgate compile``, where the default lists may go into one cache
    with an operator's own sources.
    """
    lists, catalogue_path = read_manifest(path)
    if catalogue_path is not None:
        try:
            text = catalogue_path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ListSourceError(f"{catalogue_path}: {exc.strerror}") from exc
        catalogue.update(read_global_usage(text, str(catalogue_path)))
    reports = []
    for item in lists:
        names, report = read_source_file(item.path, SourceFormat.DOMAINS)
        table.add_names(names, frozenset({item.category}), white=item.white)
        reports.append(report)
    return reports
