"""Property tests: hostile bytes raise nothing but the wire error family.

Every truncation of every real packet in ../shared/data/captures, and
100,000 random mutations of them, go through the whole core path the daemon
runs (``read_ip`` then ``FlowTracker.feed``) and through each parser on its
own. The only exception allowed out is ``WireError``; the tracker itself
never raises (a malformed packet is an observation, so it still gets a
verdict). Captured checksums are often offloaded, so those trackers do not
check them (every packet would be ignored early otherwise).

The tracker is also fed made-up connections as an evader would cut them:
segments in random order, overlapping, repeated with other bytes, other
TTLs, bad checksums, SYNs in the middle, FINs and resets, over random
times; it must answer every packet and keep its byte count true.
"""

from __future__ import annotations

import contextlib
import random

import pytest

from copgate.errors import WireError
from copgate.tools.samples import client_hello
from copgate.wire.dns import read_dns_message, read_dns_tcp
from copgate.wire.flows import FlowTracker, Limits, Seen
from copgate.wire.http import read_http_request
from copgate.wire.layers import DnsLayer, HttpLayer, TlsLayer
from copgate.wire.packet import TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, read_ip
from copgate.wire.quic import read_initial_datagram
from copgate.wire.tls import read_client_hello_message, read_client_hello_records
from tests.real_packets import all_datagrams
from tests.wire.builders import (
    CLIENT4,
    SERVER4,
    bad_checksum,
    crypto_frame,
    dns_query,
    ipv4,
    quic_initial_frames,
    tcp4,
    udp,
)

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
        tracker = FlowTracker(verify_checksums=False)
        # Every truncation of the packet itself, and of its payload as the parsers see it.
        step = 1 if len(item.data) <= 1600 else 7
        for end in range(0, len(item.data), step):
            through_core(tracker, item.data[:end])


@pytest.mark.shared_data
def test_random_mutations_of_real_packets() -> None:
    rng = random.Random(20261122)
    datagrams = [item.data for item in all_datagrams()]
    tracker = FlowTracker(verify_checksums=False)
    for _ in range(MUTATIONS):
        through_core(tracker, mutate(rng, rng.choice(datagrams)))


def evader_streams() -> list[tuple[int, bytes]]:
    """Streams worth cutting: a hello, keep-alive HTTP with chunks, DNS over TCP, junk."""
    http = (
        b"POST / HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4\r\nbody\r\n0\r\n\r\nMKCOL http://b.example/ HTTP/1.1\r\nHost: c\r\n\r\n"
    )
    query = dns_query("d.example")
    dns = (len(query).to_bytes(2, "big") + query) * 3
    hello = client_hello("e.example", padding=600)
    return [(443, hello), (80, http), (53, dns), (443, b"\x16\x03\x01" + bytes(300))]


def evader_segment(rng: random.Random, port: int, stream: bytes, isn: int) -> bytes:
    """One segment of ``stream`` as an evader might send it."""
    a = rng.randrange(len(stream))
    b = min(len(stream), a + rng.choice((1, 2, 5, 40, 300, 1460)))
    data = stream[a:b]
    if rng.random() < 0.1:
        data = bytes(rng.randrange(256) for _ in data)  # disagreeing bytes
    seq = (isn + 1 + a) % (1 << 32)
    if rng.random() < 0.05:
        seq = (seq + rng.choice((-3, 70_000, 1 << 31, -(1 << 31)))) % (1 << 32)
    flags = TCP_ACK
    roll = rng.random()
    if roll < 0.03:
        flags = TCP_SYN
        seq = isn if rng.random() < 0.7 else rng.randrange(1 << 32)
    elif roll < 0.05:
        flags |= rng.choice((TCP_FIN, TCP_RST))
    ttl = 64 if rng.random() < 0.8 else rng.choice((1, 3, 63, 65, 255))
    segment = tcp4(seq, data, sport=40000 + rng.randrange(4), dport=port, flags=flags, ttl=ttl)
    return bad_checksum(segment) if rng.random() < 0.05 else segment


def test_the_tracker_answers_every_evader_segment_and_counts_bytes_truly() -> None:
    rng = random.Random(9)
    streams = evader_streams()
    for round_ in range(3000):
        limits = Limits(
            max_flows=rng.choice((2, 8, 4096)),
            max_client_flows=rng.choice((1, 3, 512)),
            max_flow_bytes=rng.choice((200, 2000, 65536)),
            max_total_bytes=rng.choice((500, 5000, 1 << 22)),
            max_age=rng.choice((0.5, 10.0)),
        )
        tracker = FlowTracker(limits)
        port, stream = rng.choice(streams)
        isn = rng.randrange(1 << 32)
        now = 0.0
        for _ in range(rng.randint(1, 60)):
            if rng.random() < 0.5:
                port, stream = rng.choice(streams)
            now += rng.choice((0.0, 0.01, 0.3, 2.0))
            observation = tracker.feed(read_ip(evader_segment(rng, port, stream, isn)), now)
            assert isinstance(observation.seen, Seen), round_
            for question in observation.questions:
                assert question.name is None or question.name.text, round_
            held = sum(flow.size for flow in tracker._flows.values())
            assert tracker.held_bytes == held, round_
            assert held <= limits.max_total_bytes or len(tracker) <= 1, round_
            deadline = tracker.next_deadline()
            assert deadline is None or deadline > now - limits.max_age, round_


def test_quic_initials_with_other_ttls_and_bytes_keep_the_tracker_true() -> None:
    rng = random.Random(11)
    hellos = [client_hello(name, padding=900, records=False) for name in ("a.example", "b.c")]
    seen: set[Seen] = set()
    for round_ in range(60):
        tracker = FlowTracker(Limits(max_flow_bytes=rng.choice((600, 65536))))
        for _ in range(rng.randint(1, 8)):
            hello = rng.choice(hellos)
            a = rng.choice((0, rng.randrange(len(hello))))
            b = min(len(hello), a + rng.choice((50, 400, 1200)))
            payload = quic_initial_frames(
                crypto_frame(a, hello[a:b]), bytes([rng.randrange(2)]) * 8
            )
            datagram = ipv4(CLIENT4, SERVER4, 17, udp(5000, 443, payload), ttl=rng.choice((64, 3)))
            if rng.random() < 0.1:
                datagram = bad_checksum(datagram)
            observation = tracker.feed(read_ip(datagram), 0.0)
            seen.add(observation.seen)
            assert tracker.held_bytes == sum(f.size for f in tracker._flows.values()), round_
    assert {Seen.QUESTION, Seen.EVASION, Seen.PENDING, Seen.IGNORED} <= seen


def test_layers_raise_only_wire_errors_on_random_cuts_of_mutated_streams() -> None:
    rng = random.Random(10)
    streams = [stream for _port, stream in evader_streams()]
    for _ in range(3000):
        stream = mutate(rng, rng.choice(streams))
        for layer in (TlsLayer(), HttpLayer(), DnsLayer()):
            origin = 0  # where the layer's data starts in ``stream``
            with contextlib.suppress(WireError):
                for cut in sorted(rng.sample(range(len(stream) + 1), 4)):
                    _items, used = layer.read(bytearray(stream[origin : max(cut, origin)]))
                    origin += used
