"""The daemon's engine: packets in, verdicts and forged packets out.

Every case goes from real bytes (built here) through the wire core, policy
and the forging code, and checks the verdict and the injected packets as a
client's stack would read them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address, ip_network

import pytest

from copgate.daemon.engine import Action, Engine, IpAddress, PacketMeta
from copgate.policy.decision import RuleKind, Verdict
from copgate.policy.model import (
    ClientMatch,
    Config,
    DnsBlockAnswer,
    FailureMode,
    Mode,
    Settings,
    Treatment,
)
from copgate.policy.tz import parse_tz
from copgate.tools.samples import client_hello, quic_initial
from copgate.wire.dns import read_dns_message
from copgate.wire.flows import FlowTracker, Observation, Seen
from copgate.wire.packet import PROTO_UDP, TCP_ACK, TCP_FIN, TCP_RST, Packet, read_ip
from copgate.wire.question import Kind, Question
from tests.policy.helpers import black, compiled, make_group, white
from tests.wire.builders import (
    CLIENT4,
    CLIENT6,
    SERVER4,
    SERVER6,
    dns_query,
    ipv4,
    ipv6,
    syn4,
    tcp,
    tcp4,
    udp,
    udp4,
)

NOW = 1_800_000_000.0
META = PacketMeta(NOW, "br-lan")
LISTS = compiled(
    [
        black("casino.example", "gambling"),
        black("adult.example", "adult"),
        white("school.example", "liste_bu"),
        white("connectivitycheck.gstatic.com", "infrastructure"),
    ]
)


def settings(**changes: object) -> Settings:
    base = Settings(
        lists=(),
        timezone="UTC0",
        dns_block=DnsBlockAnswer.NXDOMAIN,
        blockpage_ipv4=IPv4Address("192.0.2.1"),
        blockpage_ipv6=None,
        block_ttl=120,
        tls_ports=frozenset({443}),
        lan_interfaces=("br-lan",),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def config(mode: Mode = Mode.FILTER, **group_changes: object) -> Config:
    pupils = make_group(
        "pupils",
        mode,
        block_categories=frozenset({"gambling", "adult"}),
        allow_categories=frozenset({"liste_bu"}),
        match=ClientMatch(frozenset(), (ip_network("192.0.2.0/24"),), frozenset()),
        **group_changes,
    )
    return Config(settings(), (pupils,), "pupils", "<test>")


def engine(mode: Mode = Mode.FILTER, **group_changes: object) -> Engine:
    return Engine(config(mode, **group_changes), LISTS, lists_built=NOW - 3600)


def acked(body: bytes, ack: int) -> bytes:
    """A TCP segment (before its IP header fills the checksum) with its acknowledgment number."""
    return body[:8] + ack.to_bytes(4, "big") + body[12:]


def test_an_allowed_dns_query_is_accepted_and_never_marks_the_flow() -> None:
    verdict = engine().judge(udp4(dns_query("www.wikipedia.org")), META)
    assert verdict.action is Action.ACCEPT and verdict.inject == ()
    assert verdict.decision is not None and verdict.decision.verdict.value == "allow"


def test_a_blocked_dns_query_is_dropped_and_answered_from_the_resolver() -> None:
    query = dns_query("WWW.Casino.Example", msg_id=0xBEEF, edns=1232)
    verdict = engine().judge(udp4(query, sport=40123), META)
    assert verdict.action is Action.DROP
    (answer,) = verdict.inject
    packet = read_ip(answer)
    assert packet.proto == PROTO_UDP
    assert (packet.src, packet.sport) == (SERVER4, 53)
    assert (packet.dst, packet.dport) == (CLIENT4, 40123)
    reply = read_dns_message(packet.payload)
    assert reply.response and reply.msg_id == 0xBEEF
    assert packet.payload[3] & 0x0F == 3  # NXDOMAIN
    assert b"\x03WWW\x06Casino\x07Example\x00" in packet.payload  # the question echoed as sent
    assert b"copgate" in packet.payload  # the Extended DNS Error's text
    assert verdict.decision is not None and verdict.decision.category == "gambling"


def test_a_blocked_answer_is_remembered_until_the_settings_change() -> None:
    eng = engine()
    first = eng.judge(udp4(dns_query("casino.example", msg_id=1)), META)
    second = eng.judge(udp4(dns_query("casino.example", msg_id=2), sport=40001), META)
    assert len(eng._replies) == 1  # one answer built, for two questions
    # Each forged answer is still the answer to its own query.
    assert [read_dns_message(read_ip(v.inject[0]).payload).msg_id for v in (first, second)] == [
        1,
        2,
    ]
    eng.config = dataclasses.replace(eng.config, settings=settings(dns_block=DnsBlockAnswer.NULL))
    (answer,) = eng.judge(udp4(dns_query("casino.example")), META).inject
    assert read_ip(answer).payload.endswith(b"\x00\x04\x00\x00\x00\x00")


def test_a_blocked_dns_query_over_tcp_gets_its_question_echoed_and_the_flow_closed() -> None:
    query = dns_query("WWW.Casino.Example", msg_id=0xCAFE, edns=1232)
    framed = len(query).to_bytes(2, "big") + query
    eng = engine()
    eng.judge(syn4(1000, sport=40500, dport=53), META)
    verdict = eng.judge(tcp4(1001, framed, sport=40500, dport=53), META)
    assert verdict.action is Action.DROP
    to_client, to_server = (read_ip(p) for p in verdict.inject)
    assert to_client.flags & TCP_FIN and to_server.flags & TCP_RST
    answer = to_client.payload[2:]
    assert int.from_bytes(to_client.payload[:2], "big") == len(answer)
    reply = read_dns_message(answer)
    assert reply.response and reply.msg_id == 0xCAFE
    assert answer[3] & 0x0F == 3  # NXDOMAIN
    # The question as the client wrote it, case included (as over UDP).
    assert b"\x03WWW\x06Casino\x07Example\x00" in answer


def test_the_null_answer_gives_0_0_0_0() -> None:
    eng = engine()
    eng.config = dataclasses.replace(eng.config, settings=settings(dns_block=DnsBlockAnswer.NULL))
    (answer,) = eng.judge(udp4(dns_query("casino.example")), META).inject
    payload = read_ip(answer).payload
    assert payload[7] == 1 and payload.endswith(b"\x00\x04\x00\x00\x00\x00")


def test_a_blocked_hello_resets_both_ends_with_exact_numbers() -> None:
    hello = client_hello("casino.example")
    # The acknowledgment number the client sent: 7000.
    segment = ipv4(CLIENT4, SERVER4, 6, acked(tcp(40000, 443, 5000, hello, TCP_ACK), 7000))
    eng = engine()
    eng.judge(syn4(4999), META)
    verdict = eng.judge(segment, META)
    assert verdict.action is Action.DROP
    to_server, to_client = (read_ip(p) for p in verdict.inject)
    assert to_server.dst == SERVER4 and to_server.flags & TCP_RST and to_server.seq == 5000
    assert to_client.dst == CLIENT4 and to_client.flags & TCP_RST and to_client.seq == 7000
    assert to_client.ack == 5000 + len(hello)


def test_an_allowed_hello_marks_the_flow_decided() -> None:
    verdict = engine().judge(tcp4(1, client_hello("www.example.org")), META)
    assert verdict.action is Action.DECIDED
    assert verdict.question is not None and verdict.question.kind is Kind.TLS


def test_a_hello_in_two_segments_is_accepted_then_judged() -> None:
    hello = client_hello("adult.example", padding=1700)
    eng = engine()
    first = eng.judge(tcp4(1, hello[:1460]), META)
    second = eng.judge(tcp4(1461, hello[1460:]), META)
    assert first.action is Action.ACCEPT
    # The flow of the held packet is known, so the daemon can log it.
    assert first.packet is not None and first.packet.dport == 443
    assert second.action is Action.DROP and len(second.inject) == 2
    assert eng.counters.pending == 1
    assert eng.counters.by_kind == {"tls:block": 1}


def test_a_blocked_quic_flow_stays_dropped() -> None:
    handshake = client_hello("casino.example", records=False)
    initial = udp4(quic_initial(handshake, b"\x01" * 8), dport=443)
    eng = engine()
    assert eng.judge(initial, META).action is Action.DROP
    later = udp4(b"\x40" + bytes(40), dport=443)  # a short-header packet of the same flow
    assert eng.judge(later, META).action is Action.DROP


def test_blocked_http_gets_a_redirect_to_the_block_page() -> None:
    request = b"GET / HTTP/1.1\r\nHost: casino.example\r\n\r\n"
    verdict = engine().judge(tcp4(1, request, dport=80), META)
    assert verdict.action is Action.DROP
    to_client, to_server = (read_ip(p) for p in verdict.inject)
    assert to_client.payload.startswith(b"HTTP/1.1 302 Found\r\nLocation: http://192.0.2.1:8099/")
    assert b"host=casino.example" in to_client.payload
    assert to_server.flags & TCP_RST


# -- where a blocked HTTP request is sent ------------------------------------------------

ROUTER4 = IPv4Address("192.0.2.1")
ROUTER6 = IPv6Address("2001:db8:1::1")
HTTP_REQUEST = b"GET /x HTTP/1.1\r\nHost: casino.example\r\n\r\n"


def _blocked_http(
    version: int,
    v4: IPv4Address | None,
    v6: IPv6Address | None,
    served: frozenset[IpAddress] | None = None,
) -> bytes:
    """What the client reads in place of the server's answer to a blocked request."""
    eng = engine()
    eng.config = dataclasses.replace(
        eng.config, settings=settings(blockpage_ipv4=v4, blockpage_ipv6=v6)
    )
    eng.blockpage_served = served
    if version == 6:
        datagram = ipv6(CLIENT6, SERVER6, 6, tcp(40000, 80, 1, HTTP_REQUEST))
    else:
        datagram = tcp4(1, HTTP_REQUEST, dport=80)
    verdict = eng.judge(datagram, META)
    assert verdict.action is Action.DROP
    to_client, to_server = (read_ip(p) for p in verdict.inject)
    assert (to_client.version, to_server.version) == (version, version)
    assert to_client.flags & TCP_FIN and to_server.flags & TCP_RST
    return to_client.payload


