"""A teenager's DNS tricks against copgate in the lab's gateway, over UDP, through NAT.

The ``teen`` client (group ``teens``, the home-teenagers category filter)
hand-writes DNS queries for subdomains of ``blocked.example`` (gambling,
blocked for the group) to the outside resolver, each trick with a name of
its own, and bends them the ways evasion tools do: mixed case, short and
changing TTLs, a bad UDP checksum, IP fragments, a source port of 53, an
IPv6 extension header, a spoofed source address, QDCOUNT 0 and 2,
compression pointers (a loop, and one pointing forward to the name), and
EDNS records that are cut, doubled or oversized. Most of these queries take
the daemon's DNS fast path (``copgate.daemon.engine.Engine._dns_fast``), the
rest the general path.

"Got through" is what a resolver acted on: the lab's authoritative dnsmasq
(``log-queries``) logged the trick's name, or the client got an answer with
records that copgate did not forge (copgate's carry its SOA owner
``copgate.invalid``). A trick whose question a server reads must also get
copgate's forged NXDOMAIN: judged, not just lost. Two got through before this
file, both malformed to copgate (so passed: the teens' group fails open) and
resolved by dnsmasq: a query whose ARCOUNT counts a record that is not
there, and one whose question name is a compression pointer forward to the
name; copgate now reads both questions as the server does.
"""

from __future__ import annotations

import itertools
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6, IPv6ExtHdrHopByHop

from copgate.lab import plan
from copgate.lab.topology import Lab
from tests.lab import evasion_kit as kit
from tests.lab.daemon_lab import Gateway, running_copgate

pytestmark = pytest.mark.lab

DNS = 53
FORGED_MARK = b"\x07copgate\x07invalid\x00"  # the SOA owner of copgate's answers
RESOLVER_LOG = "dns-server.log"
_names = itertools.count(1)


@pytest.fixture(scope="module")
def gateway(lab: Lab) -> Iterator[Gateway]:
    with running_copgate(lab) as running:
        yield running


def trick_name() -> str:
    """A fresh subdomain of blocked.example: blocked by its parent, and the log
    lines of one trick are told from another's."""
    return f"t{next(_names)}-{time.monotonic_ns() % 100000}.blocked.example"


