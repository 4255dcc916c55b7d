"""Read the UT1 blacklists: categories, their names, the catalogue, the aliases.

UT1 (Université Toulouse Capitole) ships ``blacklists.tar.gz``::

    blacklists/global_usage             the catalogue: per category NAME,
                                        DEFAULT_TYPE black|white, SOURCE,
                                        NAME xx / DESC xx per language
    blacklists/<category>/domains       one host name a line (some IPs)
    blacklists/<category>/urls          paths on hosts that are otherwise fine
    blacklists/<category>/expressions   regular expressions over URLs
    blacklists/<category>/usage         black|white and keywords
    blacklists/<alias> -> <category>    symlinks: porn -> adult, ads -> publicite

Only ``domains`` files become names. A ``urls`` line such as
``youtube.com/watch?v=x`` names one page on a host that is otherwise fine:
turning it into a host block would block the whole host, so ``urls`` and
``expressions`` files are never read, only counted in the archive's report.

The catalogue is ``global_usage``; a category that has a directory but no
record there (``liste_blanche``, ``special``, ``exceptions_liste_bu``) gets
the default use its ``usage`` file states, else black. Where a ``usage``
file disagrees with ``global_usage`` (a handful do), ``global_usage`` wins:
it is the catalogue the maintainers publish, and the disagreement is noted
in the archive's report. An alias is never a category of its own: its
names are its target's, counted once.

The tarball is read as a stream (``tarfile`` ``r|*``), never extracted to
disk; this module writes nothing.
"""

from __future__ import annotations

import re
import tarfile
import zlib
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from copgate.errors import ListSourceError
from copgate.lists.model import Category, DefaultUse, ListEntry
from copgate.lists.report import ImportReport
from copgate.lists.sources import SourceFormat, decode_text, read_source_lines, read_text

ROOT_DIR = "blacklists"
GLOBAL_USAGE = "global_usage"
DOMAINS_FILE = "domains"
USAGE_FILE = "usage"
NOT_NAME_FILES = {
    "urls": "urls file, never read as names",
    "expressions": "expressions file, never read as names",
}
MAX_ALIAS_HOPS = 8
"""An alias of an alias is followed this far; a longer chain is a loop."""

# Notes in the archive's report.
DANGLING_ALIAS = "alias to no category"
HARD_LINK = "hard-linked domains file, not followed"
USAGE_DISAGREES = "usage file disagrees with global_usage (global_usage kept)"

# "NAME:\tadult", "DEFAULT_TYPE: black", "NAME EN: Adult (X)", "DESC FR: ..."
_FIELD = re.compile(r"([A-Z_]+)(?:[ \t]+([A-Za-z]{2,3}))?[ \t]*:[ \t]*(.*)")


@dataclass(frozen=True, slots=True)
class Ut1Set:
    """What a UT1 tree holds, with aliases resolved."""

    catalogue: dict[str, Category]
    """Every category: global_usage's, and directories it does not list."""
    domains: dict[str, list[str]]
    """Category -> its normalised names, for the (wanted) categories with a domains file."""
    aliases: dict[str, str]
    """Alias -> the real category it links to (``porn`` -> ``adult``)."""
    reports: list[ImportReport]
    """The archive's report first (names taken summed over categories, files not
    read, aliases that lead nowhere), then one per domains file read, by category."""


@dataclass(slots=True)
class _Scan:
    """What one pass over a tree found."""

    where: str
    global_usage: str | None = None
    dirs: set[str] = field(default_factory=set)
    with_domains: set[str] = field(default_factory=set)
    links: dict[str, str] = field(default_factory=dict)
    usage: dict[str, DefaultUse] = field(default_factory=dict)
    domains: dict[str, list[str]] = field(default_factory=dict)
    reports: list[ImportReport] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)
    """(reason, example) for the archive's report, which is made after the scan."""


def read_ut1(path: Path, categories: Collection[str] | None = None) -> Ut1Set:
    """Read a UT1 tarball (``.tar.gz``, ``.tgz``) or extracted tree.

    ``path`` is the tarball, a directory holding ``blacklists/``, or the
    ``blacklists`` directory itself. ``categories`` (real names or aliases)
    limits which domains files are read; the catalogue is always whole.
    Raises ``ListSourceError`` when the tree cannot be read or a wanted
    category exists nowhere in it.
    """
    scanner = _scan_tree if path.is_dir() else _scan_tar
    wanted = None if categories is None else set(categories)
    scan = scanner(path, _wants(wanted))
    archive = ImportReport(scan.where)
    for reason, example in scan.notes:
        archive.skip(reason, example)
    aliases = _resolve_aliases(scan, archive)
    catalogue = _catalogue(scan, archive)
    if wanted is not None:
        _check_known(path, wanted, catalogue.keys() | aliases.keys() | scan.dirs)
        real = {aliases.get(name, name) for name in wanted}
        # An alias is known only once the stream is read: read its target now.
        missing = (real - scan.domains.keys()) & scan.with_domains
        if missing:
            again = scanner(path, missing.__contains__)
            scan.domains.update(again.domains)
            scan.reports.extend(again.reports)
    domains = dict(sorted(scan.domains.items()))
    archive.taken = sum(map(len, domains.values()))
    reports = sorted(scan.reports, key=lambda report: report.source)
    return Ut1Set(catalogue, domains, aliases, [archive, *reports])