def _location(response: bytes) -> str | None:
    head = response.split(b"\r\n\r\n", 1)[0].decode("ascii")
    found = [line for line in head.split("\r\n") if line.startswith("Location: ")]
    return found[0].removeprefix("Location: ") if found else None


QUERY = "/blocked?host=casino.example&why=gambling&group=pupils&cat=gambling&list=default"
"""The page is told the name, the reason, and the group, category and list that decided."""


@pytest.mark.parametrize(
    ("version", "v4", "v6", "expected"),
    [
        (4, ROUTER4, ROUTER6, f"http://192.0.2.1:8099{QUERY}"),
        (6, ROUTER4, ROUTER6, f"http://[2001:db8:1::1]:8099{QUERY}"),
        (6, None, ROUTER6, f"http://[2001:db8:1::1]:8099{QUERY}"),
        (4, ROUTER4, None, f"http://192.0.2.1:8099{QUERY}"),
    ],
)
def test_a_blocked_request_is_redirected_to_the_block_page_of_its_own_family(
    version: int, v4: IPv4Address | None, v6: IPv6Address | None, expected: str
) -> None:
    response = _blocked_http(version, v4, v6)
    assert response.startswith(b"HTTP/1.1 302 Found\r\n")
    assert _location(response) == expected


@pytest.mark.parametrize(
    ("version", "v4", "v6", "served"),
    [
        # No address of the request's family: never the other family's (an
        # IPv6-only client cannot reach it), and never a made-up one.
        (6, ROUTER4, None, None),
        (4, None, ROUTER6, None),
        (4, None, None, None),
        (6, None, None, None),
        # Configured, but the daemon could not listen there.
        (6, ROUTER4, ROUTER6, frozenset({ROUTER4})),
        (4, ROUTER4, ROUTER6, frozenset()),
    ],
)
def test_without_a_served_block_page_of_its_family_the_client_gets_the_page_itself(
    version: int,
    v4: IPv4Address | None,
    v6: IPv6Address | None,
    served: frozenset[IpAddress] | None,
) -> None:
    response = _blocked_http(version, v4, v6, served)
    assert _location(response) is None
    head, body = response.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 403 Forbidden\r\n")
    assert f"Content-Length: {len(body)}".encode() in head
    assert b"<title>Blocked: casino.example</title>" in body
    assert b"Why: gambling" in body


