"""Per-client shares: who holds the most flows, bytes, QUIC key tokens and the usual TTL."""

from __future__ import annotations

import random

from copgate.wire.shares import (
    TTL_FLOOR,
    TTL_MEMORY,
    TTL_SLACK,
    FlowKey,
    FlowsByClient,
    Shares,
)

A = bytes([192, 0, 2, 1])
B = bytes([192, 0, 2, 2])


def key(port: int, client: bytes = A) -> FlowKey:
    return (client, port, bytes(4), 443, 6)


def test_the_busiest_client_is_known_without_a_scan_and_follows_every_change() -> None:
    rng = random.Random(4)
    shares = Shares(100)
    held: dict[bytes, list[FlowKey]] = {}
    for _ in range(5000):
        client = bytes([10, 0, 0, rng.randrange(20)])
        mine = held.setdefault(client, [])
        if mine and rng.random() < 0.45:
            shares.remove(client, mine.pop(rng.randrange(len(mine))), 0)
        else:
            flow = key(rng.randrange(1 << 16), client)
            if flow not in mine:
                mine.append(flow)
                shares.add(client, flow)
        most = max((len(v) for v in held.values()), default=0)
        busiest = shares.busiest()
        if most == 0:
            assert busiest is None
        else:
            assert busiest is not None and len(held[busiest]) == most
        assert shares.count(client) == len(mine)


def test_the_oldest_flow_comes_first() -> None:
    shares = Shares(100)
    for port in (5, 3, 9):
        shares.add(A, key(port))
    assert shares.oldest(A) == key(5) and list(shares.flows(A)) == [key(5), key(3), key(9)]
    shares.remove(A, key(5), 0)
    assert shares.oldest(A) == key(3) and shares.oldest(B) is None


def test_bytes_are_summed_per_client_and_dropped_with_their_flows() -> None:
    shares = Shares(100)
    shares.add(A, key(1))
    shares.add_bytes(A, 300)
    shares.add(B, key(2, B))
    shares.add_bytes(B, 500)
    assert shares.richest() == B
    shares.remove(B, key(2, B), 500)
    assert shares.bytes_of(B) == 0 and shares.richest() == A


def test_quic_key_tokens_refill_at_their_rate_up_to_the_burst() -> None:
    shares = Shares(100)
    assert shares.tokens(A, 0.0, rate=2.0, burst=3.0) == 3.0
    shares.spend(A, 3, 0.0, rate=2.0, burst=3.0)
    assert shares.tokens(A, 0.0, 2.0, 3.0) == 0.0
    assert shares.tokens(A, 1.0, 2.0, 3.0) == 2.0
    assert shares.tokens(A, 100.0, 2.0, 3.0) == 3.0
    assert shares.tokens(B, 0.0, 2.0, 3.0) == 3.0, "another client's bucket is its own"


def test_a_ttl_is_trusted_from_the_floor_or_just_below_a_low_usual_one() -> None:
    shares = Shares(100)
    assert shares.ttl_ok(A, TTL_FLOOR, 0.0) and not shares.ttl_ok(A, TTL_FLOOR - 1, 0.0)
    shares.learn_ttl(A, 128, 0.0)
    assert shares.ttl_ok(A, 63, 1.0), "a NAT'd guest of a 128 host"
    assert not shares.ttl_ok(A, 5, 1.0)
    shares.learn_ttl(B, 20, 0.0)
    assert shares.ttl_ok(B, 20 - TTL_SLACK, 1.0) and not shares.ttl_ok(B, 17, 1.0)
    assert not shares.ttl_ok(B, 18, 1.0 + TTL_MEMORY), "a stale usual TTL gives way"


def test_the_usual_ttl_is_the_highest_lately() -> None:
    shares = Shares(100)
    shares.learn_ttl(B, 20, 0.0)
    shares.learn_ttl(B, 5, 1.0)  # lower: not learnt
    assert shares.ttl_ok(B, 18, 2.0)
    shares.learn_ttl(B, 5, 1.0 + TTL_MEMORY)  # the old one is stale: learnt
    assert shares.ttl_ok(B, 3, 2.0 + TTL_MEMORY)  # the bar is now 5 - TTL_SLACK
    assert not shares.ttl_ok(B, 2, 2.0 + TTL_MEMORY)


def test_the_caches_stay_bounded() -> None:
    shares = Shares(10)
    for i in range(100):
        shares.learn_ttl(bytes([10, 0, 0, i]), 64, 0.0)
        shares.tokens(bytes([10, 0, 0, i]), 0.0, 1.0, 1.0)
    assert len(shares._ttls) <= 10 and len(shares._tokens) <= 10


def test_learn_ttl_ok_is_ttl_ok_then_learn_ttl() -> None:
    """The SYN's one-lookup form answers and learns as the two calls do, over
    rising, falling and stale TTLs of several clients and a cache that fills."""
    rng = random.Random(7)
    one, two = Shares(cache_entries=3), Shares(cache_entries=3)
    now = 0.0
    for _ in range(5000):
        client = bytes([192, 0, 2, rng.randrange(5)])
        ttl = rng.choice((1, 17, 18, 20, 31, 32, 33, 62, 63, 64, 127, 128, 255))
        now += rng.choice((0.0, 1.0, TTL_MEMORY / 3, TTL_MEMORY + 1))
        expected = two.ttl_ok(client, ttl, now)
        two.learn_ttl(client, ttl, now)
        assert one.learn_ttl_ok(client, ttl, now) is expected
        assert one._ttls == two._ttls


def test_the_counts_by_client_hold_their_invariants_through_every_change() -> None:
    """``FlowsByClient``'s own tables, checked after each add and remove (clients
    going from none to one flow and back, alone and beside busier ones)."""
    rng = random.Random(11)
    flows_by = FlowsByClient()
    for _ in range(5000):
        client = bytes([10, 0, 0, rng.randrange(6)])
        flow = key(rng.randrange(4), client)
        if rng.random() < 0.5:
            flows_by.add(client, flow)
        else:
            flows_by.remove(client, flow)
        counts = {c: len(mine) for c, mine in flows_by._flows.items()}
        assert all(counts.values())
        by_count: dict[int, set[bytes]] = {}
        for c, n in counts.items():
            by_count.setdefault(n, set()).add(c)
        assert {n: set(cs) for n, cs in flows_by._by_count.items()} == by_count
        assert flows_by._most == max(counts.values(), default=0)
