"""What each LAN client holds of the tracker's state, so that one client cannot take it all.

A ``Shares`` keeps, per client address: its undecided flows (oldest first),
the bytes they hold, its QUIC key derivation tokens and the TTL its packets
usually carry. The tracker asks it which client to take from under
pressure: the one holding the most flows, found in constant time however
many clients there are (a LAN host can spoof thousands of source
addresses), so eviction never costs a scan per packet.

Invariants:
- ``flows_by`` (a ``FlowsByClient``) holds exactly the tracker's undecided
  flows, by client, and finds the busiest client in constant time.
- ``_bytes[c]`` is the sum of the held bytes the tracker accounted to ``c``.

The other tables (tokens, TTLs) are caches: bounded, and cleared when full,
which hands a client what a client never seen gets. This module never reads
the clock and never looks at packets.
"""

from __future__ import annotations

from collections.abc import Iterator

FlowKey = tuple[bytes, int, bytes, int, int]
"""Source address, source port, destination address, destination port, protocol."""

TTL_MEMORY = 300.0
"""Seconds a client's highest TTL stays its reference (see ``Shares.ttl_ok``)."""
TTL_FLOOR = 32
"""A TTL from which a LAN client's packet reaches any server (see ``Shares.ttl_ok``)."""
TTL_SLACK = 2
"""Hops below a (low) usual TTL still trusted: a NAT'd guest, the INPUT/FORWARD hop."""


class FlowsByClient:
    """Flows keyed by client, oldest first, with the client holding the most found in constant time.

    Invariants: ``_flows[c]`` is non-empty for every client in it;
    ``_by_count[n]`` holds exactly the clients with ``n`` flows, and
    ``_most`` is the largest ``n`` with a non-empty set (0 when none). Used
    for the tracker's undecided flows (``Shares``) and the engine's blocked
    flows (``copgate.daemon.blocked``): under pressure, both take from the
    client holding the most, however many source addresses a LAN host spoofs.
    """

    __slots__ = ("_by_count", "_flows", "_most")

    def __init__(self) -> None:
        self._flows: dict[bytes, dict[FlowKey, None]] = {}
        self._by_count: dict[int, dict[bytes, None]] = {}
        self._most = 0

    def count(self, client: bytes) -> int:
        """How many flows ``client`` holds."""
        mine = self._flows.get(client)
        return len(mine) if mine is not None else 0

    def oldest(self, client: bytes) -> FlowKey | None:
        """The client's oldest flow."""
        mine = self._flows.get(client)
        return next(iter(mine)) if mine else None

    def flows(self, client: bytes) -> Iterator[FlowKey]:
        """The client's flows, oldest first (a copy: the caller may remove them)."""
        return iter(list(self._flows.get(client, ())))

    def busiest(self) -> bytes | None:
        """A client holding the most flows."""
        clients = self._by_count.get(self._most)
        return next(iter(clients)) if clients else None

    def add(self, client: bytes, key: FlowKey) -> None:
        """Add ``key`` as the client's newest flow (moved there when it was held already)."""
        mine = self._flows.get(client)
        if mine is None:
            # A client's first flow (a LAN host's usual case): ``_move`` from 0 to 1 in line.
            self._flows[client] = {key: None}
            ones = self._by_count.get(1)
            if ones is None:
                self._by_count[1] = {client: None}
            else:
                ones[client] = None
            self._most = max(self._most, 1)
            return
        if key in mine:
            del mine[key]
            mine[key] = None
            return
        self._move(client, len(mine), len(mine) + 1)
        mine[key] = None

    def remove(self, client: bytes, key: FlowKey) -> bool:
        """Forget ``key``; False when the client did not hold it."""
        mine = self._flows.get(client)
        if mine is None or key not in mine:
            return False
        del mine[key]
        if not mine:  # the client's last flow: ``_move`` from 1 to 0 in line
            del self._flows[client]
            ones = self._by_count[1]
            del ones[client]
            if not ones:
                del self._by_count[1]
                if self._most == 1:
                    self._most = 0
            return True
        self._move(client, len(mine) + 1, len(mine))
        if not mine:
            del self._flows[client]
        return True

    def _move(self, client: bytes, was: int, now: int) -> None:
        if was:
            bucket = self._by_count[was]
            del bucket[client]
            if not bucket:
                del self._by_count[was]
                if self._most == was and now < was:
                    self._most = now if now else max(self._by_count, default=0)
        if now:
            self._by_count.setdefault(now, {})[client] = None
            self._most = max(self._most, now)