def test_a_walled_garden_refuses_unreadable_traffic_and_a_filter_allows_it() -> None:
    ssh = b"SSH-2.0-OpenSSH_9.2\r\n"
    garden = engine(Mode.WHITELIST)
    garden.judge(syn4(0, dport=22), META)
    refused = garden.judge(tcp4(1, ssh, dport=22), META)
    assert refused.action is Action.DROP and len(refused.inject) == 2
    assert refused.packet is not None and refused.packet.dport == 22  # the ring shows the server
    filtering = engine(Mode.FILTER)
    filtering.judge(syn4(0, dport=22), META)
    assert filtering.judge(tcp4(1, ssh, dport=22), META).action is Action.DECIDED


def test_a_walled_garden_blocks_what_is_not_white() -> None:
    garden = engine(Mode.WHITELIST)
    assert garden.judge(udp4(dns_query("www.school.example")), META).action is Action.ACCEPT
    assert garden.judge(udp4(dns_query("www.wikipedia.org")), META).action is Action.DROP


def test_malformed_packets_follow_the_failure_mode() -> None:
    broken = udp4(b"\x00\x01")  # a DNS message of two bytes
    assert engine(failure=FailureMode.OPEN).judge(broken, META).action is Action.ACCEPT
    assert engine(failure=FailureMode.CLOSED).judge(broken, META).action is Action.DROP


