"""The flow tracker: reassembly, classification, bounds and eviction.

The re-cut tests replay every real ClientHello of ../shared/data/captures
cut at every byte boundary into two TCP segments delivered in both orders,
and in one-byte segments, and expect the same SNI as in one piece. The same
for QUIC CRYPTO frames in any order.
"""

from __future__ import annotations

import itertools
import random

import pytest

from copgate.wire.flows import FlowTracker, Limits, Seen
from copgate.wire.packet import TCP_ACK, TCP_FIN, read_ip
from copgate.wire.question import Kind
from copgate.wire.tls import read_client_hello_records
from tests.real_packets import quic_flows, tls_streams
from tests.wire.builders import dns_query, syn4, tcp4, udp4

HELLO_SEQ = 1000


def client_hello(name: str = "www.example.com", padding: int = 0) -> bytes:
    """A minimal TLS 1.2-style ClientHello record carrying an SNI."""
    host = name.encode()
    sni = b"\x00\x00" + (len(host) + 5).to_bytes(2, "big") + (len(host) + 3).to_bytes(2, "big")
    sni += b"\x00" + len(host).to_bytes(2, "big") + host
    pad = b"\x00\x15" + padding.to_bytes(2, "big") + bytes(padding)
    extensions = sni + pad
    body = b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00"
    body += len(extensions).to_bytes(2, "big") + extensions
    handshake = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + len(handshake).to_bytes(2, "big") + handshake


def feed_all(tracker: FlowTracker, datagrams: list[bytes], now: float = 0.0) -> list[str]:
    names = []
    for datagram in datagrams:
        observation = tracker.feed(read_ip(datagram), now)
        names += [q.name.text if q.name else "" for q in observation.questions]
    return names


def hello_length(stream: bytes) -> int:
    """Bytes of the TLS records that hold the whole ClientHello."""
    for end in range(5, len(stream) + 1):
        if stream[end - 1 : end] and read_client_hello_records(stream[:end]) is not None:
            return end
    raise AssertionError("no complete ClientHello in the stream")


def complete_hellos() -> list[tuple[str, bytes, str]]:
    out = []
    for stream in tls_streams():
        hello = read_client_hello_records(stream.data)
        if hello is None:
            continue  # tls_missing_ch_frag: a segment is missing from the capture
        records = stream.data[: _record_end(stream.data)]
        out.append((stream.capture, records, hello.sni.text if hello.sni else ""))
    return out


def _record_end(stream: bytes) -> int:
    """Offset past the record in which the ClientHello completes."""
    pos = 0
    need = None
    got = 0
    while pos + 5 <= len(stream):
        length = int.from_bytes(stream[pos + 3 : pos + 5], "big")
        body = stream[pos + 5 : pos + 5 + length]
        if need is None:
            need = 4 + int.from_bytes(body[1:4], "big")
        got += len(body)
        pos += 5 + length
        if got >= need:
            return pos
    return len(stream)


# -- basics ------------------------------------------------------------------


def test_dns_over_udp_gives_a_question_without_state() -> None:
    tracker = FlowTracker()
    observation = tracker.feed(read_ip(udp4(dns_query("Blocked.Example."))), 1.0)
    assert observation.seen is Seen.QUESTION
    (question,) = observation.questions
    assert question.kind is Kind.DNS
    assert question.name is not None and question.name.text == "blocked.example"
    assert question.client == (bytes([192, 0, 2, 10]), 40000)
    assert len(tracker) == 0


def test_malformed_dns_is_reported_not_raised() -> None:
    observation = FlowTracker().feed(read_ip(udp4(b"\x00" * 5)), 0.0)
    assert observation.seen is Seen.MALFORMED
    assert "DNS" in observation.reason


def test_dns_over_tcp_reads_every_message_of_a_long_lived_stream() -> None:
    tracker = FlowTracker()
    one = dns_query("a.example")
    two = dns_query("b.example", qtype=28)
    framed = len(one).to_bytes(2, "big") + one + len(two).to_bytes(2, "big") + two
    packets = [syn4(HELLO_SEQ - 1, dport=53)]
    packets += [tcp4(HELLO_SEQ, framed[:7], dport=53), tcp4(HELLO_SEQ + 7, framed[7:], dport=53)]
    assert feed_all(tracker, packets) == ["a.example", "b.example"]
    three = dns_query("c.example")
    later = tcp4(HELLO_SEQ + len(framed), len(three).to_bytes(2, "big") + three, dport=53)
    assert feed_all(tracker, [later], now=5.0) == ["c.example"]
    assert tracker.held_bytes == 0


