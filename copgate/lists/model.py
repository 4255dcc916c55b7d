"""The values that pass between list sources, the compiled cache and policy.

Sources produce ``ListEntry`` values; the compiler turns them into a cache
file; the cache answers ``lookup(name)`` with a ``ListMatch``. Policy codes
against the ``NameLookup`` protocol. This module holds values only.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol


class DefaultUse(enum.StrEnum):
    """A category's default use in the catalogue (UT1 ``global_usage``)."""

    BLACK = "black"
    WHITE = "white"


@dataclass(frozen=True, slots=True)
class Category:
    """One category of the catalogue, as UT1's ``global_usage`` describes it."""

    name: str
    """The category id used everywhere (``adult``, ``gambling``, ...)."""
    default_use: DefaultUse
    titles: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    """Human name by language code (``en``, ``fr``, ``ru``, ...)."""
    descriptions: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    """Description by language code."""


@dataclass(frozen=True, slots=True)
class ListEntry:
    """A name a list source contributes, with its categories."""

    name: str
    """Normalised (``copgate.wire.names``): lower case, no trailing dot, punycode."""
    categories: frozenset[str]
    white: bool = False
    """An exception (allow) entry: stored exactly, never as a fingerprint."""


class ListMatch(NamedTuple):
    """The answer of a lookup: the most specific listed suffix of a name.

    A NamedTuple: one is built on every listed lookup, at half the cost of
    a frozen dataclass.
    """

    listed: bool
    match: str | None
    """The listed suffix that decided (the name itself or a parent), or None."""
    categories: frozenset[str]
    white: bool
    """True when an exception (white) entry decided."""
    list_name: str | None = None
    """The compiled list that decided (``ListCache.name``: ``default`` for
    ``default.cgl``), ``a+b`` when black entries of two lists merged, or None
    when nothing is listed. Policy copies it into ``Decision.list_name``."""


NOT_LISTED = ListMatch(False, None, frozenset(), False)


class NameLookup(Protocol):
    """Anything that answers list lookups: the compiled cache, or an overlay."""

    def lookup(self, name: str) -> ListMatch:
        """The most specific listed suffix of the normalised ``name``."""
        ...