def test_an_internal_error_still_gives_a_verdict() -> None:
    eng = engine()

    class Exploding:
        def lookup(self, name: str) -> object:
            raise RuntimeError("boom")

    eng.lists = Exploding()  # type: ignore[assignment]
    verdict = eng.judge(udp4(dns_query("www.example.org")), META)
    assert verdict.action in (Action.ACCEPT, Action.DROP)
    assert "RuntimeError" in verdict.note and eng.counters.failures == 1


def test_counters_count_by_kind_and_verdict() -> None:
    eng = engine()
    eng.judge(udp4(dns_query("casino.example")), META)
    eng.judge(udp4(dns_query("ok.example")), META)
    assert eng.counters.by_kind == {"dns:block": 1, "dns:allow": 1}
    assert eng.counters.packets == 2


def test_unreadable_treatment_can_be_overridden() -> None:
    eng = engine(Mode.FILTER, unreadable=Treatment.REFUSE)
    eng.judge(syn4(0, dport=443), META)
    assert eng.judge(tcp4(1, b"\x00" * 30), META).action is Action.DROP


def test_ipv6_dns_is_judged() -> None:
    eng = engine()
    eng.config = dataclasses.replace(
        eng.config,
        groups=(
            dataclasses.replace(
                eng.config.groups[0],
                match=ClientMatch(frozenset(), (ip_network("2001:db8:1::/64"),), frozenset()),
            ),
        ),
    )
    verdict = eng.judge(
        ipv6(CLIENT6, SERVER6, 17, udp(5353, 53, dns_query("casino.example"))), META
    )
    assert verdict.action is Action.DROP
    assert read_ip(verdict.inject[0]).dst == CLIENT6


