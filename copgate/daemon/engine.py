"""The daemon's pure engine: one queued packet in, one verdict out.

``Engine.judge(datagram, meta)`` reads the packet with the wire core, finds
the client's group, asks policy, and turns the decision into what netfilter
must do with the packet (accept, accept and mark the flow decided, drop) and
which packets copgate must inject (a forged DNS answer, TCP resets, an HTTP
redirect or the block page itself). It never touches netfilter, sockets or
the clock: the time is in ``meta``, and the injected packets are bytes for
the edge to send.

A plain DNS query over UDP (most of what the queue carries) is judged from
its bytes (``_dns_fast``, ``copgate.wire.dns_datagram``): the same steps as
the general path, without the ``Packet``, the observation and the handler
table in between; anything else, and a flow already blocked, takes the
general path. ``tests/daemon/test_dns_fast.py`` holds the two to the same
verdicts, forged bytes, counters and tracker state, packet for packet.

Every packet gets a verdict, whatever happens: a malformed packet, a flow
copgate cannot read, or a bug in copgate itself becomes the group's failure
mode (``Engine.judge`` never raises).

How a decision becomes an action, by protocol:

| question  | allow                      | block                                    |
|-----------|----------------------------|------------------------------------------|
| DNS       | accept (never mark: stub   | drop, inject the configured answer from  |
|           | resolvers reuse sockets)   | the resolver's address                   |
| TLS       | accept, mark flow decided  | drop, RST both ends (RFC 5961 numbers)   |
|           | (only if trusted, below)   | and every later packet of the flow       |
| QUIC      | accept, mark flow decided  | drop, and every later packet of the flow |
|           | (only if trusted)          |                                          |
| HTTP      | accept (every request is   | drop, 302 to the block page (or the page |
|           | judged: never mark)        | itself, see below) + FIN, RST to server; |
|           |                            | every later packet of the flow dropped   |
| unreadable| accept, mark decided       | drop (TCP: RST both ends), remembered    |
| evasion   | accept, never mark (mode   | drop (TCP: RST both ends), remembered;   |
|           | off: mark, nothing to      | HTTP or DNS over TCP that cannot be      |
|           | judge)                     | framed is closed even when allowed       |

Decided means judged: ``Action.DECIDED`` (the kernel passes the rest of the
flow unseen) is given only for a name read from bytes the server will accept
(``Question.trusted``) and judged allowed, and for a flow whose trusted first
bytes are a protocol copgate does not read, when the group allows such
traffic. A question read from bytes that may never reach the server (a TTL
other than the SYN's) may block but never decides: the flow stays queued, so
the real hello behind a fake one is judged too. A flow that did what only an
evader does, or ended undecided, gets the group's ``evasion`` treatment
(``decide_evasion``) and is never marked either (but in mode off, where
nothing is judged at all).

A blocked flow stays blocked for its life (``copgate.daemon.blocked``): its
later packets are dropped, and a later TCP segment that carries data (a
retransmitted hello or request) gets the resets again, so one lost reset
does not let the retransmission through. The forged answers themselves are
built in ``copgate.daemon.answers``; the counts in ``copgate.daemon.counters``.

copgate forges packets only towards its LAN: when the packet came in on an
interface that is not one of ``settings.lan_interfaces``, a block drops it
and injects nothing (``Counters.not_lan``), since a packet from the WAN may
claim any source and a forged reply to it would be a reflection. Offline
tools pass no interface and get the forged packets to look at.

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
from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple

from copgate.daemon.answers import (
    IpAddress,
    SafeTargets,
    blockpage_location,
    dns_reply,
    query_message,
    tcp_query,
)
from copgate.daemon.blocked import BlockedFlows, flow_key
from copgate.daemon.counters import COUNT_KEYS, Counters
from copgate.errors import WireError
from copgate.forge.blockpage import page_response
from copgate.forge.dns_reply import DnsReply, forge_dns_reply
from copgate.forge.packets import udp_datagram
from copgate.forge.tcp_reply import http_redirect, reply_and_close, resets_for
from copgate.lists.model import NameLookup
from copgate.policy.decide import decide, decide_evasion, decide_unreadable, failure_decision
from copgate.policy.decision import Decision, Verdict
from copgate.policy.grants import Grants, granted
from copgate.policy.model import Config, Group, Mode, Settings
from copgate.policy.tz import PosixTz, parse_tz
from copgate.requests.pagename import page_name_decision, page_name_reply
from copgate.tuplenew import new_tuple
from copgate.wire.dns_datagram import read_dns_query
from copgate.wire.flows import DNS_PORT, FlowTracker, Limits, Observation, Seen
from copgate.wire.packet import PROTO_TCP, PROTO_UDP, Packet, read_ip
from copgate.wire.question import Kind, Question

__all__ = ["Action", "Engine", "Handler", "IpAddress", "PacketMeta", "PacketVerdict"]
"""What the edges use; ``IpAddress`` is ``copgate.daemon.answers``', named here too."""

