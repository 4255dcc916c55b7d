"""The tracker against the tricks of issue 9, and the honest traffic that must still pass.

Each trick is a short script of crafted packets fed to ``FlowTracker`` as
the firewall would queue them; the test says what each packet must show.
A trick is beaten when the evader's name is never judged allowed from bytes
the server would not read, and when the flow ends as EVASION rather than as
something a filtering group lets through (unreadable, pending forever).
"""

from __future__ import annotations

import struct

import pytest

from copgate.tools.samples import client_hello, quic_initial
from copgate.wire.flows import EVICTED, EXPIRED, FlowTracker, Limits, Observation, Seen
from copgate.wire.packet import TCP_ACK, TCP_SYN, read_ip
from copgate.wire.question import Kind
from tests.wire.builders import (
    CLIENT4,
    CLIENT6,
    SERVER4,
    SERVER6,
    bad_checksum,
    crypto_frame,
    dns_query,
    ipv4,
    quic_initial_frames,
    syn4,
    syn_ack4,
    tcp,
    tcp4,
    tcp6,
    tcp_with_options,
    timestamps,
    udp,
    with_checksum,
)

ISN = 999
START = ISN + 1
MAX_RECORD = 1 << 14


def records(handshake: bytes) -> bytes:
    """``handshake`` in TLS handshake records of at most 2**14 bytes (RFC 8446 §5.1)."""
    out = b""
    for at in range(0, len(handshake), MAX_RECORD):
        part = handshake[at : at + MAX_RECORD]
        out += b"\x16\x03\x01" + len(part).to_bytes(2, "big") + part
    return out


def feed(tracker: FlowTracker, datagram: bytes, now: float = 0.0) -> Observation:
    return tracker.feed(read_ip(datagram), now)


def names(observation: Observation) -> list[str]:
    return [q.name.text if q.name else "" for q in observation.questions]


ALLOWED = client_hello("allowed.example")
BLOCKED = client_hello("blocked.example")


# -- TCP Fast Open -------------------------------------------------------------


def test_a_hello_in_the_syn_is_read_at_offset_zero_and_may_block() -> None:
    tracker = FlowTracker()
    seen = feed(tracker, syn4(ISN, payload=BLOCKED))
    assert seen.seen is Seen.QUESTION and names(seen) == ["blocked.example"]
    assert not seen.questions[0].trusted, "whether the server reads SYN data is its choice"


def test_fast_open_accepted_makes_the_syn_hello_trusted() -> None:
    tracker = FlowTracker()
    feed(tracker, syn4(ISN, payload=ALLOWED))
    # The client goes on after the SYN's data: the server took it.
    after = feed(tracker, tcp4(START + len(ALLOWED), b"\x14\x03\x03\x00\x01\x01"))
    assert names(after) == ["allowed.example"] and after.questions[0].trusted
    assert len(tracker) == 0


def test_fast_open_refused_is_read_from_the_retransmission() -> None:
    tracker = FlowTracker()
    feed(tracker, syn4(ISN, payload=ALLOWED))
    again = feed(tracker, tcp4(START, ALLOWED))
    assert names(again) == ["allowed.example"] and again.questions[0].trusted


def test_a_syn_hello_the_server_ignores_cannot_cover_the_real_one() -> None:
    tracker = FlowTracker()
    feed(tracker, syn4(ISN, payload=ALLOWED))
    assert feed(tracker, tcp4(START, BLOCKED)).seen is Seen.EVASION


def test_tfo_data_in_the_syn_and_the_rest_after_it() -> None:
    tracker = FlowTracker()
    assert feed(tracker, syn4(ISN, payload=BLOCKED[:40])).seen is Seen.PENDING
    seen = feed(tracker, tcp4(START + 40, BLOCKED[40:]))
    assert names(seen) == ["blocked.example"]


def test_a_retransmitted_syn_keeps_the_flow() -> None:
    tracker = FlowTracker()
    feed(tracker, syn4(ISN))
    feed(tracker, tcp4(START, BLOCKED[:50]))
    assert feed(tracker, syn4(ISN)).seen is Seen.PENDING
    assert names(feed(tracker, tcp4(START + 50, BLOCKED[50:]))) == ["blocked.example"]


# -- expiry ----------------------------------------------------------------------


def test_a_hello_that_idles_past_the_age_bound_ends_as_evasion() -> None:
    tracker = FlowTracker(Limits(max_age=10.0))
    feed(tracker, syn4(ISN), 0.0)
    feed(tracker, tcp4(START, BLOCKED[:1]), 0.0)
    assert tracker.next_deadline() == 10.0
    assert tracker.expire(9.9) == []
    key = (CLIENT4, 40000, SERVER4, 443, 6)
    assert tracker.expire(10.0) == [(key, EXPIRED)]
    assert tracker.next_deadline() is None
    for offset in (1, 2):
        later = feed(tracker, tcp4(START + offset, BLOCKED[offset : offset + 1]), 11.0)
        assert later.seen is Seen.EVASION and later.reason == EXPIRED


def test_the_next_packet_after_a_silent_expiry_is_evasion_too() -> None:
    tracker = FlowTracker(Limits(max_age=10.0))
    feed(tracker, syn4(ISN), 0.0)
    feed(tracker, tcp4(START, BLOCKED[:1]), 0.0)
    later = feed(tracker, tcp4(START + 1, BLOCKED[1:]), 30.0)  # feed() expires first
    assert later.seen is Seen.EVASION and later.reason == EXPIRED