def test_a_new_config_moves_a_remembered_client_to_its_new_group() -> None:
    eng = engine()
    casino = udp4(dns_query("casino.example"))
    assert eng.judge(casino, META).action is Action.DROP  # pupils: gambling blocked
    staff = make_group("staff", Mode.OFF, match=ClientMatch(frozenset({"br-lan"}), (), frozenset()))
    new = dataclasses.replace(eng.config, groups=(*eng.config.groups, staff))
    eng.reconfigure(new, LISTS, NOW - 3600)
    verdict = eng.judge(casino, META)
    assert verdict.decision is not None and verdict.decision.group == "staff"
    eng.config = dataclasses.replace(new, groups=new.groups[:1])  # as tests do, without reconfigure
    verdict = eng.judge(casino, META)
    assert verdict.decision is not None and verdict.decision.group == "pupils"


# -- evasion, trust, remembered blocks, forging only to the LAN (issues 9 and 10) -------

EVASION = Seen.EVASION
AHEAD = "a segment 40000 bytes ahead of the stream"


class Rewriting(FlowTracker):
    """The real tracker, with what it saw rewritten: observations the tracker
    gives only for crafted packets, without crafting them here."""

    def __init__(self, rewrite: Callable[[Observation], Observation]) -> None:
        super().__init__()
        self.rewrite = rewrite

    def feed(self, packet: Packet, now: float) -> Observation:
        return self.rewrite(super().feed(packet, now))


def saw(seen: Seen, reason: str) -> Callable[[Observation], Observation]:
    return lambda _observation: Observation(seen, reason=reason)


def untrusted(question: Question) -> Question:
    """``question`` as read from bytes the server may never read (a TTL unlike the SYN's)."""
    return question._replace(trusted=False)


def each_untrusted(observation: Observation) -> Observation:
    return observation._replace(questions=tuple(untrusted(q) for q in observation.questions))


def hello_segment(name: str, seq: int = 1, ack: int = 7000, sport: int = 40000) -> bytes:
    return ipv4(CLIENT4, SERVER4, 6, acked(tcp(sport, 443, seq, client_hello(name)), ack))


@pytest.mark.parametrize(
    ("mode", "treatment", "action", "rule"),
    [
        (Mode.FILTER, Treatment.REFUSE, Action.DROP, RuleKind.EVASION),
        (Mode.FILTER, Treatment.ALLOW, Action.ACCEPT, RuleKind.EVASION),  # never DECIDED
        (Mode.WHITELIST, Treatment.REFUSE, Action.DROP, RuleKind.EVASION),
        (Mode.WHITELIST, Treatment.ALLOW, Action.DROP, RuleKind.EVASION),  # always refused
        (Mode.OFF, Treatment.REFUSE, Action.DECIDED, RuleKind.UNFILTERED),
    ],
)
def test_evasion_gets_the_group_s_treatment(
    mode: Mode, treatment: Treatment, action: Action, rule: RuleKind
) -> None:
    eng = engine(mode, evasion=treatment)
    eng.tracker = Rewriting(saw(EVASION, AHEAD))
    verdict = eng.judge(hello_segment("www.example.org"), META)
    assert verdict.action is action
    assert verdict.decision is not None and verdict.decision.rule is rule
    assert AHEAD in verdict.decision.reason
    if action is Action.DROP:  # TCP: both ends reset with the segment's numbers
        to_server, to_client = (read_ip(p) for p in verdict.inject)
        assert to_server.flags & TCP_RST and to_server.dst == SERVER4 and to_server.seq == 1
        assert to_client.flags & TCP_RST and to_client.dst == CLIENT4 and to_client.seq == 7000
    else:
        assert verdict.inject == ()
    assert eng.counters.evasion == {"a segment bytes ahead of the stream": 1}