GROUP_MEMO_ENTRIES = 4096
"""Clients whose group is remembered (by interface, address and MAC). A LAN has
a few hundred at most; spoofed source addresses only cost a lookup each, since
the memo is cleared when full."""
REPLY_MEMO_ENTRIES = 4096
"""Forged DNS answers remembered (``Engine._dns_reply``); emptied when full."""


_DNS_COUNT_KEYS = {verdict: COUNT_KEYS[Kind.DNS, verdict] for verdict in Verdict}
"""``COUNT_KEYS`` of DNS questions by verdict: one enum hashed per packet, not two."""


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
    """Inbound interface name; None in offline tools (then forged packets are kept)."""
    mac: str | None = None
    """Source MAC address, lower case ``aa:bb:..``, when the link has one."""


class PacketVerdict(NamedTuple):
    """The engine's answer for one packet (a NamedTuple: one is built per packet,
    at a third of a frozen dataclass's cost)."""

    action: Action
    inject: tuple[bytes, ...] = ()
    """IP datagrams to send, in order, each marked so copgate's rules skip it."""
    question: Question | None = None
    decision: Decision | None = None
    note: str = ""
    packet: Packet | None = None
    """The packet read, when no question tells its flow (a hello still incomplete)."""


Handler = Callable[[Packet, Observation, PacketMeta], PacketVerdict]

