"""The daemon's pure engine: one queued packet in, one verdict out.

``Engine.judge(datagram, meta)`` reads the packet with the wire core, finds
the client's group, asks policy, and turns the decision into what netfilter
must do with the packet (accept, accept and mark the flow decided, drop) and
which packets copgate must inject (a forged DNS answer, TCP resets, an HTTP
redirect or the block page itself). It never touches netfilter, sockets or
the clock: the time is in ``meta``, and the injected packets are bytes for
the edge to send.

Every packet gets a verdict, whatever happens: a malformed packet, a flow
copgate cannot read, or a bug in copgate itself becomes the group's failure
mode (``Engine.judge`` never raises).

How a decision becomes an action, by protocol:

| question  | allow                      | block                                    |
|-----------|----------------------------|------------------------------------------|
| DNS       | accept (never mark: stub   | drop, inject the configured answer from  |
|           | resolvers reuse sockets)   | the resolver's address                   |
| TLS       | accept, mark flow decided  | drop, RST both ends (RFC 5961 numbers)   |
| QUIC      | accept, mark flow decided  | drop, and every later packet of the flow |
| HTTP      | accept (every request is   | drop, 302 to the block page (or the page |
|           | judged: never mark)        | itself, see below) + FIN, RST to server  |
| unreadable| accept, mark decided       | drop (TCP: RST both ends)                |

A blocked HTTP request is redirected to the block page on the router's
address of the family the request came over (``blockpage_location``): a
client that reached the server over IPv6 may have no IPv4 at all (an
IPv6-only LAN behind NAT64), and one that came over IPv4 may have no IPv6.
When the router has no block-page address of that family, or the daemon
could not listen on it, the client gets the block page itself, answered in
the server's place: the child still reads what was blocked and why, which
neither a redirect to an address it may not reach nor a bare reset would
tell it.
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass, field
from datetime import datetime
from ipaddress import IPv4Address, IPv6Address
from typing import NamedTuple

from copgate.errors import WireError
from copgate.forge.blockpage import block_page_url, page_response
from copgate.forge.dns_reply import EDE_BLOCKED, EDE_FILTERED, DnsReply, ReplyKind, forge_dns_reply
from copgate.forge.packets import udp_datagram
from copgate.forge.tcp_reply import http_redirect, reply_and_close, resets_for
from copgate.lists.model import NameLookup
from copgate.policy.decide import decide, decide_unreadable, failure_decision
from copgate.policy.decision import Decision, Verdict
from copgate.policy.model import Config, DnsBlockAnswer, Group, Settings
from copgate.policy.tz import PosixTz, parse_tz
from copgate.wire.dns import question_end
from copgate.wire.flows import FlowKey, FlowTracker, Limits, Observation, Seen
from copgate.wire.packet import PROTO_TCP, PROTO_UDP, Packet, read_ip
from copgate.wire.question import DnsQuery, Kind, Question

IpAddress = IPv4Address | IPv6Address
MAX_BLOCKED_FLOWS = 8192  # QUIC flows kept dropped after a block
GROUP_MEMO_ENTRIES = 4096
"""Clients whose group is remembered (by interface, address and MAC). A LAN has
a few hundred at most; spoofed source addresses only cost a lookup each, since
the memo is cleared when full."""
NULL_IPV4 = IPv4Address("0.0.0.0")
NULL_IPV6 = IPv6Address("::")
TCP_LENGTH_PREFIX = 2  # RFC 1035 §4.2.2: each message over TCP follows its length
DNS_HEADER = 12  # RFC 1035 §4.1.1


class Action(enum.StrEnum):
    """What netfilter does with the queued packet."""

    ACCEPT = "accept"
    """Let it pass; the flow's next packets are queued too."""
    DECIDED = "decided"
    """Let it pass and mark the flow decided: the kernel passes the rest."""
    DROP = "drop"


class PacketMeta(NamedTuple):
    """What the edge knows about a queued packet besides its bytes."""

    now: float
    """Seconds since the epoch (UTC), read by the edge."""
    iface: str | None = None
    """Inbound interface name."""
    mac: str | None = None
    """Source MAC address, lower case ``aa:bb:..``, when the link has one."""