def test_a_refused_evasive_flow_stays_refused() -> None:
    eng = engine()
    eng.tracker = Rewriting(saw(EVASION, "overlapping bytes that disagree"))
    assert eng.judge(hello_segment("www.example.org"), META).action is Action.DROP
    eng.tracker = FlowTracker()  # the real hello behind the trick, were it read afresh
    again = eng.judge(hello_segment("www.example.org", seq=1), META)
    assert again.action is Action.DROP and len(again.inject) == 2
    assert eng.counters.blocked_again == 1


def test_an_evasive_quic_flow_is_dropped_and_remembered() -> None:
    eng = engine()
    eng.tracker = Rewriting(saw(EVASION, "QUIC hello never completed"))
    initial = udp4(
        quic_initial(client_hello("www.example.org", records=False), b"\x02" * 8), dport=443
    )
    verdict = eng.judge(initial, META)
    assert (verdict.action, verdict.inject) == (Action.DROP, ())
    eng.tracker = FlowTracker()
    assert eng.judge(initial, META).action is Action.DROP


@pytest.mark.parametrize(
    ("reason", "dport"),
    [("HTTP: a chunk size that is not hex", 80), ("an undecided flow expired", 53)],
)
def test_unframed_http_or_dns_over_tcp_is_closed_even_when_evasion_is_allowed(
    reason: str, dport: int
) -> None:
    eng = engine(Mode.FILTER, evasion=Treatment.ALLOW)
    eng.tracker = Rewriting(saw(EVASION, reason))
    verdict = eng.judge(tcp4(1, b"5\r\nhello\r\n", dport=dport), META)
    assert verdict.action is Action.DROP and len(verdict.inject) == 2
    assert verdict.decision is not None and verdict.decision.verdict is Verdict.BLOCK
    staff = engine(Mode.OFF)
    staff.tracker = Rewriting(saw(EVASION, reason))
    assert staff.judge(tcp4(1, b"5\r\nhello\r\n", dport=dport), META).action is Action.DECIDED


def test_an_untrusted_allowed_question_never_marks_the_flow() -> None:
    eng = engine()
    eng.tracker = Rewriting(each_untrusted)
    verdict = eng.judge(hello_segment("www.example.org"), META)
    assert verdict.action is Action.ACCEPT and verdict.inject == ()
    assert verdict.decision is not None and verdict.decision.verdict is Verdict.ALLOW
    assert eng.counters.untrusted == 1
    handshake = client_hello("www.example.org", records=False)
    quic = eng.judge(udp4(quic_initial(handshake, b"\x03" * 8), dport=443), META)
    assert quic.action is Action.ACCEPT and eng.counters.untrusted == 2


def test_an_untrusted_question_may_block() -> None:
    eng = engine()
    eng.tracker = Rewriting(each_untrusted)
    verdict = eng.judge(hello_segment("casino.example"), META)
    assert verdict.action is Action.DROP and len(verdict.inject) == 2


def test_a_trusted_allowed_hello_still_marks_the_flow() -> None:
    eng = engine()
    eng.tracker = Rewriting(lambda observation: observation)
    assert eng.judge(hello_segment("www.example.org"), META).action is Action.DECIDED
    assert eng.counters.untrusted == 0


def test_a_blocked_tls_flow_stays_blocked_and_a_retransmission_gets_the_resets_again() -> None:
    eng = engine()
    eng.judge(syn4(0), META)
    first = eng.judge(hello_segment("casino.example"), META)
    assert first.action is Action.DROP and len(first.inject) == 2
    # The client retransmits the hello (its reset was lost): dropped, reset again.
    again = eng.judge(hello_segment("casino.example"), META)
    assert again.action is Action.DROP
    to_server, to_client = (read_ip(p) for p in again.inject)
    assert to_server.flags & TCP_RST and to_server.seq == 1
    assert to_client.flags & TCP_RST and to_client.seq == 7000
    # A pure ACK of the same flow is dropped with nothing forged.
    ack = eng.judge(tcp4(1 + len(client_hello("casino.example"))), META)
    assert (ack.action, ack.inject) == (Action.DROP, ())
    assert eng.counters.blocked_again == 2
    assert eng.counters.by_kind == {"tls:block": 1}


