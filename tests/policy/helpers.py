"""Builders for policy tests: groups, questions and list lookups.

Lists are real compiled caches (``copgate.lists.compile.build_cache`` read by
``ListCache.from_bytes``) so that policy is tested against the lookup it will
meet in the daemon. ``MemoryLookup`` states the same semantics in a few
lines; a test checks the two agree on the entries used here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime
from ipaddress import IPv4Address, IPv6Address, ip_address

from copgate.lists.cache import ListCache
from copgate.lists.compile import build_cache
from copgate.lists.model import NOT_LISTED, ListEntry, ListMatch, NameLookup
from copgate.policy.decide import Decision, decide
from copgate.policy.model import (
    MODE_DEFAULTS,
    ClientMatch,
    Group,
    Mode,
    TimeWindow,
    YouTubeMode,
)
from copgate.wire.names import Name, name_from_bytes
from copgate.wire.question import ClientHello, DnsQuery, Ech, Kind, Question

CLIENT = (bytes([192, 0, 2, 7]), 50000)
SERVER_IP = "198.51.100.80"
SAFE_IP = ip_address("216.239.38.120")
SAFE_ADDRESSES: frozenset[IPv4Address | IPv6Address] = frozenset({SAFE_IP})
MONDAY_NOON = datetime(2024, 6, 3, 12, 0)


def make_group(name: str = "g", mode: Mode = Mode.FILTER, **overrides: object) -> Group:
    """A group with the mode's defaults; keyword arguments override any field."""
    defaults = MODE_DEFAULTS[mode]
    group = Group(
        name=name,
        description="",
        match=ClientMatch(frozenset(), (), frozenset()),
        mode=mode,
        block_categories=frozenset({"adult", "gambling"}),
        allow_categories=frozenset(),
        allow=(),
        block=(),
        safe_search=mode is not Mode.OFF,
        youtube=YouTubeMode.STRICT if mode is not Mode.OFF else YouTubeMode.OFF,
        windows=(),
        failure=defaults.failure,
        unreadable=defaults.unreadable,
        invalid_names=defaults.invalid_names,
        bypass=defaults.bypass,
        evasion=defaults.evasion,
    )
    return dataclasses.replace(group, **overrides)  # type: ignore[arg-type]


def window(
    days: Iterable[int], start: str, end: str, *, categories: Iterable[str] = ()
) -> TimeWindow:
    """A window from HH:MM strings; no categories means block everything."""
    cats = frozenset(categories)
    return TimeWindow(frozenset(days), _minutes(start), _minutes(end), not cats, cats)


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def name(text: str) -> Name:
    return name_from_bytes(text.encode("utf-8"))


def dns(host: str | Name, qtype: int = 1, server: str = SERVER_IP) -> Question:
    qname = name(host) if isinstance(host, str) else host
    query = DnsQuery(qname, qtype, 1, 0x1234, False, 1232)
    return Question(Kind.DNS, qname, CLIENT, (ip_address(server).packed, 53), dns=query)


def tls(host: str | None, server: str = SERVER_IP, ech: Ech = Ech.NONE) -> Question:
    sni = None if host is None else name(host)
    hello = ClientHello(sni, ("h2", "http/1.1"), ech)
    return Question(Kind.TLS, sni, CLIENT, (ip_address(server).packed, 443), hello=hello)


def quic(host: str | None, server: str = SERVER_IP) -> Question:
    sni = None if host is None else name(host)
    hello = ClientHello(sni, ("h3",), Ech.NONE)
    return Question(
        Kind.QUIC, sni, CLIENT, (ip_address(server).packed, 443), hello=hello, quic_version=1
    )


def http(host: str, server: str = SERVER_IP) -> Question:
    return Question(Kind.HTTP, name(host), CLIENT, (ip_address(server).packed, 80))


LIST_NAME = "default"
"""The name of the lists ``compiled`` and ``MemoryLookup`` answer from."""


def compiled(entries: Iterable[ListEntry], list_name: str = LIST_NAME) -> ListCache:
    """A real cache over ``entries``, in memory, as if read from ``{list_name}.cgl``."""
    data, _report = build_cache(list(entries), build_time=1_700_000_000)
    return ListCache.from_bytes(data, f"{list_name}.cgl")


class MemoryLookup:
    """The documented lookup semantics, written plainly.

    A listed name covers its subdomains; the most specific listed suffix
    decides; at the same name a white entry beats the black ones; entries
    of one name and colour merge their categories. Every match names the
    list, ``list_name``.
    """

    def __init__(self, entries: Iterable[ListEntry], list_name: str = LIST_NAME) -> None:
        self.list_name = list_name
        self._white: dict[str, frozenset[str]] = {}
        self._black: dict[str, frozenset[str]] = {}
        for entry in entries:
            table = self._white if entry.white else self._black
            table[entry.name] = table.get(entry.name, frozenset()) | entry.categories

    def lookup(self, name: str) -> ListMatch:
        labels = name.split(".")
        for start in range(len(labels)):
            suffix = ".".join(labels[start:])
            if suffix in self._white:
                return ListMatch(True, suffix, self._white[suffix], True, self.list_name)
            if suffix in self._black:
                return ListMatch(True, suffix, self._black[suffix], False, self.list_name)
        return NOT_LISTED


def white(host: str, *categories: str) -> ListEntry:
    return ListEntry(host, frozenset(categories), white=True)


def black(host: str, *categories: str) -> ListEntry:
    return ListEntry(host, frozenset(categories))


def judge(
    question: Question,
    group: Group,
    lists: NameLookup,
    at: datetime = MONDAY_NOON,
    *,
    clock_plausible: bool = True,
    safe_addresses: frozenset[IPv4Address | IPv6Address] = SAFE_ADDRESSES,
) -> Decision:
    """``decide`` with the usual test defaults."""
    return decide(question, group, lists, at, clock_plausible, safe_addresses)
