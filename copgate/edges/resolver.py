"""Resolving the safe-search endpoints through the router's upstream resolver.

The decision layer needs the addresses of forcesafesearch.google.com,
restrict.youtube.com and the rest (a TLS connection to a search engine that
goes anywhere else is refused), and forged CNAME answers carry them. This
edge asks the upstream resolver for A and AAAA of each endpoint over UDP,
without blocking, and refreshes each answer when its TTL runs out (at least
``MIN_REFRESH`` and at most ``MAX_REFRESH`` seconds apart). The gateway's
own queries leave through OUTPUT, which copgate's rules never queue.

What it learns is forged into every client's answers, so an answer is
believed only if it could not have been forged off-path (RFC 5452 §9):

- each query has a socket of its own, from a random port, connected to
  the upstream, so the kernel drops datagrams from any other address or
  port, and its socket is closed once it is answered or asked again;
- message IDs come from ``secrets``;
- the answer must be a response (QR set, opcode QUERY) to exactly the
  question asked: one question with the same name (letters in any case),
  type and class. Anything else is counted in ``rejected`` and dropped.
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
import selectors
import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from copgate.errors import WireError
from copgate.wire.dns import (
    HEADER_SIZE,
    OPCODE_MASK,
    QR_BIT,
    TYPE_A,
    TYPE_AAAA,
    read_dns_addresses,
)

LOG = logging.getLogger("copgate.resolver")
MIN_REFRESH = 30.0
MAX_REFRESH = 3600.0
RETRY = 10.0
MAX_ANSWER = 4096
CLASS_IN = 1

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def upstream_from_resolv_conf(text: str) -> str | None:
    """The first nameserver of a resolv.conf text."""
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            return parts[1]
    return None


def build_query(name: str, qtype: int, msg_id: int) -> bytes:
    labels = b"".join(bytes([len(p)]) + p.encode("ascii") for p in name.split(".") if p)
    return (
        struct.pack("!HHHHHH", msg_id, 0x0100, 1, 0, 0, 0)
        + labels
        + b"\x00"
        + struct.pack("!HH", qtype, CLASS_IN)
    )


def answers_question(data: bytes, query: bytes) -> bool:
    """Is ``data`` a response to ``query``: same ID, QR set, opcode QUERY, the same one question.

    The question is compared byte for byte after the header, the name's
    letters in any case (RFC 4343 §3: a resolver may change their case);
    type and class exactly. A compression pointer in the question does not
    compare equal: the first name of a message has nothing to point back to.
    """
    if len(data) < len(query) or data[:2] != query[:2]:
        return False
    flags, qdcount = struct.unpack_from("!HH", data, 2)
    if not flags & QR_BIT or flags & OPCODE_MASK or qdcount != 1:
        return False
    asked = query[HEADER_SIZE:]
    got = data[HEADER_SIZE : HEADER_SIZE + len(asked)]
    return got[:-4].lower() == asked[:-4].lower() and got[-4:] == asked[-4:]


Question = tuple[str, int]
"""(name, qtype)."""


@dataclass(frozen=True, slots=True)
class _InFlight:
    """One query waiting for its answer, on a socket of its own."""

    question: Question
    query: bytes
    sock: socket.socket


class SafeResolver:
    """Asks one upstream server for the endpoints' addresses, each query on its own socket.

    Each query gets a new UDP socket connected to the upstream, so it leaves
    from a port of the kernel's random choice and only the upstream's answer
    from that port reaches it: an off-path forger must guess the port and
    the ID (RFC 5452 §9.2). The sockets sit in a selector of the resolver's
    own; ``fileno`` is that selector's (an epoll descriptor is readable when
    one of its sockets is), so the daemon registers one descriptor for all.
    """

    def __init__(self, upstream: str, names: Iterable[str], port: int = 53) -> None:
        self.upstream = (upstream, port)
        self._family = socket.AF_INET6 if ":" in upstream else socket.AF_INET
        self._selector = selectors.DefaultSelector()
        self.names = tuple(dict.fromkeys(names))
        self.answers: dict[Question, tuple[tuple[bytes, ...], float]] = {}
        """(name, qtype) -> (addresses, time they expire)."""
        self._due: dict[Question, float] = {
            (n, t): 0.0 for n in self.names for t in (TYPE_A, TYPE_AAAA)
        }
        self._in_flight: dict[Question, _InFlight] = {}
        """At most one query per question; asking again retires the last one and its socket."""
        self.changed = False
        self.rejected = 0
        """Answers dropped: not a response to the question asked on their socket."""

    def fileno(self) -> int:
        return self._selector.fileno()

    def tick(self, now: float) -> None:
        """Send the queries that are due."""
        for question, due in self._due.items():
            if due <= now:
                self._retire(question)
                self._due[question] = now + RETRY
                try:
                    self._ask(question)
                except OSError as exc:
                    LOG.warning("cannot ask %s for %s: %s", self.upstream[0], question[0], exc)

    def _ask(self, question: Question) -> None:
        query = build_query(question[0], question[1], secrets.randbits(16))
        sock = socket.socket(self._family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.connect(self.upstream)
            self._selector.register(sock, selectors.EVENT_READ, question)
        except OSError:
            sock.close()
            raise
        self._in_flight[question] = _InFlight(question, query, sock)
        sock.send(query)

    def _retire(self, question: Question) -> None:
        flight = self._in_flight.pop(question, None)
        if flight is not None:
            self._selector.unregister(flight.sock)
            flight.sock.close()

    def readable(self, now: float) -> None:
        """Read every waiting answer."""
        for key, _events in self._selector.select(0):
            flight = self._in_flight.get(key.data)
            if flight is not None:
                self._read(flight, now)

    def _read(self, flight: _InFlight, now: float) -> None:
        while True:
            try:
                data = flight.sock.recv(MAX_ANSWER)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # ICMP unreachable from the upstream, reported here
                LOG.warning("resolver: %s for %s", exc, flight.question[0])
                return
            if not answers_question(data, flight.query):
                self.rejected += 1
                continue
            self._retire(flight.question)
            self._learn(flight.question, data, now)
            return

    def _learn(self, question: Question, data: bytes, now: float) -> None:
        try:
            _rcode, records = read_dns_addresses(data)
        except WireError as exc:
            LOG.warning("bad answer for %s: %s", question[0], exc)
            return
        addresses = tuple(addr for rtype, addr, _ttl in records if rtype == question[1])
        ttl = min((ttl for _t, _a, ttl in records), default=MIN_REFRESH)
        ttl = min(max(float(ttl), MIN_REFRESH), MAX_REFRESH)
        self.answers[question] = (addresses, now + ttl)
        self._due[question] = now + ttl
        self.changed = True

    def addresses(self) -> frozenset[IpAddress]:
        return frozenset(
            ipaddress.ip_address(a) for addrs, _exp in self.answers.values() for a in addrs
        )

    def targets(
        self,
    ) -> dict[str, tuple[tuple[ipaddress.IPv4Address, ...], tuple[ipaddress.IPv6Address, ...]]]:
        out: dict[
            str, tuple[tuple[ipaddress.IPv4Address, ...], tuple[ipaddress.IPv6Address, ...]]
        ] = {}
        for name in self.names:
            v4 = self.answers.get((name, TYPE_A), ((), 0.0))[0]
            v6 = self.answers.get((name, TYPE_AAAA), ((), 0.0))[0]
            out[name] = (
                tuple(ipaddress.IPv4Address(a) for a in v4),
                tuple(ipaddress.IPv6Address(a) for a in v6),
            )
        return out

    def close(self) -> None:
        for question in list(self._in_flight):
            self._retire(question)
        self._selector.close()
