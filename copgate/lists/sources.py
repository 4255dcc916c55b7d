"""Read block-list sources in the formats people have, dirt included.

Four text formats: plain domains (one name a line), hosts files
(``0.0.0.0 name``), adblock domain rules (``||name^``) and dnsmasq
directives (``server=/name/``, ``address=/name/``, ``local=/name/``). Each
yields normalised names (``copgate.wire.names``: lower case, punycode, no
trailing dot), every name once, and fills an ``ImportReport`` with what it
skipped and why. What each format's lines mean, and which of them block a
whole host, is ``copgate.lists.formats``; this module detects the format,
reads files (plain or gzip) and drives the line readers fast.

Real lists are dirty, and a parser that chokes on them is wrong, not the
list: leading dots, ``*.`` wildcards, upper case, IDN in UTF-8, CRLF, a BOM,
blank lines, trailing blanks and comments are all taken in stride; IP
addresses, ``localhost`` names, duplicates and invalid names are skipped
and counted.

Speed: most lines of a big list are already clean names, so a domains list
is checked a chunk of lines at a time with C-speed string operations, and
only a chunk holding a doubtful line is read line by line (839,126 names
in about 0.7 s on the project's corpus, against 1.4 s line by line).

Category aliases (UT1's ``porn -> adult``, a manifest's ``[aliases]``) are
resolved here too, wherever a category name is taken for a source
(``resolve_category``): an alias must never become a category of its own,
which no template would block.

This module reads files only in ``read_source_file`` and ``read_text``, and
never writes anything.
"""

from __future__ import annotations

import enum
import gzip
import operator
import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import islice, repeat
from pathlib import Path

from copgate.errors import ListSourceError
from copgate.lists.formats import (
    COSMETIC_MARK,
    DUPLICATE,
    LOCAL_NAMES,
    LOCALHOST,
    Tokens,
    adblock_tokens,
    clean_line,
    dnsmasq_tokens,
    domains_tokens,
    hosts_tokens,
    ip_of,
    normalise,
)
from copgate.lists.report import ImportReport, show
from copgate.wire.names import MAX_LABEL, MAX_NAME_TEXT

__all__ = [
    "ImportReport",
    "SourceFormat",
    "detect_format",
    "merge_aliases",
    "read_source_file",
    "read_source_lines",
    "resolve_category",
]


class SourceFormat(enum.StrEnum):
    """The text formats a list source can be in."""

    DOMAINS = "domains"
    HOSTS = "hosts"
    ADBLOCK = "adblock"
    DNSMASQ = "dnsmasq"


DETECT_LINES = 100
"""Data lines (not comments) looked at to tell a source's format."""

CHUNK_LINES = 1024
"""Lines checked together for the fast path: a dirty line sends its chunk down the slow one."""

BINARY_PROBE = 8192
"""Bytes looked at for NULs, which no text list holds (a tarball does)."""

# A clean name already in normal form: lower-case ASCII labels of at most 63
# octets (RFC 1035 §2.3.4), at least two labels, and a last character that is
# not a digit (so neither an IPv4 address nor an all-numeric top-level label,
# RFC 3696 §2). Lines that match skip the general path: most lines do.
_NAME = r"((?:[a-z0-9_-]{1,63}\.)+[a-z0-9_-]{0,62}[a-z_-])"
_FAST: dict[SourceFormat, Callable[[str], re.Match[str] | None]] = {
    SourceFormat.DOMAINS: re.compile(_NAME).fullmatch,
    SourceFormat.HOSTS: re.compile(r"(?:0\.0\.0\.0|127\.0\.0\.1)[ \t]+" + _NAME).fullmatch,
    SourceFormat.ADBLOCK: re.compile(r"\|\|" + _NAME + r"\^").fullmatch,
    # Only the form with no upstream or address: the others are decided slowly.
    SourceFormat.DNSMASQ: re.compile(r"(?:server|local|address)=/" + _NAME + "/").fullmatch,
}

# The bytes of a clean domains chunk, and a line that ends in a digit (an IP
# address or an all-numeric top-level label).
_CLEAN_BYTES = b"abcdefghijklmnopqrstuvwxyz0123456789_-.\n"
_DIGIT_AT_END = re.compile(r"[0-9](?:\n|\Z)").search
_DNSMASQ_KEY = re.compile(r"-{0,2}[a-z][a-z0-9-]*\s*=")


def detect_format(lines: Iterable[str]) -> SourceFormat:
    """The format of a source, voted by its first data lines (comments do not vote).

    A source holding only comments is adblock when they are ``!`` comments,
    else plain domains.
    """
    votes: Counter[SourceFormat] = Counter()
    bang_comments = False
    for raw in lines:
        line = clean_line(raw)
        if not line:
            continue
        if line.startswith("!") or (line.startswith("[") and line.endswith("]")):
            bang_comments = True
            continue
        if line.startswith("#") and not COSMETIC_MARK.match(line):
            continue
        votes[_vote(line)] += 1
        if votes.total() >= DETECT_LINES:
            break
    if not votes:
        return SourceFormat.ADBLOCK if bang_comments else SourceFormat.DOMAINS
    return votes.most_common(1)[0][0]


def _vote(line: str) -> SourceFormat:
    if line.startswith(("|", "@@")):
        return SourceFormat.ADBLOCK
    if _DNSMASQ_KEY.match(line):
        return SourceFormat.DNSMASQ
    words = line.split()
    if len(words) > 1 and ip_of(words[0]) is not None:
        return SourceFormat.HOSTS
    # Checked after hosts: "0.0.0.0 a.com ## note" is a hosts line.
    if COSMETIC_MARK.search(line):
        return SourceFormat.ADBLOCK
    return SourceFormat.DOMAINS


