"""A white-listed site brings the content domains it loads from.

In a walled garden, ``allow = ["khanacademy.org"]`` alone gives a broken page:
its scripts and videos come from kastatic.org and its exercises run in
kasandbox.org. ``lists/site-content.toml`` (``[sites] "site" = [names]``)
says which names each site needs; the loader adds them to the group's own
allow entries. A name covers its subdomains, so an entry for a site also
applies to ``www.`` and the rest below it. This module reads the table and
expands lists; it never decides anything.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path

from copgate.errors import ConfigError

SiteContent = Mapping[str, tuple[str, ...]]


def read_site_content(path: Path) -> dict[str, tuple[str, ...]]:
    """The table at ``path``; an absent file is an empty table."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the site-content table: {exc.strerror}") from exc
    try:
        sites = tomllib.loads(text).get("sites", {})
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    table: dict[str, tuple[str, ...]] = {}
    for site, names in sites.items():
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ConfigError(f"{path}: site {site!r}: expected a list of names")
        table[site.lower().rstrip(".")] = tuple(n.lower().rstrip(".") for n in names)
    return table


def expand_allow(allow: Sequence[str], table: SiteContent) -> tuple[str, ...]:
    """``allow`` plus the content domains of every site in it (or below one of them)."""
    out = dict.fromkeys(allow)
    for entry in allow:
        labels = entry.split(".")
        for start in range(len(labels)):
            for name in table.get(".".join(labels[start:]), ()):
                out.setdefault(name)
    return tuple(out)
