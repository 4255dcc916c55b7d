"""copgate.firewall.model: the spec's validation and the order of the rules.

The rules are checked as the model builds them (order, chains, which flows
are ever decided), specs the model must refuse are config errors, and a
packet's walk through both chains shows where it ends. The model's knobs
that every backend renders (fail closed, exemptions) are checked in both
texts here; each text on its own is in ``test_iptables`` and ``test_nft``.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import NamedTuple

import pytest

from copgate.errors import ConfigError
from copgate.firewall import (
    ANY_CLIENT,
    DECIDED_MARK,
    INJECTED_MARK,
    MAX_OPEN_QUEUE,
    OTHER_PASS_CHAIN,
    REFUSE_DOT,
    REFUSE_QUIC,
    Action,
    ClientKind,
    ClientMatch,
    Excess,
    Family,
    FirewallSpec,
    Protocol,
    Refusal,
    Rule,
    WhenAbsent,
    build_confined,
    build_dispatch,
    build_excess,
    build_queue,
    build_refusals,
    build_replies,
    build_rules,
    render_nft,
    unreadable,
)
from tests.firewall.helpers import (
    FULL,
    GUESTS,
    LANS,
    PUPILS,
    SPEC,
    TABLET,
    iptables_rules,
    with_comment,
)

# -- the model ---------------------------------------------------------------


def test_model_order_skip_injected_then_decided_then_roles_busiest_first() -> None:
    actions = [(rule.action, rule.comment) for rule in build_rules(FULL)]
    assert actions[0] == (Action.RETURN, "copgate: injected by copgate")
    assert actions[1] == (Action.MARK_DECIDED, "copgate: flow decided")
    assert actions[2:] == [
        (Action.QUEUE, "copgate: tls"),
        (Action.RETURN, "copgate: tls, nothing to judge"),
        (Action.QUEUE, "copgate: http syn"),
        (Action.QUEUE, "copgate: http"),
        (Action.RETURN, "copgate: http, nothing to judge"),
        (Action.QUEUE, "copgate: quic"),
        (Action.RETURN, "copgate: quic, nothing to judge"),
        (Action.QUEUE, "copgate: dns udp"),  # every datagram: nothing left to leave early
        (Action.QUEUE, "copgate: dns tcp syn"),
        (Action.QUEUE, "copgate: dns tcp"),  # last: the chain's end returns
    ]
    # Each role's "nothing to judge" covers exactly the ports its rules queue.
    for at, (action, comment) in enumerate(actions):
        if action is Action.RETURN and comment.endswith("nothing to judge"):
            leaving, queuing = build_rules(FULL)[at], build_rules(FULL)[at - 1]
            assert (leaving.protocol, leaving.ports) == (queuing.protocol, queuing.ports)


def test_model_refusals_in_their_own_chain_in_spec_order() -> None:
    refusals = build_refusals(FULL)
    spared = [rule for rule in refusals if rule.comment == "copgate: never refused"]
    assert refusals[: len(spared)] == tuple(spared)
    rest = refusals[len(spared) :]
    assert [rule.action for rule in rest] == [Action.REJECT] * len(FULL.refusals)
    assert [(rule.client, rule.comment) for rule in rest] == [
        (client, f"copgate: refuse {refusal.reason}") for client, refusal in FULL.refusals
    ]
    assert not [rule for rule in build_rules(FULL) if rule.action is Action.REJECT]


def test_the_ports_copgate_reads_leave_the_refusals_first_unless_one_refuses_them() -> None:
    # FULL refuses QUIC (UDP 443) and DoT/DoQ: TCP 53, 443, 8443, 80 and UDP 53 can
    # never be refused, so they leave the chain at its first rules.
    spared = {
        (rule.protocol, rule.ports)
        for rule in build_refusals(FULL)
        if rule.comment == "copgate: never refused"
    }
    assert spared == {(Protocol.TCP, (53, 443, 8443, 80)), (Protocol.UDP, (53,))}
    assert all(rule.action is Action.RETURN for rule in build_refusals(FULL)[:2])
    # A refusal of a port copgate reads (here TLS on 443 for one client) keeps
    # that port in the walk for every client.
    tablet_tls = Refusal("tls", Protocol.TCP, (443,))
    spec = dataclasses.replace(FULL, refusals=((TABLET, tablet_tls), *FULL.refusals))
    spared_tcp = [
        rule.ports
        for rule in build_refusals(spec)
        if rule.comment == "copgate: never refused" and rule.protocol is Protocol.TCP
    ]
    assert spared_tcp == [(53, 8443, 80)]
    # With more ports than one rule takes, they are split.
    many = FirewallSpec(
        LANS, tls_ports=tuple(range(8440, 8454)), refusals=((ANY_CLIENT, REFUSE_DOT),)
    )
    rules = [r for r in build_refusals(many) if r.comment == "copgate: never refused"]
    assert [len(rule.ports) for rule in rules if rule.protocol is Protocol.TCP] == [15, 1]


def test_model_dns_is_never_decided_tls_and_quic_are() -> None:
    by_comment = {rule.comment: rule for rule in build_rules(SPEC)}
    assert by_comment["copgate: dns udp"].undecided == 0
    assert by_comment["copgate: dns tcp"].undecided == 0
    assert by_comment["copgate: dns tcp"].payload_only
    assert by_comment["copgate: tls"].undecided == DECIDED_MARK
    # Every packet until decided: a bare RST or FIN too (see the model's docstring).
    assert not by_comment["copgate: tls"].payload_only
    assert not by_comment["copgate: tls"].syn_only
    assert by_comment["copgate: tls"].original_only
    assert by_comment["copgate: quic"].undecided == DECIDED_MARK
    assert by_comment["copgate: http"].payload_only
    assert by_comment["copgate: http"].original_only
    assert by_comment["copgate: http"].undecided == 0  # every request on a kept-alive flow
    # Judged for their whole life: the daemon learns each ISN from the SYN.
    for role in ("dns tcp syn", "http syn"):
        assert by_comment[f"copgate: {role}"].syn_only
        assert by_comment[f"copgate: {role}"].undecided == 0


def test_a_role_without_ports_queues_nothing() -> None:
    spec = FirewallSpec(LANS, quic_ports=())
    comments = [rule.comment for rule in build_rules(spec)]
    assert "copgate: quic" not in comments
    assert "copgate: tls" in comments


# -- validation ----------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda: FirewallSpec(()),
        lambda: FirewallSpec(('br-lan" accept; #',)),
        lambda: FirewallSpec(("an-interface-name-too-long",)),
        lambda: FirewallSpec(LANS, queue_num=65536),
        lambda: FirewallSpec(LANS, queue_num=65535),  # its closed queue would be 65536
        lambda: FirewallSpec(LANS, queue_rate=-1),
        lambda: FirewallSpec(LANS, queue_rate=100_000),
        lambda: FirewallSpec(LANS, queue_burst=0),
        lambda: FirewallSpec(LANS, dns_ports=(0,)),
        lambda: FirewallSpec(LANS, http_ports=(443,)),
        lambda: FirewallSpec(LANS, tls_ports=tuple(range(1000, 1016))),
        lambda: FirewallSpec(LANS, decided_mark=0),
        lambda: FirewallSpec(LANS, decided_mark=1 << 32),
        lambda: FirewallSpec(LANS, injected_mark=DECIDED_MARK | INJECTED_MARK),
        lambda: ClientMatch(ClientKind.CIDR, "192.0.2.1/24"),
        lambda: ClientMatch(ClientKind.CIDR, "not-an-address"),
        lambda: ClientMatch(ClientKind.MAC, "02:00:00:00:00"),
        lambda: ClientMatch(ClientKind.INTERFACE, "lan 2"),
        lambda: ClientMatch(ClientKind.ANY, "x"),
        lambda: Refusal("DoT!", Protocol.TCP, (853,)),
        lambda: Refusal("other", Protocol.OTHER, (1,)),
        lambda: Refusal("none", Protocol.TCP, (), except_ports=True),
        lambda: Refusal("high", Protocol.UDP, (70000,)),
    ],
)
def test_invalid_specs_are_config_errors(build: object) -> None:
    assert callable(build)
    with pytest.raises(ConfigError):
        build()


def test_matches_are_normalised() -> None:
    assert TABLET.value == "02:00:5e:00:53:01"
    assert ClientMatch(ClientKind.CIDR, "2001:DB8:1::/64").value == "2001:db8:1::/64"
    assert PUPILS.family is Family.IPV4
    assert GUESTS.family is None


def test_exemptions_spare_a_client_the_refusals_that_follow() -> None:
    staff = ClientMatch(ClientKind.CIDR, "192.0.2.64/26")
    spec = FirewallSpec(
        LANS,
        refusals=(
            (staff, dataclasses.replace(REFUSE_QUIC, exempt=True)),
            (staff, dataclasses.replace(REFUSE_DOT, exempt=True)),
            (staff, Refusal("unreadable-other", Protocol.OTHER, exempt=True)),
            (ANY_CLIENT, REFUSE_QUIC),
            (ANY_CLIENT, REFUSE_DOT),
            (ANY_CLIENT, Refusal("unreadable-other", Protocol.OTHER)),
        ),
    )
    every = iptables_rules(spec, Family.IPV4)
    rules = [r for r in every if r.startswith("-A COPGATE-REFUSE") and "never refused" not in r]
    quic_exempt, dot_exempt, other_exempt, quic_refused = rules[:4]
    # Each exemption leaves the refusals' chain: QUIC then meets the queue
    # rules (for its whole flow, decided or not), DoT the router's own rules.
    assert quic_exempt.startswith("-A COPGATE-REFUSE -s 192.0.2.64/26 -p udp --dport 443")
    assert quic_exempt.endswith("-j RETURN")
    assert "-s 192.0.2.64/26 -p tcp --dport 853" in dot_exempt and dot_exempt.endswith("-j RETURN")
    assert other_exempt.endswith(f"-j {OTHER_PASS_CHAIN}")
    assert "REJECT" in quic_refused and "--dport 443" in quic_refused
    assert with_comment(every, "quic")[0].startswith("-A COPGATE -p udp --dport 443")
    nft = render_nft(spec)
    assert 'ip saddr 192.0.2.64/26 udp dport 443 return comment "copgate: quic not refused"' in nft
    assert "meta l4proto != { tcp, udp, icmp, ipv6-icmp } return" in nft


def test_two_queues_the_next_one_fails_closed() -> None:
    spec = FirewallSpec(LANS, queue_num=MAX_OPEN_QUEUE)
    assert (spec.queue_num, spec.closed_queue_num) == (65534, 65535)
    assert spec.queue_of(WhenAbsent.PASS) == 65534
    assert spec.queue_of(WhenAbsent.DROP) == 65535
    assert [(r.action, r.failure) for r in build_queue(spec, WhenAbsent.DROP)] == [
        (Action.LIMIT, WhenAbsent.DROP),
        (Action.NFQUEUE, WhenAbsent.DROP),
    ]


def test_fail_closed_everywhere_drops_the_bypass_for_everyone() -> None:
    spec = FirewallSpec(LANS, when_absent=WhenAbsent.DROP)
    dispatch = [r for r in iptables_rules(spec, Family.IPV4) if r.startswith("-A COPGATE-QUEUE")]
    assert dispatch == [
        "-A COPGATE-QUEUE -m comment --comment 'copgate: fails closed' -g COPGATE-CLOSED"
    ]
    closed = [r for r in iptables_rules(spec, Family.IPV4) if r.startswith("-A COPGATE-CLOSED")]
    assert closed[-1].endswith("-j NFQUEUE --queue-num 1")
    assert closed[0].endswith("-g COPGATE-EXCESS")  # over the rate: the evasion treatment
    nft = render_nft(spec)
    assert 'goto closed comment "copgate: fails closed"' in nft
    assert 'queue num 1 comment "copgate: queue 1"' in nft


def test_unreadable_spares_the_exempt_services() -> None:
    tcp, udp, other = unreadable(SPEC, exempt=((Protocol.UDP, 123), (Protocol.UDP, 53)))
    assert (tcp.ports, tcp.except_ports) == ((53, 443, 80), True)
    assert (udp.ports, udp.except_ports) == ((53, 443, 123), True)  # 53 once
    assert other.protocol is Protocol.OTHER
    with pytest.raises(ConfigError):
        unreadable(SPEC, exempt=((Protocol.OTHER, 1),))


# -- a packet's walk through both chains -------------------------------------


class Walker(NamedTuple):
    """A packet as the rule model sees it (no marks: a plain client packet); by
    default a segment with data, or a datagram, in the flow's original direction."""

    client: ClientMatch | None
    protocol: str
    port: int
    decided: bool = False
    syn: bool = False
    payload: bool = True
    original: bool = True


