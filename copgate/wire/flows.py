"""Per-flow state: from packets to the questions clients ask, within bounds an evader cannot use.

A ``FlowTracker`` is fed one ``Packet`` at a time with the current time and
says what the packet showed (``Seen``): questions; "pending" (part of a
ClientHello or request, not complete yet); "evasion" (what only an evader
does, or a flow that ended undecided); "unreadable" (an unknown protocol on
a port copgate reads); "malformed" (a wire error the server would read too);
or "ignored" (nothing to judge). The daemon and the offline inspector use the
same tracker; the daemon feeds it the client-to-server packets the firewall
queues.

What is read where:
- DNS over UDP, port 53 either side: every message, stateless.
- DNS over TCP (port 53) and HTTP/1.x: every message, for the connection's
  whole life (``copgate.wire.layers``).
- Other TCP: TLS (a ClientHello, once) or HTTP, told apart by the stream's
  first bytes, not by port.
- Other UDP: QUIC Initial packets of supported versions, by content.

What is trusted. A name decides a flow only when it was read from bytes the
server will read, as far as a gateway can tell:
- a segment with a bad TCP or UDP checksum is dropped by the server, so it
  decides nothing (IGNORED, "bad checksum");
- a segment whose TTL or hop limit differs from the SYN's may die before the
  server: what it carries is kept apart (``copgate.wire.tcp``), and a name
  read with its help is reported with ``Question.trusted`` False (it may
  block, never allow). A SYN with a lower TTL than its connection's replaces
  nothing. QUIC has no SYN (nor has a connection whose SYN passed unseen): an
  Initial (a first segment) with a TTL low enough to die before a server is
  untrusted the same way (``copgate.wire.shares.Shares.ttl_ok``);
- a segment an established server drops whatever its bytes (no ACK bit, an
  MD5 or TCP-AO option, a TSval older than the connection's, an IPv6
  extension the host discards) is untrusted the same way, and so is a QUIC
  Initial in a datagram under 1200 bytes;
- urgent data is evasion: the server takes the urgent byte out of the stream;
- bytes that disagree with bytes already held at the same offsets are
  evasion, whatever their TTL;
- data starting past the flow bound is beyond any receive window: IGNORED;
- once the server's SYN-ACK was seen (the firewall queues it while the flow
  is undecided; its observation is always IGNORED), a segment whose ACK
  number the server refuses (RFC 9293 §3.10.7.4, RFC 5961 §5: too new
  before the server sent data, or older than its ISS + 1 less the client's
  largest window) is untrusted the same way; without it, any ACK is taken;
- SYN data (TCP Fast Open, RFC 7413) is stream offset 0, untrusted until the
  server's SYN-ACK acknowledges it (or, with no SYN-ACK seen, the client's
  next segment starts after it).

Endings, which the tracker remembers so that every later packet of the flow
gets the same observation (bounded like the decided flows): EVASION (a bound
hit, bytes that disagree, an HTTP or DNS-over-TCP stream that cannot be
framed, eviction or expiry while bytes are held undecided), UNREADABLE and
MALFORMED. (A DNS-over-TCP message that is framed but unreadable is MALFORMED
for its packet only: the server answers it and reads on, and so does copgate.)
A connection idle between messages, or whose SYN alone was seen, may be
forgotten, but its next sequence number is kept, so it is read on from the
right place.

Bounds (``Limits``): flows in all and per client, bytes per flow and in all,
QUIC key derivations per client, and an idle time. A flow's deadline moves
when its stream makes progress, so an honest slow client is never expired.
Under pressure the client holding the most flows (or, for the byte bound,
that one or the client being fed, whichever holds more) loses its oldest,
never another client's. ``next_deadline`` tells the edge when to call
``expire``. Time is an argument; this module never reads the clock.
"""

from __future__ import annotations

from typing import NamedTuple, TypeVar

from copgate.errors import WireError
from copgate.tuplenew import new_tuple
from copgate.wire.checksum import segment_ok
from copgate.wire.dns import read_dns_message
from copgate.wire.http import HttpFramingError
from copgate.wire.layers import DnsFramingError, Layer, Malformed, Unreadable, choose_layer
from copgate.wire.observation import (
    EVICTED,
    EXPIRED,
    Limits,
    Observation,
    Seen,
    Stats,
    asked,
    dns_question,
    questions_of,
)
from copgate.wire.packet import (
    PROTO_TCP,
    PROTO_UDP,
    TCP_ACK,
    TCP_FIN,
    TCP_RST,
    TCP_SYN,
    TCP_URG,
    Packet,
)
from copgate.wire.question import Kind
from copgate.wire.quic import (
    InitialKeyCache,
    looks_like_quic_long_header,
    read_initial_datagram,
)
from copgate.wire.shares import FlowKey, Shares
from copgate.wire.stream import Added, StreamConflict, StreamOverflow
from copgate.wire.tcp import SEQ_MODULO, TcpStream, older, read_options
from copgate.wire.tls import (
    read_client_hello_message,
    read_client_hello_records,
)