def encode(name: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00"


def query(
    name: str, *, qdcount: int = 1, ident: int = 0x5A5A, extra: bytes = b"", arcount: int = 0
) -> bytes:
    """A recursive A query for ``name``; ``extra`` follows the question."""
    header = struct.pack("!HHHHHH", ident, 0x0100, qdcount, 0, 0, arcount)
    return header + encode(name) + struct.pack("!HH", 1, 1) + extra


def opt(size: int = 1232, rdata: bytes = b"", rdlength: int | None = None) -> bytes:
    """An OPT pseudo-record (RFC 6891 §6.1.2), its RDLENGTH as given or true."""
    length = len(rdata) if rdlength is None else rdlength
    return b"\x00" + struct.pack("!HHIH", 41, size, 0, length) + rdata


@dataclass(slots=True)
class DnsEvader(kit.RawUdp):
    """Crafted DNS datagrams to the outside resolver, sent as written."""

    def emit(self, packet: Any) -> None:
        assert self._send is not None
        self._send.sendto(bytes(packet), (str(self.server), 0))

    def datagram(self, payload: bytes, *, ttl: int = kit.DEFAULT_TTL) -> Any:
        udp = UDP(sport=self.sport, dport=DNS) / payload
        if self.family == 4:
            return IP(src=str(self.source), dst=str(self.server), ttl=ttl) / udp
        return IPv6(src=str(self.source), dst=str(self.server), hlim=ttl) / udp

    def forged(self, seconds: float = kit.WAIT) -> bool:
        """Whether copgate's forged answer came back within ``seconds``."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if any(FORGED_MARK in answer for answer in self.received):
                return True
            time.sleep(kit.POLL)
        return False

    def resolved(self) -> list[bytes]:
        """Answers with records that copgate did not forge: a resolver's work."""
        return [
            answer
            for answer in self.received
            if FORGED_MARK not in answer and len(answer) >= 12 and answer[6:8] != b"\x00\x00"
        ]


def resolver_saw(lab: Lab, name: str) -> bool:
    return name.lower() in (lab.workdir / RESOLVER_LOG).read_text(errors="replace").lower()


def evader(gateway: Gateway, family: int = 4, sport: int | None = None) -> DnsEvader:
    """The teen's crafted queries to the outside resolver, from ``sport`` if given."""
    server = plan.host("ns.example")
    address = server.v4 if family == 4 else server.v6
    client = gateway.lab.clients["teen"]
    if sport is None:
        return DnsEvader(client, address, DNS)
    return DnsEvader(client, address, DNS, sport)


def held_back(gateway: Gateway, name: str, raw: DnsEvader, *, judged: bool) -> None:
    """Nothing of the trick reached the resolver or came back from it; a judged
    trick got copgate's forged answer."""
    if judged:
        assert raw.forged(), f"no forged answer for {name}"
    else:
        time.sleep(kit.WAIT)  # time for a resolver's answer, if one were to come
    assert not raw.resolved(), raw.resolved()
    assert not resolver_saw(gateway.lab, name), f"the resolver was asked {name}"


Trick = Callable[[DnsEvader, str], None]


def forward_pointer(name: str) -> bytes:
    """A query whose question name is a compression pointer to ``name``, placed
    after the question (offset 18): RFC 1035 means pointers backwards, dnsmasq
    follows this one."""
    return query("x")[:12] + b"\xc0\x12" + struct.pack("!HH", 1, 1) + encode(name)


def ttl_change(raw: DnsEvader, name: str) -> None:
    raw.emit(raw.datagram(query(name), ttl=255))
    raw.emit(raw.datagram(query(name, ident=7), ttl=9))


def fragments(raw: DnsEvader, name: str) -> None:
    """The query as IP fragments of 24 bytes (the gateway reassembles before the queue)."""
    for piece in kit._fragment(raw.datagram(query(name, extra=opt(), arcount=1)), fragsize=24):
        raw.emit(piece)


WELL_FORMED: dict[str, Trick] = {
    "plain": lambda raw, name: raw.emit(raw.datagram(query(name))),
    "mixed case": lambda raw, name: raw.emit(raw.datagram(query(name.upper()))),
    "TTL 3": lambda raw, name: raw.emit(raw.datagram(query(name), ttl=3)),
    "TTL 255 then 9": ttl_change,
    "EDNS": lambda raw, name: raw.emit(raw.datagram(query(name, extra=opt(), arcount=1))),
    "EDNS size 65535": lambda raw, name: raw.emit(
        raw.datagram(query(name, extra=opt(65535), arcount=1))
    ),
    "two OPT records": lambda raw, name: raw.emit(
        raw.datagram(query(name, extra=opt() + opt(4096), arcount=2))
    ),
    "padding after the message": lambda raw, name: raw.emit(raw.datagram(query(name) + bytes(300))),
    "IP fragments": fragments,
    "pointer forward to the name": lambda raw, name: raw.emit(raw.datagram(forward_pointer(name))),
    "ARCOUNT 1, no record": lambda raw, name: raw.emit(raw.datagram(query(name, arcount=1))),
    "OPT cut short": lambda raw, name: raw.emit(
        raw.datagram(query(name, extra=opt(rdlength=40), arcount=1))
    ),
}


@pytest.mark.parametrize("trick", WELL_FORMED)
def test_a_well_formed_trick_is_judged_and_answered_by_copgate(
    gateway: Gateway, trick: str
) -> None:
    name = trick_name()
    with evader(gateway) as raw:
        WELL_FORMED[trick](raw, name)
        held_back(gateway, name, raw, judged=True)


def test_a_query_from_source_port_53_is_judged(gateway: Gateway) -> None:
    name = trick_name()
    with evader(gateway, sport=DNS) as raw:
        raw.emit(raw.datagram(query(name)))
        held_back(gateway, name, raw, judged=True)


def test_an_ipv6_query_behind_an_extension_header_is_judged(gateway: Gateway) -> None:
    name = trick_name()
    with evader(gateway, 6) as raw:
        packet = raw.datagram(query(name))
        raw.emit(IPv6(src=packet.src, dst=packet.dst) / IPv6ExtHdrHopByHop() / packet[UDP])
        held_back(gateway, name, raw, judged=True)


MALFORMED: dict[str, Callable[[str], bytes]] = {
    "bad UDP checksum": query,  # sent with its checksum flipped
    "QDCOUNT 0": lambda name: query(name, qdcount=0),
    "QDCOUNT 2, blocked first": lambda name: (
        query(name, qdcount=2) + encode("allowed.example") + struct.pack("!HH", 1, 1)
    ),
    "QDCOUNT 2, blocked second": lambda name: (
        query("allowed.example", qdcount=2) + encode(name) + struct.pack("!HH", 1, 1)
    ),
    "pointer loop": lambda name: query("x")[:12] + b"\x01x\xc0\x0c" + struct.pack("!HH", 1, 1),
}


@pytest.mark.parametrize("trick", MALFORMED)
def test_a_malformed_query_never_gets_the_blocked_name_resolved(
    gateway: Gateway, trick: str
) -> None:
    # The teens' group fails open: what copgate cannot read passes. What
    # matters is that no resolver resolves the blocked name from it.
    name = trick_name()
    with evader(gateway) as raw:
        raw.send(MALFORMED[trick](name), bad_checksum=trick == "bad UDP checksum")
        held_back(gateway, name, raw, judged=False)


def test_a_spoofed_source_outside_the_lan_gets_nothing_resolved(gateway: Gateway) -> None:
    name = trick_name()
    with evader(gateway) as raw:
        packet = raw.datagram(query(name))
        packet[IP].src = "203.0.113.77"
        raw.emit(packet)
        held_back(gateway, name, raw, judged=False)
