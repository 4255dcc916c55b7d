"""Per-flow state: from packets to the questions clients ask, within bounds.

A ``FlowTracker`` is fed one ``Packet`` at a time with the current time and
says what the packet showed: questions, "pending" (part of a ClientHello or
request that is not complete yet), "unreadable" (the flow carries something
copgate cannot read), "malformed" (a wire error) or "ignored" (nothing to
judge: a server's side, a pure ACK, a flow already decided). The daemon and
the offline inspector use the same tracker; the daemon feeds it only the
client-to-server packets the firewall queues.

What is read where:
- DNS over UDP, port 53 either side: every message, stateless.
- DNS over TCP, port 53: the client's stream, message after message.
- Other TCP: TLS (a ClientHello, once) or HTTP/1.x (every request's Host),
  told apart by the stream's first bytes, not by port.
- Other UDP: QUIC Initial packets of supported versions, by content.

Bounds (all in ``Limits``): the number of flows, the bytes held per flow and
in all, and a flow's age. When a bound is hit the oldest flows are evicted
and counted; a flow over its byte bound is unreadable. Time is an argument;
this module never reads the clock.
"""

from __future__ import annotations

import enum
from typing import NamedTuple

from copgate.errors import WireError
from copgate.wire.dns import read_dns_message, read_dns_tcp
from copgate.wire.http import looks_like_http, read_http_request
from copgate.wire.names import Name
from copgate.wire.packet import PROTO_TCP, PROTO_UDP, TCP_FIN, TCP_RST, TCP_SYN, Packet
from copgate.wire.question import ClientHello, DnsQuery, Kind, Question
from copgate.wire.quic import (
    InitialKeyCache,
    looks_like_quic_long_header,
    read_initial_datagram,
)
from copgate.wire.stream import StreamBuffer, StreamOverflow
from copgate.wire.tls import looks_like_tls, read_client_hello_message, read_client_hello_records

DNS_PORT = 53
SEQ_MODULO = 1 << 32
TLS_HANDSHAKE_TYPE_AT = 5  # record header (5 bytes), then the handshake type
TLS_SERVER_HELLO = 2  # RFC 8446 §4


class Seen(enum.StrEnum):
    """What one packet showed."""

    QUESTION = "question"
    PENDING = "pending"
    UNREADABLE = "unreadable"
    MALFORMED = "malformed"
    IGNORED = "ignored"


class Observation(NamedTuple):
    """The tracker's answer for one packet."""

    seen: Seen
    questions: tuple[Question, ...] = ()
    reason: str = ""
    """Why a flow is unreadable, malformed or ignored."""


class Limits(NamedTuple):
    """Bounds on the state kept for flows not yet decided."""

    max_flows: int = 4096
    max_flow_bytes: int = 32768
    """Per flow: Chromium's post-quantum hello is ~2 KB, the largest real one seen 11 KB."""
    max_total_bytes: int = 4 << 20
    """In all flows: what a 128 MB router can spare."""
    max_age: float = 10.0
    """Seconds a flow may stay undecided (a slow client's hello takes well under 1 s)."""
    max_done: int = 16384
    """Decided flows remembered so that their later packets are ignored."""


class Stats:
    """Counters of what the tracker did; read by status and tests."""

    __slots__ = ("evicted_age", "evicted_bytes", "evicted_flows", "overflows")

    def __init__(self) -> None:
        self.evicted_age = 0
        self.evicted_flows = 0
        self.evicted_bytes = 0
        self.overflows = 0


FlowKey = tuple[bytes, int, bytes, int, int]
"""Source address, source port, destination address, destination port, protocol."""


class _Flow:
    """One direction of a flow whose question is not decided yet."""

    __slots__ = ("anchor", "created", "key_dcid", "kind", "stream", "synced")

    def __init__(self, created: float, limit: int, anchor: int, synced: bool) -> None:
        self.created = created
        self.kind: Kind | None = None
        self.stream = StreamBuffer(limit)
        self.anchor = anchor
        """TCP sequence number of stream offset 0 (QUIC: unused)."""
        self.synced = synced
        """True once the SYN fixed the stream start (TCP)."""
        self.key_dcid: bytes | None = None
        """QUIC: the DCID whose keys opened the flow's last Initial (RFC 9001 §5.2:
        the client keeps them after the server picks its own connection ID)."""


