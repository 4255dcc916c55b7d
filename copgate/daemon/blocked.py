"""Flows copgate blocked, remembered so that their later packets are dropped too.

A blocked flow stays blocked for its life: the engine drops its later
packets, and a later TCP segment that carries data (a retransmitted hello or
request) gets the resets again, so one lost reset does not let the
retransmission through (``copgate.daemon.engine``). ``BlockedFlows`` holds
the flows by 5-tuple (``flow_key``) with an expiry, bounded in all and per
client so that a client flooding blocked flows evicts its own entries first.

This module is pure: the time comes from the caller, and it never sends or
drops anything itself.
"""

from __future__ import annotations

from copgate.wire.flows import FlowKey
from copgate.wire.packet import Packet
from copgate.wire.shares import FlowsByClient

MAX_BLOCKED_FLOWS = 8192
"""Blocked flows remembered in all, so that their later packets are dropped."""
MAX_BLOCKED_PER_CLIENT = 512
"""Blocked flows remembered per client address: a browser opens a few dozen
connections at once, a client that has more blocked has far more refused."""
BLOCKED_FLOW_SECONDS = 7440.0
"""How long a blocked flow stays remembered: OpenWrt's conntrack timeout for an
established TCP connection (``nf_conntrack_tcp_timeout_established``), the
longest a connection the kernel still tracks can sit idle. The per-client bound
keeps memory in check well before that."""


def flow_key(packet: Packet) -> FlowKey:
    """The packet's flow as ``BlockedFlows`` keys it: source, ports, destination, protocol."""
    return (packet.src, packet.sport, packet.dst, packet.dport, packet.proto)


class BlockedFlows:
    """Flows copgate blocked, remembered so that their later packets are dropped too.

    Invariants: a key is in ``expiry`` exactly when ``_by_client`` holds it
    for its client (``key[0]``), each client's flows oldest first; no client
    holds more than ``per_client`` entries and all hold at most
    ``max_flows``. When full, the client holding the most entries (found in
    constant time) loses its oldest one: a client that floods blocked flows,
    from however many spoofed addresses, evicts its own entries before
    anyone else's.
    """

    __slots__ = ("_by_client", "expiry", "max_flows", "per_client", "seconds")

    def __init__(
        self,
        max_flows: int = MAX_BLOCKED_FLOWS,
        per_client: int = MAX_BLOCKED_PER_CLIENT,
        seconds: float = BLOCKED_FLOW_SECONDS,
    ) -> None:
        self.max_flows = max_flows
        self.per_client = per_client
        self.seconds = seconds
        self.expiry: dict[FlowKey, float] = {}
        """When each remembered flow is forgotten; read-only outside this class
        (the engine tests it for emptiness before building a key)."""
        self._by_client = FlowsByClient()

    def __len__(self) -> int:
        return len(self.expiry)

    def held_by(self, client: bytes) -> int:
        """Entries held for the client address ``client``."""
        return self._by_client.count(client)

    def blocked(self, key: FlowKey, now: float) -> bool:
        """Whether ``key`` was blocked and is still remembered at ``now``."""
        expires = self.expiry.get(key)
        if expires is None:
            return False
        if now < expires:
            return True
        self._forget(key)
        return False

    def add(self, key: FlowKey, now: float) -> None:
        """Remember ``key`` as blocked until ``now + seconds``."""
        if self.max_flows < 1 or self.per_client < 1:
            return  # bounds of zero: remember nothing
        client = key[0]
        by_client = self._by_client
        if key not in self.expiry:
            if by_client.count(client) >= self.per_client:
                self._forget(by_client.oldest(client))
            elif len(self.expiry) >= self.max_flows:
                busiest = by_client.busiest()
                self._forget(by_client.oldest(busiest) if busiest is not None else None)
        by_client.add(client, key)  # re-added: now the newest
        self.expiry[key] = now + self.seconds

    def _forget(self, key: FlowKey | None) -> None:
        if key is None:
            return
        self.expiry.pop(key, None)
        self._by_client.remove(key[0], key)