__all__ = [
    "DNS_PORT",
    "EVICTED",
    "EXPIRED",
    "FlowKey",
    "FlowTracker",
    "Limits",
    "Observation",
    "Seen",
    "Stats",
]

DNS_PORT = 53
QUIC_MIN_INITIAL_DATAGRAM = 1200  # RFC 9000 §14.1
_PENDING = Observation(Seen.PENDING)
_BAD_CHECKSUM = Observation(Seen.IGNORED, reason="bad checksum")
# Observations the same for every packet that gets them, built once.
_SYN_ACK = Observation(Seen.IGNORED, reason="a server's SYN-ACK")
_NO_PAYLOAD = Observation(Seen.IGNORED, reason="no payload")
_CLOSING = Observation(Seen.IGNORED, reason="connection closing")
_DECIDED = Observation(Seen.IGNORED, reason="flow already decided")


_V = TypeVar("_V")


class _Flow:
    """One direction of a flow whose question is not decided yet."""

    __slots__ = (
        "client",
        "crypto",
        "held",
        "key_dcid",
        "layer",
        "previous",
        "suspect_read",
        "syn_data",
        "syn_taken",
        "tcp",
        "touched",
    )

    def __init__(self, client: bytes, now: float) -> None:
        self.client = client
        self.touched = now
        """When the stream last made progress: the idle deadline counts from here."""
        self.held = 0
        """Bytes held, as last accounted in the tracker's totals."""
        self.tcp: TcpStream | None = None
        self.layer: Layer | None = None
        self.suspect_read = 0
        """Length of the merged view when it was last read for untrusted names."""
        self.syn_data = b""
        """Data the SYN carried, untrusted until the client's next segment shows the
        server took it (TCP Fast Open is the server's choice, RFC 7413 §4.2)."""
        self.syn_taken: bool | None = None
        """Whether the server's SYN-ACK acknowledged the SYN's data; None before it."""
        self.previous: Observation | None = None
        """How the connection this 4-tuple carried before ended (a fake SYN must not wipe it)."""
        self.crypto: TcpStream | None = None
        """QUIC: the CRYPTO stream of the Initials, offsets as sequence numbers from 0."""
        self.key_dcid: bytes | None = None
        """QUIC: the DCID whose keys opened the flow's last Initial (RFC 9001 §5.2:
        the client keeps them after the server picks its own connection ID)."""

    @property
    def size(self) -> int:
        stream = self.tcp or self.crypto
        return stream.size if stream is not None else 0


class _Resume(NamedTuple):
    """Where a forgotten idle connection's stream goes on, so it is read from the right place."""

    seq: int
    ttl: int
    layer: Layer | None


