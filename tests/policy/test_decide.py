"""The decision table: precedence as data, bypass switches, safe search.

Lists are real compiled caches; ``MemoryLookup`` (the documented semantics)
is checked against them in test_lookup_semantics.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime

import pytest

from copgate.lists.cache import ListCache
from copgate.lists.listset import ListSet
from copgate.lists.model import ListMatch
from copgate.policy.decide import RULES, Decision, RuleKind, Shape, Verdict, rows_for
from copgate.policy.model import Bypass, FailureMode, Group, Mode, Treatment, YouTubeMode
from copgate.wire.names import Name
from copgate.wire.question import Ech, Kind, Question
from tests.policy.helpers import (
    MONDAY_NOON,
    SAFE_IP,
    black,
    compiled,
    dns,
    http,
    judge,
    make_group,
    quic,
    tls,
    white,
    window,
)

ENTRIES = [
    black("adult.test", "adult"),
    black("casino.test", "gambling"),
    black("games.test", "games"),
    white("edu.games.test", "liste_bu"),  # white, more specific than a black entry
    white("chess.test", "games"),  # a white entry in a category a window closes
    white("wiki.test", "starter_whitelist"),
    black("ads.wiki.test", "publicite"),  # black, more specific than a white entry
    white("both.test", "liste_bu"),  # white and black at the same name
    black("both.test", "adult"),
    white("ocsp.ca.test", "infrastructure"),
    black("dns.resolver.test", "doh"),
    white("school.test", "school_white"),
    black("social.test", "social_networks"),
    white("google.com", "starter_whitelist"),
]


@pytest.fixture(scope="module")
def lists() -> ListCache:
    return compiled(ENTRIES)


FILTER = make_group("teens", block_categories=frozenset({"adult", "gambling"}))
WALLED = make_group("young", Mode.WHITELIST, allow_categories=frozenset({"liste_bu"}))
STAFF = make_group("staff", Mode.OFF)

A = Verdict.ALLOW
B = Verdict.BLOCK

# host -> (verdict, rule, category, match) for a category filter.
FILTER_TABLE = [
    ("adult.test", B, RuleKind.CATEGORY, "adult", "adult.test"),
    ("www.adult.test", B, RuleKind.CATEGORY, "adult", "adult.test"),  # covers subdomains
    ("casino.test", B, RuleKind.CATEGORY, "gambling", "casino.test"),
    ("games.test", A, RuleKind.NOT_LISTED, None, "games.test"),  # listed, not blocked here
    ("unknown.test", A, RuleKind.NOT_LISTED, None, None),
    ("edu.games.test", A, RuleKind.WHITE_ENTRY, "liste_bu", "edu.games.test"),  # specific wins
    ("both.test", A, RuleKind.WHITE_ENTRY, "liste_bu", "both.test"),  # white beats black
    ("ads.wiki.test", A, RuleKind.NOT_LISTED, None, "ads.wiki.test"),
    ("school.test", A, RuleKind.WHITE_ENTRY, "school_white", "school.test"),
    ("ocsp.ca.test", A, RuleKind.WHITE_ENTRY, "infrastructure", "ocsp.ca.test"),
]

# host -> (verdict, rule, category, match) for a walled garden opening liste_bu.
WALLED_TABLE = [
    ("wiki.test", A, RuleKind.WHITE_ENTRY, "starter_whitelist", "wiki.test"),
    ("en.wiki.test", A, RuleKind.WHITE_ENTRY, "starter_whitelist", "wiki.test"),
    ("ads.wiki.test", B, RuleKind.WHITELIST_ONLY, None, "ads.wiki.test"),  # black is closer
    ("edu.games.test", A, RuleKind.WHITE_ENTRY, "liste_bu", "edu.games.test"),
    ("both.test", A, RuleKind.WHITE_ENTRY, "liste_bu", "both.test"),
    ("games.test", B, RuleKind.WHITELIST_ONLY, None, "games.test"),
    ("school.test", B, RuleKind.WHITELIST_ONLY, None, "school.test"),  # category not opened
    ("chess.test", B, RuleKind.WHITELIST_ONLY, None, "chess.test"),
    ("unknown.test", B, RuleKind.WHITELIST_ONLY, None, None),
    ("ocsp.ca.test", A, RuleKind.WHITE_ENTRY, "infrastructure", "ocsp.ca.test"),
]


def _shape(decision: Decision) -> tuple[Verdict, RuleKind, str | None, str | None]:
    return decision.verdict, decision.rule, decision.category, decision.match


@pytest.mark.parametrize(("host", "verdict", "rule", "category", "match"), FILTER_TABLE)
def test_filter_mode(
    lists: ListCache,
    host: str,
    verdict: Verdict,
    rule: RuleKind,
    category: str | None,
    match: str | None,
) -> None:
    for question in (dns(host), tls(host), http(host)):
        decision = judge(question, FILTER, lists)
        assert _shape(decision) == (verdict, rule, category, match)
        assert decision.group == "teens"
        assert host in decision.reason


def test_filter_blocks_a_more_specific_black_entry_under_a_white_one(lists: ListCache) -> None:
    group = dataclasses.replace(FILTER, block_categories=frozenset({"publicite"}))
    assert _shape(judge(dns("ads.wiki.test"), group, lists)) == (
        B,
        RuleKind.CATEGORY,
        "publicite",
        "ads.wiki.test",
    )
    assert judge(dns("wiki.test"), group, lists).verdict is A


@pytest.mark.parametrize(("host", "verdict", "rule", "category", "match"), WALLED_TABLE)
def test_whitelist_mode(
    lists: ListCache,
    host: str,
    verdict: Verdict,
    rule: RuleKind,
    category: str | None,
    match: str | None,
) -> None:
    for question in (dns(host), tls(host), http(host)):
        assert _shape(judge(question, WALLED, lists)) == (verdict, rule, category, match)


def test_whitelist_categories_open_their_white_entries(lists: ListCache) -> None:
    group = dataclasses.replace(WALLED, allow_categories=frozenset({"school_white"}))
    assert judge(dns("school.test"), group, lists).verdict is A
    assert judge(dns("edu.games.test"), group, lists).verdict is B


@pytest.mark.parametrize(
    "host", ["adult.test", "unknown.test", "dns.resolver.test", "www.google.com"]
)
def test_mode_off_allows_everything_unfiltered(lists: ListCache, host: str) -> None:
    for question in (dns(host), dns(host, qtype=65), tls(host), quic(host), tls(None)):
        decision = judge(question, STAFF, lists)
        assert (decision.verdict, decision.rule) == (A, RuleKind.UNFILTERED)
    assert judge(dns("use-application-dns.net"), STAFF, lists).dns_nodata is False


OWN = dataclasses.replace(
    FILTER,
    allow=("ok.adult.test", "both2.test", "dns.resolver.test", "late.test"),
    block=("games.test", "edu.games.test", "blocked.test", "both2.test", "ok.adult.test.evil"),
)
# host -> (verdict, rule, match): own entries beat the lists, the most
# specific own entry wins, and allow wins at the same name.
OWN_TABLE = [
    ("games.test", B, RuleKind.OWN_ENTRY, "games.test"),  # own block beats not-blocked
    ("edu.games.test", B, RuleKind.OWN_ENTRY, "edu.games.test"),  # own block beats white
    ("ok.adult.test", A, RuleKind.OWN_ENTRY, "ok.adult.test"),  # own allow beats category
    ("www.ok.adult.test", A, RuleKind.OWN_ENTRY, "ok.adult.test"),
    ("adult.test", B, RuleKind.CATEGORY, "adult.test"),
    ("x.blocked.test", B, RuleKind.OWN_ENTRY, "blocked.test"),
    ("both2.test", A, RuleKind.OWN_ENTRY, "both2.test"),
    ("dns.resolver.test", B, RuleKind.BYPASS, "dns.resolver.test"),  # bypass beats own allow
]


@pytest.mark.parametrize(("host", "verdict", "rule", "match"), OWN_TABLE)
def test_own_entries(
    lists: ListCache, host: str, verdict: Verdict, rule: RuleKind, match: str
) -> None:
    decision = judge(tls(host), OWN, lists)
    assert (decision.verdict, decision.rule, decision.match) == (verdict, rule, match)


def test_own_allow_opens_a_walled_garden_and_a_window(lists: ListCache) -> None:
    group = dataclasses.replace(
        WALLED, allow=("unknown.test",), windows=(window(range(7), "00:00", "24:00"),)
    )
    assert judge(dns("www.unknown.test"), group, lists).rule is RuleKind.OWN_ENTRY
    assert judge(dns("wiki.test"), group, lists).rule is RuleKind.TIME_WINDOW


WINDOWED = dataclasses.replace(
    FILTER,
    allow=("late.test",),
    windows=(
        window(range(5), "22:00", "06:30"),
        window(range(5), "08:00", "15:00", categories=["games", "social_networks"]),
    ),
)
# (host, local time, verdict, rule): 2024-06-03 is a Monday.
WINDOW_TABLE = [
    ("unknown.test", "2024-06-03 21:59", A, RuleKind.NOT_LISTED),
    ("unknown.test", "2024-06-03 22:00", B, RuleKind.TIME_WINDOW),
    ("unknown.test", "2024-06-04 06:29", B, RuleKind.TIME_WINDOW),
    ("unknown.test", "2024-06-04 06:30", A, RuleKind.NOT_LISTED),
    ("unknown.test", "2024-06-08 02:00", B, RuleKind.TIME_WINDOW),  # Friday's night
    ("unknown.test", "2024-06-03 02:00", A, RuleKind.NOT_LISTED),  # Sunday has none
    ("late.test", "2024-06-03 23:00", A, RuleKind.OWN_ENTRY),
    ("ocsp.ca.test", "2024-06-03 23:00", A, RuleKind.WHITE_ENTRY),  # infrastructure
    ("games.test", "2024-06-03 07:59", A, RuleKind.NOT_LISTED),
    ("games.test", "2024-06-03 08:00", B, RuleKind.TIME_WINDOW),
    ("chess.test", "2024-06-03 10:00", B, RuleKind.TIME_WINDOW),  # closes white entries too
    ("chess.test", "2024-06-03 15:00", A, RuleKind.WHITE_ENTRY),
    ("social.test", "2024-06-07 14:59", B, RuleKind.TIME_WINDOW),
    ("social.test", "2024-06-08 10:00", A, RuleKind.NOT_LISTED),
    ("edu.games.test", "2024-06-03 10:00", A, RuleKind.WHITE_ENTRY),  # liste_bu, not games
    ("adult.test", "2024-06-03 12:00", B, RuleKind.CATEGORY),
]


@pytest.mark.parametrize(("host", "local", "verdict", "rule"), WINDOW_TABLE)
def test_time_windows(
    lists: ListCache, host: str, local: str, verdict: Verdict, rule: RuleKind
) -> None:
    decision = judge(dns(host), WINDOWED, lists, datetime.fromisoformat(local))
    assert (decision.verdict, decision.rule) == (verdict, rule)


def test_window_category_names_the_category(lists: ListCache) -> None:
    decision = judge(dns("games.test"), WINDOWED, lists, datetime(2024, 6, 3, 9, 0))
    assert (decision.category, decision.match) == ("games", "games.test")
    assert "08:00-15:00" in decision.reason


def test_an_implausible_clock_takes_the_stricter_choice(lists: ListCache) -> None:
    saturday_noon = datetime(2024, 6, 8, 12, 0)
    assert judge(dns("unknown.test"), WINDOWED, lists, saturday_noon).verdict is A
    strict = judge(dns("unknown.test"), WINDOWED, lists, saturday_noon, clock_plausible=False)
    assert (strict.verdict, strict.rule) == (B, RuleKind.TIME_WINDOW)


def _with(**switches: bool) -> Bypass:
    return dataclasses.replace(Bypass.all(False), **switches)


# (switch, question, decision with the switch on): off, the same question is allowed.
BYPASS_TABLE = [
    ("block_doh", tls("dns.resolver.test"), False),
    ("block_doh", dns("dns.resolver.test"), False),
    ("block_doh", dns("_dns.resolver.arpa", qtype=64), True),
    ("canaries", dns("use-application-dns.net"), True),
    ("canaries", dns("mask.icloud.com"), True),
    ("canaries", dns("mask-h2.icloud.com", qtype=28), True),
    ("https_records_nodata", dns("unknown.test", qtype=65), True),
    ("https_records_nodata", dns("wiki.test", qtype=65), True),
    ("refuse_real_ech", tls("cloudflare-ech.com", ech=Ech.REAL), False),
    ("refuse_real_ech", tls("public.example.test", ech=Ech.ESNI), False),
    ("refuse_quic", quic("unknown.test"), False),
    ("refuse_bare_ip", tls(None), False),
    ("refuse_bare_ip", quic(None), False),
    ("refuse_bare_ip", tls("192.0.2.1"), False),
]


@pytest.mark.parametrize(("switch", "question", "nodata"), BYPASS_TABLE)
def test_bypass_switches(lists: ListCache, switch: str, question: Question, nodata: bool) -> None:
    on = dataclasses.replace(FILTER, bypass=_with(**{switch: True}))
    decision = judge(question, on, lists)
    assert (decision.verdict, decision.rule, decision.dns_nodata) == (B, RuleKind.BYPASS, nodata)
    off = dataclasses.replace(FILTER, bypass=Bypass.all(False))
    assert judge(question, off, lists).verdict is A


@pytest.mark.parametrize(
    "question",
    [
        tls("unknown.test", ech=Ech.GREASE),  # GREASE ECH: the SNI is real
        dns("unknown.test", qtype=1),
        dns("use-application-dns.net.evil.test"),  # only the canary names themselves
        tls("use-application-dns.net"),  # canaries are a DNS matter
        tls("unknown.test"),  # TLS is never refused as QUIC
        http("192.0.2.1"),  # bare addresses are refused for TLS/QUIC only
    ],
)
def test_switches_on_leave_ordinary_questions_alone(lists: ListCache, question: Question) -> None:
    group = dataclasses.replace(FILTER, bypass=Bypass.all(True))
    assert judge(question, group, lists).verdict is A


def test_bypass_beats_a_white_entry(lists: ListCache) -> None:
    decision = judge(dns("wiki.test", qtype=65), WALLED, lists)
    assert (decision.verdict, decision.dns_nodata) == (B, True)
    assert judge(quic("wiki.test"), WALLED, lists).rule is RuleKind.BYPASS


def test_without_a_name_a_walled_garden_refuses_and_a_filter_allows(lists: ListCache) -> None:
    walled = dataclasses.replace(WALLED, bypass=Bypass.all(False))
    assert judge(tls(None), walled, lists).rule is RuleKind.WHITELIST_ONLY
    assert judge(tls(None), FILTER, lists).rule is RuleKind.NOT_LISTED


INVALID = Name("bad\\x07name.test", False, "control bytes")


@pytest.mark.parametrize(
    ("group", "treatment", "expected"),
    [
        (FILTER, Treatment.REFUSE, (B, RuleKind.INVALID_NAME)),
        (FILTER, Treatment.ALLOW, (A, RuleKind.NOT_LISTED)),
        (WALLED, Treatment.REFUSE, (B, RuleKind.INVALID_NAME)),
        (WALLED, Treatment.ALLOW, (B, RuleKind.WHITELIST_ONLY)),  # still not white-listed
        (STAFF, Treatment.REFUSE, (A, RuleKind.UNFILTERED)),
    ],
)
def test_invalid_names(
    lists: ListCache, group: Group, treatment: Treatment, expected: tuple[Verdict, RuleKind]
) -> None:
    chosen = dataclasses.replace(group, invalid_names=treatment)
    decision = judge(dns(INVALID), chosen, lists)
    assert (decision.verdict, decision.rule) == expected
    if expected[1] is RuleKind.INVALID_NAME:
        assert "control bytes" in decision.reason


# Safe search: (group switches, host) -> safe target for DNS, or None.
SAFE_DNS_TABLE = [
    (True, YouTubeMode.STRICT, "www.google.com", "forcesafesearch.google.com"),
    (True, YouTubeMode.STRICT, "google.de", "forcesafesearch.google.com"),
    (True, YouTubeMode.STRICT, "www.google.co.uk", "forcesafesearch.google.com"),
    (True, YouTubeMode.STRICT, "mail.google.com", None),  # exact names only
    (True, YouTubeMode.STRICT, "www.youtube.com", "restrict.youtube.com"),
    (True, YouTubeMode.MODERATE, "youtubei.googleapis.com", "restrictmoderate.youtube.com"),
    (True, YouTubeMode.OFF, "m.youtube.com", None),
    (False, YouTubeMode.STRICT, "www.youtube-nocookie.com", "restrict.youtube.com"),
    (False, YouTubeMode.STRICT, "www.google.com", None),
    (True, YouTubeMode.OFF, "www.bing.com", "strict.bing.com"),
    (True, YouTubeMode.OFF, "start.duckduckgo.com", "safe.duckduckgo.com"),
    (True, YouTubeMode.OFF, "pixabay.com", "safesearch.pixabay.com"),
]


@pytest.mark.parametrize(("safe", "youtube", "host", "target"), SAFE_DNS_TABLE)
def test_safe_search_dns(
    lists: ListCache, safe: bool, youtube: YouTubeMode, host: str, target: str | None
) -> None:
    group = dataclasses.replace(FILTER, safe_search=safe, youtube=youtube)
    decision = judge(dns(host), group, lists)
    if target is None:
        assert decision.verdict is A
    else:
        assert (decision.verdict, decision.rule) == (Verdict.SAFESEARCH, RuleKind.SAFESEARCH)
        assert (decision.safe_target, decision.match) == (target, host)


@pytest.mark.parametrize("make", [tls, quic, http])
def test_safe_search_connections_must_reach_a_safe_endpoint(
    lists: ListCache, make: Callable[..., Question]
) -> None:
    to_safe = judge(make("www.google.com", server=str(SAFE_IP)), FILTER, lists)
    assert (to_safe.verdict, to_safe.rule) == (A, RuleKind.SAFESEARCH)
    elsewhere = judge(make("www.google.com", server="198.51.100.9"), FILTER, lists)
    assert (elsewhere.verdict, elsewhere.rule) == (B, RuleKind.SAFESEARCH)
    assert elsewhere.safe_target == "forcesafesearch.google.com"
    mapped = judge(make("www.google.com", server="::ffff:216.239.38.120"), FILTER, lists)
    assert mapped.verdict is A


@pytest.mark.parametrize(("failure", "verdict"), [(FailureMode.OPEN, A), (FailureMode.CLOSED, B)])
def test_unknown_safe_addresses_follow_the_failure_mode(
    lists: ListCache, failure: FailureMode, verdict: Verdict
) -> None:
    group = dataclasses.replace(FILTER, failure=failure)
    decision = judge(tls("www.google.com"), group, lists, safe_addresses=frozenset())
    assert (decision.verdict, decision.rule) == (verdict, RuleKind.SAFESEARCH)


def test_safe_search_never_opens_what_is_blocked(lists: ListCache) -> None:
    # www.youtube.com is not in the walled garden: no restricted YouTube either.
    assert judge(dns("www.youtube.com"), WALLED, lists).rule is RuleKind.WHITELIST_ONLY
    # www.google.com is (starter_whitelist google.com): it gets safe search.
    assert judge(dns("www.google.com"), WALLED, lists).verdict is Verdict.SAFESEARCH
    own_block = dataclasses.replace(FILTER, block=("youtube.com",))
    assert judge(dns("www.youtube.com"), own_block, lists).rule is RuleKind.OWN_ENTRY
    own_allow = dataclasses.replace(FILTER, allow=("google.com",))
    assert judge(dns("www.google.com"), own_allow, lists).verdict is Verdict.SAFESEARCH


def test_the_table_is_in_the_documented_order() -> None:
    titles = [title for title, _row, _applies in RULES]
    assert titles[0].startswith("mode off")
    assert titles.index("own allow/block entries") > max(
        index for index, title in enumerate(titles) if title.startswith("bypass")
    )
    assert titles[-3:] == ["time windows", "whitelist mode", "filter mode"]


# (group, question, local time, rule, list): every decision made by a list
# entry names its list (the cache ``default.cgl``), own entries name the
# group's own list, built-in tables theirs, and nothing else names one.
LIST_NAME_TABLE = [
    (FILTER, dns("www.adult.test"), MONDAY_NOON, RuleKind.CATEGORY, "default"),
    (FILTER, dns("edu.games.test"), MONDAY_NOON, RuleKind.WHITE_ENTRY, "default"),
    (FILTER, dns("games.test"), MONDAY_NOON, RuleKind.NOT_LISTED, "default"),  # listed, allowed
    (FILTER, dns("unknown.test"), MONDAY_NOON, RuleKind.NOT_LISTED, None),
    (FILTER, tls("dns.resolver.test"), MONDAY_NOON, RuleKind.BYPASS, "default"),  # doh
    (WALLED, dns("ocsp.ca.test"), MONDAY_NOON, RuleKind.WHITE_ENTRY, "default"),  # infrastructure
    (WALLED, dns("en.wiki.test"), MONDAY_NOON, RuleKind.WHITE_ENTRY, "default"),
    (WALLED, dns("games.test"), MONDAY_NOON, RuleKind.WHITELIST_ONLY, "default"),
    (WALLED, dns("unknown.test"), MONDAY_NOON, RuleKind.WHITELIST_ONLY, None),
    (WINDOWED, dns("games.test"), datetime(2024, 6, 3, 9), RuleKind.TIME_WINDOW, "default"),
    (WINDOWED, dns("games.test"), datetime(2024, 6, 3, 23), RuleKind.TIME_WINDOW, None),  # all
    (OWN, dns("games.test"), MONDAY_NOON, RuleKind.OWN_ENTRY, "teens.block"),
    (OWN, dns("ok.adult.test"), MONDAY_NOON, RuleKind.OWN_ENTRY, "teens.allow"),
    (FILTER, dns("use-application-dns.net"), MONDAY_NOON, RuleKind.BYPASS, "canaries"),
    (FILTER, dns("unknown.test", qtype=65), MONDAY_NOON, RuleKind.BYPASS, None),
    (FILTER, dns("www.google.com"), MONDAY_NOON, RuleKind.SAFESEARCH, "safesearch"),
    (STAFF, dns("adult.test"), MONDAY_NOON, RuleKind.UNFILTERED, None),
]


@pytest.mark.parametrize(("group", "question", "at", "rule", "list_name"), LIST_NAME_TABLE)
def test_a_decision_names_the_list_that_made_it(
    lists: ListCache,
    group: Group,
    question: Question,
    at: datetime,
    rule: RuleKind,
    list_name: str | None,
) -> None:
    decision = judge(question, group, lists, at)
    assert (decision.rule, decision.list_name) == (rule, list_name)


def test_a_decision_names_both_lists_whose_entries_merged() -> None:
    """Black entries at one suffix in two caches: both lists decided."""
    both = ListSet(
        [
            compiled([black("casino.test", "games")], "default"),
            compiled([black("casino.test", "gambling"), white("ok.casino.test", "x")], "school"),
        ]
    )
    decision = judge(dns("www.casino.test"), FILTER, both)
    assert (decision.verdict, decision.category, decision.match) == (B, "gambling", "casino.test")
    assert decision.list_name == "default+school"
    assert judge(dns("ok.casino.test"), FILTER, both).list_name == "school"


def test_decision_as_dict(lists: ListCache) -> None:
    decision = judge(dns("adult.test"), FILTER, lists)
    assert decision.as_dict() == {
        "verdict": "block",
        "group": "teens",
        "rule": "category",
        "reason": decision.reason,
        "list": "default",
        "category": "adult",
        "match": "adult.test",
        "safe_target": None,
        "dns_nodata": False,
    }


# -- what decide remembers ----------------------------------------------------------


class CountingLookup:
    """A lookup that counts its calls, over a real cache."""

    def __init__(self, lists: ListCache) -> None:
        self.lists = lists
        self.calls = 0

    def lookup(self, name: str) -> ListMatch:
        self.calls += 1
        return self.lists.lookup(name)


def test_a_dns_decision_is_remembered_per_name_and_type(lists: ListCache) -> None:
    group = dataclasses.replace(FILTER)  # a fresh group: an empty memo
    counting = CountingLookup(lists)
    first = judge(dns("www.casino.test"), group, counting)
    assert judge(dns("www.casino.test"), group, counting) is first
    assert counting.calls == 1
    judge(dns("www.casino.test", qtype=28), group, counting)  # AAAA: its own entry
    assert counting.calls == 2
    tls_decision = judge(tls("www.casino.test"), group, counting)  # only DNS is remembered
    assert tls_decision.verdict is B and counting.calls == 3


def test_new_lists_or_a_window_opening_forget_what_was_remembered(lists: ListCache) -> None:
    evening = window(range(7), "18:00", "20:00", categories=["liste_bu"])
    group = dataclasses.replace(FILTER, windows=(evening,))
    at_noon = judge(dns("edu.games.test"), group, lists)
    assert at_noon.verdict is A
    at_seven = judge(dns("edu.games.test"), group, lists, MONDAY_NOON.replace(hour=19))
    assert (at_seven.verdict, at_seven.rule) == (B, RuleKind.TIME_WINDOW)
    fewer = compiled([black("games.test", "games")])
    assert judge(dns("chess.test"), group, lists).rule is RuleKind.WHITE_ENTRY
    assert judge(dns("chess.test"), group, fewer).rule is RuleKind.NOT_LISTED


def test_the_rows_a_group_can_use_are_planned_once_per_shape() -> None:
    group = dataclasses.replace(FILTER, bypass=Bypass.all(True), windows=())
    titles = {row: title for title, row, _applies in RULES}

    def planned(shape: Shape) -> list[str]:
        return [titles[row] for row in rows_for(group, shape)]

    plain = Shape(Kind.DNS, invalid=False, special=False, https=False, listed=False)
    assert rows_for(group, plain) is rows_for(group, tuple(plain))  # type: ignore[arg-type]
    assert planned(plain) == ["filter mode"]
    assert planned(plain._replace(listed=True)) == [
        "bypass: DoH resolvers",
        "infrastructure white list",
        "filter mode",
    ]
    assert planned(plain._replace(special=True, https=True, invalid=True)) == [
        "invalid host name",
        "bypass: canary names",
        "bypass: resolver discovery",
        "bypass: DNS HTTPS records",
        "filter mode",
    ]
    hello = plain._replace(kind=Kind.QUIC)
    assert planned(hello) == [
        "bypass: TLS/QUIC to a bare IP address",
        "bypass: QUIC refused",
        "bypass: real ECH",
        "filter mode",
    ]
    assert [titles[row] for row in rows_for(STAFF, hello)] == ["mode off: unfiltered"]


def test_the_window_row_is_planned_only_while_a_window_is_in_force() -> None:
    evening = window(range(7), "18:00", "20:00", categories=["liste_bu"])
    group = dataclasses.replace(FILTER, bypass=Bypass.all(False), windows=(evening,))
    titles = {row: title for title, row, _applies in RULES}
    plain = Shape(Kind.DNS, invalid=False, special=False, https=False, listed=True)
    assert [titles[row] for row in rows_for(group, plain)] == [
        "infrastructure white list",
        "time windows",
        "filter mode",
    ]
    assert [titles[row] for row in rows_for(group, plain._replace(windows=False))] == [
        "infrastructure white list",
        "filter mode",
    ]
