"""The values policy hands out: a verdict, the rule that decided, and why.

``copgate.policy.decide`` (questions with a name) and
``copgate.policy.outright`` (traffic copgate cannot read, failures, what the
firewall refuses outright) build these; the daemon, ``copgate check`` and the
inspector read them. This module holds values only.
"""

from __future__ import annotations

import enum
from typing import NamedTuple


class Verdict(enum.StrEnum):
    """What happens to the flow or question."""

    ALLOW = "allow"
    BLOCK = "block"
    SAFESEARCH = "safesearch"
    """DNS only: answer with the safe endpoint (``Decision.safe_target``)."""


class RuleKind(enum.StrEnum):
    """Which rule decided, for the explanation."""

    CATEGORY = "category"
    OWN_ENTRY = "own_entry"
    WHITELIST_ONLY = "whitelist_only"
    TIME_WINDOW = "time_window"
    BYPASS = "bypass"
    SAFESEARCH = "safesearch"
    INVALID_NAME = "invalid_name"
    UNREADABLE = "unreadable"
    EVASION = "evasion"
    """The flow did what only an evader does, or ended without a name read."""
    NOT_LISTED = "not_listed"
    UNFILTERED = "unfiltered"
    WHITE_ENTRY = "white_entry"
    FAILURE = "failure"
    """The daemon could not decide; the group's failure mode did."""
    GRANT = "grant"
    """An administrator's grant (``copgate allow``) opened a blocked name."""


class Decision(NamedTuple):
    """A verdict and its reason chain.

    A NamedTuple rather than a frozen dataclass: one is built for every
    question the daemon judges, at a third of the cost.
    """

    verdict: Verdict
    group: str
    rule: RuleKind
    reason: str
    """One human line: what matched and why that decides."""
    list_name: str | None = None
    """Where the deciding entry came from when known: a compiled list (``default``,
    ``a+b`` when two lists' black entries merged), a group's own entries
    (``school.block``) or a built-in table (``safesearch``, ``canaries``)."""
    category: str | None = None
    """The category that decided, or None."""
    match: str | None = None
    """The listed suffix (or own entry, or table name) that matched, or None."""
    safe_target: str | None = None
    """SAFESEARCH: the safe endpoint name (``forcesafesearch.google.com``...)."""
    dns_nodata: bool = False
    """DNS: answer NOERROR with no records (type 65, canaries) rather than a block."""

    def as_dict(self) -> dict[str, str | bool | None]:
        """The decision as JSON-ready values (``copgate check --json``)."""
        return {
            "verdict": str(self.verdict),
            "group": self.group,
            "rule": str(self.rule),
            "reason": self.reason,
            "list": self.list_name,
            "category": self.category,
            "match": self.match,
            "safe_target": self.safe_target,
            "dns_nodata": self.dns_nodata,
        }