_ALLOW, _BLOCK, _ACCEPT, _DNS = Verdict.ALLOW, Verdict.BLOCK, Action.ACCEPT, Kind.DNS
"""Module globals for the DNS fast path: found faster than the enums' members."""
_WAITING = "waiting for the rest of the hello"
_TCP_BYTE = bytes([PROTO_TCP])
"""IPv4's protocol byte (offset 9, RFC 791) of a TCP segment: ``judge`` skips ``_dns_fast``."""


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
        self.safe_targets: SafeTargets = {}
        """Safe endpoint name -> its A and AAAA addresses, for forged CNAME answers."""
        self.blockpage_served: frozenset[IpAddress] | None = None
        """Block-page addresses the edge listens on; None trusts the config's (offline tools)."""
        self.blocked = BlockedFlows()
        self.grants: Grants | None = None
        """The administrator's grants (``copgate allow``), refreshed by the edge; None: none
        (checked with ``is``: the hot path pays no call when there are none)."""
        self.page_name: str | None = None
        """The block page's own name (``page_name``), answered with its address; None: off."""
        self.fast_dns = True
        """Judge plain DNS queries over UDP by ``_dns_fast``; off, every packet takes
        the general path (the differential tests compare the two)."""
        self._replies: dict[int, tuple[Decision, Settings, DnsReply]] = {}
        self._groups: dict[tuple[str | None, bytes, str | None], Group] = {}
        self._groups_config = config
        """The config ``_groups`` was filled from: tests and reloads replace ``config``."""
        self._local_second = -1
        self._local_time = datetime.fromtimestamp(0)
        self._handlers: dict[Seen, Handler] = {
            Seen.QUESTION: self._questions,
            Seen.PENDING: self._pending,
            Seen.UNREADABLE: self._unreadable,
            Seen.MALFORMED: self._malformed,
            Seen.IGNORED: self._ignored,
            Seen.EVASION: self._evasion,
        }
        """What each observation becomes: a table rather than an if-chain, and one
        dict hit per packet."""

    def reconfigure(
        self, config: Config, lists: NameLookup, lists_built: float, *, tz: PosixTz | None = None
    ) -> None:
        """Take a new config and lists; flows in progress keep their state.

        ``tz`` is the timezone the edge resolved (``/etc/TZ``, ``/etc/localtime``),
        so that a reload keeps it; without it, the config's ``timezone`` as at start.
        """
        self.tz = tz if tz is not None else parse_tz(config.settings.timezone)
        self.config = config
        self.lists = lists
        self.lists_built = lists_built
        self._local_second = -1

    # -- the one entry point ----------------------------------------------------

    def judge(self, datagram: bytes, meta: PacketMeta) -> PacketVerdict:
        """The verdict for one queued IP datagram. Never raises."""
        self.counters.packets += 1
        try:
            # IPv4 protocol 6 (a TCP segment, most of what is not DNS) is no plain
            # DNS query over UDP: it goes straight to the general path.
            fast = self.fast_dns and (datagram[9:10] != _TCP_BYTE or datagram[0] >> 4 != 4)
            verdict = (self._dns_fast(datagram, meta) if fast else None) or self._judge(
                datagram, meta
            )
            if verdict.inject and not self._from_lan(meta):
                self.counters.not_lan += 1
                note = f"{verdict.note or 'blocked'}; not from a LAN interface: nothing forged"
                return verdict._replace(action=Action.DROP, inject=(), note=note)
            return verdict
        except Exception as exc:  # every packet must get a verdict
            self.counters.failures += 1
            return self._failure(None, meta, f"internal error: {type(exc).__name__}: {exc}")

    def _judge(self, datagram: bytes, meta: PacketMeta) -> PacketVerdict:
        try:
            packet = read_ip(datagram)
        except WireError as exc:
            self.counters.malformed += 1
            return self._failure(None, meta, f"malformed packet: {exc}")
        blocked = self.blocked
        if blocked.expiry and blocked.blocked(flow_key(packet), meta.now):
            return self._blocked_again(packet)
        observation = self.tracker.feed(packet, meta.now)
        handler = self._handlers.get(observation.seen, self._unknown)
        return handler(packet, observation, meta)

    def _dns_fast(self, datagram: bytes, meta: PacketMeta) -> PacketVerdict | None:
        """A plain DNS query over UDP, judged from its bytes; None: take ``_judge``.

        The general path's steps for such a query, without the ``Packet``, the
        observation and the handler table in between (about a fifth of a cold
        allowed query's cost in ``benchmarks/bench_engine.py``): what
        ``read_dns_query`` accepts, ``read_ip`` and the tracker read alike, and
        ``FlowTracker.dns_query`` does to the tracker what ``feed`` does. A flow
        copgate blocked, and everything ``read_dns_query`` refuses (malformed
        included), take the general path before anything has changed. Nothing
        but a decision other than allow needs the ``Packet``, and the forged
        answer is built from it as there.
        """
        read = read_dns_query(datagram)
        if read is None:
            return None
        src, dst, sport, ttl, query = read
        now = meta.now
        blocked = self.blocked
        if blocked.expiry and (src, sport, dst, DNS_PORT, PROTO_UDP) in blocked.expiry:
            return None  # the general path drops it (or forgets an expired entry)
        self.tracker.dns_query(src, ttl, now)
        name = query.name
        if name is not None and name.text == self.page_name:
            return None  # the block page's own name: answered by the general path
        question = new_tuple(
            Question,
            (_DNS, name, (src, sport), (dst, DNS_PORT), None, query, None, PROTO_UDP, True),
        )
        # What ``_group_for``, ``_local``, ``_decide`` and ``Counters.count`` do,
        # with their usual case in line: a call each is a tenth of this path.
        group = self._groups.get((meta.iface, src, meta.mac))
        if group is None or self.config is not self._groups_config:
            group = self._group_for(meta, src)
        if int(now) == self._local_second:
            local, plausible = self._local_time, now >= self.lists_built
        else:
            local, plausible = self._local(now)
        decision = decide(question, group, self.lists, local, plausible, self.safe_addresses)
        verdict = decision.verdict
        if self.grants is not None and verdict is _BLOCK:
            decision = granted(decision, _name_text(question), self.grants, now)
            verdict = decision.verdict
        by_kind = self.counters.by_kind
        key = _DNS_COUNT_KEYS[verdict]
        by_kind[key] = by_kind.get(key, 0) + 1
        if verdict is _ALLOW and not decision.dns_nodata:
            return new_tuple(PacketVerdict, (_ACCEPT, (), question, decision, "", None))
        return self._dns_answer(read_ip(datagram), question, decision, now)

    def _from_lan(self, meta: PacketMeta) -> bool:
        return meta.iface is None or meta.iface in self.config.settings.lan_interfaces

    # -- questions ------------------------------------------------------------------

    def group_of(self, packet: Packet, meta: PacketMeta) -> Group:
        """The client's group, remembered per config.

        ``group_for`` builds an ``ipaddress`` object and walks the prefixes:
        nearly a tenth of an allowed DNS query's cost, ten times a dict hit.
        """
        return self._group_for(meta, packet.src)

    def _group_for(self, meta: PacketMeta, src: bytes) -> Group:
        config = self.config
        if config is not self._groups_config:
            self._groups.clear()
            self._groups_config = config
        key = (meta.iface, src, meta.mac)
        group = self._groups.get(key)
        if group is None:
            ip = ipaddress.ip_address(src)
            group = config.group_for(meta.iface, ip, meta.mac)
            if len(self._groups) >= GROUP_MEMO_ENTRIES:
                self._groups.clear()
            self._groups[key] = group
        return group

    def _questions(
        self, packet: Packet, observation: Observation, meta: PacketMeta
    ) -> PacketVerdict:
        now = meta.now
        group = self.group_of(packet, meta)
        local, plausible = self._local(now)
        questions = observation.questions
        if len(questions) == 1:  # nearly always: skip the loop's bookkeeping
            question = questions[0]
            name = question.name
            if name is not None and name.text == self.page_name and question.kind is Kind.DNS:
                return self._page_name(packet, question, group, now)
            decision = self._decide(question, group, local, plausible, now)
            self.counters.count(COUNT_KEYS[question.kind, decision.verdict])
            return self._act(packet, question, decision, now)
        blocked: PacketVerdict | None = None
        last: PacketVerdict | None = None
        for question in questions:
            decision = self._decide(question, group, local, plausible, meta.now)
            self.counters.count(COUNT_KEYS[question.kind, decision.verdict])
            verdict = self._act(packet, question, decision, meta.now)
            last = verdict
            if verdict.action is Action.DROP and blocked is None:
                blocked = verdict
        if last is None:  # a QUESTION observation has at least one question
            return self._failure(packet, meta, "a question observation without a question")
        return blocked or last

    def _decide(
        self, question: Question, group: Group, local: datetime, plausible: bool, now: float
    ) -> Decision:
        """The policy's decision, then the administrator's grants (``copgate allow``)."""
        decision = decide(question, group, self.lists, local, plausible, self.safe_addresses)
        if self.grants is not None and decision.verdict is Verdict.BLOCK:
            return granted(decision, _name_text(question), self.grants, now)
        return decision

    def _act(
        self, packet: Packet, question: Question, decision: Decision, now: float
    ) -> PacketVerdict:
        kind = question.kind
        if decision.verdict is _ALLOW and not decision.dns_nodata:
            action = self._allowed(question)
            return new_tuple(PacketVerdict, (action, (), question, decision, "", None))
        if kind is Kind.DNS:
            return self._dns_answer(packet, question, decision, now)
        if kind is Kind.TLS:
            self.blocked.add(flow_key(packet), now)
            return PacketVerdict(Action.DROP, resets_for(packet), question, decision)
        if kind is Kind.QUIC:
            self.blocked.add(flow_key(packet), now)
            return PacketVerdict(Action.DROP, (), question, decision)
        return self._http_block(packet, question, decision, now)

    def _allowed(self, question: Question) -> Action:
        """DECIDED only for a TLS or QUIC name the server will read (see the docstring)."""
        if question.kind is not Kind.TLS and question.kind is not Kind.QUIC:
            return Action.ACCEPT  # DNS and HTTP: every message is judged
        if not question.trusted:
            self.counters.untrusted += 1
            return Action.ACCEPT
        return Action.DECIDED

    def _http_block(
        self, packet: Packet, question: Question, decision: Decision, now: float
    ) -> PacketVerdict:
        name = question.name.text if question.name else ""
        why = decision.category or decision.rule.value
        settings = self.config.settings
        location = blockpage_location(
            settings, packet.version, name, why, self.blockpage_served, decision=decision
        )
        response = http_redirect(location) if location else page_response(name, why)
        self.blocked.add(flow_key(packet), now)
        return PacketVerdict(Action.DROP, reply_and_close(packet, response), question, decision)

    def _page_name(
        self, packet: Packet, question: Question, group: Group, now: float
    ) -> PacketVerdict:
        """The block page's own name: answered with the page's addresses, for every group."""
        decision = page_name_decision(group.name, self.page_name or "")
        self.counters.count(COUNT_KEYS[question.kind, decision.verdict])
        reply = page_name_reply(self.config.settings)
        return self._dns_answer(packet, question, decision, now, reply)

    def _dns_answer(
        self,
        packet: Packet,
        question: Question,
        decision: Decision,
        now: float,
        reply: DnsReply | None = None,
    ) -> PacketVerdict:
        query = question.dns
        if query is None:
            raise ValueError("a DNS question without its query")
        reply = reply or self._dns_reply(decision)
        if packet.proto == PROTO_UDP:
            answer = forge_dns_reply(packet.payload, query, reply)
            datagram = udp_datagram((packet.dst, packet.dport), (packet.src, packet.sport), answer)
            return PacketVerdict(Action.DROP, (datagram,), question, decision)
        message = tcp_query(packet.payload, query) or query_message(question)
        answer = forge_dns_reply(message, query, reply)
        framed = len(answer).to_bytes(2, "big") + answer
        self.blocked.add(flow_key(packet), now)
        return PacketVerdict(Action.DROP, reply_and_close(packet, framed), question, decision)

    def _dns_reply(self, decision: Decision) -> DnsReply:
        """The answer for a blocked DNS question, remembered per decision.

        Policy hands out the same ``Decision`` object for a name asked again
        (its DNS memo), and a ``DnsReply`` costs more to build than to find.
        The memo holds the decision itself, so its ``id`` is not reused while
        the entry lives; a new ``Settings`` (a reload) misses. Safe-search
        answers carry addresses the edge refreshes: they are built every time.
        """
        settings = self.config.settings
        held = self._replies.get(id(decision))
        if held is not None and held[0] is decision and held[1] is settings:
            return held[2]
        reply = dns_reply(decision, settings, self.safe_targets)
        if decision.verdict is not Verdict.SAFESEARCH:
            if len(self._replies) >= REPLY_MEMO_ENTRIES:
                self._replies.clear()
            self._replies[id(decision)] = (decision, settings, reply)
        return reply

    # -- what is not a question ---------------------------------------------------

    def _pending(self, packet: Packet, observation: Observation, meta: PacketMeta) -> PacketVerdict:
        self.counters.pending += 1
        return new_tuple(PacketVerdict, (_ACCEPT, (), None, None, _WAITING, packet))

    def _ignored(self, packet: Packet, observation: Observation, meta: PacketMeta) -> PacketVerdict:
        # A bad checksum: the receiver drops the packet, so passing it is
        # harmless, and it must neither decide nor block (the tracker kept it out).
        reason = observation.reason
        if "checksum" in reason:
            self.counters.bad_checksum += 1
        return new_tuple(PacketVerdict, (_ACCEPT, (), None, None, reason, None))

    def _unreadable(
        self, packet: Packet, observation: Observation, meta: PacketMeta
    ) -> PacketVerdict:
        reason = observation.reason
        group = self.group_of(packet, meta)
        decision = decide_unreadable(group, reason)
        self.counters.count(f"unreadable:{decision.verdict.value}")
        if decision.verdict is Verdict.ALLOW:
            # Marked decided: the tracker says "unreadable" only for a flow whose
            # first bytes, read from what the server accepts, are a protocol
            # copgate does not read (SSH, a VPN); such a flow will carry no name
            # later, and the group chose to let such traffic pass. Bytes the
            # server may not read, or a bound hit, are evasion instead.
            return PacketVerdict(Action.DECIDED, decision=decision, note=reason)
        return self._refuse(packet, decision, reason, meta.now)

    def _evasion(self, packet: Packet, observation: Observation, meta: PacketMeta) -> PacketVerdict:
        reason = observation.reason
        group = self.group_of(packet, meta)
        decision = decide_evasion(group, reason)
        self.counters.count_evasion(reason)
        self.counters.count(f"evasion:{decision.verdict.value}")
        if decision.verdict is Verdict.ALLOW and not _unframed(packet, reason, group):
            # Never marked decided, not even when allowed: the flow's name was
            # not judged, and the tracker reports each later packet again.
            # Mode off is the exception: there is nothing to judge.
            action = Action.DECIDED if group.mode is Mode.OFF else Action.ACCEPT
            return PacketVerdict(action, decision=decision, note=reason)
        if decision.verdict is Verdict.ALLOW:
            # HTTP or DNS over TCP that cannot be framed would carry every later
            # request unjudged: a filtering group closes it, whatever its option.
            decision = decision._replace(
                verdict=Verdict.BLOCK,
                reason=f"{reason}: later requests cannot be found; the connection is closed",
            )
        return self._refuse(packet, decision, reason, meta.now)

    def _malformed(
        self, packet: Packet, observation: Observation, meta: PacketMeta
    ) -> PacketVerdict:
        self.counters.malformed += 1
        return self._failure(packet, meta, observation.reason)

    def _unknown(self, packet: Packet, observation: Observation, meta: PacketMeta) -> PacketVerdict:
        return self._failure(packet, meta, f"unknown observation {observation.seen!r}")

    def _blocked_again(self, packet: Packet) -> PacketVerdict:
        self.counters.blocked_again += 1
        if packet.proto == PROTO_TCP and packet.payload:
            # A retransmitted hello or request: the first resets may be lost.
            return PacketVerdict(Action.DROP, resets_for(packet), note="flow already blocked")
        return PacketVerdict(Action.DROP, note="flow already blocked")

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
        return self._refuse(packet, decision, reason, meta.now)

    def _refuse(self, packet: Packet, decision: Decision, reason: str, now: float) -> PacketVerdict:
        """Drop a flow refused without a name; TCP with data: reset both ends."""
        # ``packet=``: the decision ring shows a flow refused without a name by its server.
        if packet.proto == PROTO_TCP and packet.payload:
            self.blocked.add(flow_key(packet), now)
            return PacketVerdict(
                Action.DROP, resets_for(packet), decision=decision, note=reason, packet=packet
            )
        if packet.proto == PROTO_UDP:
            self.blocked.add(flow_key(packet), now)
        return PacketVerdict(Action.DROP, decision=decision, note=reason, packet=packet)

    # -- helpers --------------------------------------------------------------------

    def _local(self, now: float) -> tuple[datetime, bool]:
        """Local wall time (cached per second: the TZ rules cost ~17 µs) and plausibility."""
        second = int(now)
        if second != self._local_second:
            self._local_second = second
            self._local_time = self.tz.local(now)
        return self._local_time, now >= self.lists_built


def _name_text(question: Question) -> str | None:
    return question.name.text if question.name else None


def _unframed(packet: Packet, reason: str, group: Group) -> bool:
    """HTTP or DNS over TCP that a filtering group must close (see ``_evasion``).

    The tracker names the protocol first in its reasons (``HTTP: ...``); DNS
    over TCP is told by its port, as the tracker tells it.
    """
    if group.mode is Mode.OFF or packet.proto != PROTO_TCP:
        return False
    return reason.startswith(("HTTP", "DNS")) or DNS_PORT in (packet.sport, packet.dport)
