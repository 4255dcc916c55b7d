"""The engine's hooks for the block page's requests: grants and the page's own name.

DNS cases run on both paths of a UDP query: the fast path (``Engine._dns_fast``)
and the general one, which must apply the same grants and answer the same name.
"""

from __future__ import annotations

import pytest

from copgate.daemon.engine import Action
from copgate.policy.decision import RuleKind, Verdict
from copgate.policy.grants import Grant, Grants
from copgate.tools.samples import client_hello
from copgate.wire.dns import read_dns_message
from copgate.wire.packet import read_ip
from tests.daemon.test_engine import META, NOW, acked, engine
from tests.wire.builders import CLIENT4, SERVER4, dns_query, ipv4, tcp, udp4


@pytest.mark.parametrize("fast", [True, False], ids=["fast path", "general path"])
def test_a_grant_lets_the_group_in_until_it_expires(fast: bool) -> None:
    eng = engine()
    eng.fast_dns = fast
    eng.grants = Grants([Grant("casino.example", "pupils", NOW + 20)])
    verdict = eng.judge(udp4(dns_query("www.casino.example")), META)
    assert verdict.action is Action.ACCEPT
    assert verdict.decision is not None
    assert (verdict.decision.verdict, verdict.decision.rule) == (Verdict.ALLOW, RuleKind.GRANT)
    later = eng.judge(udp4(dns_query("www.casino.example")), META._replace(now=NOW + 21))
    assert later.action is Action.DROP
    assert later.decision is not None and later.decision.rule is RuleKind.CATEGORY


def test_a_grant_opens_a_tls_hello_too() -> None:
    eng = engine()
    eng.grants = Grants([Grant("casino.example", "pupils", None)])
    hello = client_hello("casino.example")
    segment = ipv4(CLIENT4, SERVER4, 6, acked(tcp(40000, 443, 5000, hello), 7000))
    verdict = eng.judge(segment, META)
    assert verdict.action is Action.DECIDED
    assert verdict.decision is not None and verdict.decision.rule is RuleKind.GRANT


@pytest.mark.parametrize("fast", [True, False], ids=["fast path", "general path"])
def test_a_grant_of_another_group_changes_nothing(fast: bool) -> None:
    eng = engine()
    eng.fast_dns = fast
    eng.grants = Grants([Grant("casino.example", "teens", None)])
    assert eng.judge(udp4(dns_query("casino.example")), META).action is Action.DROP


@pytest.mark.parametrize("fast", [True, False], ids=["fast path", "general path"])
def test_the_page_name_is_answered_with_the_block_page_address(fast: bool) -> None:
    eng = engine()
    eng.fast_dns = fast
    eng.page_name = "blocked.copgate.lan"
    verdict = eng.judge(udp4(dns_query("Blocked.Copgate.Lan", msg_id=7)), META)
    assert verdict.action is Action.DROP
    (answer,) = verdict.inject
    payload = read_ip(answer).payload
    reply = read_dns_message(payload)
    assert reply.msg_id == 7 and payload[3] & 0x0F == 0  # NOERROR
    assert payload.endswith(bytes([192, 0, 2, 1]))  # the A record: blockpage_ipv4
    assert verdict.decision is not None and verdict.decision.verdict is Verdict.ALLOW
    aaaa = eng.judge(udp4(dns_query("blocked.copgate.lan", qtype=28)), META)
    assert read_dns_message(read_ip(aaaa.inject[0]).payload).msg_id == 0x1234


@pytest.mark.parametrize("fast", [True, False], ids=["fast path", "general path"])
def test_without_a_page_name_the_name_is_judged_as_any_other(fast: bool) -> None:
    eng = engine()
    eng.fast_dns = fast
    verdict = eng.judge(udp4(dns_query("blocked.copgate.lan")), META)
    assert verdict.action is Action.ACCEPT and verdict.inject == ()