def test_a_single_segment_hello_is_decided_and_the_flow_forgotten() -> None:
    tracker = FlowTracker()
    names = feed_all(tracker, [syn4(HELLO_SEQ - 1), tcp4(HELLO_SEQ, client_hello())])
    assert names == ["www.example.com"]
    assert len(tracker) == 0 and tracker.held_bytes == 0
    again = tracker.feed(read_ip(tcp4(HELLO_SEQ, client_hello())), 0.1)
    assert again.seen is Seen.IGNORED


def test_non_tls_non_http_after_a_syn_is_unreadable() -> None:
    tracker = FlowTracker()
    feed_all(tracker, [syn4(HELLO_SEQ - 1)])
    observation = tracker.feed(read_ip(tcp4(HELLO_SEQ, b"SSH-2.0-OpenSSH_9.2\r\n")), 0.0)
    assert observation.seen is Seen.UNREADABLE


def test_server_streams_are_ignored() -> None:
    tracker = FlowTracker()
    server_hello = b"\x16\x03\x03\x00\x30\x02" + bytes(47)
    observation = tracker.feed(read_ip(tcp4(5, server_hello, sport=443, dport=40000)), 0.0)
    assert observation.seen is Seen.IGNORED
    response = tracker.feed(read_ip(tcp4(5, b"HTTP/1.1 200 OK\r\n", sport=80, dport=40001)), 0.0)
    assert response.seen is Seen.IGNORED


def test_http_keep_alive_requests_are_each_read_and_bodies_skipped() -> None:
    tracker = FlowTracker()
    first = b"POST /x HTTP/1.1\r\nHost: a.example\r\nContent-Length: 4\r\n\r\nbody"
    second = b"GET / HTTP/1.1\r\nHost: b.example\r\n\r\n"
    stream = first + second
    packets = [syn4(HELLO_SEQ - 1, dport=80)]
    packets += [
        tcp4(HELLO_SEQ + i, stream[i : i + 10], dport=80) for i in range(0, len(stream), 10)
    ]
    assert feed_all(tracker, packets) == ["a.example", "b.example"]


def test_fin_forgets_a_flow_that_holds_nothing_but_not_one_holding_bytes() -> None:
    """A FIN the server may never see must not make copgate forget a hello's start."""
    tracker = FlowTracker()
    feed_all(tracker, [syn4(HELLO_SEQ - 1), tcp4(HELLO_SEQ, client_hello()[:10])])
    tracker.feed(read_ip(tcp4(HELLO_SEQ + 10, b"", flags=TCP_FIN | TCP_ACK)), 0.0)
    assert len(tracker) == 1
    feed_all(tracker, [syn4(HELLO_SEQ - 1, sport=40001)])
    tracker.feed(read_ip(tcp4(HELLO_SEQ, b"", sport=40001, flags=TCP_FIN | TCP_ACK)), 0.0)
    assert len(tracker) == 1 and tracker.held_bytes == 10


# -- bounds --------------------------------------------------------------------


def test_flows_older_than_the_age_bound_are_evicted() -> None:
    tracker = FlowTracker(Limits(max_age=2.0))
    feed_all(tracker, [tcp4(HELLO_SEQ, client_hello()[:20])], now=0.0)
    assert len(tracker) == 1
    tracker.expire(1.9)
    assert len(tracker) == 1
    tracker.expire(2.0)
    assert len(tracker) == 0 and tracker.stats.evicted_age == 1 and tracker.held_bytes == 0


def test_the_flow_count_bound_evicts_the_oldest() -> None:
    tracker = FlowTracker(Limits(max_flows=3))
    for port in range(40000, 40005):
        tracker.feed(read_ip(tcp4(HELLO_SEQ, client_hello()[:20], sport=port)), float(port))
    assert len(tracker) == 3
    assert tracker.stats.evicted_flows == 2
    rest = client_hello()[20:]
    # The newest flows survive and still complete; the oldest held bytes
    # undecided, so its next packet is evasion, not a fresh pending flow.
    assert feed_all(tracker, [tcp4(HELLO_SEQ + 20, rest, sport=40004)]) == ["www.example.com"]
    evicted = tracker.feed(read_ip(tcp4(HELLO_SEQ + 20, rest, sport=40000)), 40004.0)
    assert evicted.seen is Seen.EVASION and evicted.reason == "evicted undecided"


def test_flows_evicted_between_two_asks_are_remembered_up_to_the_done_bound() -> None:
    """A flood of flows evicted undecided, with no ``expire`` in between (no flow
    is old enough for the age bound either): the list handed over stays bounded."""
    tracker = FlowTracker(Limits(max_flows=3, max_done=8))
    for port in range(40000, 40100):
        tracker.feed(read_ip(tcp4(HELLO_SEQ, client_hello()[:20], sport=port)), 0.0)
    assert tracker.stats.evicted_flows == 97
    gone = tracker.expire(0.0)
    assert 0 < len(gone) <= 8
    assert gone[-1][0][1] == 40096, "the newest evictions are kept"


