"""Decisions: what to do with a client's question, and why.

``decide`` is pure: the question, the client's group, the lists, the local
time, whether that time can be trusted, and the safe-search endpoints'
addresses go in; a ``Decision`` with its reason comes out. It never reads the
clock, the network or a file. What it remembers (in ``Group.memo``: the rows a
group can use per question kind, the windows in force at the last local time,
the DNS decisions for the current lists and windows) only saves work: the same
inputs give the same decision with or without it.

How a question is judged
------------------------

The rows of ``RULES`` are tried in order and the first that returns a
Decision wins; every row is a small function of the same ``Facts``. The order
is the policy:

- A group in mode ``off`` (staff) is never filtered: nothing else applies.
- A name that is not a host name is refused first when the group says so: no
  list can vouch for it.
- Bypass countermeasures come before every allow: an own allow entry opens a
  site, not a tunnel around the filter; the switches are how to opt out.
  Canaries, DDR and HTTPS records get *no data* rather than a block, since the
  name is not forbidden, only the answer that would switch filtering off.
- Own entries beat everything below: the administrator has the last word on
  a name. The most specific own entry wins; at the same name, allow wins.
- The ``infrastructure`` white list (connectivity checks, OCSP/CRL, time
  servers) is open even in a walled garden and in a "block all" window:
  devices that cannot check a certificate or set their clock break in ways
  nobody can explain.
- Time windows then block everything, or extra categories (of white and black
  entries alike: "no games during lessons" closes a white games entry too).
- Last, the mode: a walled garden allows only white entries of the categories
  it opens (``allow_categories``, ``infrastructure``, ``starter_whitelist``);
  a category filter allows white entries, blocks black entries of its
  ``block_categories`` and allows the rest.

Where a white entry of one category meets a black entry of another, the
lists decide before policy does (``NameLookup``): the most specific listed
suffix wins, and at the same name a white entry hides the black ones. So
white ``sub.example.com`` beats black ``example.com``; black
``ads.example.com`` beats white ``example.com``; and white and black at the
same name count as white. Policy then asks only whether that white entry's
categories are open for the group (walled garden) or whether a window closes
them.

Safe search restricts, it never opens: it applies to a question that the
rows have ALLOWED. A DNS question for a safe-search name is answered with
the safe endpoint (SAFESEARCH); a TLS, QUIC or HTTP connection to one is
allowed only towards a safe endpoint's address, which defeats safe-search
bypass through DoH or hard-coded addresses. Until the daemon has resolved
those addresses, the group's failure mode decides.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from datetime import datetime
from ipaddress import IPv4Address, IPv6Address
from typing import NamedTuple, cast

from copgate.lists.model import NOT_LISTED, NameLookup
from copgate.policy import safesearch
from copgate.policy.decision import Decision, RuleKind, Verdict
from copgate.policy.model import FailureMode, Group, Mode, TimeWindow, Treatment
from copgate.policy.outright import (
    Refusals,
    Service,
    decide_evasion,
    decide_unreadable,
    failure_decision,
    refused_outright,
)
from copgate.policy.rules import (
    QTYPE_HTTPS,
    Facts,
    Row,
    bare_ip,
    canary,
    category_filter,
    doh_resolver,
    https_record,
    infrastructure_entry,
    invalid_name,
    own_entry,
    quic_refused,
    real_ech,
    resolver_discovery,
    time_window,
    unfiltered,
    walled_garden,
)
from copgate.policy.safesearch import SafeTarget
from copgate.policy.timewindows import active_windows
from copgate.tuplenew import new_tuple
from copgate.wire.question import Kind, Question

__all__ = [
    "RULES",
    "Decision",
    "Facts",
    "Refusals",
    "RuleKind",
    "Service",
    "Verdict",
    "decide",
    "decide_evasion",
    "decide_unreadable",
    "failure_decision",
    "refused_outright",
]

IpAddress = IPv4Address | IPv6Address
HELLO = frozenset({Kind.TLS, Kind.QUIC})
SPECIAL_NAMES = safesearch.CANARIES | {safesearch.DDR_NAME}
"""Names a bypass row answers by name (canaries, resolver discovery)."""


class Shape(NamedTuple):
    """What, besides the group, says which rows can decide a question.

    Each field is a cheap fact about the question known before any row runs;
    ``rows_for`` plans once per group and shape.
    """

    kind: Kind
    invalid: bool
    """The name is not a valid host name."""
    special: bool
    """The name is one of ``SPECIAL_NAMES``."""
    https: bool
    """A DNS question of type 65 (HTTPS)."""
    listed: bool
    """The lists hold the name or a parent of it."""
    windows: bool = True
    """Some of the group's time windows are in force (``windows_in_force``)."""


Applies = Callable[[Group, Shape], bool]
"""Whether a row can decide anything for this group and shape of question."""