def _first(rules: tuple[Rule, ...], packet: Walker) -> Rule | None:
    for rule in rules:
        if rule.client is not ANY_CLIENT and rule.client != packet.client:
            continue
        if rule.protocol is Protocol.OTHER or (
            rule.protocol is not None and rule.protocol.value != packet.protocol
        ):
            continue
        if rule.ports and (packet.port in rule.ports) == rule.except_ports:
            continue
        if rule.mark or (rule.undecided and packet.decided):
            continue
        if (rule.syn_only and not packet.syn) or (rule.payload_only and not packet.payload):
            continue
        if rule.original_only and not packet.original:
            continue
        return rule
    return None


def _walk(
    spec: FirewallSpec, hook: str, packet: Walker, *, shortcuts: bool = True
) -> tuple[str, str | None]:
    """Where a packet ends: ("reject", comment), ("queue N", comment), or ("pass", None);
    without ``shortcuts``, over the chains less the returns that only shorten a walk."""
    refusals, queue_rules = build_refusals(spec), build_rules(spec)
    if not shortcuts:
        refusals, queue_rules = _without_shortcuts(refusals), _without_shortcuts(queue_rules)
    for rules in (refusals, queue_rules) if hook == "FORWARD" else (queue_rules,):
        rule = _first(rules, packet)
        if rule is None or rule.action is Action.RETURN:
            continue
        if rule.action is not Action.QUEUE:
            return rule.action.value, rule.comment
        sent = _first(build_dispatch(spec), packet)
        assert sent is not None and sent.failure is not None  # the last one takes anyone
        return f"queue {spec.queue_of(sent.failure)}", rule.comment
    return "pass", None