@dataclass(frozen=True, slots=True)
class PacketVerdict:
    """The engine's answer for one packet."""

    action: Action
    inject: tuple[bytes, ...] = ()
    """IP datagrams to send, in order, each marked so copgate's rules skip it."""
    question: Question | None = None
    decision: Decision | None = None
    note: str = ""
    packet: Packet | None = None
    """The packet read, when no question tells its flow (a hello still incomplete)."""


@dataclass(slots=True)
class Counters:
    """What the daemon did, for the status command and tests."""

    packets: int = 0
    failures: int = 0
    malformed: int = 0
    pending: int = 0
    """Packets passed while their flow's hello was still incomplete (reassembly)."""
    by_kind: dict[str, int] = field(default_factory=dict)
    """``"dns:allow"``, ``"tls:block"``, ``"unreadable:refuse"`` ... counts."""

    def count(self, key: str) -> None:
        self.by_kind[key] = self.by_kind.get(key, 0) + 1


class Engine:
    """Judges queued packets against one config and one set of lists."""

    def __init__(
        self,
        config: Config,
        lists: NameLookup,
        *,
        lists_built: float = 0.0,
        limits: Limits | None = None,
        tz: PosixTz | None = None,
    ) -> None:
        self.config = config
        self.lists = lists
        self.lists_built = lists_built
        """Build time of the installed lists: a clock before it is implausible."""
        self.tz = tz if tz is not None else parse_tz(config.settings.timezone)
        self.tracker = FlowTracker(limits)
        self.counters = Counters()
        self.safe_addresses: frozenset[IpAddress] = frozenset()
        """Addresses of the safe-search endpoints, refreshed by the edge."""
        self.safe_targets: dict[str, tuple[tuple[IPv4Address, ...], tuple[IPv6Address, ...]]] = {}
        """Safe endpoint name -> its A and AAAA addresses, for forged CNAME answers."""
        self.blockpage_served: frozenset[IpAddress] | None = None
        """Block-page addresses the edge listens on; None trusts the config's (offline tools)."""
        self._blocked: dict[FlowKey, None] = {}
        self._groups: dict[tuple[str | None, bytes, str | None], Group] = {}
        self._groups_config = config
        """The config ``_groups`` was filled from: tests and reloads replace ``config``."""
        self._local_second = -1
        self._local_time = datetime.fromtimestamp(0)

    def reconfigure(self, config: Config, lists: NameLookup, lists_built: float) -> None:
        """Take a new config and lists; flows in progress keep their state."""
        self.tz = parse_tz(config.settings.timezone)
        self.config = config
        self.lists = lists
        self.lists_built = lists_built
        self._local_second = -1

    # -- the one entry point ----------------------------------------------------

    def judge(self, datagram: bytes, meta: PacketMeta) -> PacketVerdict:
        """The verdict for one queued IP datagram. Never raises."""
        self.counters.packets += 1
        try:
            return self._judge(datagram, meta)
        except Exception as exc:  # every packet must get a verdict
            self.counters.failures += 1
            return self._failure(None, meta, f"internal error: {type(exc).__name__}: {exc}")

    def _judge(self, datagram: bytes, meta: PacketMeta) -> PacketVerdict:
        try:
            packet = read_ip(datagram)
        except WireError as exc:
            self.counters.malformed += 1
            return self._failure(None, meta, f"malformed packet: {exc}")
        key = (packet.src, packet.sport, packet.dst, packet.dport, packet.proto)
        if key in self._blocked:
            return PacketVerdict(Action.DROP, note="flow already blocked")
        observation = self.tracker.feed(packet, meta.now)
        if observation.seen is Seen.QUESTION:
            return self._questions(packet, observation, meta)
        if observation.seen is Seen.PENDING:
            self.counters.pending += 1
            return PacketVerdict(
                Action.ACCEPT, note="waiting for the rest of the hello", packet=packet
            )
        if observation.seen is Seen.UNREADABLE:
            return self._unreadable(packet, observation.reason, meta)
        if observation.seen is Seen.MALFORMED:
            self.counters.malformed += 1
            return self._failure(packet, meta, observation.reason)
        return PacketVerdict(Action.ACCEPT, note=observation.reason)

    # -- questions ------------------------------------------------------------------

    def group_of(self, packet: Packet, meta: PacketMeta) -> Group:
        """The client's group, remembered per config.

        ``group_for`` builds an ``ipaddress`` object and walks the prefixes:
        nearly a tenth of an allowed DNS query's cost, ten times a dict hit.
        """
        config = self.config
        if config is not self._groups_config:
            self._groups.clear()
            self._groups_config = config
        key = (meta.iface, packet.src, meta.mac)
        group = self._groups.get(key)
        if group is None:
            ip = ipaddress.ip_address(packet.src)
            group = config.group_for(meta.iface, ip, meta.mac)
            if len(self._groups) >= GROUP_MEMO_ENTRIES:
                self._groups.clear()
            self._groups[key] = group
        return group

    def _questions(
        self, packet: Packet, observation: Observation, meta: PacketMeta
    ) -> PacketVerdict:
        group = self.group_of(packet, meta)
        local, plausible = self._local(meta.now)
        blocked: PacketVerdict | None = None
        last: PacketVerdict | None = None
        for question in observation.questions:
            decision = decide(question, group, self.lists, local, plausible, self.safe_addresses)
            self.counters.count(f"{question.kind.value}:{decision.verdict.value}")
            verdict = self._act(packet, question, decision)
            last = verdict
            if verdict.action is Action.DROP and blocked is None:
                blocked = verdict
        assert last is not None  # a QUESTION observation has at least one question
        return blocked or last

    def _act(self, packet: Packet, question: Question, decision: Decision) -> PacketVerdict:
        kind = question.kind
        if decision.verdict is Verdict.ALLOW and not decision.dns_nodata:
            action = Action.DECIDED if kind in (Kind.TLS, Kind.QUIC) else Action.ACCEPT
            return PacketVerdict(action, question=question, decision=decision)
        if kind is Kind.DNS:
            return self._dns_answer(packet, question, decision)
        if kind is Kind.TLS:
            return PacketVerdict(Action.DROP, resets_for(packet), question, decision)
        if kind is Kind.QUIC:
            self._remember_blocked(packet)
            return PacketVerdict(Action.DROP, (), question, decision)
        return self._http_block(packet, question, decision)

    def _http_block(self, packet: Packet, question: Question, decision: Decision) -> PacketVerdict:
        name = question.name.text if question.name else ""
        why = decision.category or decision.rule.value
        settings = self.config.settings
        location = blockpage_location(settings, packet.version, name, why, self.blockpage_served)
        response = http_redirect(location) if location else page_response(name, why)
        return PacketVerdict(Action.DROP, reply_and_close(packet, response), question, decision)

    def _dns_answer(self, packet: Packet, question: Question, decision: Decision) -> PacketVerdict:
        query = question.dns
        assert query is not None
        reply = self._dns_reply(question, decision)
        if packet.proto == PROTO_UDP:
            answer = forge_dns_reply(packet.payload, query, reply)
            datagram = udp_datagram((packet.dst, packet.dport), (packet.src, packet.sport), answer)
            return PacketVerdict(Action.DROP, (datagram,), question, decision)
        message = _tcp_query(packet.payload, query) or _query_message(question)
        answer = forge_dns_reply(message, query, reply)
        framed = len(answer).to_bytes(2, "big") + answer
        return PacketVerdict(Action.DROP, reply_and_close(packet, framed), question, decision)

    def _dns_reply(self, question: Question, decision: Decision) -> DnsReply:
        settings = self.config.settings
        ttl = settings.block_ttl
        text = f"copgate: {decision.reason}"
        if decision.verdict is Verdict.SAFESEARCH and decision.safe_target:
            v4, v6 = self.safe_targets.get(decision.safe_target, ((), ()))
            return DnsReply(
                ReplyKind.CNAME,
                ttl,
                target=decision.safe_target,
                target_ipv4=v4,
                target_ipv6=v6,
                ede=None,
            )
        if decision.dns_nodata:
            return DnsReply(ReplyKind.NODATA, ttl, ede=EDE_FILTERED, ede_text=text)
        if settings.dns_block is DnsBlockAnswer.NXDOMAIN:
            return DnsReply(ReplyKind.NXDOMAIN, ttl, ede=EDE_BLOCKED, ede_text=text)
        if settings.dns_block is DnsBlockAnswer.NULL:
            return DnsReply(
                ReplyKind.ADDRESS, ttl, NULL_IPV4, NULL_IPV6, ede=EDE_BLOCKED, ede_text=text
            )
        return DnsReply(
            ReplyKind.ADDRESS,
            ttl,
            settings.blockpage_ipv4 or NULL_IPV4,
            settings.blockpage_ipv6 or NULL_IPV6,
            ede=EDE_BLOCKED,
            ede_text=text,
        )

    # -- what copgate cannot read, and failures -------------------------------------

    def _unreadable(self, packet: Packet, reason: str, meta: PacketMeta) -> PacketVerdict:
        group = self.group_of(packet, meta)
        decision = decide_unreadable(group, reason)
        self.counters.count(f"unreadable:{decision.verdict.value}")
        if decision.verdict is Verdict.ALLOW:
            return PacketVerdict(Action.DECIDED, decision=decision, note=reason)
        return self._refuse(packet, decision, reason)

    def _failure(self, packet: Packet | None, meta: PacketMeta, reason: str) -> PacketVerdict:
        try:
            group = (
                self.group_of(packet, meta)
                if packet is not None
                else self.config.group_for(meta.iface, None, meta.mac)
            )
            decision = failure_decision(group, reason)
        except Exception:  # the failure path itself must not fail
            return PacketVerdict(Action.ACCEPT, note=f"failure without a group: {reason}")
        self.counters.count(f"failure:{decision.verdict.value}")
        if decision.verdict is Verdict.ALLOW:
            return PacketVerdict(Action.ACCEPT, decision=decision, note=reason)
        if packet is None:
            return PacketVerdict(Action.DROP, decision=decision, note=reason)
        return self._refuse(packet, decision, reason)

    def _refuse(self, packet: Packet, decision: Decision, reason: str) -> PacketVerdict:
        if packet.proto == PROTO_TCP and packet.payload:
            return PacketVerdict(Action.DROP, resets_for(packet), decision=decision, note=reason)
        if packet.proto == PROTO_UDP:
            self._remember_blocked(packet)
        return PacketVerdict(Action.DROP, decision=decision, note=reason)

    # -- helpers --------------------------------------------------------------------

    def _remember_blocked(self, packet: Packet) -> None:
        key = (packet.src, packet.sport, packet.dst, packet.dport, packet.proto)
        self._blocked[key] = None
        if len(self._blocked) > MAX_BLOCKED_FLOWS:
            del self._blocked[next(iter(self._blocked))]

    def _local(self, now: float) -> tuple[datetime, bool]:
        """Local wall time (cached per second: the TZ rules cost ~17 µs) and plausibility."""
        second = int(now)
        if second != self._local_second:
            self._local_second = second
            self._local_time = self.tz.local(now)
        return self._local_time, now >= self.lists_built