def read_source_lines(
    lines: Iterable[str], fmt: SourceFormat, report: ImportReport
) -> Iterator[str]:
    """Yield each distinct valid name the lines block, counting the rest in ``report``.

    Lines may keep their line ends (``\\n``, ``\\r\\n``); line numbers in the
    report count from 1. The report is complete once the iterator is done.
    """
    fmt = SourceFormat(fmt)
    report.format = fmt
    seen: set[str] = set()
    source = iter(lines)
    first = 1
    while chunk := list(islice(source, CHUNK_LINES)):
        fresh = _clean_chunk(chunk, seen) if fmt is SourceFormat.DOMAINS else None
        if fresh is not None:
            seen.update(fresh)
            report.taken += len(fresh)
            yield from fresh
        else:
            yield from _read_chunk(chunk, first, fmt, seen, report)
        first += len(chunk)


def _clean_chunk(chunk: list[str], seen: set[str]) -> dict[str, None] | None:
    """The chunk's names in order when every line is a clean new name, else None.

    The checks run over the whole chunk in C (a Python loop over 840,000
    lines costs a second); any doubt sends the chunk down the line-by-line
    path, which gives the same result.
    """
    names = list(map(str.rstrip, chunk))
    joined = "\n".join(names)
    if not joined.isascii() or joined.encode("ascii").translate(None, _CLEAN_BYTES):
        return None
    if (
        ".." in joined
        or "\n." in joined
        or ".\n" in joined
        or joined[:1] == "."
        or joined[-1:] == "."
    ):
        return None  # an empty label, or a leading dot to strip
    if not all(map(operator.contains, names, repeat("."))):
        return None  # a blank line or a single label (localhost...)
    if _DIGIT_AT_END(joined) or (max(map(len, names)) > MAX_LABEL and not _labels_fit(names)):
        return None
    fresh = dict.fromkeys(names)
    if len(fresh) != len(names) or not seen.isdisjoint(fresh):
        return None  # duplicates, to count with their line numbers
    if any(map(fresh.__contains__, LOCAL_NAMES)):
        return None
    return fresh


def _labels_fit(names: list[str]) -> bool:
    return all(
        len(name) <= MAX_NAME_TEXT and max(map(len, name.split("."))) <= MAX_LABEL
        for name in names
        if len(name) > MAX_LABEL
    )


def _read_chunk(
    chunk: list[str], first: int, fmt: SourceFormat, seen: set[str], report: ImportReport
) -> Iterator[str]:
    fast = _FAST[fmt]
    slow = _SLOW[fmt]
    for lineno, line in enumerate(chunk, first):
        match = fast(line)
        if match is not None and len(match[1]) <= MAX_NAME_TEXT:
            name = match[1]
            if name in seen or name in LOCAL_NAMES:
                report.skip(DUPLICATE if name in seen else LOCALHOST, f"line {lineno}: {name}")
                continue
            seen.add(name)
            report.taken += 1
            yield name
            continue
        for text, line_reason in slow(clean_line(line)):
            name, reason = (text, line_reason) if line_reason else normalise(text)
            if reason is None and name in seen:
                reason = DUPLICATE
            if reason is not None:
                report.skip(reason, f"line {lineno}: {show(name)}")
                continue
            seen.add(name)
            report.taken += 1
            yield name


def read_source_file(path: Path, fmt: SourceFormat | None = None) -> tuple[list[str], ImportReport]:
    """Read a list file (plain or gzip), detecting its format unless given.

    Raises ``ListSourceError`` naming the file when it cannot be read at all
    (missing, not gzip after all, binary).
    """
    lines = read_text(path).split("\n")
    if fmt is None:
        fmt = detect_format(lines)
    report = ImportReport(str(path))
    names = list(read_source_lines(lines, fmt, report))
    return names, report


def read_text(path: Path) -> str:
    """The text of a plain or gzip list file, with ``\\n`` line ends and no BOM."""
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise ListSourceError(f"{path}: cannot read list source: {exc}") from exc
    return decode_text(raw, str(path))


def decode_text(raw: bytes, source: str) -> str:
    """Decode a list's bytes: UTF-8, bad bytes kept for the name checks to report."""
    if b"\x00" in raw[:BINARY_PROBE]:
        raise ListSourceError(f"{source}: binary data, not a text list (an archive?)")
    text = raw.decode("utf-8", "surrogateescape").removeprefix("\ufeff")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


MAX_ALIAS_HOPS = 8
"""An alias of an alias is followed this far; a longer chain is a loop."""


def resolve_category(name: str, aliases: Mapping[str, str]) -> str:
    """The category ``name`` means: an alias's target (``proxy`` -> ``redirector``), or itself.

    ``ListSourceError`` when aliases lead in a circle.
    """
    seen = name
    for _hop in range(MAX_ALIAS_HOPS):
        target = aliases.get(seen)
        if target is None or target == seen:
            return seen
        seen = target
    raise ListSourceError(f"category alias {name!r} leads in a circle ({seen!r}...)")


def merge_aliases(into: dict[str, str], new: Mapping[str, str], source: str) -> None:
    """Add ``new`` aliases to ``into``; ``ListSourceError`` when one already means another."""
    for alias, target in sorted(new.items()):
        known = into.setdefault(alias, target)
        if known != target:
            raise ListSourceError(
                f"{source}: category alias {alias!r} -> {target!r}, "
                f"but another source has {alias!r} -> {known!r}"
            )


_SLOW: dict[SourceFormat, Callable[[str], Tokens]] = {
    SourceFormat.DOMAINS: domains_tokens,
    SourceFormat.HOSTS: hosts_tokens,
    SourceFormat.ADBLOCK: adblock_tokens,
    SourceFormat.DNSMASQ: dnsmasq_tokens,
}
