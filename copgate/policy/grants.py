"""Grants: an administrator's "let this group have this name", optionally for a while.

``copgate allow NAME --group G [--for 2h]`` writes a grant; the daemon reads
the grants and hands them to ``granted`` after ``decide``. A grant is an own
allow entry that needs no config edit and may expire: it opens a name and
its subdomains for one group, nothing more.

What a grant may open, and why (``OPENABLE``): a block by category, by the
walled garden, by a time window or by the group's own block entry, which are
all the administrator's policy. It never opens a bypass countermeasure (DoH,
real ECH, QUIC, bare IP), an invalid name, a safe-search restriction or a
failure: a grant opens a site, not a tunnel around the filter, and a grant
for ``google.com`` must not switch safe search off.

Grants are applied after ``decide`` (and after its DNS memo), so an expired
or withdrawn grant never lingers in a memo. Pure: the time comes in.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType

from copgate.policy.decision import Decision, RuleKind, Verdict

OPENABLE = frozenset(
    {RuleKind.CATEGORY, RuleKind.WHITELIST_ONLY, RuleKind.TIME_WINDOW, RuleKind.OWN_ENTRY}
)
"""The rules of a block that a grant may overrule (see the module docstring)."""


@dataclass(frozen=True, slots=True)
class Grant:
    """One grant as stored."""

    name: str
    """Normalised host name; it covers its subdomains, as a list entry does."""
    group: str
    until: float | None
    """Epoch seconds at which it expires; None: until withdrawn."""
    request: str | None = None
    """The request it answered (``copgate requests`` id), if any."""

    def active(self, now: float) -> bool:
        return self.until is None or now < self.until


class Grants:
    """The grants in force, by group and name. Invariant: one grant per (group, name)."""

    __slots__ = ("_by_group",)

    def __init__(self, grants: Iterable[Grant] = ()) -> None:
        by_group: dict[str, dict[str, Grant]] = {}
        for grant in grants:
            by_group.setdefault(grant.group, {})[grant.name] = grant
        self._by_group: Mapping[str, Mapping[str, Grant]] = MappingProxyType(by_group)

    def __bool__(self) -> bool:
        return bool(self._by_group)

    def __iter__(self) -> Iterator[Grant]:
        for names in self._by_group.values():
            yield from names.values()

    def find(self, group: str, name: str, now: float) -> Grant | None:
        """The active grant of ``group`` for ``name`` or its nearest parent, or None."""
        names = self._by_group.get(group)
        if not names:
            return None
        suffix = name
        while True:
            grant = names.get(suffix)
            if grant is not None and grant.active(now):
                return grant
            dot = suffix.find(".")
            if dot < 0:
                return None
            suffix = suffix[dot + 1 :]


NO_GRANTS = Grants()


def granted(decision: Decision, name: str | None, grants: Grants, now: float) -> Decision:
    """``decision``, or an allow by grant when a grant opens what it blocks."""
    if decision.verdict is not Verdict.BLOCK or decision.rule not in OPENABLE or name is None:
        return decision
    grant = grants.find(decision.group, name, now)
    if grant is None:
        return decision
    until = "until withdrawn" if grant.until is None else f"until {_utc(grant.until)}"
    why = (
        f"{name} is granted to group {grant.group} by the administrator ({grant.name}, {until});"
        f" without it: {decision.reason}"
    )
    return decision._replace(
        verdict=Verdict.ALLOW,
        rule=RuleKind.GRANT,
        reason=why,
        list_name=f"{decision.group}.grants",
        match=grant.name,
    )


def _utc(epoch: float) -> str:
    """``2026-12-06 01:30:00 UTC``."""
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
