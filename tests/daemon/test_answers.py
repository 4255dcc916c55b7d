"""What a block is answered with: the DNS reply per setting, the query echoed over
TCP, the block page's address by family."""

from __future__ import annotations

import dataclasses
from ipaddress import IPv4Address, IPv6Address

import pytest

from copgate.daemon.answers import (
    NULL_IPV4,
    NULL_IPV6,
    SafeTargets,
    blockpage_location,
    dns_reply,
    query_message,
    tcp_query,
)
from copgate.forge.dns_reply import EDE_BLOCKED, EDE_FILTERED, ReplyKind
from copgate.policy.decision import Decision, RuleKind, Verdict
from copgate.policy.model import DnsBlockAnswer, Settings
from copgate.wire.dns import read_dns_message
from copgate.wire.question import Kind, Question
from tests.wire.builders import dns_query

ROUTER4 = IPv4Address("192.0.2.1")
ROUTER6 = IPv6Address("2001:db8:1::1")
BLOCKED = Decision(Verdict.BLOCK, "kids", RuleKind.CATEGORY, "listed in gambling")


def settings(**changes: object) -> Settings:
    base = Settings(
        lists=(),
        timezone="UTC0",
        dns_block=DnsBlockAnswer.NXDOMAIN,
        blockpage_ipv4=ROUTER4,
        blockpage_ipv6=None,
        block_ttl=120,
        tls_ports=frozenset({443}),
        lan_interfaces=("br-lan",),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("answer", "kind", "v4", "v6"),
    [
        (DnsBlockAnswer.NXDOMAIN, ReplyKind.NXDOMAIN, None, None),
        (DnsBlockAnswer.NULL, ReplyKind.ADDRESS, NULL_IPV4, NULL_IPV6),
        # No IPv6 block-page address: the null address, never the other family's.
        (DnsBlockAnswer.BLOCKPAGE, ReplyKind.ADDRESS, ROUTER4, NULL_IPV6),
    ],
)
def test_a_blocked_name_gets_the_configured_answer(
    answer: DnsBlockAnswer, kind: ReplyKind, v4: IPv4Address | None, v6: IPv6Address | None
) -> None:
    reply = dns_reply(BLOCKED, settings(dns_block=answer), {})
    assert (reply.kind, reply.ipv4, reply.ipv6, reply.ttl) == (kind, v4, v6, 120)
    assert (reply.ede, reply.ede_text) == (EDE_BLOCKED, "copgate: listed in gambling")


def test_nodata_and_safe_search_answers() -> None:
    nodata = dns_reply(BLOCKED._replace(dns_nodata=True), settings(), {})
    assert (nodata.kind, nodata.ede) == (ReplyKind.NODATA, EDE_FILTERED)
    safe = Decision(
        Verdict.SAFESEARCH,
        "kids",
        RuleKind.SAFESEARCH,
        "safe search",
        safe_target="forcesafesearch.google.com",
    )
    targets: SafeTargets = {"forcesafesearch.google.com": ((IPv4Address("192.0.2.7"),), ())}
    reply = dns_reply(safe, settings(), targets)
    assert (reply.kind, reply.target, reply.ede) == (
        ReplyKind.CNAME,
        "forcesafesearch.google.com",
        None,
    )
    assert reply.target_ipv4 == (IPv4Address("192.0.2.7"),)


def test_a_tcp_query_is_echoed_whole_or_rebuilt() -> None:
    message = dns_query("Casino.Example", msg_id=0x4242)
    query = read_dns_message(message)
    framed = len(message).to_bytes(2, "big") + message
    assert tcp_query(framed, query) == message  # the case is kept
    assert tcp_query(framed[:-1], query) is None  # cut short: not the whole message
    assert tcp_query(framed, query._replace(msg_id=1)) is None  # another message
    client, server = (bytes(4), 40000), (bytes(4), 53)
    question = Question(Kind.DNS, query.name, client, server, dns=query)
    rebuilt = read_dns_message(query_message(question))
    assert (rebuilt.name, rebuilt.qtype, rebuilt.msg_id) == (query.name, 1, 0x4242)


def test_the_block_page_location_is_chosen_by_family_and_what_is_served() -> None:
    both = settings(blockpage_ipv4=ROUTER4, blockpage_ipv6=ROUTER6)
    assert blockpage_location(both, 6, "a.example", "adult") == (
        "http://[2001:db8:1::1]:8099/blocked?host=a.example&why=adult"
    )
    assert blockpage_location(both, 4, "a.example", "adult", frozenset({ROUTER4})) == (
        "http://192.0.2.1:8099/blocked?host=a.example&why=adult"
    )
    assert blockpage_location(both, 6, "a.example", "adult", frozenset({ROUTER4})) is None
    only4 = settings(blockpage_ipv4=ROUTER4, blockpage_ipv6=None)
    assert blockpage_location(only4, 6, "a.example", "adult") is None
    # The name and reason are query values: whatever they hold stays inside them.
    odd = blockpage_location(only4, 4, "a.example/&x=1", "why? #1")
    assert odd == "http://192.0.2.1:8099/blocked?host=a.example%2F%26x%3D1&why=why%3F%20%231"