RULES: tuple[tuple[str, Row, Applies], ...] = (
    ("mode off: unfiltered", unfiltered, lambda g, s: g.mode is Mode.OFF),
    (
        "invalid host name",
        invalid_name,
        lambda g, s: s.invalid and g.invalid_names is Treatment.REFUSE,
    ),
    (
        "bypass: TLS/QUIC to a bare IP address",
        bare_ip,
        lambda g, s: s.kind in HELLO and g.bypass.refuse_bare_ip,
    ),
    (
        "bypass: QUIC refused",
        quic_refused,
        lambda g, s: s.kind is Kind.QUIC and g.bypass.refuse_quic,
    ),
    ("bypass: real ECH", real_ech, lambda g, s: s.kind in HELLO and g.bypass.refuse_real_ech),
    (
        "bypass: canary names",
        canary,
        lambda g, s: s.kind is Kind.DNS and s.special and g.bypass.canaries,
    ),
    (
        "bypass: resolver discovery",
        resolver_discovery,
        lambda g, s: s.kind is Kind.DNS and s.special and g.bypass.block_doh,
    ),
    (
        "bypass: DNS HTTPS records",
        https_record,
        lambda g, s: s.https and g.bypass.https_records_nodata,
    ),
    ("bypass: DoH resolvers", doh_resolver, lambda g, s: s.listed and g.bypass.block_doh),
    ("own allow/block entries", own_entry, lambda g, s: bool(g.allow or g.block)),
    ("infrastructure white list", infrastructure_entry, lambda g, s: s.listed),
    ("time windows", time_window, lambda g, s: bool(g.windows) and s.windows),
    ("whitelist mode", walled_garden, lambda g, s: g.mode is Mode.WHITELIST),
    ("filter mode", category_filter, lambda g, s: g.mode is Mode.FILTER),
)
"""The precedence table: the first row that returns a Decision wins.

The third column says when a row can apply at all, from the group and the
question's ``Shape`` (a row for canaries cannot decide a TLS hello or another
name, nor one for a switch the group has off, nor a list row a name the lists
do not hold, nor the window row when none of the group's windows is in force);
``rows_for`` keeps only those, once per group and shape, so an
allowed DNS question runs two or three rows, not fourteen. Each row still
checks its own condition: the column only saves calls.
"""

_WINDOWS = "windows"
"""The memo key of ``windows_in_force`` (the plans' keys are shapes)."""
_DNS = "dns decisions"
"""The memo key of the group's remembered DNS decisions (``_dns_memo``)."""
_OFF = Mode.OFF
"""A module global: found in a few nanoseconds, an enum's member through its class in 60."""
_NOW = "now"
"""The memo key of what holds at the last local time asked (``decide``): that time,
its plausibility, the lists, the windows in force and the DNS decisions for them."""
DNS_MEMO_ENTRIES = 4096
"""DNS decisions remembered per group; the memo is emptied when full (a name
seen once costs one dict entry until then)."""

DECISIVE = frozenset({unfiltered, walled_garden, category_filter})
"""Rows that always return a Decision once they apply: nothing after them runs."""

# What ``Group.memo`` holds under each key, as types: named once here, since
# a ``cast`` to a subscripted type builds that type on every call (a quarter
# of a microsecond, three times a question).
DnsMemo = dict[tuple[object, int], Decision]
_Plan = tuple[Row, ...]
_Windows = tuple[datetime, bool, tuple[TimeWindow, ...]] | None
_Decisions = tuple[NameLookup, tuple[TimeWindow, ...], DnsMemo] | None
_Now = tuple[datetime, bool, NameLookup, tuple[TimeWindow, ...], DnsMemo] | None


def rows_for(group: Group, shape: tuple[Kind, bool, bool, bool, bool, bool]) -> tuple[Row, ...]:
    """The rows of ``RULES`` that can decide a question of ``shape`` (a ``Shape``
    or the plain tuple of its fields) for ``group``, in order."""
    plan = group.memo.get(shape)
    if plan is None:
        named = Shape._make(shape)
        rows: list[Row] = []
        for _title, row, applies in RULES:
            if applies(group, named):
                rows.append(row)
                if row in DECISIVE:
                    break
        plan = group.memo[shape] = tuple(rows)
    return cast(_Plan, plan)


def windows_in_force(
    group: Group, local_time: datetime, clock_plausible: bool
) -> tuple[TimeWindow, ...]:
    """``active_windows`` of the group, remembered for the last local time asked.

    The daemon hands the same ``datetime`` object for a whole second, so an
    identity check (the memo holds that object, so its id cannot be reused)
    saves the weekday and minute arithmetic for every question but the first.
    """
    if not group.windows:
        return ()
    last = cast(_Windows, group.memo.get(_WINDOWS))
    if last is not None and last[0] is local_time and last[1] is clock_plausible:
        return last[2]
    windows = active_windows(group.windows, local_time, clock_plausible)
    group.memo[_WINDOWS] = (local_time, clock_plausible, windows)
    return windows


