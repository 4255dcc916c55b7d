"""Resolving the safe-search endpoints through the router's upstream resolver.

The decision layer needs the addresses of forcesafesearch.google.com,
restrict.youtube.com and the rest (a TLS connection to a search engine that
goes anywhere else is refused), and forged CNAME answers carry them. This
edge asks the upstream resolver for A and AAAA of each endpoint over UDP,
without blocking, and refreshes each answer when its TTL runs out (at least
``MIN_REFRESH`` and at most ``MAX_REFRESH`` seconds apart). The gateway's
own queries leave through OUTPUT, which copgate's rules never queue.
"""

from __future__ import annotations

import ipaddress
import logging
import random
import socket
import struct
from collections.abc import Iterable

from copgate.errors import WireError
from copgate.wire.dns import TYPE_A, TYPE_AAAA, read_dns_addresses

LOG = logging.getLogger("copgate.resolver")
MIN_REFRESH = 30.0
MAX_REFRESH = 3600.0
RETRY = 10.0

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
        + struct.pack("!HH", qtype, 1)
    )


class SafeResolver:
    """A UDP socket asking one upstream server for the endpoints' addresses."""

    def __init__(self, upstream: str, names: Iterable[str], port: int = 53) -> None:
        self.upstream = (upstream, port)
        family = socket.AF_INET6 if ":" in upstream else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.names = tuple(dict.fromkeys(names))
        self.answers: dict[tuple[str, int], tuple[tuple[bytes, ...], float]] = {}
        """(name, qtype) -> (addresses, time they expire)."""
        self._due: dict[tuple[str, int], float] = {
            (n, t): 0.0 for n in self.names for t in (TYPE_A, TYPE_AAAA)
        }
        self._pending: dict[int, tuple[str, int]] = {}
        self.changed = False

    def fileno(self) -> int:
        return self.sock.fileno()

    def tick(self, now: float) -> None:
        """Send the queries that are due."""
        for key, due in self._due.items():
            if due <= now:
                msg_id = random.getrandbits(16)
                self._pending[msg_id] = key
                self._due[key] = now + RETRY
                try:
                    self.sock.sendto(build_query(key[0], key[1], msg_id), self.upstream)
                except OSError as exc:
                    LOG.warning("cannot ask %s for %s: %s", self.upstream[0], key[0], exc)

    def readable(self, now: float) -> None:
        """Read every waiting answer."""
        while True:
            try:
                data, _peer = self.sock.recvfrom(4096)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                LOG.warning("resolver socket: %s", exc)
                return
            if len(data) < 2:
                continue
            key = self._pending.pop(int.from_bytes(data[:2], "big"), None)
            if key is None:
                continue
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