STAFF = ClientMatch(ClientKind.CIDR, "192.0.2.64/26")
NTP = ((Protocol.UDP, 123),)
EXEMPT_STAFF = FirewallSpec(
    LANS,
    when_absent=WhenAbsent.DROP,
    failures=((STAFF, WhenAbsent.PASS),),
    refusals=(
        (STAFF, dataclasses.replace(REFUSE_QUIC, exempt=True)),
        *((STAFF, dataclasses.replace(r, exempt=True)) for r in unreadable(SPEC, exempt=NTP)),
        (ANY_CLIENT, REFUSE_QUIC),
        *((ANY_CLIENT, r) for r in unreadable(SPEC, exempt=NTP)),
    ),
)


@pytest.mark.parametrize(
    ("hook", "packet", "end"),
    [
        # An exempt client's QUIC is queued until decided, then passes; a
        # decided flow must never fall through to a later refusal.
        ("FORWARD", Walker(STAFF, "udp", 443), ("queue 0", "copgate: quic")),
        ("FORWARD", Walker(STAFF, "udp", 443, decided=True), ("pass", None)),
        ("FORWARD", Walker(None, "udp", 443), ("reject", "copgate: refuse quic")),
        ("FORWARD", Walker(STAFF, "tcp", 22), ("pass", None)),
        ("FORWARD", Walker(None, "tcp", 22), ("reject", "copgate: refuse unreadable-tcp")),
        # NTP is never refused, even in a walled garden (the policy's table).
        ("FORWARD", Walker(None, "udp", 123), ("pass", None)),
        ("FORWARD", Walker(None, "udp", 124), ("reject", "copgate: refuse unreadable-udp")),
        # The router's own services (DHCP, the block page on 8099) are never
        # refused: the input hook meets the queue rules only.
        ("INPUT", Walker(None, "udp", 67), ("pass", None)),
        ("INPUT", Walker(None, "tcp", 8099), ("pass", None)),
        # Staff fail open (queue 0), everyone else closed (queue 1).
        ("INPUT", Walker(None, "udp", 53), ("queue 1", "copgate: dns udp")),
        ("INPUT", Walker(STAFF, "udp", 53), ("queue 0", "copgate: dns udp")),
        ("INPUT", Walker(None, "udp", 443), ("queue 1", "copgate: quic")),
    ],
)
def test_where_a_packet_ends(hook: str, packet: Walker, end: tuple[str, str | None]) -> None:
    assert _walk(EXEMPT_STAFF, hook, packet) == end