class Shares:
    """Per-client flows, bytes, QUIC key tokens and TTL reference."""

    __slots__ = ("_bytes", "_tokens", "_ttls", "cache_entries", "flows_by")

    def __init__(self, cache_entries: int) -> None:
        self.cache_entries = cache_entries
        self.flows_by = FlowsByClient()
        """The tracker's undecided flows per client."""
        self._bytes: dict[bytes, int] = {}
        self._tokens: dict[bytes, tuple[float, float]] = {}
        self._ttls: dict[bytes, tuple[int, float]] = {}

    # -- flows ---------------------------------------------------------------

    def count(self, client: bytes) -> int:
        """How many undecided flows ``client`` holds."""
        return self.flows_by.count(client)

    def oldest(self, client: bytes) -> FlowKey | None:
        """The client's oldest undecided flow."""
        return self.flows_by.oldest(client)

    def flows(self, client: bytes) -> Iterator[FlowKey]:
        """The client's undecided flows, oldest first."""
        return self.flows_by.flows(client)

    def busiest(self) -> bytes | None:
        """A client holding the most undecided flows."""
        return self.flows_by.busiest()

    def add(self, client: bytes, key: FlowKey) -> None:
        self.flows_by.add(client, key)

    def remove(self, client: bytes, key: FlowKey, held: int) -> None:
        if self.flows_by.remove(client, key) and held:
            self.add_bytes(client, -held)

    # -- bytes ---------------------------------------------------------------

    def add_bytes(self, client: bytes, delta: int) -> None:
        left = self._bytes.get(client, 0) + delta
        if left > 0:
            self._bytes[client] = left
        else:
            self._bytes.pop(client, None)

    def bytes_of(self, client: bytes) -> int:
        return self._bytes.get(client, 0)

    def richest(self) -> bytes | None:
        """The client holding the most bytes (a scan: only for the rare fallback)."""
        return max(self._bytes, key=self._bytes.__getitem__, default=None)

    # -- QUIC key derivations ----------------------------------------------------

    def tokens(self, client: bytes, now: float, rate: float, burst: float) -> float:
        """The client's derivation tokens at ``now`` (a token bucket, RFC 2697 style)."""
        tokens, when = self._tokens.get(client, (burst, now))
        tokens = min(burst, tokens + (now - when) * rate)
        if client not in self._tokens and len(self._tokens) >= self.cache_entries:
            self._tokens.clear()
        self._tokens[client] = (tokens, now)
        return tokens

    def spend(self, client: bytes, count: int, now: float, rate: float, burst: float) -> None:
        if count:
            self._tokens[client] = (self.tokens(client, now, rate, burst) - count, now)

    # -- TTL ---------------------------------------------------------------------

    def ttl_ok(self, client: bytes, ttl: int, now: float) -> bool:
        """False when ``ttl`` is low enough that the packet may die before the server.

        UDP has no SYN to say which TTL a flow's packets reach the server
        with. A LAN client's packets reach the gateway with nearly all of
        their initial TTL (64, 128 or 255 less a hop or two), while a copy
        meant to die between the gateway and a server must arrive with fewer
        hops left than the server is away, and Internet paths are rarely
        longer than ``TTL_FLOOR`` hops. So a packet is trusted from
        ``TTL_FLOOR`` up, or from a little below the client's own usual TTL
        when that is lower still. The usual TTL is not the bar itself: the
        gateway sees its own services' packets (INPUT) a hop higher than
        forwarded ones, and a host's NAT'd virtual machines lower still.
        """
        known = self._ttls.get(client)
        if known is None or now - known[1] > TTL_MEMORY:
            return ttl >= TTL_FLOOR
        return ttl >= min(TTL_FLOOR, known[0] - TTL_SLACK)

    def learn_ttl_ok(self, client: bytes, ttl: int, now: float) -> bool:
        """``ttl_ok``, then ``learn_ttl`` (a SYN asks both): one lookup for the two."""
        known = self._ttls.get(client)
        if known is None or now - known[1] > TTL_MEMORY:
            ok = ttl >= TTL_FLOOR
        else:
            ok = ttl >= min(TTL_FLOOR, known[0] - TTL_SLACK)
            if ttl < known[0]:
                return ok  # the higher TTL seen lately stays the reference
        if known is None and len(self._ttls) >= self.cache_entries:
            self._ttls.clear()
        self._ttls[client] = (ttl, now)
        return ok

    def learn_ttl(self, client: bytes, ttl: int, now: float) -> None:
        """Note a TTL the client used (its SYNs, DNS queries, Initials): the highest lately."""
        known = self._ttls.get(client)
        if known is not None and ttl < known[0] and now - known[1] <= TTL_MEMORY:
            return
        if known is None and len(self._ttls) >= self.cache_entries:
            self._ttls.clear()
        self._ttls[client] = (ttl, now)
