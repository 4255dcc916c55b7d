"""``copgate compile`` and ``copgate lookup``: build a list cache, ask it about names.

``compile`` reads list sources (plain domains, hosts, adblock, dnsmasq files,
plain or gzip, and UT1 tarballs or trees), prints each import report, and
installs one cache file atomically. A category given on the command line
(``CATEGORY=PATH``, ``--category``) goes through the aliases of every
manifest and UT1 tree among the sources, wherever they stand on the line:
``proxy=my-list.txt`` beside ``lists/manifest.toml`` adds to ``redirector``.
``lookup`` opens a cache and prints, for each name, whether it is listed,
which suffix matched, its categories and whether a white (exception) entry
decided. This module is the edge: it reads the clock (the build time) and
the command line; the work is in ``copgate.lists``.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from copgate.errors import ListSourceError
from copgate.lists.cache import ListCache
from copgate.lists.compile import EntryTable, build_cache, check_budget
from copgate.lists.install import install_cache
from copgate.lists.manifest import add_manifest
from copgate.lists.model import Category, DefaultUse, ListMatch
from copgate.lists.sources import (
    SourceFormat,
    merge_aliases,
    read_source_file,
    resolve_category,
)
from copgate.lists.ut1 import read_ut1, ut1_entries
from copgate.wire.names import name_from_bytes

UT1_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".tar.xz", ".tar.bz2")
"""A file with one of these endings is a UT1 archive; a directory is a UT1 tree."""
_CATEGORY = re.compile(r"[A-Za-z0-9_.-]+")
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([KMG]?)(?:i?B)?", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``compile`` and ``lookup`` subcommands."""
    compile_parser = subparsers.add_parser(
        "compile",
        help="compile list sources into one memory-mapped cache file",
        description=(
            "Read list sources and install one cache file atomically. A UT1 tarball "
            f"({', '.join(UT1_SUFFIXES)}) or directory gives its own categories "
            "(CATEGORY=PATH, or CAT1,CAT2=PATH, reads only those). Other files "
            "(domains, hosts, adblock, dnsmasq; plain or gzip) take --category, or "
            "a category of their own written CATEGORY=PATH. A list manifest "
            "(lists/manifest.toml, or /usr/share/copgate/lists/manifest.toml) "
            "gives the default lists it names, with their categories. A category "
            "alias of a manifest or UT1 tree among the sources (porn -> adult, "
            "proxy -> redirector) applies to every category given here."
        ),
    )
    add_source_arguments(compile_parser)
    compile_parser.add_argument("--output", "-o", required=True, type=Path, metavar="FILE")
    compile_parser.add_argument(
        "--release", type=int, default=0, help="release number to record (0: local build)"
    )
    compile_parser.set_defaults(func=run_compile)

    lookup_parser = subparsers.add_parser(
        "lookup",
        help="look names up in a compiled cache",
        description="Print, for each NAME, the most specific listed suffix and its categories.",
    )
    lookup_parser.add_argument("cache", type=Path, metavar="FILE")
    lookup_parser.add_argument("names", nargs="+", metavar="NAME")
    lookup_parser.add_argument("--json", action="store_true", help="one JSON object per line")
    lookup_parser.set_defaults(func=run_lookup)


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """The sources and their options, shared by ``compile`` and ``dist build``."""
    parser.add_argument("sources", nargs="+", metavar="SOURCE")
    parser.add_argument("--category", metavar="NAME", help="category of plain sources")
    parser.add_argument(
        "--white", action="store_true", help="plain sources are white (exception) entries"
    )
    parser.add_argument(
        "--format",
        choices=[fmt.value for fmt in SourceFormat],
        help="format of plain sources (default: detect)",
    )
    parser.add_argument(
        "--budget", type=parse_size, metavar="BYTES", help="refuse a cache larger than this (8M)"
    )


def parse_size(text: str) -> int:
    """Bytes from ``8000000``, ``512K``, ``7.5M``, ``1G`` (binary units: K is 1024)."""
    found = _SIZE.fullmatch(text.strip())
    if found is None:
        raise argparse.ArgumentTypeError(f"not a size in bytes: {text!r} (try 8000000 or 8M)")
    return int(float(found.group(1)) * _SIZE_UNITS[found.group(2).upper()])


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """One SOURCE argument: its path and the categories it was given, if any."""

    path: Path
    categories: tuple[str, ...] | None
    """From ``CATEGORY=PATH`` (or ``A,B=PATH``); None when written as a bare path."""

    @property
    def is_manifest(self) -> bool:
        return self.categories is None and self.path.suffix == ".toml"

    @property
    def is_ut1(self) -> bool:
        return self.path.is_dir() or self.path.name.endswith(UT1_SUFFIXES)


def parse_source(text: str) -> SourceSpec:
    """``PATH``, or ``CATEGORY=PATH`` when the part before ``=`` is a category list.

    A path that exists as written is a path, even with ``=`` in it.
    """
    head, sep, tail = text.partition("=")
    if sep and not Path(text).exists():
        names = tuple(head.split(","))
        if tail and all(_CATEGORY.fullmatch(name) for name in names):
            return SourceSpec(Path(tail), names)
    return SourceSpec(Path(text), None)