def decide(
    question: Question,
    group: Group,
    lists: NameLookup,
    local_time: datetime,
    clock_plausible: bool,
    safe_addresses: frozenset[IpAddress],
) -> Decision:
    """Judge one question for one group; see the module docstring for the order."""
    memo = group.memo
    held = cast(_Now, memo.get(_NOW))
    if (
        held is not None
        and held[0] is local_time
        and held[1] is clock_plausible
        and held[2] is lists
    ):
        windows, decisions = held[3], held[4]
    else:
        windows = windows_in_force(group, local_time, clock_plausible)
        decisions = _dns_memo(group, lists, windows)
        memo[_NOW] = (local_time, clock_plausible, lists, windows, decisions)
    query = question.dns
    if query is None:
        return _decide(question, group, lists, windows, safe_addresses)
    # A DNS decision is a function of the name, the type, the group, the lists
    # and the windows in force (safe search answers DNS without addresses), and
    # resolvers ask the same names over and over: remember it.
    key = (question.name, query.qtype)
    decision = decisions.get(key)
    if decision is None:
        decision = _decide(question, group, lists, windows, safe_addresses)
        if len(decisions) >= DNS_MEMO_ENTRIES:
            decisions.clear()
        decisions[key] = decision
    return decision


def _decide(
    question: Question,
    group: Group,
    lists: NameLookup,
    windows: tuple[TimeWindow, ...],
    safe_addresses: frozenset[IpAddress],
) -> Decision:
    qname = question.name
    name = None if qname is None else qname.text
    unlisted = name is None or group.mode is _OFF
    listed = NOT_LISTED if unlisted else lists.lookup(name)  # type: ignore[arg-type]
    query = question.dns
    # A plain tuple: equal to the ``Shape`` it stands for, and cheaper to build.
    shape = (
        question.kind,
        qname is not None and not qname.valid,
        name in SPECIAL_NAMES,
        query is not None and query.qtype == QTYPE_HTTPS,
        listed.listed,
        bool(windows),
    )
    facts = new_tuple(Facts, (question, group, name, listed, windows))
    for row in rows_for(group, shape):
        decision = row(facts)
        if decision is not None:
            if name not in safesearch.ENGINE_NAMES:  # nearly always: no safe endpoint
                return decision
            return _safe_search(facts, decision, safe_addresses)
    raise AssertionError("the filter-mode row always decides")  # pragma: no cover


def _dns_memo(group: Group, lists: NameLookup, windows: tuple[TimeWindow, ...]) -> DnsMemo:
    """The group's DNS decisions for these lists and these windows in force.

    A new list set or a window opening or closing starts an empty memo, so a
    remembered decision is never one the current lists or windows would not make.
    """
    held = cast(_Decisions, group.memo.get(_DNS))
    if held is not None and held[0] is lists and (held[1] is windows or held[1] == windows):
        return held[2]
    memo: DnsMemo = {}
    group.memo[_DNS] = (lists, windows, memo)
    return memo


def _safe_search(
    facts: Facts, decision: Decision, safe_addresses: frozenset[IpAddress]
) -> Decision:
    """Restrict an allowed safe-search name to its safe endpoint."""
    group = facts.group
    if decision.verdict is not Verdict.ALLOW or facts.name is None or group.mode is Mode.OFF:
        return decision
    target = safesearch.safe_target(facts.name, group.safe_search, group.youtube)
    if target is None:
        return decision
    if facts.question.kind is Kind.DNS:
        why = f"{facts.name} is answered with {target.engine}'s safe endpoint {target.target}"
        return decision._replace(
            verdict=Verdict.SAFESEARCH,
            rule=RuleKind.SAFESEARCH,
            reason=why,
            list_name="safesearch",
            match=facts.name,
            safe_target=target.target,
        )
    return _safe_destination(facts, target, safe_addresses)


def _safe_destination(
    facts: Facts, target: SafeTarget, safe_addresses: frozenset[IpAddress]
) -> Decision:
    server = _server_address(facts.question)
    if server is not None and server in safe_addresses:
        verdict = Verdict.ALLOW
        why = f"{facts.name} goes to the safe endpoint {target.target} ({server})"
    elif not safe_addresses:
        open_ = facts.group.failure is FailureMode.OPEN
        verdict = Verdict.ALLOW if open_ else Verdict.BLOCK
        why = f"{target.target}'s addresses are not known yet: failure {facts.group.failure}"
    else:
        verdict = Verdict.BLOCK
        why = f"{facts.name} at {server} is not the safe endpoint {target.target}"
    return facts.decision(
        verdict,
        RuleKind.SAFESEARCH,
        why,
        list_name="safesearch",
        match=facts.name,
        safe_target=target.target,
    )


def _server_address(question: Question) -> IpAddress | None:
    packed = question.server[0]
    if len(packed) not in (4, 16):
        return None
    address = ipaddress.ip_address(packed)
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