def test_a_flow_past_its_byte_bound_is_evasion_and_freed() -> None:
    tracker = FlowTracker(Limits(max_flow_bytes=600))
    big = client_hello(padding=2000)
    observations = [
        tracker.feed(read_ip(tcp4(HELLO_SEQ + i, big[i : i + 500])), 0.0)
        for i in range(0, len(big), 500)
    ]
    assert observations[0].seen is Seen.PENDING
    assert observations[1].seen is Seen.EVASION and "bound" in observations[1].reason
    assert tracker.stats.overflows == 1 and tracker.held_bytes == 0 and len(tracker) == 0
    assert all(o.seen is Seen.EVASION for o in observations[2:]), "remembered"


def test_the_total_byte_bound_evicts_other_flows() -> None:
    tracker = FlowTracker(Limits(max_total_bytes=1000, max_flow_bytes=800))
    hello = client_hello(padding=1000)
    for port in range(40000, 40004):
        tracker.feed(read_ip(tcp4(HELLO_SEQ, hello[:400], sport=port)), 0.0)
    assert tracker.held_bytes <= 1000
    assert tracker.stats.evicted_bytes == 2
    assert len(tracker) == 2


def test_a_syn_on_a_reused_port_starts_a_new_flow() -> None:
    tracker = FlowTracker()
    assert feed_all(tracker, [syn4(1), tcp4(2, client_hello("a.example"))]) == ["a.example"]
    assert feed_all(tracker, [syn4(9), tcp4(10, client_hello("b.example"))]) == ["b.example"]


# -- re-cutting real ClientHellos ---------------------------------------------------


def recut(records: bytes, cuts: list[int], order: list[int], with_syn: bool) -> list[str]:
    bounds = [0, *cuts, len(records)]
    segments = [tcp4(HELLO_SEQ + a, records[a:b]) for a, b in itertools.pairwise(bounds)]
    tracker = FlowTracker()
    packets = [syn4(HELLO_SEQ - 1)] if with_syn else []
    return feed_all(tracker, packets + [segments[i] for i in order])


@pytest.mark.shared_data
def test_every_real_hello_cut_in_two_at_every_byte_in_both_orders() -> None:
    hellos = complete_hellos()
    assert len(hellos) >= 30
    checked = 0
    for capture, records, sni in hellos:
        for cut in range(1, len(records)):
            for order in ([0, 1], [1, 0]):
                for with_syn in (True, False):
                    got = recut(records, [cut], order, with_syn)
                    assert got == [sni], f"{capture}: cut at {cut}, order {order}, syn {with_syn}"
                    checked += 1
    assert checked > 100_000


@pytest.mark.shared_data
def test_every_real_hello_in_one_byte_segments_in_order_and_shuffled() -> None:
    rng = random.Random(7)
    for capture, records, sni in complete_hellos():
        cuts = list(range(1, len(records)))
        order = list(range(len(records)))
        assert recut(records, cuts, order, with_syn=True) == [sni], capture
        # Reordered within windows of 64 segments, as a network reorders:
        # scattering every byte is what the piece cap stops.
        local = []
        for start in range(0, len(order), 64):
            window = order[start : start + 64]
            rng.shuffle(window)
            local += window
        assert recut(records, cuts, local, with_syn=True) == [sni], f"{capture} shuffled"


@pytest.mark.shared_data
def test_retransmitted_and_overlapping_segments_change_nothing() -> None:
    for capture, records, sni in complete_hellos():
        half = len(records) // 2
        segments = [
            tcp4(HELLO_SEQ, records[:half]),
            tcp4(HELLO_SEQ, records[:half]),  # retransmission
            tcp4(HELLO_SEQ + half - 3, records[half - 3 :]),  # overlaps by 3 bytes
        ]
        assert feed_all(FlowTracker(), [syn4(HELLO_SEQ - 1), *segments]) == [sni], capture


@pytest.mark.shared_data
def test_quic_initials_of_a_flow_in_any_order_give_the_same_name() -> None:
    rng = random.Random(11)
    multi = [(c, d) for c, d in quic_flows() if len(d) > 1]
    assert multi, "the captures hold QUIC flows whose hello spans several Initials"
    for capture, datagrams in quic_flows():
        # Captured checksums are often offloaded (wrong): not checked here.
        expected = feed_all(FlowTracker(verify_checksums=False), list(datagrams))
        assert len(expected) == 1, capture
        for _ in range(6):
            shuffled = list(datagrams)
            rng.shuffle(shuffled)
            assert feed_all(FlowTracker(verify_checksums=False), shuffled) == expected, capture
