"""Properties of decide() over arbitrary input.

The walled-garden promise: a ``whitelist`` group never allows a name outside
its white list (its own allow entries, and white entries of the categories
it opens), whatever the name, kind, ECH state, time, clock, switches,
windows and safe-endpoint addresses. And decide never raises.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from ipaddress import IPv4Address, IPv6Address, ip_address

from hypothesis import given, settings
from hypothesis import strategies as st

from copgate.lists.cache import ListCache
from copgate.lists.model import NOT_LISTED
from copgate.policy.decide import RULES, Decision, RuleKind, Verdict, decide
from copgate.policy.model import (
    Bypass,
    FailureMode,
    Group,
    Mode,
    TimeWindow,
    Treatment,
    YouTubeMode,
)
from copgate.policy.rules import WALLED_GARDEN_ALWAYS, Facts
from copgate.policy.timewindows import active_windows
from copgate.wire.names import name_from_bytes
from copgate.wire.question import ClientHello, DnsQuery, Ech, Kind, Question
from tests.policy.helpers import CLIENT, black, compiled, make_group, white

ENTRIES = [
    white("wiki.test", "starter_whitelist"),
    black("ads.wiki.test", "publicite"),
    white("edu.test", "liste_bu"),
    white("games.test", "games"),
    black("games.test", "adult"),
    white("ocsp.ca.test", "infrastructure"),
    black("adult.test", "adult"),
    black("dns.resolver.test", "doh"),
    white("google.com", "liste_bu"),
    white("www.youtube.com", "games"),
    white("use-application-dns.net", "starter_whitelist"),
]
CACHE: ListCache = compiled(ENTRIES)
CATEGORIES = ["starter_whitelist", "liste_bu", "games", "adult", "publicite", "infrastructure"]

POOL = [
    "wiki.test",
    "en.wiki.test",
    "ads.wiki.test",
    "edu.test",
    "games.test",
    "ocsp.ca.test",
    "adult.test",
    "dns.resolver.test",
    "www.google.com",
    "google.de",
    "www.youtube.com",
    "use-application-dns.net",
    "mask.icloud.com",
    "_dns.resolver.arpa",
    "other.test",
    "192.0.2.1",
    "test",
]

ADDRESSES = [ip_address(a) for a in ("216.239.38.120", "198.51.100.80", "2001:db8::1")]

POOL_NAMES = st.sampled_from(POOL).map(lambda text: name_from_bytes(text.encode()))
# Weighted towards the pool: the names lists, own entries and tables know.
names = st.one_of(
    st.none(),
    POOL_NAMES,
    POOL_NAMES,
    POOL_NAMES,
    st.builds(
        lambda label, parent: name_from_bytes(f"{label}.{parent}".encode()),
        st.from_regex(r"[a-z0-9-]{1,12}", fullmatch=True),
        st.sampled_from(POOL),
    ),
    st.binary(max_size=40).map(name_from_bytes),
)


@st.composite
def questions(draw: st.DrawFn) -> Question:
    kind = draw(st.sampled_from(list(Kind)))
    name = draw(names)
    server = (draw(st.sampled_from(ADDRESSES)).packed, draw(st.sampled_from([53, 443, 80])))
    if kind is Kind.DNS:
        qname = name if name is not None else name_from_bytes(b"other.test")
        qtype = draw(st.sampled_from([1, 28, 5, 64, 65, 255]))
        query = DnsQuery(qname, qtype, 1, 7, False, None)
        return Question(kind, qname, CLIENT, server, dns=query)
    if kind is Kind.HTTP:
        host = name if name is not None else name_from_bytes(b"other.test")
        return Question(kind, host, CLIENT, server)
    hello = ClientHello(name, (), draw(st.sampled_from(list(Ech))))
    return Question(kind, name, CLIENT, server, hello=hello, quic_version=1)


windows = st.builds(
    TimeWindow,
    st.frozensets(st.integers(0, 6), min_size=1),
    st.integers(0, 1439),
    st.integers(0, 1440),
    st.booleans(),
    st.frozensets(st.sampled_from(CATEGORIES)),
)


@st.composite
def groups(draw: st.DrawFn, mode: Mode) -> Group:
    return make_group(
        "g",
        mode,
        block_categories=draw(st.frozensets(st.sampled_from([*CATEGORIES, "doh"]))),
        allow_categories=draw(st.frozensets(st.sampled_from(CATEGORIES))),
        allow=tuple(draw(st.lists(st.sampled_from(POOL), max_size=3))),
        block=tuple(draw(st.lists(st.sampled_from(POOL), max_size=3))),
        safe_search=draw(st.booleans()),
        youtube=draw(st.sampled_from(list(YouTubeMode))),
        windows=tuple(draw(st.lists(windows, max_size=2))),
        failure=draw(st.sampled_from(list(FailureMode))),
        invalid_names=draw(st.sampled_from(list(Treatment))),
        bypass=Bypass(*(draw(st.booleans()) for _ in dataclasses.fields(Bypass))),
    )


times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1))
address_sets = st.frozensets(st.sampled_from(ADDRESSES))


def _run(
    question: Question,
    group: Group,
    at: datetime,
    plausible: bool,
    safe: frozenset[IPv4Address | IPv6Address],
) -> Decision:
    return decide(question, group, CACHE, at, plausible, safe)


def _inside_white_list(group: Group, name: str | None) -> bool:
    if name is None:
        return False
    own = group.own_entry(name)
    if own is not None:
        return own[1]
    listed = CACHE.lookup(name)
    opened = group.allow_categories | WALLED_GARDEN_ALWAYS
    return listed.white and bool(listed.categories & opened)


@settings(max_examples=600, deadline=None)
@given(questions(), groups(Mode.WHITELIST), times, st.booleans(), address_sets)
def test_a_walled_garden_never_allows_a_name_outside_its_white_list(
    question: Question,
    group: Group,
    at: datetime,
    plausible: bool,
    safe: frozenset[IPv4Address | IPv6Address],
) -> None:
    decision = _run(question, group, at, plausible, safe)
    if decision.verdict is not Verdict.BLOCK:
        name = None if question.name is None else question.name.text
        assert _inside_white_list(group, name), decision


@settings(max_examples=300, deadline=None)
@given(
    questions(),
    st.sampled_from(list(Mode)).flatmap(groups),
    times,
    st.booleans(),
    address_sets,
)
def test_every_mode_decides_without_raising(
    question: Question,
    group: Group,
    at: datetime,
    plausible: bool,
    safe: frozenset[IPv4Address | IPv6Address],
) -> None:
    decision = _run(question, group, at, plausible, safe)
    assert decision.group == "g" and decision.reason
    assert (decision.safe_target is not None) >= (decision.verdict is Verdict.SAFESEARCH)
    if decision.rule in (RuleKind.CATEGORY, RuleKind.WHITE_ENTRY):  # a list entry decided
        assert decision.list_name == "default", decision
    if group.mode is Mode.OFF:
        assert decision.verdict is Verdict.ALLOW


def _every_row(question: Question, group: Group, at: datetime, plausible: bool) -> Decision:
    """The first decision of the whole table, each row asked in turn (no plan)."""
    name = None if question.name is None else question.name.text
    listed = NOT_LISTED if name is None or group.mode is Mode.OFF else CACHE.lookup(name)
    facts = Facts(question, group, name, listed, active_windows(group.windows, at, plausible))
    for _title, row, _applies in RULES:
        decision = row(facts)
        if decision is not None:
            return decision
    raise AssertionError("the filter-mode row always decides")


@settings(max_examples=600, deadline=None)
@given(
    questions(),
    st.sampled_from(list(Mode)).flatmap(groups),
    times,
    st.booleans(),
)
def test_the_rows_a_group_skips_never_change_a_decision(
    question: Question, group: Group, at: datetime, plausible: bool
) -> None:
    # Safe addresses empty and safe search off: the rows alone decide.
    group = dataclasses.replace(group, safe_search=False, youtube=YouTubeMode.OFF)
    assert _run(question, group, at, plausible, frozenset()) == _every_row(
        question, group, at, plausible
    )
