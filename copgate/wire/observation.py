"""What the flow tracker reports, the bounds it keeps, and how it builds questions.

The values here are the tracker's interface to the engine and the
inspector: ``Seen`` and ``Observation`` for each packet, ``Limits`` for its
bounds, ``Stats`` for its counters, and the reasons of flows that ended
undecided. The question builders turn what a layer read into ``Question``
values. This module keeps no state and never parses bytes.
"""

from __future__ import annotations

import enum
from typing import NamedTuple

from copgate.tuplenew import new_tuple
from copgate.wire.http import HttpRequest
from copgate.wire.layers import Item, Malformed
from copgate.wire.names import Name
from copgate.wire.packet import Packet
from copgate.wire.question import ClientHello, DnsQuery, Kind, Question
from copgate.wire.tls import MAX_CLIENT_HELLO


class Seen(enum.StrEnum):
    """What one packet showed."""

    QUESTION = "question"
    PENDING = "pending"
    EVASION = "evasion"
    UNREADABLE = "unreadable"
    MALFORMED = "malformed"
    IGNORED = "ignored"


class Observation(NamedTuple):
    """The tracker's answer for one packet."""

    seen: Seen
    questions: tuple[Question, ...] = ()
    reason: str = ""
    """Why a flow is evasive, unreadable, malformed or ignored, for a log reader."""


class Limits(NamedTuple):
    """Bounds on the state kept for flows not yet decided."""

    max_flows: int = 4096
    max_flow_bytes: int = MAX_CLIENT_HELLO
    """Per flow, and the TLS bound too: Go refuses a hello over 64 KiB; Chromium's
    post-quantum hello is ~2 KB, the largest real one seen 11 KB."""
    max_total_bytes: int = 4 << 20
    """In all flows: what a 128 MB router can spare."""
    max_age: float = 10.0
    """Seconds a flow may go without progress (a slow client's hello takes well under 1 s)."""
    max_done: int = 16384
    """Decided, ended and resumable flows remembered (each table)."""
    max_client_flows: int = 512
    """Undecided flows per client: a browser opens tens at once, a SYN flood thousands."""
    quic_keys_per_second: float = 50.0
    """QUIC Initial key derivations per client and second, on average."""
    quic_keys_burst: float = 100.0
    """... and at once: a browser's page load opens tens of QUIC connections."""


class Stats:
    """Counters of what the tracker did; read by status and tests."""

    __slots__ = (
        "bad_checksums",
        "conflicts",
        "evicted_age",
        "evicted_bytes",
        "evicted_flows",
        "overflows",
        "quic_throttled",
        "untrusted",
    )

    def __init__(self) -> None:
        self.evicted_age = 0
        self.evicted_flows = 0
        self.evicted_bytes = 0
        self.overflows = 0
        self.conflicts = 0
        self.bad_checksums = 0
        self.untrusted = 0
        self.quic_throttled = 0


EXPIRED = "expired undecided"
EVICTED = "evicted undecided"


def questions_of(kind: Kind, packet: Packet, item: Item) -> tuple[Question, ...]:
    value = item.value
    if isinstance(value, Malformed):
        return ()
    if isinstance(value, DnsQuery):
        return (dns_question(packet, value),)
    if isinstance(value, HttpRequest):
        if value.field_host is None:
            return (asked(Kind.HTTP, packet, value.host),)
        return (asked(Kind.HTTP, packet, value.host), asked(Kind.HTTP, packet, value.field_host))
    return (asked(kind, packet, value.sni, hello=value),)


def dns_question(packet: Packet, query: DnsQuery) -> Question:
    here = (packet.src, packet.sport)
    there = (packet.dst, packet.dport)
    client, server = (there, here) if query.response else (here, there)
    return Question(Kind.DNS, query.name, client, server, dns=query, transport=packet.proto)


def asked(
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
    # Built for every hello and request: by tuple's constructor, every field in order.
    return new_tuple(
        Question, (kind, name, client, server, hello, None, quic_version, packet.proto, True)
    )