def test_a_blocked_http_flow_stays_blocked() -> None:
    eng = engine()
    assert eng.judge(tcp4(1, HTTP_REQUEST, dport=80), META).action is Action.DROP
    later = b"GET / HTTP/1.1\r\nHost: www.example.org\r\n\r\n"
    verdict = eng.judge(tcp4(1 + len(HTTP_REQUEST), later, dport=80), META)
    assert verdict.action is Action.DROP and len(verdict.inject) == 2
    assert all(read_ip(p).flags & TCP_RST for p in verdict.inject)


def test_a_blocked_flow_is_forgotten_after_its_time() -> None:
    eng = engine()
    assert eng.judge(hello_segment("casino.example"), META).action is Action.DROP
    later = PacketMeta(NOW + eng.blocked.seconds + 1, "br-lan")
    eng.tracker = FlowTracker()
    # Forgotten: the flow is read again (and, here, blocked again on its name).
    verdict = eng.judge(hello_segment("casino.example"), later)
    assert verdict.decision is not None and verdict.decision.rule is RuleKind.CATEGORY
    assert eng.counters.blocked_again == 0


@pytest.mark.parametrize("iface", ["eth-wan", "br-guest"])
def test_nothing_is_forged_for_a_packet_from_outside_the_lan(iface: str) -> None:
    eng = engine()
    wan = PacketMeta(NOW, iface)
    dns = eng.judge(udp4(dns_query("casino.example")), wan)
    tls = eng.judge(hello_segment("casino.example", sport=41000), wan)
    http = eng.judge(tcp4(1, HTTP_REQUEST, dport=80, sport=42000), wan)
    for verdict in (dns, tls, http):
        assert (verdict.action, verdict.inject) == (Action.DROP, ())
        assert "not from a LAN interface" in verdict.note
    assert eng.counters.not_lan == 3
    # The retransmission of the blocked hello: still dropped, still nothing forged.
    assert eng.judge(hello_segment("casino.example", sport=41000), wan).inject == ()
    assert eng.counters.not_lan == 4
    # Allowed traffic is unaffected.
    assert eng.judge(udp4(dns_query("www.example.org")), wan).action is Action.ACCEPT


def test_offline_tools_without_an_interface_get_the_forged_packets() -> None:
    eng = engine()
    verdict = eng.judge(udp4(dns_query("casino.example")), PacketMeta(NOW))
    assert len(verdict.inject) == 1 and eng.counters.not_lan == 0


def test_a_bad_checksum_is_passed_and_decides_nothing() -> None:
    eng = engine()
    eng.tracker = Rewriting(saw(Seen.IGNORED, "bad checksum"))
    verdict = eng.judge(hello_segment("casino.example"), META)
    assert (verdict.action, verdict.inject, verdict.decision) == (Action.ACCEPT, (), None)
    assert eng.counters.bad_checksum == 1 and len(eng.blocked) == 0


def test_the_counters_name_every_outcome() -> None:
    eng = engine()
    eng.tracker = Rewriting(saw(EVASION, "flow expired undecided after 10.0 s"))
    eng.judge(hello_segment("www.example.org"), META)
    counted = eng.counters.as_dict()
    assert counted["evasion"] == {"flow expired undecided after s": 1}
    assert counted["verdicts"] == {"evasion:block": 1}
    assert {"untrusted", "bad_checksum", "not_lan", "blocked_again"} <= set(counted)


def test_a_reload_keeps_the_timezone_the_edge_resolved() -> None:
    eng = engine()
    berlin = parse_tz("CET-1CEST,M3.5.0,M10.5.0/3")
    eng.reconfigure(eng.config, LISTS, NOW - 3600, tz=berlin)
    assert eng.tz is berlin
    eng.reconfigure(eng.config, LISTS, NOW - 3600)  # without one: the config's, as at start
    assert eng.tz == parse_tz("UTC0")