class FlowTracker:
    """Turns packets into questions, holding bounded per-flow state."""

    def __init__(self, limits: Limits | None = None, *, verify_checksums: bool = True) -> None:
        self.limits = limits or Limits()
        self.verify_checksums = verify_checksums
        """Off only for captures, whose offloaded checksums are often wrong."""
        self.stats = Stats()
        self._flows: dict[FlowKey, _Flow] = {}
        """Undecided flows, ordered by last progress (the front expires first)."""
        self._shares = Shares(self.limits.max_done)
        """Each client's undecided flows, bytes, QUIC key tokens and usual TTL."""
        self._done: dict[FlowKey, None] = {}
        self._ended: dict[FlowKey, Observation] = {}
        self._resume: dict[FlowKey, _Resume] = {}
        self._lower_syns: dict[FlowKey, Packet] = {}
        """The last SYN ignored for its lower TTL on each 4-tuple (``_syn``), kept until
        the server's SYN-ACK shows whether it took it (``_syn_ack``)."""
        self._gone: list[tuple[FlowKey, str]] = []
        self._held = 0
        self._now = 0.0
        self._quic_keys = InitialKeyCache()

    def __len__(self) -> int:
        return len(self._flows)

    @property
    def held_bytes(self) -> int:
        """Bytes held in all undecided flows."""
        return self._held

    def next_deadline(self) -> float | None:
        """When ``expire`` next has work, or None with no undecided flow."""
        for flow in self._flows.values():
            return flow.touched + self.limits.max_age
        return None

    def expire(self, now: float) -> list[tuple[FlowKey, str]]:
        """End flows idle past the age bound; the flows that ended undecided, and why.

        Also hands over flows evicted since the last call. Each such flow's
        next packet gets ``Seen.EVASION`` with the same reason.
        """
        self._expire(now)
        gone, self._gone = self._gone, []
        return gone

    def _expire(self, now: float) -> None:
        deadline = now - self.limits.max_age
        flows = self._flows
        while flows:
            key, flow = next(iter(flows.items()))
            if flow.touched > deadline:
                return
            self._evict(key, EXPIRED)
            self.stats.evicted_age += 1

    def feed(self, packet: Packet, now: float) -> Observation:
        """What ``packet`` shows, given the flows seen before ``now``."""
        if self._flows:
            self._expire(now)
        self._now = now
        if packet.fragment and not packet.sport:
            return Observation(Seen.IGNORED, reason="a later IP fragment")
        proto = packet.proto
        if proto == PROTO_TCP:
            return self._tcp(packet, now)
        if proto == PROTO_UDP:
            if DNS_PORT in (packet.dport, packet.sport):
                return self._dns_udp(packet)
            return self._quic(packet, now)
        return Observation(Seen.IGNORED, reason=f"IP protocol {proto}")

    def dns_query(self, client: bytes, ttl: int, now: float) -> None:
        """What ``feed`` does to the tracker for a plain DNS query over UDP from
        ``client`` (``copgate.wire.dns_datagram``, the daemon's fast path), which
        is then judged without a ``Packet``: expire due flows, learn the TTL."""
        if self._flows:
            self._expire(now)
        self._now = now
        self._shares.learn_ttl(client, ttl, now)

    # -- DNS ---------------------------------------------------------------

    def _dns_udp(self, packet: Packet) -> Observation:
        try:
            query = read_dns_message(packet.payload)
        except WireError as exc:
            return Observation(Seen.MALFORMED, reason=f"DNS: {exc}")
        if not query.response:
            self._shares.learn_ttl(packet.src, packet.ttl, self._now)
        return Observation(Seen.QUESTION, (dns_question(packet, query),))

    # -- TCP ---------------------------------------------------------------

    def _tcp(self, packet: Packet, now: float) -> Observation:
        key = (packet.src, packet.sport, packet.dst, packet.dport, PROTO_TCP)
        flags = packet.flags
        if flags & TCP_SYN:
            if flags & TCP_ACK:
                return self._syn_ack(packet)
            return self._syn(key, packet, now)
        ended = self._ended.get(key)
        if ended is not None:
            return ended
        if key in self._done:
            if flags & (TCP_FIN | TCP_RST):
                self._done.pop(key, None)
            return _DECIDED
        flow = self._flows.get(key)
        if not packet.payload:
            if flow is not None and flow.syn_data and flow.syn_taken:
                # Fast Open data the SYN-ACK showed taken: read it now, not at
                # the client's next data (which may wait for the server's reply).
                return self._read_syn_data(key, flow, packet)
            if flags & (TCP_FIN | TCP_RST):
                if flow is not None and not flow.size:
                    self._drop(key)
                return _CLOSING
            return _NO_PAYLOAD
        if self._bad_checksum(packet):
            return _BAD_CHECKSUM
        if flags & TCP_URG:
            # The server's socket takes the urgent byte out of the stream
            # (RFC 9293 §3.8.5, SO_OOBINLINE off): it reads other bytes than
            # copgate would. No browser or resolver sends urgent data.
            return self._end(key, Seen.EVASION, "urgent data in a stream copgate reads")
        if flow is None:
            # No SYN seen (it may have passed while the queue was full): a
            # first segment that may die on the way cannot set the trusted
            # TTL; the flow then trusts by the client's bar (TTL 0) until a
            # segment above it sets one.
            ttl = packet.ttl if self._shares.ttl_ok(packet.src, packet.ttl, now) else 0
            if key not in self._resume and ttl and _server_reads(packet, None):
                whole = self._whole_hello(key, packet, packet.payload)
                if whole is not None:
                    return whole
            flow = self._open_tcp(key, packet, now, ttl)
        elif flow.layer is None and not flow.held and flow.tcp is not None:
            tcp = flow.tcp
            if (
                packet.ttl == tcp.ttl
                and not tcp.trusted.origin
                and tcp.offset(packet.seq) == 0
                and _server_reads(packet, tcp)
            ):
                whole = self._whole_hello(key, packet, packet.payload)
                if whole is not None:
                    return whole
        if flow.syn_data:
            settled = self._settle_syn_data(key, flow, packet)
            if settled is not None:
                return settled
        return self._tcp_data(key, flow, packet, packet.seq)

    def _settle_syn_data(self, key: FlowKey, flow: _Flow, packet: Packet) -> Observation | None:
        """The SYN's data is trusted once the server is known to have taken it.

        The server's SYN-ACK says so when copgate saw it: its ACK number
        covers the data (RFC 7413 §4.2). Without it, the client's next segment
        does: a server that took the data acknowledged it, so the client goes
        on after it; one that did not makes the client send it again from the
        start, and copgate reads that copy (a different copy is bytes that
        disagree).
        """
        tcp = flow.tcp
        data, flow.syn_data = flow.syn_data, b""
        if tcp is None or flow.syn_taken is False:
            return None
        if not flow.syn_taken and (packet.ttl != tcp.ttl or tcp.offset(packet.seq) != len(data)):
            return None
        try:
            tcp.add_at(0, data, True)
        except (StreamConflict, StreamOverflow) as exc:
            return self._end(key, Seen.EVASION, f"SYN data disagrees: {exc}")
        return None

    def _read_syn_data(self, key: FlowKey, flow: _Flow, packet: Packet) -> Observation:
        """Trust the SYN's data the server took, and read the stream with it."""
        settled = self._settle_syn_data(key, flow, packet)
        if settled is not None:
            return settled
        observation = self._read_stream(key, flow, packet)
        if key in self._flows:
            self._account(flow)
        return observation

    def _syn_ack(self, packet: Packet) -> Observation:
        """The server's SYN-ACK (the firewall queues it while the flow is undecided).

        It tells what the server accepts from the client: its ISS fixes the
        ACK numbers the server takes (``TcpStream.ack_acceptable``), and its
        ACK number whether it took the SYN's data (Fast Open). Nothing in it
        is judged: its observation is always IGNORED.
        """
        ignored = _SYN_ACK
        key = (packet.dst, packet.dport, packet.src, packet.sport, PROTO_TCP)
        lower = self._lower_syns.get(key) if self._lower_syns else None
        if lower is not None and _acknowledges(packet, lower) and not self._bad_checksum(packet):
            # The server took the SYN ignored for its lower TTL: it did not die on
            # the way but opened a new connection (the old one closed by a reset
            # copgate never saw). Its bytes are read from its own start, not
            # against the old connection's numbers ("data before the stream start").
            self._new_connection(key, lower, self._now)
        flow = self._flows.get(key)
        tcp = flow.tcp if flow is not None else None
        if flow is None or tcp is None or not tcp.synced or tcp.server_next is not None:
            return ignored  # only the first SYN-ACK of a connection whose SYN was seen
        if self._bad_checksum(packet):
            return _BAD_CHECKSUM
        acked = (packet.ack - tcp.anchor) % SEQ_MODULO
        if flow.syn_data and acked == len(flow.syn_data):
            flow.syn_taken = True
        elif acked == 0:
            flow.syn_taken = False if flow.syn_data else None
        else:
            return ignored  # acknowledges no SYN of this connection: not its SYN-ACK
        tcp.server_next = (packet.seq + 1) % SEQ_MODULO
        return ignored

    def _whole_hello(self, key: FlowKey, packet: Packet, payload: bytes) -> Observation | None:
        """A whole ClientHello in a stream's first trusted segment, read without holding it.

        Nearly every hello comes so; anything else (part of a hello, another
        protocol, a malformed one) goes the general way, which says what it is.
        """
        if payload[:1] != b"\x16" or DNS_PORT in (packet.dport, packet.sport):
            return None
        if len(payload) < 9 or ((payload[3] << 8) | payload[4]) + 5 > len(payload):
            return None  # the first record goes on in a later segment
        try:
            hello = read_client_hello_records(payload)
        except WireError:
            return None
        if hello is None:
            return None
        self._finish(key)
        question = asked(Kind.TLS, packet, hello.sni, hello=hello)
        return new_tuple(Observation, (Seen.QUESTION, (question,), ""))

    def _syn(self, key: FlowKey, packet: Packet, now: float) -> Observation:
        if self._bad_checksum(packet):
            return _BAD_CHECKSUM
        usual = self._shares.learn_ttl_ok(packet.src, packet.ttl, now)
        start = (packet.seq + 1) % SEQ_MODULO
        flow = self._flows.get(key)
        tcp = flow.tcp if flow is not None else None
        if flow is not None and tcp is not None and tcp.synced and tcp.anchor == start:
            # A retransmitted SYN: the flow goes on. The highest TTL stands, so
            # a copy sent to die on the way cannot lower the trusted one.
            tcp.ttl = max(tcp.ttl, packet.ttl)
        elif (tcp is not None or not usual) and self._lower_syn(key, packet, tcp, usual):
            # (With no stream and a usual TTL, ``_lower_syn`` is False: not asked.)
            # A SYN that may die on the way must not replace what the
            # connection's real SYN set up (its trusted TTL, its ending);
            # kept in case the server's SYN-ACK shows it did not die.
            if len(self._lower_syns) >= self.limits.max_flows:
                del self._lower_syns[next(iter(self._lower_syns))]
            self._lower_syns.pop(key, None)
            self._lower_syns[key] = packet
            return Observation(Seen.IGNORED, reason="a SYN with a lower TTL than the connection's")
        else:
            return self._new_connection(key, packet, now)
        if not packet.payload:
            return _PENDING
        return self._tcp_data(key, flow, packet, start)  # TFO: SYN data is offset 0

    def _new_connection(self, key: FlowKey, packet: Packet, now: float) -> Observation:
        """A SYN that starts a connection on ``key``, whatever the tuple carried before."""
        start = (packet.seq + 1) % SEQ_MODULO
        self._lower_syns.pop(key, None)
        previous = self._ended.pop(key, None)
        self._done.pop(key, None)  # a new connection on a reused port
        self._resume.pop(key, None)
        if key in self._flows:
            self._drop(key)
        flow = self._new_flow(key, packet.src, now)
        flow.tcp = tcp = TcpStream(self.limits.max_flow_bytes, start, True, packet.ttl)
        tsval, _signed, wscale = read_options(packet.segment)
        tcp.tsval = tsval
        tcp.wscale = wscale or 0
        tcp.max_window = _window(packet)  # a SYN's window is never scaled
        flow.previous = previous
        if not packet.payload:
            return _PENDING
        return self._tcp_data(key, flow, packet, start)  # TFO: SYN data is offset 0

    def _lower_syn(self, key: FlowKey, packet: Packet, tcp: TcpStream | None, usual: bool) -> bool:
        """True for a SYN on a known 4-tuple whose TTL is below the one the tuple had."""
        if tcp is not None:
            return packet.ttl < tcp.ttl
        known = key in self._ended or key in self._done or key in self._resume
        return known and not usual

    def _open_tcp(self, key: FlowKey, packet: Packet, now: float, ttl: int) -> _Flow:
        resume = self._resume.pop(key, None)
        flow = self._new_flow(key, packet.src, now)
        if resume is not None:
            flow.tcp = TcpStream(self.limits.max_flow_bytes, resume.seq, True, resume.ttl)
            flow.layer = resume.layer
        else:
            flow.tcp = TcpStream(self.limits.max_flow_bytes, packet.seq, False, ttl)
        return flow

    def _tcp_data(self, key: FlowKey, flow: _Flow, packet: Packet, seq: int) -> Observation:
        observation = self._tcp_segment(key, flow, packet, seq)
        if key in self._flows:
            self._account(flow)
            if self._held > self.limits.max_total_bytes:
                self._enforce_total(flow.client)
                if key not in self._flows:
                    return self._ended.get(key) or Observation(
                        Seen.IGNORED, reason="evicted with nothing to judge"
                    )
        return observation

    def _tcp_segment(self, key: FlowKey, flow: _Flow, packet: Packet, seq: int) -> Observation:
        tcp = flow.tcp
        if tcp is None or key not in self._flows:
            return self._ended.get(key) or Observation(Seen.EVASION, reason=EVICTED)
        if tcp.ttl:
            trusted = packet.ttl == tcp.ttl
        else:  # no SYN, and the first segment may have died: see _tcp
            trusted = self._shares.ttl_ok(packet.src, packet.ttl, self._now)
            if trusted:
                tcp.ttl = packet.ttl
        if packet.flags & TCP_SYN:
            trusted = False  # SYN data: see _settle_syn_data
            flow.syn_data = packet.payload
        elif trusted:
            trusted = _server_reads(packet, tcp)
        at = tcp.offset(seq)
        if at < 0 and tcp.trusted.origin == 0:
            layer = flow.layer
            if tcp.synced or (layer is not None and layer.kind is not Kind.TLS):
                return flow.previous or Observation(
                    Seen.IGNORED, reason="data before the stream start"
                )
            # Without the SYN, bytes read as the start may be a later part of
            # the hello (one that looks like a TLS record): read from here.
            tcp.reanchor(seq)
            flow.layer = None
            at = 0
        try:
            added = tcp.add_at(at, packet.payload, trusted)
        except StreamConflict as exc:
            self.stats.conflicts += 1
            return self._end(key, Seen.EVASION, f"overlapping bytes disagree: {exc}")
        except StreamOverflow as exc:
            self.stats.overflows += 1
            return self._end(key, Seen.EVASION, f"flow bound hit: {exc}")
        if added is Added.BEYOND:
            return flow.previous or Observation(
                Seen.IGNORED, reason=f"data past the {self.limits.max_flow_bytes}-byte flow bound"
            )
        if not trusted:
            self.stats.untrusted += 1
        elif added is Added.NEW or not flow.held:
            self._touch(key, flow)
        return self._read_stream(key, flow, packet)

    def _read_stream(self, key: FlowKey, flow: _Flow, packet: Packet) -> Observation:
        tcp = flow.tcp
        assert tcp is not None  # only TCP flows come here
        dns_port = DNS_PORT in (packet.dport, packet.sport)
        if flow.layer is None:
            chosen = choose_layer(tcp.trusted.view, dns_port)
            if isinstance(chosen, Unreadable):
                if chosen.server:
                    self._finish(key)
                    return Observation(Seen.IGNORED, reason=chosen.reason)
                if tcp.synced:
                    return self._end(key, Seen.UNREADABLE, chosen.reason)
                # Without the SYN this may be a later segment that came first.
                return _PENDING
            if chosen is None:
                return self._suspect(flow, packet, dns_port)
            flow.layer = chosen
        layer = flow.layer
        try:
            items, used = layer.read(tcp.trusted.view)
        except HttpFramingError as exc:
            return self._end(key, Seen.EVASION, f"HTTP request cannot be framed: {exc}")
        except DnsFramingError as exc:
            return self._end(key, Seen.EVASION, f"DNS over TCP cannot be framed: {exc}")
        except WireError as exc:
            if layer.kind is Kind.TLS:
                if not tcp.synced:
                    # Without the SYN this may be a later segment that came
                    # first: read again from the start once it is there.
                    flow.layer = None
                    return _PENDING
                # A server may read a hello where copgate cannot (records it
                # skips or versions it takes, extensions it ignores): a
                # TLS-looking stream that is no hello here never ends allowed.
                return self._end(key, Seen.EVASION, f"TLS stream copgate cannot read: {exc}")
            return self._end(key, Seen.MALFORMED, f"{layer.kind.value.upper()}: {exc}")
        if used:
            tcp.discard(used)
            flow.suspect_read = 0
        if not items:
            return _PENDING if tcp.merged is None else self._suspect(flow, packet, dns_port)
        kind = layer.kind
        if len(items) == 1:
            questions = questions_of(kind, packet, items[0])
        else:
            questions = tuple(q for item in items for q in questions_of(kind, packet, item))
        if layer.done:
            self._finish(key)
        else:
            tcp.answered = True  # the server may answer now: its SND.NXT moves
        if kind is not Kind.DNS:
            return Observation(Seen.QUESTION, questions)
        broken = [item.value.reason for item in items if isinstance(item.value, Malformed)]
        if not broken:
            return Observation(Seen.QUESTION, questions)
        # A framed message copgate cannot read is skipped; the flow reads on.
        if questions:
            return Observation(Seen.QUESTION, questions, reason=f"also {broken[0]}")
        return Observation(Seen.MALFORMED, reason=broken[0])

    def _suspect(self, flow: _Flow, packet: Packet, dns_port: bool) -> Observation:
        """Names read with the help of untrusted segments: they may block, never allow."""
        tcp = flow.tcp
        if tcp is None or tcp.merged is None or not tcp.suspect:
            return _PENDING
        merged = tcp.merged.view
        if len(merged) <= flow.suspect_read:
            return _PENDING
        flow.suspect_read = len(merged)
        layer = flow.layer.fork() if flow.layer is not None else choose_layer(merged, dns_port)
        if layer is None or isinstance(layer, Unreadable):
            return _PENDING
        try:
            items, _used = layer.read(merged)
        except WireError:
            return _PENDING  # untrusted bytes decide nothing
        questions = tuple(
            q._replace(trusted=False)
            for item in items
            for q in questions_of(layer.kind, packet, item)
        )
        if not questions:
            return _PENDING
        return Observation(Seen.QUESTION, questions, reason="read from untrusted segments")

    # -- QUIC --------------------------------------------------------------

    def _quic(self, packet: Packet, now: float) -> Observation:
        key = (packet.src, packet.sport, packet.dst, packet.dport, PROTO_UDP)
        if key in self._done:
            return _DECIDED
        ended = self._ended.get(key)
        if ended is not None:
            return ended
        reverse = (packet.dst, packet.dport, packet.src, packet.sport, PROTO_UDP)
        if reverse in self._flows or reverse in self._done:
            return Observation(Seen.IGNORED, reason="a server's QUIC packets")
        flow = self._flows.get(key)
        if not looks_like_quic_long_header(packet.payload):
            if flow is not None:
                return _PENDING
            return Observation(Seen.IGNORED, reason="UDP that is neither DNS nor QUIC Initial")
        if self._bad_checksum(packet):
            return _BAD_CHECKSUM
        if flow is None and not self._may_derive(packet.src, now):
            self.stats.quic_throttled += 1
            return Observation(Seen.EVASION, reason="QUIC Initials over the client's key rate")
        misses = self._quic_keys.misses
        try:
            initials = read_initial_datagram(
                packet.payload, self._quic_keys, key_dcid=flow.key_dcid if flow else None
            )
        except WireError as exc:
            if flow is not None:
                return self._end(key, Seen.MALFORMED, f"QUIC: {exc}")
            return Observation(Seen.MALFORMED, reason=f"QUIC: {exc}")
        finally:
            self._spend(packet.src, self._quic_keys.misses - misses)
        if initials is None:
            # 0-RTT may come before the Initial that carries the hello.
            return _PENDING
        # RFC 9000 §14.1: a server MUST discard a client Initial in a datagram
        # under 1200 bytes, so what a short one carries is never read there.
        trusted = len(packet.payload) >= QUIC_MIN_INITIAL_DATAGRAM and self._shares.ttl_ok(
            packet.src, packet.ttl, now
        )
        self._shares.learn_ttl(packet.src, packet.ttl, now)
        if flow is None:
            flow = self._new_flow(key, packet.src, now)
            flow.crypto = TcpStream(self.limits.max_flow_bytes, 0, True, packet.ttl)
        crypto = flow.crypto
        if crypto is None or key not in self._flows:
            return self._ended.get(key) or Observation(Seen.EVASION, reason=EVICTED)
        flow.key_dcid = initials[-1].dcid
        bound = self.limits.max_flow_bytes
        try:
            # In offset order: Chromium shuffles its CRYPTO frames on purpose,
            # and in-order pieces join the prefix without being held. A frame
            # past the bound is beyond any hello (and must not wrap around).
            frames = sorted(f for initial in initials for f in initial.crypto if f[0] < bound)
            progress = False
            if trusted and crypto.merged is None:
                add = crypto.trusted.add  # the usual case: one view, offsets as they are
                for offset, data in frames:
                    progress |= add(offset, data) is Added.NEW
            else:
                for offset, data in frames:
                    progress |= crypto.add_at(offset, data, trusted) is Added.NEW
            if progress and trusted:
                self._touch(key, flow)
        except StreamConflict as exc:
            self.stats.conflicts += 1
            return self._end(key, Seen.EVASION, f"QUIC CRYPTO bytes disagree: {exc}")
        except StreamOverflow as exc:
            self.stats.overflows += 1
            return self._end(key, Seen.EVASION, f"QUIC flow bound hit: {exc}")
        self._account(flow)
        try:
            hello = read_client_hello_message(crypto.trusted.prefix)
        except WireError as exc:
            return self._end(key, Seen.MALFORMED, f"QUIC: {exc}")
        version = initials[0].version
        if hello is not None:
            self._finish(key)
            question = asked(Kind.QUIC, packet, hello.sni, hello=hello, quic_version=version)
            return Observation(Seen.QUESTION, (question,))
        if not trusted:
            self.stats.untrusted += 1
        self._enforce_total(flow.client)
        if key not in self._flows:
            return self._ended.get(key) or Observation(Seen.EVASION, reason=EVICTED)
        return self._quic_suspect(flow, crypto, packet, version)

    def _quic_suspect(
        self, flow: _Flow, crypto: TcpStream, packet: Packet, version: int
    ) -> Observation:
        """A hello read with the help of Initials sent with a lower TTL: it may block only."""
        merged = crypto.merged
        if merged is None or not crypto.suspect or len(merged) <= flow.suspect_read:
            return _PENDING
        flow.suspect_read = len(merged)
        try:
            hello = read_client_hello_message(merged.prefix)
        except WireError:
            return _PENDING  # untrusted bytes decide nothing
        if hello is None:
            return _PENDING
        question = asked(Kind.QUIC, packet, hello.sni, hello=hello, quic_version=version)
        return Observation(
            Seen.QUESTION,
            (question._replace(trusted=False),),
            reason="read from untrusted Initials",
        )

    def _may_derive(self, client: bytes, now: float) -> bool:
        limits = self.limits
        burst = limits.quic_keys_burst
        return self._shares.tokens(client, now, limits.quic_keys_per_second, burst) >= 1.0

    def _spend(self, client: bytes, count: int) -> None:
        limits = self.limits
        rate, burst = limits.quic_keys_per_second, limits.quic_keys_burst
        self._shares.spend(client, count, self._now, rate, burst)

    # -- state -------------------------------------------------------------

    def _bad_checksum(self, packet: Packet) -> bool:
        """True, and counted, when checksums are checked and ``packet``'s is wrong."""
        if self.verify_checksums and not segment_ok(packet):
            self.stats.bad_checksums += 1
            return True
        return False

    def _new_flow(self, key: FlowKey, client: bytes, now: float) -> _Flow:
        """A new undecided flow, after making room for it within the client's share."""
        shares = self._shares
        limits = self.limits
        if shares.count(client) >= limits.max_client_flows:
            self._evict_oldest(client)
        while len(self._flows) >= limits.max_flows:
            busiest = shares.busiest()
            if busiest is None:
                break
            self._evict_oldest(busiest)
        flow = _Flow(client, now)
        self._flows[key] = flow
        shares.add(client, key)
        return flow

    def _evict_oldest(self, client: bytes) -> None:
        oldest = self._shares.oldest(client)
        if oldest is not None:
            self._evict(oldest, EVICTED)
            self.stats.evicted_flows += 1

    def _touch(self, key: FlowKey, flow: _Flow) -> None:
        """The flow made progress: its idle deadline starts again."""
        flow.touched = self._now
        self._flows[key] = self._flows.pop(key)  # keep the dict ordered by progress

    def _account(self, flow: _Flow) -> None:
        tcp = flow.tcp
        size = tcp.trusted.size if tcp is not None and tcp.merged is None else flow.size
        delta = size - flow.held
        if delta:
            flow.held = size
            self._held += delta
            self._shares.add_bytes(flow.client, delta)

    def _enforce_total(self, fed: bytes) -> None:
        """Over the total bound, take from the client with the most flows or the one being fed.

        Of the two, the one holding more bytes loses its oldest flow that
        holds any (the flow being fed may be it). Both are found without a
        scan of all clients, so a host spoofing thousands of addresses makes
        each eviction no dearer.
        """
        shares = self._shares
        flows = self._flows
        while self._held > self.limits.max_total_bytes:
            client = shares.busiest()
            if client is None or shares.bytes_of(fed) >= shares.bytes_of(client):
                client = fed
            key = next((k for k in shares.flows(client) if flows[k].held), None)
            if key is None:
                client = shares.richest()  # only if neither holds bytes: cannot happen
                if client is None:
                    return
                key = next((k for k in shares.flows(client) if flows[k].held), None)
                if key is None:
                    return
            self._evict(key, EVICTED)
            self.stats.evicted_bytes += 1

    def _evict(self, key: FlowKey, why: str) -> None:
        """Forget a flow under a bound; one that held bytes undecided ends as evasion."""
        flow = self._flows.get(key)
        if flow is None:
            return
        tcp = flow.tcp
        if flow.size and (tcp is None or tcp.synced or flow.layer is not None):
            self._end(key, Seen.EVASION, why)
            gone = self._gone
            gone.append((key, why))
            if len(gone) > self.limits.max_done:
                # Bounded where it grows, between two asks of the edge's
                # (``expire``): an edge that never asks gets the newest.
                del gone[: len(gone) // 2]
            return
        self._drop(key)
        if tcp is not None and tcp.synced:
            _bounded_put(self._resume, key, _Resume(tcp.next_seq, tcp.ttl, flow.layer), self)

    def _drop(self, key: FlowKey) -> None:
        flow = self._flows.pop(key, None)
        if flow is None:
            return
        self._held -= flow.held
        self._shares.remove(flow.client, key, flow.held)

    def _finish(self, key: FlowKey) -> None:
        """The flow is decided: forget its bytes, remember that it is done."""
        self._drop(key)
        _bounded_put(self._done, key, None, self)

    def _end(self, key: FlowKey, seen: Seen, reason: str) -> Observation:
        """The flow ended undecided: every later packet gets the same observation."""
        self._drop(key)
        observation = Observation(seen, reason=reason)
        _bounded_put(self._ended, key, observation, self)
        return observation


def _server_reads(packet: Packet, tcp: TcpStream | None) -> bool:
    """False for a data segment an established server drops whatever its bytes.

    Without the ACK bit (RFC 9293 §3.10.7.4), with an MD5 or TCP-AO option
    the server holds no key for (RFC 2385, RFC 5925), with a TSval older than
    the connection's (PAWS, RFC 7323 §5), or with an IPv6 extension header
    the destination discards (RFC 8200 §4.2, RFC 5095), or, once the
    server's SYN-ACK was seen, with an ACK number the server refuses (too old
    or too new, ``TcpStream.ack_acceptable``). Such a segment is untrusted:
    kept apart, and evasion if it disagrees with the real bytes.
    """
    if not packet.flags & TCP_ACK or packet.discarded:
        return False
    if tcp is not None and not tcp.ack_acceptable(packet.ack):
        return False
    segment = packet.segment
    if len(segment) > 12 and segment[12] > 0x5F:  # a data offset over 5: options
        options = read_options(segment)
        if options.signed:
            return False
        tsval = options.tsval
        if tsval is not None and tcp is not None:
            if tcp.tsval is not None and older(tsval, tcp.tsval):
                return False
            tcp.tsval = tsval
    if tcp is not None:
        tcp.saw_window(_window(packet))
    return True


def _acknowledges(syn_ack: Packet, syn: Packet) -> bool:
    """Whether ``syn_ack`` answers ``syn``: its ACK number is the SYN's next sequence
    number, or past the SYN's data (Fast Open, RFC 7413 §4.2)."""
    acked = (syn_ack.ack - syn.seq - 1) % SEQ_MODULO
    return acked == 0 or acked == len(syn.payload)


def _window(packet: Packet) -> int:
    """The TCP window field of ``packet`` (RFC 9293 §3.1), unscaled."""
    segment = packet.segment
    return (segment[14] << 8) | segment[15] if len(segment) >= 16 else 0


def _bounded_put(table: dict[FlowKey, _V], key: FlowKey, value: _V, tracker: FlowTracker) -> None:
    """Remember ``key`` in ``table``, forgetting the oldest entry past ``max_done``."""
    table.pop(key, None)
    table[key] = value
    if len(table) > tracker.limits.max_done:
        del table[next(iter(table))]