class FlowTracker:
    """Turns packets into questions, holding bounded per-flow state."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self.stats = Stats()
        self._flows: dict[FlowKey, _Flow] = {}
        self._done: dict[FlowKey, None] = {}
        self._held = 0
        self._now = 0.0
        self._quic_keys = InitialKeyCache()

    def __len__(self) -> int:
        return len(self._flows)

    @property
    def held_bytes(self) -> int:
        """Bytes held in all undecided flows."""
        return self._held

    def feed(self, packet: Packet, now: float) -> Observation:
        """What ``packet`` shows, given the flows seen before ``now``."""
        if self._flows:
            self.expire(now)
        self._now = now
        if packet.fragment and not packet.sport:
            return Observation(Seen.IGNORED, reason="a later IP fragment")
        if packet.proto == PROTO_UDP:
            if DNS_PORT in (packet.dport, packet.sport):
                return self._dns_udp(packet)
            return self._quic(packet, now)
        if packet.proto == PROTO_TCP:
            return self._tcp(packet, now)
        return Observation(Seen.IGNORED, reason=f"IP protocol {packet.proto}")

    def expire(self, now: float) -> None:
        """Forget flows older than the age bound."""
        deadline = now - self.limits.max_age
        while self._flows:
            key = next(iter(self._flows))
            flow = self._flows[key]
            if flow.created > deadline:
                return
            self._drop(key)
            self.stats.evicted_age += 1

    # -- DNS ---------------------------------------------------------------

    def _dns_udp(self, packet: Packet) -> Observation:
        try:
            query = read_dns_message(packet.payload)
        except WireError as exc:
            return Observation(Seen.MALFORMED, reason=f"DNS: {exc}")
        return Observation(Seen.QUESTION, (self._dns_question(packet, query),))

    @staticmethod
    def _dns_question(packet: Packet, query: DnsQuery) -> Question:
        here = (packet.src, packet.sport)
        there = (packet.dst, packet.dport)
        client, server = (there, here) if query.response else (here, there)
        return Question(Kind.DNS, query.name, client, server, dns=query, transport=packet.proto)

    # -- TCP ---------------------------------------------------------------

    def _tcp(self, packet: Packet, now: float) -> Observation:
        key = (packet.src, packet.sport, packet.dst, packet.dport, PROTO_TCP)
        if packet.flags & TCP_SYN:
            self._done.pop(key, None)  # a new connection on a reused port
        if key in self._done:
            if packet.flags & (TCP_FIN | TCP_RST):
                self._done.pop(key, None)
            return Observation(Seen.IGNORED, reason="flow already decided")
        flow = self._flows.get(key)
        if packet.flags & TCP_SYN:
            if flow is not None:
                self._drop(key)
            flow = self._new_flow(key, now, (packet.seq + 1) % SEQ_MODULO, synced=True)
            if not packet.payload:
                return Observation(Seen.PENDING)
        if packet.flags & (TCP_FIN | TCP_RST) and not packet.payload:
            if flow is not None:
                self._drop(key)
            return Observation(Seen.IGNORED, reason="connection closing")
        if not packet.payload:
            return Observation(Seen.IGNORED, reason="no payload")
        if flow is None:
            flow = self._new_flow(key, now, packet.seq, synced=False)
        return self._tcp_data(key, flow, packet)

    def _tcp_data(self, key: FlowKey, flow: _Flow, packet: Packet) -> Observation:
        offset = (packet.seq - flow.anchor) % SEQ_MODULO
        if offset >= SEQ_MODULO // 2:  # before the anchor
            if flow.synced or flow.kind is not None:
                return Observation(Seen.IGNORED, reason="data before the stream start")
            self._reanchor(flow, packet.seq, SEQ_MODULO - offset)
            offset = 0
        before = flow.stream.size
        try:
            flow.stream.add(offset, packet.payload)
        except StreamOverflow:
            self.stats.overflows += 1
            self._finish(key)
            return Observation(
                Seen.UNREADABLE, reason=f"nothing readable in {self.limits.max_flow_bytes} bytes"
            )
        self._held += flow.stream.size - before
        observation = self._read_stream(key, flow, packet)
        if key in self._flows:
            self._enforce_total(key)
        return observation

    def _read_stream(self, key: FlowKey, flow: _Flow, packet: Packet) -> Observation:
        if flow.kind is None:
            kind_or_reason = self._classify(flow.stream.prefix, packet, flow.synced)
            if isinstance(kind_or_reason, Observation):
                if kind_or_reason.seen is not Seen.PENDING:
                    self._finish(key)
                return kind_or_reason
            flow.kind = kind_or_reason
        try:
            if flow.kind is Kind.TLS:
                return self._tls(key, flow, packet)
            if flow.kind is Kind.HTTP:
                return self._http(key, flow, packet)
            return self._dns_tcp(key, flow, packet)
        except WireError as exc:
            self._finish(key)
            return Observation(Seen.MALFORMED, reason=f"{flow.kind.value.upper()}: {exc}")

    def _classify(self, prefix: bytes, packet: Packet, synced: bool) -> Kind | Observation:
        if DNS_PORT in (packet.dport, packet.sport):
            return Kind.DNS
        if not prefix:
            return Observation(Seen.PENDING)
        if looks_like_tls(prefix[:3]):
            if len(prefix) <= TLS_HANDSHAKE_TYPE_AT:
                return Observation(Seen.PENDING)
            if prefix[TLS_HANDSHAKE_TYPE_AT] == TLS_SERVER_HELLO:
                return Observation(Seen.IGNORED, reason="a server's TLS stream")
            return Kind.TLS
        if looks_like_http(prefix[:9]):
            return Kind.HTTP if len(prefix) >= 9 else Observation(Seen.PENDING)
        if prefix.startswith(b"HTTP/"):
            return Observation(Seen.IGNORED, reason="a server's HTTP stream")
        if not synced:
            # Without the SYN this may be a later segment that came first.
            return Observation(Seen.PENDING)
        return Observation(Seen.UNREADABLE, reason="neither TLS nor HTTP")

    def _tls(self, key: FlowKey, flow: _Flow, packet: Packet) -> Observation:
        hello = read_client_hello_records(flow.stream.prefix)
        if hello is None:
            return Observation(Seen.PENDING)
        self._finish(key)
        return Observation(Seen.QUESTION, (_asked(Kind.TLS, packet, hello.sni, hello=hello),))

    def _http(self, key: FlowKey, flow: _Flow, packet: Packet) -> Observation:
        questions: list[Question] = []
        while True:
            request = read_http_request(flow.stream.prefix)
            if request is None:
                break
            questions.append(_asked(Kind.HTTP, packet, request.host))
            if request.body_length is None:
                self._finish(key)
                return Observation(
                    Seen.QUESTION, tuple(questions), reason="chunked body: later requests unread"
                )
            self._consume(key, flow, request.header_end + request.body_length)
            if not len(flow.stream):
                break
        if questions:
            return Observation(Seen.QUESTION, tuple(questions))
        return Observation(Seen.PENDING)

    def _dns_tcp(self, key: FlowKey, flow: _Flow, packet: Packet) -> Observation:
        queries, used = read_dns_tcp(flow.stream.prefix)
        if used:
            self._consume(key, flow, used)
        if not queries:
            return Observation(Seen.PENDING)
        return Observation(Seen.QUESTION, tuple(self._dns_question(packet, q) for q in queries))

    def _reanchor(self, flow: _Flow, seq: int, delta: int) -> None:
        """The stream starts ``delta`` bytes earlier than thought (no SYN seen)."""
        before = flow.stream.size
        try:
            flow.stream = flow.stream.shifted(delta)
        except StreamOverflow:
            # The earlier pieces now lie past the byte bound: they were not
            # the start of a ClientHello this one belongs to.
            flow.stream = StreamBuffer(self.limits.max_flow_bytes)
        flow.anchor = seq
        self._held += flow.stream.size - before

    def _consume(self, key: FlowKey, flow: _Flow, count: int) -> None:
        """Move past a message that was read; a long-lived flow then counts as new."""
        before = flow.stream.size
        flow.stream.discard(count)
        self._held -= before - flow.stream.size
        flow.created = self._now
        self._flows[key] = self._flows.pop(key)  # keep the dict ordered by age

    # -- QUIC --------------------------------------------------------------

    def _quic(self, packet: Packet, now: float) -> Observation:
        key = (packet.src, packet.sport, packet.dst, packet.dport, PROTO_UDP)
        if key in self._done:
            return Observation(Seen.IGNORED, reason="flow already decided")
        reverse = (packet.dst, packet.dport, packet.src, packet.sport, PROTO_UDP)
        if reverse in self._flows or reverse in self._done:
            return Observation(Seen.IGNORED, reason="a server's QUIC packets")
        flow = self._flows.get(key)
        try:
            initials = read_initial_datagram(
                packet.payload, self._quic_keys, key_dcid=flow.key_dcid if flow else None
            )
        except WireError as exc:
            return Observation(Seen.MALFORMED, reason=f"QUIC: {exc}")
        if initials is None:
            if flow is not None or looks_like_quic_long_header(packet.payload):
                # 0-RTT may come before the Initial that carries the hello.
                return Observation(Seen.PENDING)
            return Observation(Seen.IGNORED, reason="UDP that is neither DNS nor QUIC Initial")
        if flow is None:
            flow = self._new_flow(key, now, 0, synced=True)
            flow.kind = Kind.QUIC
        flow.key_dcid = initials[-1].dcid
        before = flow.stream.size
        try:
            # In offset order: Chromium shuffles its CRYPTO frames on purpose,
            # and in-order pieces join the prefix without being held.
            frames = sorted(frame for initial in initials for frame in initial.crypto)
            for offset, data in frames:
                flow.stream.add(offset, data)
        except StreamOverflow:
            self.stats.overflows += 1
            self._finish(key)
            return Observation(Seen.UNREADABLE, reason="QUIC ClientHello over the byte bound")
        self._held += flow.stream.size - before
        try:
            hello = read_client_hello_message(flow.stream.prefix)
        except WireError as exc:
            self._finish(key)
            return Observation(Seen.MALFORMED, reason=f"QUIC: {exc}")
        if hello is None:
            self._enforce_total(key)
            return Observation(Seen.PENDING)
        self._finish(key)
        version = initials[0].version
        question = _asked(Kind.QUIC, packet, hello.sni, hello=hello, quic_version=version)
        return Observation(Seen.QUESTION, (question,))

    # -- state -------------------------------------------------------------

    def _new_flow(self, key: FlowKey, now: float, anchor: int, synced: bool) -> _Flow:
        while len(self._flows) >= self.limits.max_flows:
            self._drop(next(iter(self._flows)))
            self.stats.evicted_flows += 1
        flow = _Flow(now, self.limits.max_flow_bytes, anchor, synced)
        self._flows[key] = flow
        return flow

    def _enforce_total(self, keep: FlowKey) -> None:
        while self._held > self.limits.max_total_bytes and len(self._flows) > 1:
            oldest = next(iter(self._flows))
            if oldest == keep:
                self._flows[keep] = self._flows.pop(keep)  # move to the end
                continue
            self._drop(oldest)
            self.stats.evicted_bytes += 1

    def _drop(self, key: FlowKey) -> None:
        flow = self._flows.pop(key, None)
        if flow is not None:
            self._held -= flow.stream.size

    def _finish(self, key: FlowKey) -> None:
        """The flow is decided: forget its bytes, remember that it is done."""
        self._drop(key)
        self._done[key] = None
        if len(self._done) > self.limits.max_done:
            del self._done[next(iter(self._done))]


def _asked(
    kind: Kind,
    packet: Packet,
    name: Name | None,
    *,
    hello: ClientHello | None = None,
    quic_version: int | None = None,
) -> Question:
    """The question the client-to-server ``packet`` completed."""
    client = (packet.src, packet.sport)
    server = (packet.dst, packet.dport)
    return Question(
        kind, name, client, server, hello, quic_version=quic_version, transport=packet.proto
    )