def test_an_honest_slow_client_that_keeps_sending_is_not_expired() -> None:
    tracker = FlowTracker(Limits(max_age=10.0))
    feed(tracker, syn4(ISN), 0.0)
    step = 10
    seen = Observation(Seen.PENDING)
    for i, at in enumerate(range(0, len(BLOCKED), step)):
        seen = feed(tracker, tcp4(START + at, BLOCKED[at : at + step]), 5.0 * i)
        assert seen.seen in (Seen.PENDING, Seen.QUESTION), (i, seen)
    assert 5.0 * (len(BLOCKED) // step) > 10.0
    assert names(seen) == ["blocked.example"]


def test_a_connection_whose_syn_expired_is_still_read_from_its_start() -> None:
    tracker = FlowTracker(Limits(max_age=10.0))
    feed(tracker, syn4(ISN), 0.0)
    assert tracker.expire(20.0) == []  # nothing held: forgotten quietly, position kept
    assert len(tracker) == 0
    assert feed(tracker, tcp4(START + 30, BLOCKED[30:]), 21.0).seen is Seen.PENDING
    assert names(feed(tracker, tcp4(START, BLOCKED[:30]), 21.0)) == ["blocked.example"]


# -- data far ahead ----------------------------------------------------------------


def test_data_far_past_the_flow_bound_is_ignored_and_the_hello_still_judged() -> None:
    tracker = FlowTracker()
    feed(tracker, syn4(ISN))
    ahead = feed(tracker, tcp4(START + 40_000 + Limits().max_flow_bytes, b"x" * 1000))
    assert ahead.seen is Seen.IGNORED and "flow bound" in ahead.reason
    assert tracker.held_bytes == 0
    assert names(feed(tracker, tcp4(START, BLOCKED))) == ["blocked.example"]


def test_a_hello_padded_to_40_kib_is_read() -> None:
    big = records(client_hello("blocked.example", padding=40_000, records=False))
    tracker = FlowTracker()
    feed(tracker, syn4(ISN))
    seen = Observation(Seen.PENDING)
    for at in range(0, len(big), 1460):
        seen = feed(tracker, tcp4(START + at, big[at : at + 1460]))
    assert names(seen) == ["blocked.example"]


def test_a_bound_hit_is_evasion() -> None:
    tracker = FlowTracker(Limits(max_flow_bytes=1000))
    feed(tracker, syn4(ISN))
    seen = feed(tracker, tcp4(START + 900, b"x" * 200))
    assert seen.seen is Seen.EVASION and "bound" in seen.reason


# -- TTL ---------------------------------------------------------------------------


def test_a_hello_with_a_short_ttl_may_block_but_not_decide() -> None:
    tracker = FlowTracker()
    feed(tracker, syn4(ISN, ttl=64))
    fake = feed(tracker, tcp4(START, ALLOWED, ttl=3))
    assert fake.seen is Seen.QUESTION and names(fake) == ["allowed.example"]
    assert not fake.questions[0].trusted
    assert tracker.stats.untrusted == 1 and len(tracker) == 1  # still undecided
    # The real hello, for another name, overlaps the fake and disagrees.
    real = feed(tracker, tcp4(START, BLOCKED, ttl=64))
    assert real.seen is Seen.EVASION and "disagree" in real.reason
    assert feed(tracker, tcp4(START, BLOCKED, ttl=64)).seen is Seen.EVASION


def test_a_short_ttl_copy_of_the_real_bytes_changes_nothing() -> None:
    tracker = FlowTracker()
    feed(tracker, syn4(ISN))
    half = len(BLOCKED) // 2
    assert feed(tracker, tcp4(START, BLOCKED[:half], ttl=1)).seen is Seen.PENDING
    assert feed(tracker, tcp4(START, BLOCKED[:half])).seen is Seen.PENDING
    seen = feed(tracker, tcp4(START + half, BLOCKED[half:]))
    assert names(seen) == ["blocked.example"] and seen.questions[0].trusted


def test_a_junk_byte_with_a_short_ttl_does_not_decide_the_flow() -> None:
    tracker = FlowTracker()
    feed(tracker, syn4(ISN))
    junk = feed(tracker, tcp4(START, b"\x00", ttl=2))
    assert junk.seen is Seen.PENDING
    real = feed(tracker, tcp4(START, BLOCKED))
    assert real.seen is Seen.EVASION


def test_the_hop_limit_is_the_ttl_over_ipv6() -> None:
    tracker = FlowTracker()
    feed(tracker, tcp6(ISN, b"", flags=TCP_SYN, ttl=64))
    fake = feed(tracker, tcp6(START, ALLOWED, ttl=5))
    assert fake.questions and not fake.questions[0].trusted
    assert feed(tracker, tcp6(START, BLOCKED, ttl=64)).seen is Seen.EVASION


def test_a_low_ttl_syn_copy_cannot_lower_the_trusted_ttl() -> None:
    tracker = FlowTracker()
    feed(tracker, syn4(ISN, ttl=64))
    feed(tracker, syn4(ISN, ttl=2))
    fake = feed(tracker, tcp4(START, ALLOWED, ttl=2))
    assert fake.questions and not fake.questions[0].trusted


def test_a_low_ttl_syn_with_another_isn_cannot_replace_the_connection() -> None:
    tracker = FlowTracker()
    feed(tracker, syn4(ISN, ttl=64))
    fake_syn = feed(tracker, syn4(7_000_000, ttl=2))
    assert fake_syn.seen is Seen.IGNORED and "lower TTL" in fake_syn.reason
    fake = feed(tracker, tcp4(7_000_001, ALLOWED, ttl=2))
    assert not any(q.trusted for q in fake.questions)
    assert names(feed(tracker, tcp4(START, BLOCKED))) == ["blocked.example"]


@pytest.mark.parametrize("held", [b"", b"\x16"], ids=["nothing held", "a byte held"])
def test_a_low_ttl_syn_the_server_takes_starts_a_new_connection(held: bytes) -> None:
    # The client resets a connection (its RST never reaches copgate: a decided
    # or an HTTP flow's bare RST is not queued), then opens a new one from the
    # same port with a lower TTL. The server's SYN-ACK acknowledges that SYN:
    # the hello that follows is read against the new connection's numbers,
    # not passed as "data before the stream start" of the old one.
    tracker = FlowTracker()
    feed(tracker, syn4(ISN, ttl=64))
    feed(tracker, syn_ack4(5_000, START))
    if held:
        feed(tracker, tcp4(START, held))
    new_isn = 7_000_000
    assert feed(tracker, syn4(new_isn, ttl=63)).seen is Seen.IGNORED
    assert feed(tracker, syn_ack4(9_000, new_isn + 1)).seen is Seen.IGNORED
    hello = feed(tracker, tcp4(new_isn + 1, BLOCKED, ttl=63))
    assert names(hello) == ["blocked.example"] and hello.questions[0].trusted


def test_a_low_ttl_syn_the_server_never_answers_changes_nothing() -> None:
    tracker = FlowTracker()
    feed(tracker, syn4(ISN, ttl=64))
    feed(tracker, syn_ack4(5_000, START))
    assert feed(tracker, syn4(7_000_000, ttl=2)).seen is Seen.IGNORED
    # A SYN-ACK of the first connection again (a retransmission) is no answer to it.
    feed(tracker, syn_ack4(5_000, START))
    assert names(feed(tracker, tcp4(START, BLOCKED))) == ["blocked.example"]


def test_a_low_ttl_syn_cannot_wipe_an_ended_flow() -> None:
    tracker = FlowTracker()
    feed(tracker, syn4(ISN, ttl=64))
    assert feed(tracker, tcp4(START + 65_000, b"x" * 1000)).seen is Seen.EVASION
    assert feed(tracker, syn4(5, ttl=2)).seen is Seen.IGNORED
    assert feed(tracker, tcp4(6, ALLOWED, ttl=2)).seen is Seen.EVASION


def test_without_a_syn_a_first_segment_below_the_clients_usual_ttl_is_untrusted() -> None:
    """The SYN may have passed unseen (a full queue of a fail-open group)."""
    tracker = FlowTracker()
    feed(tracker, ipv4(CLIENT4, SERVER4, 17, udp(5353, 53, dns_query("x.example"))), 0.0)
    fake = feed(tracker, tcp4(START, ALLOWED, ttl=3), 1.0)
    assert fake.seen is Seen.QUESTION and not fake.questions[0].trusted
    assert feed(tracker, tcp4(START, BLOCKED), 1.0).seen is Seen.EVASION


# -- segments the server drops whatever their bytes ---------------------------------


def opts4(seq: int, payload: bytes, options: bytes, flags: int = TCP_ACK) -> bytes:
    return ipv4(CLIENT4, SERVER4, 6, tcp_with_options(40000, 443, seq, payload, options, flags))


@pytest.mark.parametrize(
    "fake",
    [
        opts4(START, ALLOWED, b"\x13\x12" + bytes(16)),  # MD5 signature, RFC 2385
        opts4(START, ALLOWED, b"\x1d\x04\x00\x00"),  # TCP-AO, RFC 5925
        opts4(START, ALLOWED, timestamps(1)),  # older than the SYN's TSval: PAWS
        opts4(START, ALLOWED, b"", flags=0x08),  # PSH without ACK
    ],
    ids=["md5", "tcp-ao", "paws", "no ack"],
)
def test_a_fake_the_server_drops_may_block_but_not_decide(fake: bytes) -> None:
    tracker = FlowTracker()
    syn = ipv4(CLIENT4, SERVER4, 6, tcp_with_options(40000, 443, ISN, b"", timestamps(5000), 2))
    feed(tracker, syn)
    seen = feed(tracker, fake)
    assert seen.questions and not seen.questions[0].trusted
    real = opts4(START, BLOCKED, timestamps(5001))
    assert feed(tracker, real).seen is Seen.EVASION


def test_newer_timestamps_are_honest() -> None:
    tracker = FlowTracker()
    syn = ipv4(CLIENT4, SERVER4, 6, tcp_with_options(40000, 443, ISN, b"", timestamps(5000), 2))
    feed(tracker, syn)
    assert feed(tracker, opts4(START, BLOCKED[:50], timestamps(5001))).seen is Seen.PENDING
    seen = feed(tracker, opts4(START + 50, BLOCKED[50:], timestamps(5001)))
    assert names(seen) == ["blocked.example"] and seen.questions[0].trusted


def test_urgent_data_in_a_read_stream_is_evasion() -> None:
    tracker = FlowTracker()
    feed(tracker, syn4(ISN))
    seen = feed(tracker, tcp4(START, BLOCKED, flags=TCP_ACK | 0x20))
    assert seen.seen is Seen.EVASION and "urgent" in seen.reason


@pytest.mark.parametrize(
    "extension",
    [
        bytes([6, 0, 0x41, 4, 0, 0, 0, 0]),  # destination option 0x41: discard if unknown
        bytes([6, 2, 0, 1]) + bytes(4) + bytes.fromhex("20010db8000200000000000000000081"),
    ],
    ids=["destination option", "routing header with segments left"],
)
def test_a_fake_with_an_ipv6_extension_the_server_discards_is_untrusted(extension: bytes) -> None:
    tracker = FlowTracker()
    feed(tracker, tcp6(ISN, b"", flags=TCP_SYN))
    segment = with_checksum(CLIENT6, SERVER6, 6, tcp(40000, 443, START, ALLOWED))
    next_header = 60 if extension[2] == 0x41 else 43
    datagram = (
        struct.pack(
            "!IHBB16s16s", 6 << 28, len(extension) + len(segment), next_header, 64, CLIENT6, SERVER6
        )
        + extension
        + segment
    )
    packet = read_ip(datagram)
    assert packet.discarded and packet.payload == ALLOWED
    seen = tracker.feed(packet, 0.0)
    assert seen.questions and not seen.questions[0].trusted
    assert feed(tracker, tcp6(START, BLOCKED)).seen is Seen.EVASION


# -- checksums ---------------------------------------------------------------------


def test_a_segment_with_a_bad_checksum_decides_nothing() -> None:
    tracker = FlowTracker()
    feed(tracker, syn4(ISN))
    fake = feed(tracker, bad_checksum(tcp4(START, ALLOWED)))
    assert fake.seen is Seen.IGNORED and fake.reason == "bad checksum"
    assert tracker.held_bytes == 0 and tracker.stats.bad_checksums == 1
    assert names(feed(tracker, tcp4(START, BLOCKED))) == ["blocked.example"]


def test_a_syn_with_a_bad_checksum_cannot_restart_an_ended_flow() -> None:
    tracker = FlowTracker()
    feed(tracker, syn4(ISN))
    feed(tracker, tcp4(START, ALLOWED, ttl=3))
    assert feed(tracker, tcp4(START, BLOCKED)).seen is Seen.EVASION
    assert feed(tracker, bad_checksum(syn4(5))).reason == "bad checksum"
    assert feed(tracker, tcp4(START, BLOCKED)).seen is Seen.EVASION


def test_checksums_can_be_left_unchecked_for_captures() -> None:
    tracker = FlowTracker(verify_checksums=False)
    feed(tracker, syn4(ISN))
    assert names(feed(tracker, bad_checksum(tcp4(START, BLOCKED)))) == ["blocked.example"]


def test_a_quic_initial_with_a_bad_checksum_is_ignored() -> None:
    datagram = ipv4(CLIENT4, SERVER4, 17, udp(50000, 443, quic_initial(BLOCKED[5:], b"\x01" * 8)))
    assert feed(FlowTracker(), bad_checksum(datagram)).reason == "bad checksum"
    assert names(feed(FlowTracker(), datagram)) == ["blocked.example"]


# -- overlaps, order, remembered endings -------------------------------------------------


def test_out_of_order_and_retransmitted_segments_are_honest() -> None:
    tracker = FlowTracker()
    feed(tracker, syn4(ISN))
    hello = client_hello("blocked.example", padding=1000)
    cuts = [(300, 600), (0, 300), (0, 300), (250, 400), (600, len(hello))]
    seen = [feed(tracker, tcp4(START + a, hello[a:b])) for a, b in cuts]
    assert [s.seen for s in seen[:-1]] == [Seen.PENDING] * 4
    assert names(seen[-1]) == ["blocked.example"]


def test_a_second_connection_on_the_port_starts_clean_but_old_data_stays_ended() -> None:
    tracker = FlowTracker()
    feed(tracker, syn4(ISN))
    feed(tracker, tcp4(START, ALLOWED, ttl=3))
    assert feed(tracker, tcp4(START, BLOCKED)).seen is Seen.EVASION
    feed(tracker, syn4(500_000))  # a SYN on the same 4-tuple, e.g. a fake one
    old = feed(tracker, tcp4(START, BLOCKED))
    assert old.seen is Seen.EVASION, "the old connection's bytes still get its ending"
    assert names(feed(tracker, tcp4(500_001, BLOCKED))) == ["blocked.example"]


def test_a_decided_flow_ignores_later_packets() -> None:
    tracker = FlowTracker()
    feed(tracker, syn4(ISN))
    feed(tracker, tcp4(START, BLOCKED))
    later = feed(tracker, tcp4(START + len(BLOCKED), b"application data"))
    assert later.seen is Seen.IGNORED and later.reason == "flow already decided"


def test_an_unknown_protocol_after_a_syn_is_unreadable_and_remembered() -> None:
    tracker = FlowTracker()
    feed(tracker, syn4(ISN))
    first = feed(tracker, tcp4(START, b"SSH-2.0-OpenSSH_9.2\r\n"))
    assert first.seen is Seen.UNREADABLE
    assert feed(tracker, tcp4(START + 21, b"more")).seen is Seen.UNREADABLE


# -- bounds per client ---------------------------------------------------------------


def test_a_syn_flood_from_one_client_evicts_only_its_own_flows() -> None:
    tracker = FlowTracker(Limits(max_flows=4096, max_client_flows=512))
    other = bytes([192, 0, 2, 77])
    victim = ipv4(other, SERVER4, 6, tcp(41000, 443, ISN, b"", TCP_SYN))
    feed(tracker, victim)
    feed(tracker, ipv4(other, SERVER4, 6, tcp(41000, 443, START, BLOCKED[:50], TCP_ACK)))
    for port in range(1024, 1024 + 4096):
        feed(tracker, syn4(ISN, sport=port))
    assert len(tracker) == 1 + 512
    rest = ipv4(other, SERVER4, 6, tcp(41000, 443, START + 50, BLOCKED[50:], TCP_ACK))
    assert names(feed(tracker, rest)) == ["blocked.example"]


def test_under_the_global_flow_bound_the_client_with_most_flows_loses_its_oldest() -> None:
    tracker = FlowTracker(Limits(max_flows=10, max_client_flows=100))
    other = bytes([192, 0, 2, 77])
    for port in range(3):
        feed(tracker, ipv4(other, SERVER4, 6, tcp(2000 + port, 443, ISN, b"", TCP_SYN)))
    for port in range(20):
        feed(tracker, syn4(ISN, sport=3000 + port))
    assert len(tracker) == 10
    assert sum(1 for key in tracker._flows if key[0] == other) == 3


def test_the_total_byte_bound_evicts_the_biggest_clients_flow_even_the_one_fed() -> None:
    tracker = FlowTracker(Limits(max_total_bytes=1000, max_flow_bytes=4000))
    other = bytes([192, 0, 2, 77])
    feed(tracker, ipv4(other, SERVER4, 6, tcp(2000, 443, ISN, b"", TCP_SYN)))
    feed(tracker, ipv4(other, SERVER4, 6, tcp(2000, 443, START, BLOCKED[:60], TCP_ACK)))
    feed(tracker, syn4(ISN))
    big = records(client_hello("x.example", padding=2000, records=False))
    seen = feed(tracker, tcp4(START, big[:950]))
    assert seen.seen is Seen.EVASION
    assert seen.reason == EVICTED
    assert tracker.held_bytes == 60, "the other client's flow is kept"


def quic4(hello: bytes, dcid: bytes, ttl: int = 64, sport: int = 50000) -> bytes:
    payload = quic_initial(hello, dcid)
    return ipv4(CLIENT4, SERVER4, 17, udp(sport, 443, payload), ttl=ttl)


def test_a_quic_initial_with_a_dying_ttl_may_block_but_not_decide() -> None:
    tracker = FlowTracker()
    feed(tracker, ipv4(CLIENT4, SERVER4, 17, udp(5353, 53, dns_query("blocked.example"))))
    fake = feed(tracker, quic4(ALLOWED[5:], b"\x07" * 8, ttl=3))
    assert fake.seen is Seen.QUESTION and not fake.questions[0].trusted
    assert len(tracker) == 1, "still undecided"
    real = feed(tracker, quic4(BLOCKED[5:], b"\x07" * 8))
    assert real.seen is Seen.EVASION and "disagree" in real.reason


def test_honest_quic_is_trusted_whatever_path_or_host_the_ttl_came_by() -> None:
    tracker = FlowTracker()
    feed(tracker, syn4(ISN))
    seen = feed(tracker, quic4(BLOCKED[5:], b"\x08" * 8))
    assert names(seen) == ["blocked.example"] and seen.questions[0].trusted
    # The client's DNS to the router's own resolver (INPUT) is seen a hop
    # higher than its forwarded Initials; a Windows host (128) runs a NAT'd
    # Linux guest (63).
    for usual, initial in ((64, 63), (128, 63), (255, 62)):
        other = FlowTracker()
        query = ipv4(CLIENT4, SERVER4, 17, udp(5353, 53, dns_query("a.example")), ttl=usual)
        feed(other, query)
        seen = feed(other, quic4(BLOCKED[5:], b"\x09" * 8, ttl=initial))
        assert seen.questions and seen.questions[0].trusted, (usual, initial)


def test_a_quic_initial_that_may_die_is_untrusted_even_from_a_client_never_seen() -> None:
    seen = feed(FlowTracker(), quic4(BLOCKED[5:], b"\x09" * 8, ttl=5))
    assert seen.questions and not seen.questions[0].trusted


def test_a_client_with_a_low_usual_ttl_is_trusted_near_it_until_it_is_forgotten() -> None:
    tracker = FlowTracker()
    feed(tracker, syn4(ISN, ttl=20), 0.0)
    assert feed(tracker, quic4(BLOCKED[5:], b"\x0a" * 8, ttl=19), 1.0).questions[0].trusted
    later = feed(tracker, quic4(BLOCKED[5:], b"\x0b" * 8, ttl=19, sport=50001), 1000.0)
    assert later.questions and not later.questions[0].trusted


def test_a_short_quic_initial_the_server_discards_may_block_but_not_decide() -> None:
    """RFC 9000 §14.1: a server drops a client Initial in a datagram under 1200 bytes."""
    tracker = FlowTracker()
    dcid = b"\x0c" * 8
    short = quic_initial_frames(crypto_frame(0, ALLOWED[5:]), dcid, pad=0)
    assert len(short) < 1200
    fake = feed(tracker, ipv4(CLIENT4, SERVER4, 17, udp(50000, 443, short)))
    assert fake.questions and not fake.questions[0].trusted
    assert feed(tracker, quic4(BLOCKED[5:], dcid)).seen is Seen.EVASION


def test_quic_key_derivations_are_rate_limited_per_client() -> None:
    tracker = FlowTracker(Limits(quic_keys_per_second=1.0, quic_keys_burst=5.0))
    hello = BLOCKED[5:]

    def initial(client: bytes, i: int) -> bytes:
        payload = quic_initial(hello, i.to_bytes(8, "big"))
        return ipv4(client, SERVER4, 17, udp(10000 + i, 443, payload))

    seen = [feed(tracker, initial(CLIENT4, i), 0.0).seen for i in range(8)]
    assert seen == [Seen.QUESTION] * 5 + [Seen.EVASION] * 3
    assert tracker.stats.quic_throttled == 3
    other = bytes([192, 0, 2, 77])
    assert feed(tracker, initial(other, 100), 0.0).seen is Seen.QUESTION
    assert feed(tracker, initial(CLIENT4, 200), 2.0).seen is Seen.QUESTION  # refilled


# -- HTTP and DNS over TCP for the connection's whole life ---------------------------


def http_flow(tracker: FlowTracker, stream: bytes, step: int = 7, now: float = 0.0) -> list[str]:
    feed(tracker, syn4(ISN, dport=80), now)
    out: list[str] = []
    for at in range(0, len(stream), step):
        seen = feed(tracker, tcp4(START + at, stream[at : at + step], dport=80), now)
        assert seen.seen in (Seen.PENDING, Seen.QUESTION), (at, seen)
        out += names(seen)
    return out


def test_a_keep_alive_session_with_chunked_bodies_is_read_to_the_end() -> None:
    chunked = (
        b"POST /up HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;ext=1\r\nhello\r\n1A\r\n" + b"z" * 26 + b"\r\n0\r\nTrailer: x\r\n\r\n"
    )
    plain = b"GET / HTTP/1.1\r\nHost: b.example\r\n\r\n"
    posted = b"PUT /f HTTP/1.1\r\nHost: c.example\r\nContent-Length: 3\r\n\r\nabc"
    empty_trailers = (
        b"POST / HTTP/1.1\r\nHost: d.example\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    )
    stream = (chunked + plain + posted + empty_trailers) * 3
    for step in (1, 7, 100, len(stream)):
        got = http_flow(FlowTracker(), stream, step)
        assert got == ["a.example", "b.example", "c.example", "d.example"] * 3, step


def test_pipelined_requests_in_one_segment_are_all_read() -> None:
    stream = b"".join(b"GET / HTTP/1.1\r\nHost: n%d.example\r\n\r\n" % i for i in range(5))
    assert http_flow(FlowTracker(), stream, step=len(stream)) == [f"n{i}.example" for i in range(5)]


def test_a_request_that_cannot_be_framed_is_evasion_and_remembered() -> None:
    tracker = FlowTracker()
    feed(tracker, syn4(ISN, dport=80))
    smuggle = (
        b"POST / HTTP/1.1\r\nHost: a.example\r\nContent-Length: 4\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    seen = feed(tracker, tcp4(START, smuggle, dport=80))
    assert seen.seen is Seen.EVASION and "framed" in seen.reason
    later = feed(tracker, tcp4(START + len(smuggle), b"GET / HTTP/1.1\r\n\r\n", dport=80))
    assert later.seen is Seen.EVASION


def test_a_bad_chunk_is_evasion() -> None:
    tracker = FlowTracker()
    stream = (
        b"POST / HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n"
    )
    feed(tracker, syn4(ISN, dport=80))
    seen = feed(tracker, tcp4(START, stream, dport=80))
    assert seen.seen is Seen.EVASION and names(seen) == []


def test_any_method_token_starts_an_http_flow() -> None:
    for method in (b"MKCOL", b"PROPPATCH", b"UNLOCK", b"BREW"):
        stream = method + b" /x HTTP/1.1\r\nHost: webdav.example\r\n\r\n"
        assert http_flow(FlowTracker(), stream, step=3) == ["webdav.example"]


def test_an_absolute_form_target_and_its_host_field_are_both_judged() -> None:
    stream = b"GET http://blocked.example/ HTTP/1.1\r\nHost: allowed.example\r\n\r\n"
    assert http_flow(FlowTracker(), stream) == ["blocked.example", "allowed.example"]


def test_an_ip_literal_host_is_reported_as_the_literal() -> None:
    stream = b"GET / HTTP/1.1\r\nHost: [2001:db8::1]:8080\r\n\r\n"
    stream += b"GET / HTTP/1.1\r\nHost: 192.0.2.5\r\n\r\n"
    assert http_flow(FlowTracker(), stream) == ["2001:db8::1", "192.0.2.5"]


def test_an_idle_connection_is_read_from_its_next_byte_after_it_was_forgotten() -> None:
    tracker = FlowTracker(Limits(max_age=10.0))
    first = b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n"
    second = b"GET / HTTP/1.1\r\nHost: blocked.example\r\n\r\n"
    assert http_flow(tracker, first, step=len(first)) == ["a.example"]
    assert tracker.expire(100.0) == [] and len(tracker) == 0
    at = START + len(first)
    # A segment sent ahead of the real next request comes first ...
    ahead = feed(tracker, tcp4(at + len(second), b"GET / HTTP/1.1\r\n", dport=80), 101.0)
    assert ahead.seen is Seen.PENDING
    # ... and the real one is still read from the right place.
    assert names(feed(tracker, tcp4(at, second, dport=80), 101.0)) == ["blocked.example"]


def test_dns_over_tcp_with_many_queries_is_read_for_the_whole_connection() -> None:
    tracker = FlowTracker(Limits(max_age=10.0))
    feed(tracker, syn4(ISN, dport=53), 0.0)
    at = START
    got: list[str] = []
    for i in range(200):
        query = dns_query(f"q{i}.example", msg_id=i)
        framed = len(query).to_bytes(2, "big") + query
        got += names(feed(tracker, tcp4(at, framed, dport=53), float(i)))
        at += len(framed)
    assert got == [f"q{i}.example" for i in range(200)]
    assert tracker.held_bytes == 0


def test_questions_say_their_kind() -> None:
    tracker = FlowTracker()
    feed(tracker, syn4(ISN))
    (question,) = feed(tracker, tcp4(START, BLOCKED)).questions
    assert question.kind is Kind.TLS and question.trusted


def framed(message: bytes) -> bytes:
    return len(message).to_bytes(2, "big") + message


NO_QUESTION = bytes.fromhex("0001 0100 0000 0000 0000 0000".replace(" ", ""))  # QDCOUNT 0


def test_dns_over_tcp_reads_on_after_a_message_it_cannot_read() -> None:
    tracker = FlowTracker()
    feed(tracker, syn4(ISN, dport=53))
    broken = framed(NO_QUESTION)
    first = feed(tracker, tcp4(START, broken, dport=53))
    assert first.seen is Seen.MALFORMED
    query = framed(dns_query("blocked.example"))
    assert names(feed(tracker, tcp4(START + len(broken), query, dport=53))) == ["blocked.example"]


def test_a_query_beside_a_broken_message_in_one_segment_is_still_judged() -> None:
    tracker = FlowTracker()
    feed(tracker, syn4(ISN, dport=53))
    both = framed(NO_QUESTION) + framed(dns_query("blocked.example"))
    seen = feed(tracker, tcp4(START, both, dport=53))
    assert seen.seen is Seen.QUESTION and names(seen) == ["blocked.example"]
    assert "DNS" in seen.reason


def test_a_dns_length_too_short_for_a_header_cannot_be_framed() -> None:
    tracker = FlowTracker()
    feed(tracker, syn4(ISN, dport=53))
    seen = feed(tracker, tcp4(START, b"\x00\x03abc", dport=53))
    assert seen.seen is Seen.EVASION and "framed" in seen.reason
    query = framed(dns_query("blocked.example"))
    assert feed(tracker, tcp4(START + 5, query, dport=53)).seen is Seen.EVASION


def test_chromiums_two_segment_hello_is_read_over_ipv4_and_ipv6() -> None:
    """A post-quantum hello (~1.9 KB) cut at a 1460-byte MSS, as Chromium sends it."""
    hello = client_hello("www.example.org", ech=b"grease", padding=1700)
    assert 1800 < len(hello) < 2000
    for build in (tcp4, tcp6):
        tracker = FlowTracker()
        feed(tracker, build(ISN, b"", flags=TCP_SYN))
        assert feed(tracker, build(START, hello[:1460])).seen is Seen.PENDING
        seen = feed(tracker, build(START + 1460, hello[1460:]))
        assert names(seen) == ["www.example.org"] and seen.questions[0].trusted
        assert len(tracker) == 0 and tracker.held_bytes == 0


# -- TLS records as servers read them (lab: tests/lab/test_evasion_tcp.py) ---------


def with_record_version(hello: bytes, minor: int) -> bytes:
    """``hello`` (one record) with another record version 3.minor."""
    return hello[:2] + bytes((minor,)) + hello[3:]


@pytest.mark.parametrize(
    "stream",
    [
        with_record_version(BLOCKED, 0),
        with_record_version(BLOCKED, 0xFF),  # OpenSSL and BoringSSL take any 3.x
        b"\x16\x03\x01\x00\x00" + BLOCKED,  # OpenSSL skips an empty record
    ],
    ids=["version 3.0", "version 3.255", "an empty record first"],
)
@pytest.mark.parametrize("step", [1, 7, 10_000])
def test_a_hello_in_records_openssl_reads_is_judged(stream: bytes, step: int) -> None:
    tracker = FlowTracker()
    feed(tracker, syn4(ISN))
    seen = [
        feed(tracker, tcp4(START + at, stream[at : at + step]))
        for at in range(0, len(stream), step)
    ]
    assert [o.seen for o in seen[:-1]] == [Seen.PENDING] * (len(seen) - 1)
    assert names(seen[-1]) == ["blocked.example"] and seen[-1].questions[0].trusted


@pytest.mark.parametrize(
    "stream",
    [
        b"\x16\x02\x00" + BLOCKED[3:],  # Go reads a record version below 0x1000
        b"\x15\x03\x03\x00\x02\x01\x5a" + BLOCKED,  # a warning alert first
        b"\x14\x03\x03\x00\x01\x01" + BLOCKED,  # a ChangeCipherSpec first
        b"\x16\x03\x01\x00\x00" * 33 + BLOCKED,  # more empty records than OpenSSL skips
        BLOCKED[:-4] + b"\x16\x03\x01\x00\x04" + BLOCKED[-4:],  # a record header mid-hello
    ],
    ids=["version 2.0", "an alert first", "a ChangeCipherSpec first", "33 empty", "bad cut"],
)
def test_a_tls_stream_copgate_cannot_read_is_evasion_not_unreadable(stream: bytes) -> None:
    tracker = FlowTracker()
    feed(tracker, syn4(ISN))
    seen = feed(tracker, tcp4(START, stream))
    assert seen.seen is Seen.EVASION and "TLS" in seen.reason, seen
    assert feed(tracker, tcp4(START + len(stream), BLOCKED)).seen is Seen.EVASION, "remembered"


# -- HTTP requests as nginx reads them (lab: tests/lab/test_evasion_http.py) ----------

NGINX_REQUEST_FORMS = {
    "bare LF line ends": b"GET / HTTP/1.1\nHost: blocked.example\n\n",
    "LF then CRLF": b"GET / HTTP/1.1\nHost: blocked.example\r\n\n",
    "empty lines first": b"\r\n\r\nGET / HTTP/1.1\r\nHost: blocked.example\r\n\r\n",
    "bare LF empty lines first": b"\n\n\nGET / HTTP/1.1\r\nHost: blocked.example\r\n\r\n",
    "runs of spaces": b"GET   /   HTTP/1.1  \r\nHost: blocked.example\r\n\r\n",
    "HTTP/1.9": b"GET / HTTP/1.9\r\nHost: blocked.example\r\n\r\n",
    "a non-ASCII target": b"GET /\xc3\xa9 HTTP/1.1\r\nHost: blocked.example\r\n\r\n",
}


@pytest.mark.parametrize("request_bytes", NGINX_REQUEST_FORMS.values(), ids=NGINX_REQUEST_FORMS)
@pytest.mark.parametrize("step", [1, 5, 1000])
def test_a_request_in_a_form_nginx_reads_is_judged(request_bytes: bytes, step: int) -> None:
    assert http_flow(FlowTracker(), request_bytes, step) == ["blocked.example"]


def test_requests_with_bare_lf_and_empty_lines_between_them_are_all_read() -> None:
    chunked = (
        b"POST / HTTP/1.1\nHost: a.example\nTransfer-Encoding: chunked\n\n3\nabc\n0\nTrailer: x\n\n"
    )
    plain = b"\r\n\nGET / HTTP/1.1\nHost: b.example\n\n"
    stream = (chunked + plain) * 2
    for step in (1, 3, len(stream)):
        got = http_flow(FlowTracker(), stream, step)
        assert got == ["a.example", "b.example"] * 2, step


def test_only_empty_lines_wait_for_a_request_line() -> None:
    tracker = FlowTracker()
    feed(tracker, syn4(ISN, dport=80))
    assert feed(tracker, tcp4(START, b"\r\n" * 100, dport=80)).seen is Seen.PENDING


# -- ACK numbers the server refuses, once its SYN-ACK is seen ------------------------

ISS = 7_000_000  # the server's initial sequence number
SERVER_NEXT = ISS + 1  # what an honest client acknowledges until the server sends data


def connected(tracker: FlowTracker, dport: int = 443) -> None:
    """A SYN (window 65535, no scaling) and the server's SYN-ACK, which decides nothing."""
    assert feed(tracker, syn4(ISN, dport=dport)).seen is Seen.PENDING
    seen = feed(tracker, syn_ack4(ISS, START, dport=dport))
    assert seen.seen is Seen.IGNORED and seen.reason == "a server's SYN-ACK"


@pytest.mark.parametrize(
    "ack",
    [SERVER_NEXT + 1, SERVER_NEXT + 10_000_000, SERVER_NEXT - 65_536, SERVER_NEXT - 2_000_000_000],
    ids=["one too new", "far too new", "just too old", "far too old"],
)
def test_a_fake_with_an_ack_the_server_refuses_may_block_but_not_decide(ack: int) -> None:
    tracker = FlowTracker()
    connected(tracker)
    fake = feed(tracker, tcp4(START, ALLOWED, ack=ack % (1 << 32)))
    assert names(fake) == ["allowed.example"] and not fake.questions[0].trusted
    real = feed(tracker, tcp4(START, BLOCKED, ack=SERVER_NEXT))
    assert real.seen is Seen.EVASION and "disagree" in real.reason


@pytest.mark.parametrize("ack", [SERVER_NEXT, SERVER_NEXT - 65_535], ids=["next", "oldest"])
def test_an_ack_the_server_takes_decides(ack: int) -> None:
    tracker = FlowTracker()
    connected(tracker)
    seen = feed(tracker, tcp4(START, ALLOWED, ack=ack))
    assert names(seen) == ["allowed.example"] and seen.questions[0].trusted


def test_without_the_syn_ack_any_ack_is_taken() -> None:
    tracker = FlowTracker()
    feed(tracker, syn4(ISN))
    seen = feed(tracker, tcp4(START, ALLOWED, ack=12345))
    assert names(seen) == ["allowed.example"] and seen.questions[0].trusted


def test_a_larger_window_the_server_took_widens_what_is_not_too_old() -> None:
    tracker = FlowTracker()
    connected(tracker)
    feed(tracker, tcp4(START, b"", ack=SERVER_NEXT, window=65535))  # no payload: not read
    half = len(ALLOWED) // 2
    assert feed(tracker, tcp4(START, ALLOWED[:half], ack=SERVER_NEXT)).seen is Seen.PENDING
    seen = feed(tracker, tcp4(START + half, ALLOWED[half:], ack=SERVER_NEXT - 65_535))
    assert names(seen) == ["allowed.example"] and seen.questions[0].trusted


def test_once_a_request_is_read_the_server_may_have_answered() -> None:
    tracker = FlowTracker()
    connected(tracker, dport=80)
    first = b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n"
    seen = feed(tracker, tcp4(START, first, dport=80, ack=SERVER_NEXT))
    assert names(seen) == ["a.example"] and seen.questions[0].trusted
    # The response moved the server's SND.NXT on: a later ACK is taken.
    second = b"GET / HTTP/1.1\r\nHost: b.example\r\n\r\n"
    later = feed(tracker, tcp4(START + len(first), second, dport=80, ack=SERVER_NEXT + 5000))
    assert names(later) == ["b.example"] and later.questions[0].trusted


def test_a_syn_ack_for_no_tracked_connection_is_ignored() -> None:
    tracker = FlowTracker()
    seen = feed(tracker, syn_ack4(ISS, START))
    assert seen.seen is Seen.IGNORED and len(tracker) == 0


def test_a_syn_ack_acknowledging_another_syn_sets_nothing() -> None:
    tracker = FlowTracker()
    feed(tracker, syn4(ISN))
    assert feed(tracker, syn_ack4(ISS, START + 99)).seen is Seen.IGNORED
    seen = feed(tracker, tcp4(START, ALLOWED, ack=SERVER_NEXT + 10_000_000))
    assert seen.questions[0].trusted, "no SYN-ACK of this connection: today's behaviour"


def test_fast_open_taken_by_the_syn_ack_is_read_at_the_next_ack() -> None:
    tracker = FlowTracker()
    assert not feed(tracker, syn4(ISN, payload=ALLOWED)).questions[0].trusted
    assert feed(tracker, syn_ack4(ISS, START + len(ALLOWED))).seen is Seen.IGNORED
    seen = feed(tracker, tcp4(START + len(ALLOWED), b"", ack=SERVER_NEXT))
    assert names(seen) == ["allowed.example"] and seen.questions[0].trusted


def test_fast_open_refused_by_the_syn_ack_stays_untrusted() -> None:
    tracker = FlowTracker()
    feed(tracker, syn4(ISN, payload=ALLOWED))
    feed(tracker, syn_ack4(ISS, START))  # only the SYN acknowledged: the data was not taken
    # A client going on after the data as if it had been taken proves nothing.
    after = feed(tracker, tcp4(START + len(ALLOWED), b"\x14\x03\x03\x00\x01\x01", ack=SERVER_NEXT))
    assert not any(q.trusted for q in after.questions), after
    real = feed(tracker, tcp4(START, BLOCKED, ack=SERVER_NEXT))
    assert real.seen is Seen.EVASION, "the retransmission disagrees with the SYN's data"


@pytest.mark.parametrize(
    ("request_bytes", "expected"),
    [
        (b"GET /\r\n", [""]),
        (b"GET http://blocked.example/\r\n", ["blocked.example"]),
        (b"\r\nGET  http://blocked.example:80/x \n", ["blocked.example"]),
    ],
    ids=["default site", "absolute target", "spaces and bare LF"],
)
@pytest.mark.parametrize("step", [1, 3, 1000])
def test_an_http_0_9_request_is_a_request_not_another_protocol(
    request_bytes: bytes, expected: list[str], step: int
) -> None:
    """RFC 1945 §4.1 Simple-Request: nginx serves it, with no Host field to judge."""
    assert http_flow(FlowTracker(), request_bytes, step) == expected


def test_a_full_request_line_is_never_read_as_http_0_9() -> None:
    stream = b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n"
    for step in (1, 2, 17, len(stream)):
        assert http_flow(FlowTracker(), stream, step) == ["a.example"], step
