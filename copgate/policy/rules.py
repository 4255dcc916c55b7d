"""The rows of the decision table: each a small function of the same Facts.

``copgate.policy.decide`` holds the table (``RULES``), the essay on its order,
and ``decide`` itself; this module holds the rows, each answering one
question about one rule ("is this a canary name and are canaries on?") with
a Decision, or None to pass to the next row. Pure: no clock, no I/O.

A row decided by the list entry reports it through ``Facts.listed_decision``,
which takes the suffix and the list from the entry, so that a decision names
the group, the rule, the list and category, and the suffix that matched.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import NamedTuple

from copgate.lists.model import NOT_LISTED, ListMatch
from copgate.policy import safesearch
from copgate.policy.decision import Decision, RuleKind, Verdict
from copgate.policy.model import Group, Mode, TimeWindow, Treatment
from copgate.tuplenew import new_tuple
from copgate.wire.question import Ech, Kind, Question

QTYPE_HTTPS = 65  # RFC 9460 §14.2: carries the ECH configuration (ech=)

INFRASTRUCTURE = "infrastructure"
"""White-list category every group gets, even in a walled garden or a window."""
STARTER_WHITELIST = "starter_whitelist"
"""White-list category every walled garden opens."""
DOH = "doh"
"""Black-list category of DNS-over-HTTPS resolvers (UT1 ``doh``)."""
WALLED_GARDEN_ALWAYS = frozenset({INFRASTRUCTURE, STARTER_WHITELIST})
_ALLOW, _NOT_LISTED = Verdict.ALLOW, RuleKind.NOT_LISTED
"""Module globals for the unlisted name's decision, the usual one: found in a few
nanoseconds, an enum's member through its class in 60."""


class Facts(NamedTuple):
    """Everything the rows look at, computed once per question (a NamedTuple:
    cheap to build on the daemon's hot path)."""

    question: Question
    group: Group
    name: str | None
    """The normalised name, or None for a hello without SNI."""
    listed: ListMatch
    windows: tuple[TimeWindow, ...]
    """The windows in force (all of them when the clock is not plausible)."""

    @property
    def qtype(self) -> int | None:
        dns = self.question.dns
        return None if dns is None else dns.qtype

    def listed_decision(
        self, verdict: Verdict, rule: RuleKind, reason: str, *, category: str | None = None
    ) -> Decision:
        """A Decision made by the list entry: its suffix and its list go with it."""
        listed = self.listed
        return Decision(
            verdict, self.group.name, rule, reason, listed.list_name, category, listed.match
        )

    def decision(
        self,
        verdict: Verdict,
        rule: RuleKind,
        reason: str,
        *,
        list_name: str | None = None,
        category: str | None = None,
        match: str | None = None,
        safe_target: str | None = None,
        dns_nodata: bool = False,
    ) -> Decision:
        """A Decision for this question's group."""
        return Decision(
            verdict,
            self.group.name,
            rule,
            reason,
            list_name,
            category,
            match,
            safe_target,
            dns_nodata,
        )


Row = Callable[[Facts], Decision | None]


def unfiltered(facts: Facts) -> Decision | None:
    """Mode off: staff are never filtered."""
    if facts.group.mode is not Mode.OFF:
        return None
    return facts.decision(Verdict.ALLOW, RuleKind.UNFILTERED, "group is not filtered (mode off)")


def invalid_name(facts: Facts) -> Decision | None:
    """A name that is not a host name, when the group refuses those."""
    name = facts.question.name
    if name is None or name.valid or facts.group.invalid_names is not Treatment.REFUSE:
        return None
    why = f"{name.text!r} is not a valid host name ({name.reason})"
    return facts.decision(Verdict.BLOCK, RuleKind.INVALID_NAME, why)


def bare_ip(facts: Facts) -> Decision | None:
    """TLS or QUIC without a server name, or naming an IP address."""
    if facts.question.kind not in (Kind.TLS, Kind.QUIC) or not facts.group.bypass.refuse_bare_ip:
        return None
    if facts.name is None:
        why = "encrypted connection without a server name (bare IP address)"
    elif _is_ip_literal(facts.name):
        why = f"encrypted connection naming an IP address ({facts.name})"
    else:
        return None
    return facts.decision(Verdict.BLOCK, RuleKind.BYPASS, why)


def quic_refused(facts: Facts) -> Decision | None:
    """Any QUIC flow, so that the browser retries over TCP."""
    if facts.question.kind is not Kind.QUIC or not facts.group.bypass.refuse_quic:
        return None
    why = "QUIC is refused for this group, so the browser falls back to TCP"
    return facts.decision(Verdict.BLOCK, RuleKind.BYPASS, why, match=facts.name)


def real_ech(facts: Facts) -> Decision | None:
    """A hello whose outer SNI hides the real name (real ECH, ESNI)."""
    hello = facts.question.hello
    if hello is None or hello.ech not in (Ech.REAL, Ech.ESNI):
        return None
    if not facts.group.bypass.refuse_real_ech:
        return None
    why = f"encrypted client hello hides the real name behind {facts.name}"
    return facts.decision(Verdict.BLOCK, RuleKind.BYPASS, why, match=facts.name)


def canary(facts: Facts) -> Decision | None:
    """DNS for a canary name: no data keeps DoH and Private Relay off."""
    if facts.qtype is None or facts.name not in safesearch.CANARIES:
        return None
    if not facts.group.bypass.canaries:
        return None
    why = f"{facts.name} is a canary: no data tells the client this network filters"
    return _nodata(facts, why, "canaries")


