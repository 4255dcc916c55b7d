#!/usr/bin/env python3
"""Regenerate copgate's default category lists from the real samples in ../shared/data.

Reads the UT1 blacklists tarball and the other pinned samples (``EXTRAS``:
the Block List Project's drugs, phishing, scam and ransomware lists and the
porn_top1m adult list), keeps the categories that ``lists/selection.toml``
ships (it gives the reason for each, and for every other UT1 category the
reason it does not ship, and the Russian catalogue texts), normalises every
name as copgate does (``copgate.wire.names``), drops what is not a host name
(IP addresses, numeric top-level labels), drops names that a listed parent
of the same category already covers, drops the names ``[excluded]`` in
``selection.toml`` names (reviewed false positives, each with its reason),
and writes:

- ``lists/categories/<category>.txt`` (UT1) and
  ``lists/categories/<category>.<source>.txt`` (other sources; ``.txt.gz``
  for the largest, which ``copgate compile`` reads as it is): plain
  domains, sorted, under a header naming source, commit, date and licence
  and every reason a line was dropped, with a count and the first example;
- ``lists/categories/global_usage``: the catalogue of every category that
  ships, in UT1's own format, with UT1's English and French names and
  descriptions and Russian ones written for copgate;
- ``lists/manifest.toml``: every list file copgate compiles by default, with
  its category, black or white use, source and licence, and the category
  aliases of the UT1 tree.

The output is a function of the input bytes only: no clock, no network, no
randomness, sorted everywhere, gzip with no name and no time stamp, so a run
on the same samples gives the same bytes (tests/test_default_lists.py checks
it; ``--check`` compares a gzip'd file by its text, so another zlib build
does not count as a change). This script never downloads
anything and never writes outside ``--out``.

Run from the project root:  python3 tools/derive_default_lists.py
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import ipaddress
import json
import sys
import tarfile
import tomllib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    # tools/ sits beside the package, not in it: make ``copgate`` importable
    # when the script runs from a checkout without an installed package.
    sys.path.insert(0, str(REPO))

from copgate.lists.report import ImportReport  # noqa: E402  (needs the path above)
from copgate.lists.sources import SourceFormat, read_source_lines  # noqa: E402
from copgate.wire.names import name_from_bytes  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data"
DEFAULT_OUT = REPO / "lists"
DEFAULT_SELECTION = REPO / "lists" / "selection.toml"
GZIP_MAGIC = b"\x1f\x8b"  # RFC 1952 §2.3.1
UT1_ROOT = "blacklists"
"""The top directory inside the UT1 tarball."""


@dataclass(frozen=True, slots=True)
class Source:
    """One upstream list source, pinned to the exact sample it was derived from."""

    key: str
    """Short id, used in file names of non-UT1 lists (``drogue.blocklistproject.txt``)."""
    title: str
    url: str
    origin: str
    """Where the sample came from: repository and commit."""
    date: str
    """Date of that commit (the header's date: the output never reads the clock)."""
    licence: str
    licence_url: str
    path: str
    """The sample's path under the shared data directory."""
    sha256: str
    """The sample this script was written for; another one must be looked at first."""
    terms: str
    """The file in lists/ that gives the attribution and licence terms."""


UT1 = Source(
    key="ut1",
    title="UT1 blacklists, Université Toulouse Capitole",
    url="https://dsi.ut-capitole.fr/blacklists/",
    origin="olbat/ut1-blacklists mirror (https://github.com/olbat/ut1-blacklists) commit 804da92a",
    date="2026-08-17",
    licence="CC BY-SA 4.0",
    licence_url="https://creativecommons.org/licenses/by-sa/4.0/",
    path="lists/ut1/blacklists.tar.gz",
    sha256="7499195dfa7a805814c5fa637dfa85c12e3855e4990e1707a0b80aeb2fb2df3e",
    terms="lists/LICENSE-UT1.txt",
)

# The Block List Project's repository LICENSE is the Unlicense; each list's
# own header says MIT. Both are permissive; the repository licence is the
# one quoted, and lists/LICENSE-blocklistproject.txt carries its text.
_BLP_URL = "https://github.com/blocklistproject/Lists"
_BLP_TERMS = "lists/LICENSE-blocklistproject.txt"

BLOCKLISTPROJECT = Source(
    key="blocklistproject",
    title="The Block List Project, drugs list",
    url=_BLP_URL,
    origin="blocklistproject/Lists commit ee3bdbad, drugs list in domains format",
    date="2026-07-20",
    licence="Unlicense",
    licence_url="https://unlicense.org/",
    path="lists/blocklistproject/drugs.domains.txt",
    sha256="5d129e455d107da1cefb899bcd6601ec96ac31fd7bdc58175f235799fb0fa462",
    terms=_BLP_TERMS,
)

BLOCKLISTPROJECT_PHISHING = Source(
    key="blocklistproject",
    title="The Block List Project, phishing list",
    url=_BLP_URL,
    origin="blocklistproject/Lists commit ee3bdbad, alt-version/phishing-nl.txt (domains format)",
    date="2026-07-20",
    licence="Unlicense",
    licence_url="https://unlicense.org/",
    path="lists/blocklistproject/phishing.domains.txt.gz",
    sha256="9f456770d781412e6e5b8e71d630706e1e57e99cb01053341ab765ccc04ad5f7",
    terms=_BLP_TERMS,
)

BLOCKLISTPROJECT_SCAM = Source(
    key="blocklistproject-scam",
    title="The Block List Project, scam list",
    url=_BLP_URL,
    origin="blocklistproject/Lists commit ee3bdbad, scam list in hosts format",
    date="2026-07-20",
    licence="Unlicense",
    licence_url="https://unlicense.org/",
    path="lists/blocklistproject/scam.hosts.txt",
    sha256="0a8071ae6dfdb6b7f3e189efd01a0acc1ed55f85ec9d734c9ac0b2838f52e045",
    terms=_BLP_TERMS,
)

BLOCKLISTPROJECT_RANSOMWARE = Source(
    key="blocklistproject",
    title="The Block List Project, ransomware list",
    url=_BLP_URL,
    origin="blocklistproject/Lists commit ee3bdbad, ransomware list in hosts format",
    date="2026-07-20",
    licence="Unlicense",
    licence_url="https://unlicense.org/",
    path="lists/blocklistproject/ransomware.hosts.txt",
    sha256="a5f777e07f2636c17f2f4027d65e2ce30782b5500da33c26660300847ca79f1b",
    terms=_BLP_TERMS,
)

PORN_TOP1M = Source(
    key="porn_top1m",
    title="chadmayfield/my-pihole-blocklists, porn_top1m list",
    url="https://github.com/chadmayfield/my-pihole-blocklists",
    origin=(
        "chadmayfield/my-pihole-blocklists commit d6cd540b, "
        "lists/pi_blocklist_porn_top1m.list (adult domains of a public top-1M ranking)"
    ),
    # The sample gives no commit date: the header names the commit only.
    date="",
    licence="GPL-3.0",
    licence_url="https://www.gnu.org/licenses/gpl-3.0.html",
    path="lists/adult/porn_top1m.txt",
    sha256="b8f84cf9119be05364e81b4debe3084cf02d7e6ed3443397a448bc609562ec10",
    terms="lists/LICENSE-porn_top1m.txt",
)


@dataclass(frozen=True, slots=True)
class Extra:
    """A list from a source other than UT1, added to one shipped category."""

    category: str
    source: Source
    fmt: SourceFormat | None
    """How copgate's own reader reads it (its import report lists what it
    skipped); None for the drugs list, which keeps this script's older
    reader so that its file stays as it was."""
    compress: bool = False
    """Ship gzip'd (``.txt.gz``): ``copgate compile`` reads gzip as it is."""

    @property
    def stem(self) -> str:
        """``<category>.<source>``: its file's stem and its key in ``[excluded]``."""
        return f"{self.category}.{self.source.key}"


EXTRAS: tuple[Extra, ...] = (
    Extra("adult", PORN_TOP1M, SourceFormat.DOMAINS),
    Extra("drogue", BLOCKLISTPROJECT, None),
    # Ransomware C2 and distribution hosts: what UT1's malware means.
    Extra("malware", BLOCKLISTPROJECT_RANSOMWARE, SourceFormat.HOSTS),
    # About 190,000 names, 5 MB of text: 1.4 MB gzip'd in the package.
    Extra("phishing", BLOCKLISTPROJECT_PHISHING, SourceFormat.DOMAINS, compress=True),
    # Scams (fake shops, fake support, fraud) go to phishing: UT1's phishing
    # is "phishing, bank traps or others" (global_usage, FR), and the
    # catalogue has no fraud category of its own.
    Extra("phishing", BLOCKLISTPROJECT_SCAM, SourceFormat.HOSTS),
)
"""Every non-UT1 list, in the order a category's lists are deduplicated:
a later list of a category drops what an earlier one (UT1's first) covers."""


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    """One category of a ``global_usage`` catalogue."""

    name: str
    default_type: str
    """``black`` or ``white``."""
    source: str
    names: Mapping[str, str] = field(default_factory=dict)
    """Display name by upper-case language code (``EN``, ``FR``, ``RU``)."""
    descs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Curated:
    """A hand-curated list file in lists/ that copgate compiles by default."""

    path: str
    category: str
    white: bool
    what: str


@dataclass(frozen=True, slots=True)
class Selection:
    """The choices of ``lists/selection.toml``: what ships, why, and in Russian."""

    shipped: Mapping[str, str]
    """UT1 category -> why it ships."""
    left_out: Mapping[str, str]
    """UT1 category -> why it does not."""
    russian: Mapping[str, tuple[str, str]]
    """Shipped category -> (name, description) in Russian."""
    own: tuple[CatalogueEntry, ...]
    """copgate's own categories, catalogued beside UT1's."""
    curated: tuple[Curated, ...]
    excluded: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """List stem (``adult.porn_top1m``) -> name -> why the name is not what the
    category means (a reviewed false positive of the source)."""


def load_selection(path: Path) -> Selection:
    """Read ``lists/selection.toml``; ``DeriveError`` says what is wrong with it."""
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
        return Selection(
            shipped=_strings(data["shipped"]),
            left_out=_strings(data["left_out"]),
            russian={
                category: (str(texts["name"]), str(texts["description"]))
                for category, texts in data["russian"].items()
            },
            own=tuple(
                CatalogueEntry(
                    name,
                    str(own["default_type"]),
                    str(own["source"]),
                    _by_language(own["name"]),
                    _by_language(own["description"]),
                )
                for name, own in data["own"].items()
            ),
            curated=tuple(
                Curated(str(c["path"]), str(c["category"]), bool(c["white"]), str(c["what"]))
                for c in data["curated"]
            ),
            excluded={stem: _strings(names) for stem, names in data.get("excluded", {}).items()},
        )
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise DeriveError(f"{path}: not a valid selection: {exc!r}") from exc


def _strings(table: Mapping[str, object]) -> dict[str, str]:
    return {key: str(value) for key, value in table.items()}


def _by_language(table: Mapping[str, object]) -> dict[str, str]:
    return {language.upper(): str(text) for language, text in table.items()}


OWN_LICENCE = "GPL-2.0-or-later (the project's own)"


class DeriveError(Exception):
    """The samples are not the ones this script was written for, or are unreadable."""


@dataclass(slots=True)
class Derived:
    """The names one source gives one category, and what was dropped on the way."""

    category: str
    source: Source
    member: str
    """The file inside the sample the names came from (or "" when it has none)."""
    names: list[str]
    lines: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)
    """Reason -> the first dropped line (``line 12: 10.0.0.1``), where known."""
    compress: bool = False

    @property
    def stem(self) -> str:
        """``<category>`` for UT1, ``<category>.<source>`` for the others."""
        if self.source is UT1:
            return self.category
        return f"{self.category}.{self.source.key}"

    @property
    def file_name(self) -> str:
        """The stem with ``.txt``, or ``.txt.gz`` for a list shipped gzip'd."""
        return f"{self.stem}.txt.gz" if self.compress else f"{self.stem}.txt"

    def drop(self, reason: str, example: str | None = None) -> None:
        """Count one dropped line; keep the first example of each reason."""
        self.dropped[reason] += 1
        if example is not None:
            self.examples.setdefault(reason, example)


