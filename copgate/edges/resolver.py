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

- the socket is connected to the upstream, so the kernel drops datagrams
  from any other address or port;
- message IDs come from ``secrets``, and each is used for one question;
- the answer must be a response (QR set, opcode QUERY) to exactly the
  question asked: one question with the same name (letters in any case),
  type and class. Anything else is counted in ``rejected`` and dropped.
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
import socket
import struct
from collections.abc import Iterable

from copgate.errors import WireError
from copgate.wire.dns import TYPE_A, TYPE_AAAA, read_dns_addresses

LOG = logging.getLogger("copgate.resolver")
MIN_REFRESH = 30.0
MAX_REFRESH = 3600.0
RETRY = 10.0
MAX_ANSWER = 4096
HEADER_SIZE = 12  # RFC 1035 §4.1.1
QR_BIT = 0x8000
OPCODE_MASK = 0x7800  # opcode 0 is QUERY (RFC 1035 §4.1.1)
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


class SafeResolver:
    """A UDP socket, connected to one upstream server, asking it for the endpoints' addresses."""

    def __init__(self, upstream: str, names: Iterable[str], port: int = 53) -> None:
        self.upstream = (upstream, port)
        family = socket.AF_INET6 if ":" in upstream else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            self.sock.setblocking(False)
            self.sock.connect(self.upstream)
        except OSError:
            self.sock.close()
            raise
        self.names = tuple(dict.fromkeys(names))
        self.answers: dict[tuple[str, int], tuple[tuple[bytes, ...], float]] = {}
        """(name, qtype) -> (addresses, time they expire)."""
        self._due: dict[tuple[str, int], float] = {
            (n, t): 0.0 for n in self.names for t in (TYPE_A, TYPE_AAAA)
        }
        self._pending: dict[int, tuple[tuple[str, int], bytes]] = {}
        """message ID -> (name, qtype) and the query sent, until answered or asked again."""
        self._asked: dict[tuple[str, int], int] = {}
        """(name, qtype) -> the ID of its query in flight: one ID per question."""
        self.changed = False
        self.rejected = 0
        """Answers dropped: not a response to a question in flight."""

    def fileno(self) -> int:
        return self.sock.fileno()

    def tick(self, now: float) -> None:
        """Send the queries that are due."""
        for key, due in self._due.items():
            if due <= now:
                self._pending.pop(self._asked.pop(key, -1), None)  # its last query is dead
                msg_id = self._new_id()
                query = build_query(key[0], key[1], msg_id)
                self._pending[msg_id] = (key, query)
                self._asked[key] = msg_id
                self._due[key] = now + RETRY
                try:
                    self.sock.send(query)
                except OSError as exc:
                    LOG.warning("cannot ask %s for %s: %s", self.upstream[0], key[0], exc)

    def _new_id(self) -> int:
        while True:
            msg_id = secrets.randbits(16)
            if msg_id not in self._pending:
                return msg_id

    def readable(self, now: float) -> None:
        """Read every waiting answer."""
        while True:
            try:
                data = self.sock.recv(MAX_ANSWER)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # ICMP unreachable from the upstream, reported here
                LOG.warning("resolver socket: %s", exc)
                return
            pending = self._pending.get(int.from_bytes(data[:2], "big")) if data else None
            if pending is None or not answers_question(data, pending[1]):
                self.rejected += 1
                continue
            key = pending[0]
            del self._pending[int.from_bytes(data[:2], "big")]
            self._asked.pop(key, None)
            try:
                _rcode, records = read_dns_addresses(data)
            except WireError as exc:
                LOG.warning("bad answer for %s: %s", key[0], exc)
                continue
            addresses = tuple(addr for rtype, addr, _ttl in records if rtype == key[1])
            ttl = min((ttl for _t, _a, ttl in records), default=MIN_REFRESH)
            ttl = min(max(float(ttl), MIN_REFRESH), MAX_REFRESH)
            self.answers[key] = (addresses, now + ttl)
            self._due[key] = now + ttl
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
        self.sock.close()
