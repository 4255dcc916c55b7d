"""copgate.edges.resolver against a local UDP server: only the upstream's true answers count.

What the resolver learns is forged into every client's answers, so each test
plays an attacker who sends an answer it should not believe: from another
address or port, with a wrong ID, for another question, or not a response
at all. The last test shows the genuine answer is still taken.
"""

from __future__ import annotations

import ipaddress
import os
import select
import socket
import struct
from collections.abc import Iterator

import pytest

from copgate.edges.resolver import (
    MIN_REFRESH,
    SafeResolver,
    answers_question,
    build_query,
    upstream_from_resolv_conf,
)
from copgate.wire.dns import TYPE_A, TYPE_AAAA

NAME = "forcesafesearch.example"
TRUE = bytes([192, 0, 2, 77])  # RFC 5737 documentation addresses
FORGED = bytes([203, 0, 113, 66])


@pytest.fixture
def upstream() -> Iterator[socket.socket]:
    """The upstream resolver: a UDP socket on loopback the test answers from."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind(("127.0.0.1", 0))
        server.settimeout(5.0)
        yield server


@pytest.fixture
def resolver(upstream: socket.socket) -> Iterator[SafeResolver]:
    made = SafeResolver("127.0.0.1", [NAME], port=upstream.getsockname()[1])
    yield made
    made.close()


def answer(query: bytes, address: bytes, *, ttl: int = 300, flags: int = 0x8180) -> bytes:
    """A response to ``query``: its ID and question, one A or AAAA record by a pointer to it."""
    qtype = TYPE_A if len(address) == 4 else TYPE_AAAA
    header = query[:2] + struct.pack("!HHHHH", flags, 1, 1, 0, 0)
    record = struct.pack("!HHHIH", 0xC00C, qtype, 1, ttl, len(address)) + address
    return header + query[12:] + record


def queries(
    upstream: socket.socket, resolver: SafeResolver
) -> dict[int, tuple[bytes, tuple[str, int]]]:
    """Let the resolver ask; the queries the upstream received, by query type."""
    resolver.tick(1000.0)
    got: dict[int, tuple[bytes, tuple[str, int]]] = {}
    while len(got) < 2:
        query, peer = upstream.recvfrom(512)
        got[struct.unpack("!H", query[-4:-2])[0]] = (query, peer)
    return got


def deliver(resolver: SafeResolver) -> None:
    """Give the datagrams sent to the resolver time to arrive, then let it read them."""
    select.select([resolver.fileno()], [], [], 0.2)
    resolver.readable(1000.0)


def test_the_upstream_s_answer_is_learned(upstream: socket.socket, resolver: SafeResolver) -> None:
    asked = queries(upstream, resolver)
    query, peer = asked[TYPE_A]
    upstream.sendto(answer(query, TRUE), peer)
    deliver(resolver)
    assert resolver.addresses() == {ipaddress.ip_address(TRUE)}
    assert resolver.targets()[NAME][0] == (ipaddress.IPv4Address(TRUE),)
    assert resolver.rejected == 0 and resolver.changed


def test_an_answer_from_another_port_never_reaches_the_resolver(
    upstream: socket.socket, resolver: SafeResolver
) -> None:
    # The socket is connected: the kernel drops a datagram from anyone else.
    query, peer = queries(upstream, resolver)[TYPE_A]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as attacker:
        attacker.bind(("127.0.0.1", 0))
        attacker.sendto(answer(query, FORGED), peer)
    deliver(resolver)
    assert resolver.addresses() == frozenset() and resolver.rejected == 0
    upstream.sendto(answer(query, TRUE), peer)  # the true answer still counts
    deliver(resolver)
    assert resolver.addresses() == {ipaddress.ip_address(TRUE)}


def _tampered(query: bytes, how: str) -> bytes:
    good = answer(query, FORGED)
    if how == "id":
        return bytes([good[0] ^ 0xFF]) + good[1:]
    if how == "name":
        return good.replace(b"forcesafesearch", b"forcesafesearcX", 1)
    if how == "type":  # an answer to the AAAA question's ID carrying the A question
        return good[: len(query) - 4] + struct.pack("!HH", TYPE_AAAA, 1) + good[len(query) :]
    if how == "class":
        return good[: len(query) - 2] + struct.pack("!H", 3) + good[len(query) :]
    if how == "query":  # QR clear: a query, not a response
        return good[:2] + struct.pack("!H", 0x0100) + good[4:]
    if how == "opcode":
        return good[:2] + struct.pack("!H", 0x8180 | 0x1000) + good[4:]
    if how == "two questions":
        return good[:4] + struct.pack("!H", 2) + good[6:]
    if how == "short":
        return good[:20]
    raise AssertionError(how)


@pytest.mark.parametrize(
    "how", ["id", "name", "type", "class", "query", "opcode", "two questions", "short"]
)
def test_an_answer_to_another_question_is_rejected(
    upstream: socket.socket, resolver: SafeResolver, how: str
) -> None:
    query, peer = queries(upstream, resolver)[TYPE_A]
    upstream.sendto(_tampered(query, how), peer)
    deliver(resolver)
    assert resolver.addresses() == frozenset()
    assert resolver.rejected == 1 and not resolver.changed


def test_a_name_in_another_case_is_the_same_question(
    upstream: socket.socket, resolver: SafeResolver
) -> None:
    # RFC 4343 §3: a resolver may answer with the letters in another case.
    query, peer = queries(upstream, resolver)[TYPE_A]
    upstream.sendto(answer(query, TRUE).replace(b"forcesafesearch", b"ForceSafeSearch", 1), peer)
    deliver(resolver)
    assert resolver.addresses() == {ipaddress.ip_address(TRUE)}


def test_an_answered_query_s_socket_is_closed(
    upstream: socket.socket, resolver: SafeResolver
) -> None:
    query, peer = queries(upstream, resolver)[TYPE_A]
    upstream.sendto(answer(query, TRUE), peer)
    deliver(resolver)
    upstream.sendto(answer(query, FORGED), peer)  # a replay after the true answer
    deliver(resolver)
    assert resolver.addresses() == {ipaddress.ip_address(TRUE)}


def test_asking_again_retires_the_last_query(
    upstream: socket.socket, resolver: SafeResolver
) -> None:
    old, old_peer = queries(upstream, resolver)[TYPE_A]
    resolver.tick(1000.0 + MIN_REFRESH)  # no answer came: asked again
    fresh: dict[int, tuple[bytes, tuple[str, int]]] = {}
    for _ in range(2):
        query, peer = upstream.recvfrom(512)
        fresh[struct.unpack("!H", query[-4:-2])[0]] = (query, peer)
    assert set(fresh) == {TYPE_A, TYPE_AAAA}
    assert fresh[TYPE_A][1] != old_peer  # a new socket, a new port
    upstream.sendto(answer(old, FORGED), old_peer)  # to the closed socket: never read
    deliver(resolver)
    assert resolver.addresses() == frozenset()
    query, peer = fresh[TYPE_A]
    upstream.sendto(answer(query, TRUE), peer)
    deliver(resolver)
    assert resolver.addresses() == {ipaddress.ip_address(TRUE)}


def test_each_query_leaves_from_a_port_of_its_own(
    upstream: socket.socket, resolver: SafeResolver
) -> None:
    # RFC 5452 §9.2: a forger must guess the source port as well as the ID.
    asked = queries(upstream, resolver)
    ports = {peer[1] for _query, peer in asked.values()}
    assert len(ports) == 2


def test_message_ids_spread_over_all_16_bits(upstream: socket.socket) -> None:
    # 400 IDs drawn from 65,536 collide about once; a counter or a narrow
    # generator would show here.
    ids: set[int] = set()
    port = upstream.getsockname()[1]
    for _ in range(200):
        made = SafeResolver("127.0.0.1", [NAME], port=port)
        try:
            made.tick(0.0)
        finally:
            made.close()
        for _ in range(2):
            ids.add(struct.unpack("!H", upstream.recv(512)[:2])[0])
    assert len(ids) > 390
    assert max(ids) > 0xF000 and min(ids) < 0x1000


def test_close_closes_every_socket(upstream: socket.socket) -> None:
    before = len(os.listdir("/proc/self/fd"))
    made = SafeResolver("127.0.0.1", [NAME, "restrict.example"], port=upstream.getsockname()[1])
    made.tick(0.0)
    assert len(os.listdir("/proc/self/fd")) == before + 1 + 4  # epoll, four queries
    made.close()
    assert len(os.listdir("/proc/self/fd")) == before


def test_the_question_check_is_exact_on_bytes() -> None:
    query = build_query(NAME, TYPE_A, 0x1234)
    assert answers_question(answer(query, TRUE), query)
    assert not answers_question(answer(query, TRUE)[:-30], query)
    assert not answers_question(b"", query)


def test_the_first_nameserver_of_resolv_conf_is_the_upstream() -> None:
    text = "# generated\nsearch lan\nnameserver 192.0.2.53\nnameserver 192.0.2.54\n"
    assert upstream_from_resolv_conf(text) == "192.0.2.53"
    assert upstream_from_resolv_conf("search lan\n") is None