def _wants(wanted: set[str] | None) -> Callable[[str], bool]:
    if wanted is None:
        return lambda _category: True
    return wanted.__contains__


def _check_known(path: Path, wanted: set[str], known: Collection[str]) -> None:
    unknown = sorted(wanted.difference(known))
    if unknown:
        raise ListSourceError(f"{path}: no UT1 category {', '.join(unknown)}")


def read_global_usage(text: str, source: str) -> dict[str, Category]:
    """Parse the ``global_usage`` catalogue: one record per ``NAME:`` line.

    A record's ``DEFAULT_TYPE`` is ``black`` or ``white`` (missing or other:
    black); ``NAME xx`` and ``DESC xx`` give the title and description in
    language ``xx`` (stored lower case). The first record of a name wins.
    Raises ``ListSourceError`` naming ``source`` when the text has lines
    other than comments but no record at all.
    """
    catalogue: dict[str, Category] = {}
    record: Category | None = None
    data_lines = 0
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        data_lines += 1
        match = _FIELD.fullmatch(line)
        if match is None:
            continue
        key, language, value = match[1], match[2], match[3].strip()
        if key == "NAME" and language is None:
            record = _new_record(catalogue, value)
        elif record is None or not value:
            continue
        elif key == "DEFAULT_TYPE":
            record = _with_use(catalogue, record, value)
        elif key in {"NAME", "DESC"} and language is not None:
            target = record.titles if key == "NAME" else record.descriptions
            target.setdefault(language.lower(), value)
    if data_lines and not catalogue:
        raise ListSourceError(f"{source}: no category record (NAME: ...) in the catalogue")
    return catalogue


def _new_record(catalogue: dict[str, Category], name: str) -> Category | None:
    if not name or name in catalogue:
        return None  # a nameless or repeated record: the first one stands
    record = Category(name, DefaultUse.BLACK)
    catalogue[name] = record
    return record


def _with_use(catalogue: dict[str, Category], record: Category, value: str) -> Category:
    use = _use_of(value.split(maxsplit=1)[0])
    if use is None or use is record.default_use:
        return record
    # Category is frozen; its title and description dicts carry over as they are.
    updated = Category(record.name, use, record.titles, record.descriptions)
    catalogue[record.name] = updated
    return updated


def _use_of(word: str) -> DefaultUse | None:
    try:
        return DefaultUse(word.lower())
    except ValueError:
        return None


def read_usage(text: str) -> DefaultUse | None:
    """The default use a category's ``usage`` file states: its first black or white word."""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#"):
            continue
        for word in line.split():
            use = _use_of(word)
            if use is not None:
                return use
    return None


def ut1_entries(ut1: Ut1Set) -> Iterator[ListEntry]:
    """One entry per distinct name, with every category that lists it.

    An entry is white when every one of its categories is white in the
    catalogue (``liste_blanche``, ``liste_bu``...): a name that some black
    category also lists stays black.
    """
    white = {
        name for name, category in ut1.catalogue.items() if category.default_use is DefaultUse.WHITE
    }
    categories_of: dict[str, frozenset[str]] = {}
    unions: dict[tuple[frozenset[str], str], frozenset[str]] = {}
    for category in sorted(ut1.domains):
        alone = frozenset((category,))
        for name in ut1.domains[category]:
            had = categories_of.get(name)
            if had is None:
                categories_of[name] = alone
                continue
            # Share one frozenset per distinct combination: 800,000 names
            # carry only a few hundred of them.
            union = unions.get((had, category))
            if union is None:
                union = unions[(had, category)] = had | alone
            categories_of[name] = union
    is_white: dict[frozenset[str], bool] = {}
    for name, names_categories in categories_of.items():
        flag = is_white.get(names_categories)
        if flag is None:
            flag = is_white[names_categories] = names_categories <= white
        yield ListEntry(name, names_categories, flag)


def _catalogue(scan: _Scan, archive: ImportReport) -> dict[str, Category]:
    source = f"{scan.where}:{GLOBAL_USAGE}"
    catalogue = read_global_usage(scan.global_usage, source) if scan.global_usage else {}
    for name, use in sorted(scan.usage.items()):
        known = catalogue.get(name)
        if known is not None and known.default_use is not use:
            archive.skip(
                USAGE_DISAGREES, f"{name}/{USAGE_FILE}: {use}, global_usage: {known.default_use}"
            )
    for name in sorted(scan.dirs - catalogue.keys()):
        catalogue[name] = Category(name, scan.usage.get(name, DefaultUse.BLACK))
    return catalogue