# --- reading -----------------------------------------------------------------


def check_sample(path: Path, source: Source) -> bytes:
    """The sample's bytes, refused when they are not the pinned sample."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DeriveError(f"{path}: cannot read the {source.title} sample: {exc}") from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != source.sha256:
        raise DeriveError(
            f"{path}: sha256 {digest} is not the sample this script pins ({source.sha256}); "
            "look at the new sample, then update the Source (commit, date, sha256) here "
            "and lists/selection.toml"
        )
    return data


def normalise(raw: bytes) -> tuple[str | None, str | None]:
    """(name, None) for a line naming a host, (None, reason) for a dropped line,
    (None, None) for a blank or comment line.

    The same rules as copgate.lists.sources for plain domains: leading dots and
    ``*.`` go (a name covers its subdomains anyway); IP addresses, all-numeric
    top-level labels, single labels and invalid names are dropped.
    """
    line = raw.strip()
    if not line or line.startswith(b"#"):
        return None, None
    while line.startswith(b"*."):
        line = line[2:]
    line = line.lstrip(b".")
    text = line.decode("utf-8", "replace")
    try:
        ipaddress.ip_address(text)
    except ValueError:
        pass
    else:
        return None, "IP addresses"
    name = name_from_bytes(line)
    if not name.valid:
        return None, f"invalid names ({name.reason})"
    if "." not in name.text:
        return None, "single labels"
    if name.text.rpartition(".")[2].isdigit():
        return None, "all-numeric top-level labels"
    return name.text, None


def read_names(data: bytes, derived: Derived) -> set[str]:
    """Every distinct name of a plain-domains file, counting dropped lines."""
    names: set[str] = set()
    for raw in data.splitlines():
        name, reason = normalise(raw)
        if name is None and reason is None:
            continue
        derived.lines += 1
        if reason is not None:
            derived.dropped[reason] += 1
        elif name in names:
            derived.dropped["duplicates"] += 1
        elif name is not None:
            names.add(name)
    return names


def read_with_copgate(data: bytes, fmt: SourceFormat, derived: Derived) -> set[str]:
    """Every distinct name copgate's own reader takes, its skips counted in ``derived``.

    The same reader and reasons as ``copgate compile``'s import report, with
    the first example of each reason and its line number.
    """
    text = data.decode("utf-8", "surrogateescape").replace("\r\n", "\n")
    report = ImportReport(derived.member)
    names = set(read_source_lines(text.split("\n"), fmt, report))
    derived.lines += report.taken + report.skipped_total
    for reason, (count, example) in sorted(report.skipped.items()):
        derived.dropped[reason] += count
        derived.examples.setdefault(reason, example)
    return names


def covered(name: str, listed: Set[str]) -> bool:
    """True when a strict parent of ``name`` is in ``listed``."""
    rest = name
    while "." in rest:
        rest = rest.partition(".")[2]
        if rest in listed:
            return True
    return False


EXCLUDED = "names selection.toml excludes (reviewed: not what the category means)"


def derive_list(
    category: str,
    source: Source,
    member: str,
    data: bytes,
    before: Set[str] = frozenset(),
    *,
    fmt: SourceFormat | None = None,
    excluded: Mapping[str, str] | None = None,
    compress: bool = False,
    before_what: str = "UT1's list",
) -> Derived:
    """The list one source gives a category, without names another list covers.

    ``before`` holds the names of the category's earlier lists (UT1's
    first): a later source keeps only what they do not already cover.
    ``fmt`` reads the data with copgate's own reader (None: this script's
    plain-domains reader). ``excluded`` names are dropped with the
    subdomains the source lists under them (``www.`` forms), and each one of
    them must be in the source: an exclusion the source no longer lists is
    stale.
    """
    derived = Derived(category, source, member, [], compress=compress)
    names = read_names(data, derived) if fmt is None else read_with_copgate(data, fmt, derived)
    excluded = excluded or {}
    stale = sorted(set(excluded) - names)
    if stale:
        raise DeriveError(
            f"{derived.stem}: selection.toml excludes names the source does not list: {stale}"
        )
    for name in sorted(names):
        if name in excluded or covered(name, excluded.keys()):
            derived.drop(EXCLUDED, name)
        elif name in before or covered(name, before):
            derived.drop(f"names {before_what} of the category already covers")
        elif covered(name, names):
            derived.drop("names a listed parent covers")
        else:
            derived.names.append(name)
    return derived


def parse_global_usage(text: str) -> dict[str, CatalogueEntry]:
    """UT1's ``global_usage``: ``NAME:`` starts an entry, ``KEY XX: value`` lines follow.

    The first value of a key wins, as in copgate.lists.ut1.read_global_usage
    (UT1's financial entry repeats ``NAME ES``).
    """
    fields: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for raw in text.splitlines():
        key, colon, value = raw.partition(":")
        if not colon or raw.startswith("#"):
            continue
        key, value = " ".join(key.split()), value.strip()
        if key == "NAME":
            current = fields.setdefault(value, {})
        elif current is not None and value:
            current.setdefault(key, value)
    return {name: _entry(name, values) for name, values in fields.items()}


def _entry(name: str, values: Mapping[str, str]) -> CatalogueEntry:
    def by_language(prefix: str) -> dict[str, str]:
        return {
            key[len(prefix) :].upper(): value
            for key, value in values.items()
            if key.startswith(prefix)
        }

    return CatalogueEntry(
        name,
        values.get("DEFAULT_TYPE", "black").lower(),
        values.get("SOURCE", ""),
        by_language("NAME "),
        by_language("DESC "),
    )


@dataclass(frozen=True, slots=True)
class Ut1Tree:
    """What the script needs from the UT1 tarball."""

    domains: Mapping[str, bytes]
    """Category -> its ``domains`` file (categories without one are absent)."""
    categories: frozenset[str]
    """Every category directory (not alias symlinks)."""
    aliases: Mapping[str, str]
    """Alias symlink -> the category it points to (``porn`` -> ``adult``)."""
    catalogue: Mapping[str, CatalogueEntry]


def read_ut1(data: bytes) -> Ut1Tree:
    """Read the tarball in memory: nothing is extracted to disk."""
    domains: dict[str, bytes] = {}
    categories: set[str] = set()
    aliases: dict[str, str] = {}
    catalogue_text = ""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar.getmembers():
            parts = member.name.split("/")
            if len(parts) == 2 and parts[0] == UT1_ROOT:
                if member.issym():
                    aliases[parts[1]] = member.linkname.rstrip("/")
                elif member.isdir():
                    categories.add(parts[1])
                elif parts[1] == "global_usage":
                    catalogue_text = _member_bytes(tar, member).decode("utf-8")
            elif len(parts) == 3 and parts[2] == "domains" and member.isfile():
                domains[parts[1]] = _member_bytes(tar, member)
    if not catalogue_text:
        raise DeriveError("the UT1 sample has no blacklists/global_usage")
    return Ut1Tree(domains, frozenset(categories), aliases, parse_global_usage(catalogue_text))


def _member_bytes(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    handle = tar.extractfile(member)
    if handle is None:
        raise DeriveError(f"cannot read {member.name} in the UT1 sample")
    with handle:
        return handle.read()


# --- deriving ----------------------------------------------------------------


def check_selection(tree: Ut1Tree, selection: Selection) -> None:
    """Every UT1 category is decided: shipped or left out, each with its reason."""
    shipped, left_out = selection.shipped.keys(), selection.left_out.keys()
    undecided = sorted(tree.categories - shipped - left_out)
    if undecided:
        raise DeriveError(f"UT1 categories neither shipped nor left out: {', '.join(undecided)}")
    both = sorted(shipped & left_out)
    if both:
        raise DeriveError(f"categories both shipped and left out: {both}")
    unknown = sorted((shipped | left_out) - tree.categories)
    if unknown:
        raise DeriveError(f"categories named here but absent from the UT1 sample: {unknown}")
    uncatalogued = sorted(shipped - tree.catalogue.keys())
    if uncatalogued:
        raise DeriveError(f"shipped categories missing from UT1's global_usage: {uncatalogued}")
    untranslated = sorted(shipped - selection.russian.keys())
    if untranslated:
        raise DeriveError(f"shipped categories without a Russian name: {untranslated}")


def derive(data_dir: Path, selection: Selection) -> tuple[list[Derived], Ut1Tree]:
    """Every derived list, in file-name order, and the UT1 tree they came from."""
    tree = read_ut1(check_sample(data_dir / UT1.path, UT1))
    check_selection(tree, selection)
    lists: dict[str, Derived] = {}
    for category in sorted(selection.shipped):
        member = f"{UT1_ROOT}/{category}/domains" if category in tree.domains else ""
        data = tree.domains.get(category, b"")
        excluded = selection.excluded.get(category)
        lists[category] = derive_list(category, UT1, member, data, excluded=excluded)
    extras = derive_extras(data_dir, selection, {c: frozenset(d.names) for c, d in lists.items()})
    return sorted([*lists.values(), *extras], key=lambda item: item.file_name), tree


def derive_extras(
    data_dir: Path, selection: Selection, ut1: Mapping[str, frozenset[str]]
) -> list[Derived]:
    """The lists of ``EXTRAS``, each without what a category's earlier lists cover."""
    unknown = sorted({extra.category for extra in EXTRAS} - selection.shipped.keys())
    if unknown:
        raise DeriveError(f"lists for categories that do not ship: {unknown}")
    stems = {extra.stem for extra in EXTRAS} | selection.shipped.keys()
    strays = sorted(selection.excluded.keys() - stems)
    if strays:
        raise DeriveError(f"selection.toml excludes names of lists that do not exist: {strays}")
    before = {category: set(names) for category, names in ut1.items()}
    seen: set[str] = set()
    derived = []
    for extra in EXTRAS:
        data = check_sample(data_dir / extra.source.path, extra.source)
        if data[:2] == GZIP_MAGIC:
            data = gzip.decompress(data)
        earlier = before.setdefault(extra.category, set())
        item = derive_list(
            extra.category,
            extra.source,
            Path(extra.source.path).name,
            data,
            frozenset(earlier),
            fmt=extra.fmt,
            excluded=selection.excluded.get(extra.stem),
            compress=extra.compress,
            before_what="an earlier list" if extra.category in seen else "UT1's list",
        )
        seen.add(extra.category)
        earlier.update(item.names)
        derived.append(item)
    return derived


# --- writing -----------------------------------------------------------------


def list_header(item: Derived, entry: CatalogueEntry) -> str:
    """The comment block above a derived list: what, from where, under which licence."""
    src = item.source
    title = entry.names.get("EN", item.category)
    lines = [
        f"copgate default list: category {item.category} ({title}), "
        f"default use {entry.default_type}",
        f"Source: {src.title}, {src.url}",
        f"  from {src.origin}, dated {src.date}" if src.date else f"  from {src.origin}",
    ]
    if item.member:
        lines.append(f"  file {item.member}, sha256 of the sample {src.sha256[:16]}...")
    else:
        lines += [
            "  The sample carries no domains file for this category (the largest upstream",
            "  files were left out of it): this list is empty until a release delivers it.",
        ]
    lines.append(f"Licence: {src.licence}, {src.licence_url}")
    if src is UT1:
        lines.append(f"  Attribution and share-alike terms: {src.terms}")
    else:
        lines.append(f"  Attribution and terms: {src.terms}")
    lines += [
        "Changes: a subset of the source (lists/README.md says which and why); names",
        "  normalised (lower case, punycode, no trailing dot); lines that are not host",
        "  names dropped; names covered by a listed parent of the same category dropped.",
        f"Source lines: {item.lines}; names here: {len(item.names)}",
    ]
    for reason, count in sorted(item.dropped.items()):
        example = item.examples.get(reason)
        lines.append(f"Dropped: {count} {reason}" + (f" (first: {example})" if example else ""))
    if item.dropped[EXCLUDED]:
        lines.append("  (each excluded name and why: lists/selection.toml, [excluded])")
    lines.append("Regenerate: python3 tools/derive_default_lists.py (do not edit by hand)")
    return "".join(f"# {line}\n" for line in lines)


def render_list(item: Derived, entry: CatalogueEntry) -> str:
    """A derived list file: header, a blank line, then one name per line."""
    return list_header(item, entry) + "\n" + "".join(f"{name}\n" for name in item.names)


def catalogue_entries(tree: Ut1Tree, selection: Selection) -> list[CatalogueEntry]:
    """Shipped UT1 categories (English and French from UT1, Russian ours) and our own."""
    entries = []
    for category in sorted(selection.shipped):
        ut1 = tree.catalogue[category]
        ru_name, ru_desc = selection.russian[category]
        names = {lang: ut1.names[lang] for lang in ("EN", "FR") if lang in ut1.names}
        descs = {lang: ut1.descs[lang] for lang in ("EN", "FR") if lang in ut1.descs}
        entries.append(
            CatalogueEntry(
                category,
                ut1.default_type,
                ut1.source,
                {**names, "RU": ru_name},
                {**descs, "RU": ru_desc},
            )
        )
    entries.extend(selection.own)
    return sorted(entries, key=lambda entry: entry.name)


def render_catalogue(entries: Iterable[CatalogueEntry]) -> str:
    """A ``global_usage`` file in UT1's layout."""
    out = [
        "#",
        "#\tcopgate: the catalogue of the categories shipped in lists/, in UT1's",
        "#\tglobal_usage format (NAME, DEFAULT_TYPE, SOURCE, DESC xx, NAME xx).",
        "#\tDerived from UT1's global_usage (Université Toulouse Capitole,",
        f"#\t{UT1.url}, CC BY-SA 4.0, see lists/LICENSE-UT1.txt):",
        "#\tEnglish and French names and descriptions as UT1 writes them; Russian",
        "#\tones written for copgate; infrastructure and starter_whitelist are",
        "#\tcopgate's own categories. This file is CC BY-SA 4.0 as well.",
        "#\tGenerated by tools/derive_default_lists.py: do not edit by hand.",
        "#",
    ]
    for entry in entries:
        out += ["", f"NAME:\t{entry.name}", f"DEFAULT_TYPE: {entry.default_type}"]
        out.append(f"SOURCE: {entry.source}")
        out += [f"DESC {lang}: {entry.descs[lang]}" for lang in ("EN", "FR", "RU")]
        out += [f"NAME {lang}: {entry.names[lang]}" for lang in ("EN", "FR", "RU")]
    return "\n".join(out) + "\n"


def _toml(value: str) -> str:
    # A JSON string is a valid TOML basic string for the characters used here.
    return json.dumps(value, ensure_ascii=False)


def render_manifest(
    lists: Sequence[Derived],
    catalogue: Iterable[CatalogueEntry],
    tree: Ut1Tree,
    selection: Selection,
) -> str:
    """``lists/manifest.toml``: every list copgate compiles by default, and the aliases."""
    out = [
        "# Every list file copgate compiles by default: its category, whether its entries",
        "# are white (exceptions, which open walled gardens) or black, its source and",
        "# licence. Paths are relative to lists/. Generated by",
        "# tools/derive_default_lists.py: do not edit by hand.",
        "",
        'catalogue = "categories/global_usage"',
    ]
    white = {entry.name for entry in catalogue if entry.default_type == "white"}
    for curated in selection.curated:
        out += [
            "",
            "[[list]]",
            f"path = {_toml(curated.path)}",
            f"category = {_toml(curated.category)}",
            f"white = {str(curated.white).lower()}",
            f"source = {_toml('copgate, hand-curated: ' + curated.what)}",
            f"licence = {_toml(OWN_LICENCE)}",
        ]
    for item in lists:
        out += [
            "",
            "[[list]]",
            f"path = {_toml('categories/' + item.file_name)}",
            f"category = {_toml(item.category)}",
            f"white = {str(item.category in white).lower()}",
            f"source = {_toml(item.source.title + ', ' + item.source.origin)}",
            f"licence = {_toml(item.source.licence)}",
            f"names = {len(item.names)}",
        ]
    out += ["", "# UT1's alias directories (symlinks) whose target ships: alias = category.", ""]
    out.append("[aliases]")
    for alias, target in sorted(tree.aliases.items()):
        if target in selection.shipped:
            out.append(f"{_toml(alias)} = {_toml(target)}")
    return "\n".join(out) + "\n"


def outputs(data_dir: Path, selection_file: Path = DEFAULT_SELECTION) -> dict[str, str]:
    """Every generated file: path relative to lists/ -> its text (before any gzip)."""
    return build(data_dir, selection_file)[0]


def build(
    data_dir: Path, selection_file: Path = DEFAULT_SELECTION
) -> tuple[dict[str, str], list[Derived]]:
    """Every generated file's text, and the derived lists with what each dropped."""
    selection = load_selection(selection_file)
    lists, tree = derive(data_dir, selection)
    entries = {entry.name: entry for entry in catalogue_entries(tree, selection)}
    files = {
        f"categories/{item.file_name}": render_list(item, entries[item.category]) for item in lists
    }
    files["categories/global_usage"] = render_catalogue(entries.values())
    files["manifest.toml"] = render_manifest(lists, entries.values(), tree, selection)
    return files, lists


def import_report(item: Derived) -> str:
    """What one list took and dropped, and why: the lines ``main`` prints."""
    lines = [f"categories/{item.file_name}: {len(item.names)} names from {item.lines} lines"]
    for reason, count in sorted(item.dropped.items(), key=lambda pair: (-pair[1], pair[0])):
        example = item.examples.get(reason)
        lines.append(f"  {reason}: {count}" + (f" (first: {example})" if example else ""))
    return "\n".join(lines)


def file_bytes(relative: str, text: str) -> bytes:
    """What goes on disk: the text, gzip'd with no name and no time stamp for ``.gz``."""
    data = text.encode("utf-8")
    if relative.endswith(".gz"):
        return gzip.compress(data, compresslevel=9, mtime=0)
    return data


def read_back(path: Path) -> str:
    """The text of a generated file on disk, gunzipped when it is ``.gz``."""
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    return data.decode("utf-8")


def _generated_lists(categories: Path) -> list[Path]:
    return sorted([*categories.glob("*.txt"), *categories.glob("*.txt.gz")])


def write(files: Mapping[str, str], out_dir: Path) -> None:
    """Write the files, and remove stale lists: categories/ is wholly generated."""
    categories = out_dir / "categories"
    categories.mkdir(parents=True, exist_ok=True)
    for stale in _generated_lists(categories):
        if f"categories/{stale.name}" not in files:
            stale.unlink()
    for relative, text in sorted(files.items()):
        (out_dir / relative).write_bytes(file_bytes(relative, text))


def differences(files: Mapping[str, str], out_dir: Path) -> list[str]:
    """Generated files that are missing, stale or different on disk."""
    found = []
    for relative, text in sorted(files.items()):
        path = out_dir / relative
        if not path.exists() or read_back(path) != text:
            found.append(relative)
    found += [
        f"categories/{path.name} (stale)"
        for path in _generated_lists(out_dir / "categories")
        if f"categories/{path.name}" not in files
    ]
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """Regenerate (or, with ``--check``, verify) the derived lists."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data dir")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the lists/ dir to write")
    parser.add_argument(
        "--selection", type=Path, default=DEFAULT_SELECTION, help="what ships and why"
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if lists/ is out of date"
    )
    args = parser.parse_args(argv)
    try:
        files, lists = build(args.data, args.selection)
    except DeriveError as exc:
        print(f"derive_default_lists: {exc}", file=sys.stderr)
        return 2
    if args.check:
        stale = differences(files, args.out)
        for relative in stale:
            print(f"out of date: {relative}", file=sys.stderr)
        return 1 if stale else 0
    write(files, args.out)
    for item in lists:
        if item.dropped or item.source is not UT1:
            print(import_report(item))
    total = sum(text.count("\n") for name, text in files.items() if ".txt" in name)
    print(f"wrote {len(files)} files to {args.out} ({total} lines of lists)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