ACK = {"payload": False}


@pytest.mark.parametrize(
    ("packet", "end"),
    [
        # TLS: every packet in the original direction until decided (a bare
        # RST or FIN included); a decided flow's packets never.
        (Walker(None, "tcp", 443, syn=True, payload=False), ("queue 1", "copgate: tls")),
        (Walker(None, "tcp", 443, **ACK), ("queue 1", "copgate: tls")),
        (Walker(None, "tcp", 443), ("queue 1", "copgate: tls")),
        (Walker(None, "tcp", 443, decided=True), ("pass", None)),
        (Walker(None, "tcp", 443, original=False), ("pass", None)),
        # HTTP: every request, decided or not; never a download's ACKs.
        (Walker(None, "tcp", 80, syn=True, payload=False), ("queue 1", "copgate: http syn")),
        (Walker(None, "tcp", 80, decided=True), ("queue 1", "copgate: http")),
        (Walker(None, "tcp", 80, **ACK), ("pass", None)),
        # DNS: every datagram and every segment with data, in either direction.
        (Walker(None, "udp", 53, decided=True), ("queue 1", "copgate: dns udp")),
        (Walker(None, "tcp", 53, original=False), ("queue 1", "copgate: dns tcp")),
        (Walker(None, "tcp", 53, **ACK), ("pass", None)),
        (Walker(STAFF, "udp", 443), ("queue 0", "copgate: quic")),
    ],
)
def test_which_packets_of_a_flow_are_queued(packet: Walker, end: tuple[str, str | None]) -> None:
    assert _walk(EXEMPT_STAFF, "FORWARD", packet) == end


