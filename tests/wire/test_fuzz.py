"""Property tests: hostile bytes raise nothing but the wire error family.

Every truncation of every real packet in ../shared/data/captures, and
100,000 random mutations of them, go through the whole core path the daemon
runs (``read_ip`` then ``FlowTracker.feed``) and through each parser on its
own. The only exception allowed out is ``WireError``; the tracker itself
never raises (a malformed packet is an observation, so it still gets a
verdict).
"""

from __future__ import annotations

import contextlib
import random

import pytest

from copgate.errors import WireError
from copgate.wire.dns import read_dns_message, read_dns_tcp
from copgate.wire.flows import FlowTracker, Seen
from copgate.wire.http import read_http_request
from copgate.wire.packet import read_ip
from copgate.wire.quic import read_initial_datagram
from copgate.wire.tls import read_client_hello_message, read_client_hello_records
from tests.real_packets import all_datagrams

MUTATIONS = 100_000
PARSERS = (
    read_dns_message,
    read_dns_tcp,
    read_http_request,
    read_initial_datagram,
    read_client_hello_records,
    read_client_hello_message,
)


def through_core(tracker: FlowTracker, datagram: bytes) -> None:
    try:
        packet = read_ip(datagram)
    except WireError:
        return
    observation = tracker.feed(packet, 0.0)
    assert isinstance(observation.seen, Seen)
    for parser in PARSERS:
        with contextlib.suppress(WireError):
            parser(packet.payload)


def mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        action = rng.randrange(5)
        if not buf:
            buf.append(rng.randrange(256))
        pos = rng.randrange(len(buf))
        if action == 0:
            buf[pos] ^= 1 << rng.randrange(8)
        elif action == 1:
            buf[pos] = rng.choice((0x00, 0xFF, 0x7F, 0x80, 0x3F, 0xC0))
        elif action == 2:
            del buf[pos : pos + rng.randint(1, 8)]
        elif action == 3:
            buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        else:
            # A length-like field at an extreme: two bytes of 0xffff or 0x0000.
            buf[pos : pos + 2] = rng.choice((b"\xff\xff", b"\x00\x00", b"\x40\x00"))
    return bytes(buf)


@pytest.mark.shared_data
def test_every_truncation_of_every_real_packet() -> None:
    datagrams = all_datagrams()
    assert len(datagrams) > 2000
    seen = set()
    for item in datagrams:
        if item.data in seen:
            continue
        seen.add(item.data)
        tracker = FlowTracker()
        # Every truncation of the packet itself, and of its payload as the parsers see it.
        step = 1 if len(item.data) <= 1600 else 7
        for end in range(0, len(item.data), step):
            through_core(tracker, item.data[:end])


@pytest.mark.shared_data
def test_random_mutations_of_real_packets() -> None:
    rng = random.Random(20261122)
    datagrams = [item.data for item in all_datagrams()]
    tracker = FlowTracker()
    for _ in range(MUTATIONS):
        through_core(tracker, mutate(rng, rng.choice(datagrams)))