def resolver_discovery(facts: Facts) -> Decision | None:
    """DNS for _dns.resolver.arpa (RFC 9462): no data, no upgrade to DoH."""
    if facts.qtype is None or facts.name != safesearch.DDR_NAME:
        return None
    if not facts.group.bypass.block_doh:
        return None
    why = "resolver discovery (RFC 9462): no data keeps the client on plain DNS"
    return _nodata(facts, why, "ddr")


def https_record(facts: Facts) -> Decision | None:
    """DNS type 65: no data, so the client learns no ECH keys."""
    if facts.qtype != QTYPE_HTTPS or not facts.group.bypass.https_records_nodata:
        return None
    why = "DNS HTTPS (type 65) records carry ECH keys: answered with no data"
    return _nodata(facts, why, None)


def _nodata(facts: Facts, why: str, list_name: str | None) -> Decision:
    return facts.decision(
        Verdict.BLOCK, RuleKind.BYPASS, why, list_name=list_name, match=facts.name, dns_nodata=True
    )


def doh_resolver(facts: Facts) -> Decision | None:
    """A name whose entry is in the ``doh`` category."""
    listed = facts.listed
    if listed.white or DOH not in listed.categories or not facts.group.bypass.block_doh:
        return None
    why = f"{facts.name} is a DNS-over-HTTPS resolver (via {listed.match})"
    return facts.listed_decision(Verdict.BLOCK, RuleKind.BYPASS, why, category=DOH)


def own_entry(facts: Facts) -> Decision | None:
    """The group's most specific own entry; allow wins at the same name."""
    own = None if facts.name is None else facts.group.own_entry(facts.name)
    if own is None:
        return None
    entry, allowed = own
    verdict, word = (Verdict.ALLOW, "allow") if allowed else (Verdict.BLOCK, "block")
    why = f"{facts.name} matches the group's own {word} entry {entry}"
    list_name = f"{facts.group.name}.{word}"
    return facts.decision(verdict, RuleKind.OWN_ENTRY, why, list_name=list_name, match=entry)


def infrastructure_entry(facts: Facts) -> Decision | None:
    """A white entry in ``infrastructure``: open for every filtered group."""
    listed = facts.listed
    if not listed.white or INFRASTRUCTURE not in listed.categories:
        return None
    why = f"{facts.name} is infrastructure every device needs (via {listed.match})"
    return facts.listed_decision(Verdict.ALLOW, RuleKind.WHITE_ENTRY, why, category=INFRASTRUCTURE)


def time_window(facts: Facts) -> Decision | None:
    """A window in force: everything, or entries of its categories."""
    categories = facts.listed.categories
    for window in facts.windows:
        if window.block_all:
            why = f"everything is blocked in the window {_window_text(window)}"
            return facts.decision(Verdict.BLOCK, RuleKind.TIME_WINDOW, why)
        # Most names are in no category: no set built, nothing sorted for them.
        if categories and not window.categories.isdisjoint(categories):
            closed = sorted(window.categories & categories)
            why = f"{facts.name} is in {closed[0]}, blocked in the window {_window_text(window)}"
            return facts.listed_decision(
                Verdict.BLOCK, RuleKind.TIME_WINDOW, why, category=closed[0]
            )
    return None


def walled_garden(facts: Facts) -> Decision | None:
    """Whitelist mode: only white entries of the opened categories."""
    if facts.group.mode is not Mode.WHITELIST:
        return None
    listed = facts.listed
    opened = sorted(listed.categories & (facts.group.allow_categories | WALLED_GARDEN_ALWAYS))
    if listed.white and opened:
        why = f"{facts.name} is white-listed in {opened[0]} (via {listed.match})"
        return facts.listed_decision(Verdict.ALLOW, RuleKind.WHITE_ENTRY, why, category=opened[0])
    why = f"{facts.name or 'a connection without a name'} is not in this walled garden"
    return facts.listed_decision(Verdict.BLOCK, RuleKind.WHITELIST_ONLY, why)


def category_filter(facts: Facts) -> Decision:
    """Filter mode: white allows, black of a blocked category blocks, else allow."""
    listed = facts.listed
    if listed is NOT_LISTED:  # most names: what the last branch says, without the set work
        why = f"{facts.name or 'the connection'} is in no list this group blocks"
        return new_tuple(
            Decision,
            (
                _ALLOW,
                facts.group.name,
                _NOT_LISTED,
                why,
                None,
                None,
                None,
                None,
                False,
            ),
        )
    if listed.white:
        first = min(listed.categories, default=None)
        why = f"{facts.name} is white-listed (via {listed.match})"
        return facts.listed_decision(Verdict.ALLOW, RuleKind.WHITE_ENTRY, why, category=first)
    blocked = sorted(listed.categories & facts.group.block_categories)
    if blocked:
        why = f"{facts.name} is in {blocked[0]} (via {listed.match}), blocked for this group"
        return facts.listed_decision(Verdict.BLOCK, RuleKind.CATEGORY, why, category=blocked[0])
    if listed.listed:
        shown = ", ".join(sorted(listed.categories))
        why = f"{facts.name} is listed in {shown}, which this group does not block"
    else:
        why = f"{facts.name or 'the connection'} is in no list this group blocks"
    return facts.listed_decision(Verdict.ALLOW, RuleKind.NOT_LISTED, why)


def _is_ip_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _window_text(window: TimeWindow) -> str:
    start, end = divmod(window.start, 60), divmod(window.end, 60)
    return f"{start[0]:02d}:{start[1]:02d}-{end[0]:02d}:{end[1]:02d}"