def _resolve_aliases(scan: _Scan, archive: ImportReport) -> dict[str, str]:
    aliases: dict[str, str] = {}
    for alias, link in sorted(scan.links.items()):
        target = link
        for _ in range(MAX_ALIAS_HOPS):
            if target not in scan.links:
                break
            target = scan.links[target]
        if target in scan.dirs:
            aliases[alias] = target
        else:
            archive.skip(DANGLING_ALIAS, f"{alias} -> {link}")
    scan.dirs.difference_update(aliases)
    return aliases


def _scan_tar(path: Path, want: Callable[[str], bool]) -> _Scan:
    scan = _Scan(str(path))
    try:
        with tarfile.open(path, "r|*") as tar:
            for member in tar:
                _scan_member(tar, member, want, scan)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise ListSourceError(f"{path}: cannot read the UT1 tarball: {exc}") from exc
    return scan


def _scan_member(
    tar: tarfile.TarFile, member: tarfile.TarInfo, want: Callable[[str], bool], scan: _Scan
) -> None:
    parts = _relative(member.name)
    if len(parts) == 1:
        if member.issym() or member.islnk():
            scan.links[parts[0]] = PurePosixPath(member.linkname).name
        elif member.isdir():
            scan.dirs.add(parts[0])
        elif parts[0] == GLOBAL_USAGE and member.isfile():
            scan.global_usage = _member_bytes(tar, member).decode("utf-8", "replace")
        return
    if len(parts) != 2:
        return
    category, leaf = parts
    scan.dirs.add(category)
    if leaf == DOMAINS_FILE:
        scan.with_domains.add(category)
        if member.islnk() or member.issym():
            _note(scan, HARD_LINK, member.name)
        elif member.isfile() and want(category):
            text = decode_text(_member_bytes(tar, member), member.name)
            _take_domains(scan, category, f"{scan.where}:{member.name}", text)
    elif leaf == USAGE_FILE and member.isfile():
        use = read_usage(_member_bytes(tar, member).decode("utf-8", "replace"))
        if use is not None:
            scan.usage[category] = use
    elif leaf in NOT_NAME_FILES:
        _note(scan, NOT_NAME_FILES[leaf], member.name)


def _member_bytes(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    handle = tar.extractfile(member)
    if handle is None:
        raise ListSourceError(f"{member.name}: not a regular file in the tarball")
    with handle:
        return handle.read()


def _relative(member_name: str) -> tuple[str, ...]:
    """A member's path below ``blacklists/`` (or the archive root when there is none)."""
    parts = tuple(part for part in PurePosixPath(member_name).parts if part not in {".", "/"})
    if ROOT_DIR in parts:
        return parts[parts.index(ROOT_DIR) + 1 :]
    return parts


def _scan_tree(path: Path, want: Callable[[str], bool]) -> _Scan:
    root = path / ROOT_DIR if (path / ROOT_DIR).is_dir() else path
    scan = _Scan(str(root))
    try:
        entries = sorted(root.iterdir())
        for entry in entries:
            _scan_entry(entry, want, scan)
    except OSError as exc:
        raise ListSourceError(f"{root}: cannot read the UT1 tree: {exc}") from exc
    if scan.global_usage is None and not scan.dirs and not scan.links:
        raise ListSourceError(f"{path}: not a UT1 tree (no global_usage, no category)")
    return scan


def _scan_entry(entry: Path, want: Callable[[str], bool], scan: _Scan) -> None:
    name = entry.name
    if entry.is_symlink():
        scan.links[name] = PurePosixPath(entry.readlink()).name
        return
    if entry.is_file():
        if name == GLOBAL_USAGE:
            scan.global_usage = entry.read_bytes().decode("utf-8", "replace")
        return
    if not entry.is_dir():
        return
    scan.dirs.add(name)
    usage = entry / USAGE_FILE
    if usage.is_file():
        use = read_usage(usage.read_bytes().decode("utf-8", "replace"))
        if use is not None:
            scan.usage[name] = use
    domains = entry / DOMAINS_FILE
    if domains.is_file():
        scan.with_domains.add(name)
        if want(name):
            _take_domains(scan, name, str(domains), read_text(domains))
    for leaf, reason in NOT_NAME_FILES.items():
        if (entry / leaf).exists():
            _note(scan, reason, f"{name}/{leaf}")


def _take_domains(scan: _Scan, category: str, source: str, text: str) -> None:
    report = ImportReport(source)
    scan.domains[category] = list(read_source_lines(text.split("\n"), SourceFormat.DOMAINS, report))
    scan.reports.append(report)


def _note(scan: _Scan, reason: str, example: str) -> None:
    scan.notes.append((reason, example))