def _without_shortcuts(rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
    """The rules without the returns that only shorten a walk."""
    shortcuts = ("copgate: never refused", ", nothing to judge")
    return tuple(rule for rule in rules if not rule.comment.endswith(shortcuts))


@pytest.mark.parametrize("spec", [EXEMPT_STAFF, FULL, SPEC], ids=["exempt", "full", "plain"])
def test_the_shortcuts_change_where_no_packet_ends(spec: FirewallSpec) -> None:
    # Every client, protocol, port and kind of packet ends where it would
    # without "never refused" and "nothing to judge".
    clients = {None, STAFF, *(client for client, _ in spec.refusals)}
    ports = (1, 22, 52, 53, 54, 67, 80, 81, 123, 124, 442, 443, 444, 853, 8099, 8443)
    for client, protocol, port in itertools.product(clients, ("tcp", "udp"), ports):
        for syn, payload, original, decided in itertools.product((False, True), repeat=4):
            packet = Walker(client, protocol, port, decided, syn, payload, original)
            for hook in ("FORWARD", "INPUT"):
                plain = _walk(spec, hook, packet, shortcuts=False)
                assert _walk(spec, hook, packet) == plain, packet


# -- over the rate, servers' SYN-ACKs, injected answers ----------------------


def _over_rate(spec: FirewallSpec, client: ClientMatch | None) -> Action:
    """What the excess chain does with a packet of ``client`` over its rate."""
    packet = Walker(client, "udp", 53)
    rule = _first(build_excess(spec), packet)
    assert rule is not None  # the last one takes anyone
    return rule.action


def test_over_the_rate_a_client_gets_its_evasion_treatment_not_its_failure_one() -> None:
    # Everyone fails open (a home), yet a client over its rate is dropped: a
    # flood is the client's doing, and passing it would free its next hello.
    home = FirewallSpec(LANS, excesses=((STAFF, Excess.PASS),))
    for failure in WhenAbsent:
        limit, queue = build_queue(home, failure)
        assert (limit.action, queue.action) == (Action.LIMIT, Action.NFQUEUE)
    assert _over_rate(home, None) is Action.DROP
    assert _over_rate(home, STAFF) is Action.RETURN  # passes unqueued
    # Failure modes and excess are independent: a fail-closed default may pass.
    lenient = FirewallSpec(LANS, when_absent=WhenAbsent.DROP, excess=Excess.PASS)
    assert _over_rate(lenient, None) is Action.RETURN


def test_servers_syn_acks_go_to_the_open_queue_whatever_the_failure_mode() -> None:
    spec = dataclasses.replace(FULL, when_absent=WhenAbsent.DROP)
    judged, *queued = build_replies(spec)
    # Given back with the decided bit, it passes, and decides nothing.
    assert (judged.action, judged.mark) == (Action.RETURN, DECIDED_MARK)
    assert [(r.comment, r.protocol, r.ports) for r in queued] == [
        ("copgate: dns tcp syn-ack", Protocol.TCP, (53,)),
        ("copgate: tls syn-ack", Protocol.TCP, (443, 8443)),
        ("copgate: http syn-ack", Protocol.TCP, (80,)),
    ]
    for rule in queued:
        assert (rule.action, rule.failure) == (Action.NFQUEUE, WhenAbsent.PASS)
        assert rule.source_ports and rule.reply_only and rule.synack_only
        assert rule.undecided == DECIDED_MARK and not rule.syn_only
    # A role with no ports queues nothing.
    no_http = dataclasses.replace(spec, http_ports=())
    assert [r.comment for r in build_replies(no_http)][-1] == "copgate: tls syn-ack"


def test_injected_answers_leave_only_through_a_lan_interface() -> None:
    rules = build_confined(FULL)
    returns = [r for r in rules if r.action is Action.RETURN]
    drops = [r for r in rules if r.action is Action.DROP]
    assert rules == (*returns, *drops)  # every LAN interface is spared first
    assert [r.out_interface for r in returns] == list(LANS)
    assert all(not r.mark and r.protocol is None for r in returns)
    assert [(r.protocol, r.ports) for r in drops] == [
        (Protocol.UDP, (53,)),
        (Protocol.UDP, (443,)),
        (Protocol.TCP, (53,)),
        (Protocol.TCP, (443, 8443)),
        (Protocol.TCP, (80,)),
    ]
    # Only copgate's own packets, and only as the server (the reset to the
    # server leaves from the client's port, to the WAN, and is not touched).
    assert all(r.mark == INJECTED_MARK and r.source_ports for r in drops)