def blockpage_location(
    settings: Settings,
    version: int,
    name: str,
    why: str,
    served: frozenset[IpAddress] | None = None,
) -> str | None:
    """The block page's URL for a request that came over IP ``version`` (4 or 6).

    None when the router has no block-page address of that family, or has
    one but ``served`` (the addresses the daemon could listen on) lacks it:
    the other family's address is no answer (see the module's docstring), so
    the caller sends the page itself.
    """
    address = settings.blockpage_ipv6 if version == 6 else settings.blockpage_ipv4
    if address is None or (served is not None and address not in served):
        return None
    return block_page_url(address, name, why)


def _tcp_query(payload: bytes, query: DnsQuery) -> bytes | None:
    """The query message itself when this segment holds exactly it (its usual shape).

    Its question is then echoed byte for byte, case included, as over UDP;
    a query split across segments or sharing one falls back to a rebuilt
    message (``_query_message``).
    """
    if len(payload) < TCP_LENGTH_PREFIX + DNS_HEADER:
        return None
    length = int.from_bytes(payload[:TCP_LENGTH_PREFIX], "big")
    message = payload[TCP_LENGTH_PREFIX:]
    if length != len(message) or int.from_bytes(message[:2], "big") != query.msg_id:
        return None
    try:
        whole = question_end(message) <= len(message)
    except WireError:
        return None
    return message if whole else None


def _query_message(question: Question) -> bytes:
    """A DNS query message for a question read from a TCP stream (its bytes are gone)."""
    query = question.dns
    assert query is not None and question.name is not None
    labels = [label.encode("ascii", "replace") for label in question.name.text.split(".") if label]
    name = b"".join(bytes([len(label)]) + label for label in labels) + b"\x00"
    header = query.msg_id.to_bytes(2, "big") + b"\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
    return header + name + query.qtype.to_bytes(2, "big") + query.qclass.to_bytes(2, "big")