@dataclass(frozen=True, slots=True)
class PlainSource:
    """A plain source read, waiting for every alias to be known before it is added."""

    spec: SourceSpec
    categories: tuple[str, ...]
    """As given, before aliases."""
    names: list[str]


def run_compile(args: argparse.Namespace) -> int:
    """Read every source, build, check the budget, install, report."""
    started = time.perf_counter()
    table, catalogue = read_sources(args)
    data, report = build_cache(table, catalogue, build_time=int(time.time()), release=args.release)
    check_budget(report, args.budget, args.output)
    install_cache(data, args.output)
    elapsed = time.perf_counter() - started
    print(
        f"{args.output}: {report.names} names ({report.black_names} black, "
        f"{report.white_names} white, {report.categories} categories), {report.size} bytes, "
        f"{report.bytes_per_name:.2f} bytes/name, {elapsed:.2f} s"
    )
    return 0


def read_sources(args: argparse.Namespace) -> tuple[EntryTable, dict[str, Category]]:
    """The entries and catalogue of every SOURCE, each import report printed.

    The one reader of list sources: ``compile`` and ``dist build`` both use it,
    so the package's built-in lists and a distributed release are the same build.
    """
    table = EntryTable()
    catalogue: dict[str, Category] = {}
    aliases: dict[str, str] = {}
    plain: list[PlainSource] = []
    for spec in map(parse_source, args.sources):
        if spec.is_manifest:
            for imported in add_manifest(spec.path, table, catalogue, aliases):
                print(imported.summary())
        elif spec.is_ut1:
            _read_ut1(spec, table, catalogue, aliases)
        else:
            plain.append(_read_plain(spec, args))
    # A manifest later on the line still names the aliases of an earlier source.
    for source in plain:
        _add_plain(source, args.white, aliases, table, catalogue)
    return table, catalogue


def _read_ut1(
    spec: SourceSpec,
    table: EntryTable,
    catalogue: dict[str, Category],
    aliases: dict[str, str],
) -> None:
    ut1 = read_ut1(spec.path, spec.categories)
    for report in ut1.reports:
        print(report.summary())
    for entry in ut1_entries(ut1):
        table.add(entry)
    catalogue.update(ut1.catalogue)
    merge_aliases(aliases, ut1.aliases, str(spec.path))


def _read_plain(spec: SourceSpec, args: argparse.Namespace) -> PlainSource:
    categories = spec.categories or ((args.category,) if args.category else None)
    if categories is None:
        raise ListSourceError(
            f"{spec.path}: a plain list needs a category: --category NAME, or CATEGORY={spec.path}"
        )
    fmt = SourceFormat(args.format) if args.format else None
    names, report = read_source_file(spec.path, fmt)
    print(report.summary())
    return PlainSource(spec, categories, names)


def _add_plain(
    source: PlainSource,
    white: bool,
    aliases: dict[str, str],
    table: EntryTable,
    catalogue: dict[str, Category],
) -> None:
    categories = []
    for given in source.categories:
        category = resolve_category(given, aliases)
        if category != given:
            print(f"{source.spec.path}: category {given} is an alias of {category}")
        categories.append(category)
    use = DefaultUse.WHITE if white else DefaultUse.BLACK
    for category in categories:
        catalogue.setdefault(category, Category(category, use))
    table.add_names(source.names, frozenset(categories), white=white)


def run_lookup(args: argparse.Namespace) -> int:
    """Normalise each name as the gateway does, look it up, print the answer."""
    with ListCache.open(args.cache) as cache:
        for typed in args.names:
            # Arguments that are not UTF-8 arrive as surrogates: give back their bytes.
            name = name_from_bytes(typed.encode("utf-8", "surrogateescape"))
            match = cache.lookup(name.text)
            if args.json:
                print(json.dumps(lookup_record(name.text, match, name.valid, name.reason)))
            else:
                print(describe(name.text, match, name.reason))
    return 0


def lookup_record(name: str, match: ListMatch, valid: bool, reason: str | None) -> dict[str, Any]:
    """The JSON object ``lookup --json`` prints for one name."""
    record: dict[str, Any] = {
        "name": name,
        "listed": match.listed,
        "match": match.match,
        "categories": sorted(match.categories),
        "white": match.white,
        "list": match.list_name,
        "valid": valid,
    }
    if reason is not None:
        record["reason"] = reason
    return record


def describe(name: str, match: ListMatch, reason: str | None) -> str:
    """One line for a person: ``www.x.com: black (match x.com; categories adult)``."""
    note = f" [invalid name: {reason}]" if reason else ""
    if not match.listed:
        return f"{name}: not listed{note}"
    colour = "white" if match.white else "black"
    categories = ", ".join(sorted(match.categories)) or "none"
    return f"{name}: {colour} (match {match.match}; categories {categories}){note}"
