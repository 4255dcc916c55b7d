"""The engine's DNS fast path gives what the general path gives, packet for packet.

Two engines over the same lists and equal configs judge the same packets in
the same order, one with ``fast_dns`` (the default) and one without: every
verdict (action, forged bytes, question, decision, note), the counters and
the TTLs the tracker learned must be equal. The packets are every datagram of
the real captures, then DNS queries built here and mutated the way a
teenager's tools would (bad UDP checksum, fragments, IP options, lengths that
disagree, spoofed or non-LAN sources, QDCOUNT 0 and 2, compression pointers
and their loops, EDNS tricks, responses, TTL changes, random byte flips and
cuts), then hypothesis's own.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Iterator

from hypothesis import given, settings
from hypothesis import strategies as st

from copgate.daemon.engine import Action, Engine, PacketMeta, PacketVerdict
from copgate.policy.model import Mode
from tests.daemon.test_engine import LISTS, NOW, config
from tests.real_packets import all_datagrams
from tests.wire.builders import (
    CLIENT4,
    CLIENT6,
    SERVER4,
    SERVER6,
    bad_checksum,
    dns_query,
    ipv4,
    ipv6,
    udp,
)

NAMES = (
    "www.wikipedia.org",  # allowed
    "WWW.Casino.Example",  # blocked by category, mixed case echoed
    "adult.example",
    "school.example",  # white-listed
    "www.google.com",  # safe search
    "www.youtube.com",
    "use-application-dns.net",  # the DoH canary
    "xn--bcher-kva.example",  # punycode
    "bad_name-.example",
    "a" * 63 + ".example",
)
METAS = (
    PacketMeta(NOW, "br-lan"),
    PacketMeta(NOW + 0.5, "br-lan", "02:00:00:00:00:0a"),
    PacketMeta(NOW + 7200, "wan0"),  # from outside the LAN: nothing may be forged
    PacketMeta(NOW + 90000),  # an offline tool: no interface
)


def engines(mode: Mode = Mode.FILTER) -> tuple[Engine, Engine]:
    fast = Engine(config(mode), LISTS, lists_built=NOW - 3600)
    slow = Engine(config(mode), LISTS, lists_built=NOW - 3600)
    slow.fast_dns = False
    return fast, slow


def same(fast: Engine, slow: Engine, datagram: bytes, meta: PacketMeta) -> PacketVerdict:
    """Both engines' verdicts for one packet, asserted equal."""
    got, want = fast.judge(datagram, meta), slow.judge(datagram, meta)
    assert got == want, datagram.hex()
    return got


def same_state(fast: Engine, slow: Engine) -> None:
    assert fast.counters.as_dict() == slow.counters.as_dict()
    assert fast.tracker._shares._ttls == slow.tracker._shares._ttls
    assert fast.blocked.expiry == slow.blocked.expiry


def queries() -> Iterator[bytes]:
    """DNS messages: plain, with EDNS, of several types and ids."""
    for index, name in enumerate(NAMES):
        yield dns_query(name, msg_id=index)
        yield dns_query(name, qtype=28, msg_id=0xFFFF - index, edns=1232)
        yield dns_query(name, qtype=65, edns=4096)


def with_pointer(message: bytes, target: int) -> bytes:
    """``message`` with its question name replaced by a compression pointer to ``target``."""
    return message[:12] + struct.pack("!H", 0xC000 | target) + message[-4:]


def tricks(message: bytes) -> Iterator[bytes]:
    """What evasion tools do to a DNS query's bytes."""
    header, rest = message[:12], message[12:]
    flags = struct.unpack("!H", header[2:4])[0]
    for qdcount in (0, 2, 0xFFFF):
        yield header[:4] + struct.pack("!H", qdcount) + header[6:] + rest
    yield header[:4] + struct.pack("!H", 2) + header[6:] + rest + rest  # two real questions
    yield header[:2] + struct.pack("!H", flags | 0x8000) + header[4:] + rest  # a response
    yield header[:2] + struct.pack("!H", flags | 0x7800) + header[4:] + rest  # opcode 15
    yield with_pointer(message, 12)  # a pointer to itself: a loop
    yield with_pointer(message, 0)  # a pointer backwards into the header
    yield message[:12] + b"\xc0\x0e" + message[12:]  # a pointer forwards
    yield message[:12] + b"\x40" + message[13:]  # extended label type
    yield message[:12] + b"\x3f" + message[13:]  # a label length past the name
    yield header[:10] + struct.pack("!H", 3) + rest + b"\x00\x00\x29\x10"  # OPT cut
    yield header[:6] + struct.pack("!HHH", 1, 1, 1) + rest  # counts with no records
    opt = b"\x00" + struct.pack("!HHIH", 41, 512, 0, 0)
    yield header[:10] + struct.pack("!H", 2) + rest + opt + opt  # two OPT records
    yield header[:10] + struct.pack("!H", 1) + rest + opt + b"trailing"
    for cut in (0, 2, 11, 12, 13, len(message) - 5, len(message) - 1):
        yield message[:cut]
    yield message + bytes(600)  # padding after the message


def datagrams(message: bytes) -> Iterator[bytes]:
    """``message`` in IPv4 and IPv6 UDP datagrams, plain and bent."""
    plain = ipv4(CLIENT4, SERVER4, 17, udp(40000, 53, message))
    yield plain
    yield ipv4(CLIENT4, SERVER4, 17, udp(40001, 53, message), ttl=3)  # a low TTL
    yield ipv4(CLIENT4, SERVER4, 17, udp(40002, 53, message), ttl=255)
    yield ipv4(bytes([203, 0, 113, 9]), SERVER4, 17, udp(40003, 53, message))  # spoofed source
    yield ipv4(CLIENT4, SERVER4, 17, udp(53, 53, message))
    yield ipv4(CLIENT4, SERVER4, 17, udp(53, 40000, message))  # from port 53, to another
    yield ipv4(CLIENT4, SERVER4, 17, udp(40004, 5353, message))  # not DNS's port
    yield bad_checksum(plain)
    yield ipv4(CLIENT4, SERVER4, 17, udp(40005, 53, message), frag=0x2000)  # first fragment
    yield ipv4(CLIENT4, SERVER4, 17, udp(40006, 53, message), frag=0x0004)  # a later one
    yield ipv4(CLIENT4, SERVER4, 17, udp(40007, 53, message), frag=0x4000)  # DF only
    yield plain[:2] + struct.pack("!H", len(plain) + 4) + plain[4:]  # total length overstated
    yield plain[:2] + struct.pack("!H", len(plain) - 3) + plain[4:]  # understated
    yield plain + b"\x00\x00"  # link padding past the total length
    yield plain[:24] + struct.pack("!H", len(plain) - 24) + plain[26:]  # UDP length short
    yield plain[:24] + struct.pack("!H", 4) + plain[26:]  # UDP length under its header
    yield (
        b"\x46"
        + plain[1:2]
        + struct.pack("!H", len(plain) + 4)
        + plain[4:20]
        + bytes(4)
        + (plain[20:])
    )  # an IP option (IHL 6)
    yield b"\x44" + plain[1:]  # IHL under 5
    yield ipv6(CLIENT6, SERVER6, 17, udp(40008, 53, message))
    yield ipv6(CLIENT6, SERVER6, 17, udp(40009, 53, message), ttl=1)
    hop_by_hop = bytes([17, 0]) + bytes([1, 4]) + bytes(4)  # PadN
    yield ipv6(CLIENT6, SERVER6, 0, hop_by_hop + udp(40010, 53, message))
    yield ipv4(CLIENT4, SERVER4, 4, ipv4(CLIENT4, SERVER4, 17, udp(40011, 53, message)))  # 4in4


def test_fast_and_general_paths_agree_on_every_real_capture() -> None:
    fast, slow = engines()
    for captured in all_datagrams():
        for meta in METAS[:2]:
            same(fast, slow, captured.data, meta)
    same_state(fast, slow)
    assert fast.counters.by_kind.get("dns:allow", 0) > 0  # DNS queries took the fast path


def test_fast_and_general_paths_agree_on_tricked_queries() -> None:
    for mode in (Mode.FILTER, Mode.WHITELIST, Mode.OFF):
        fast, slow = engines(mode)
        for message in queries():
            for bent in (message, *tricks(message)):
                for datagram in datagrams(bent):
                    for meta in METAS:
                        same(fast, slow, datagram, meta)
        same_state(fast, slow)


def test_a_blocked_udp_flow_stays_blocked_on_the_fast_path() -> None:
    # A malformed query in a group that fails closed (the walled garden)
    # blocks its flow; the same flow's next query, well formed, is dropped as
    # "already blocked" by both paths, and judged again once the entry expires.
    fast, slow = engines(Mode.WHITELIST)
    broken = ipv4(CLIENT4, SERVER4, 17, udp(40000, 53, dns_query("x.example")[:13]))
    good = ipv4(CLIENT4, SERVER4, 17, udp(40000, 53, dns_query("school.example")))
    assert same(fast, slow, broken, METAS[0]).action is Action.DROP
    assert same(fast, slow, good, METAS[0]).note == "flow already blocked"
    later = PacketMeta(NOW + fast.blocked.seconds + 1, "br-lan")
    verdict = same(fast, slow, good, later)
    assert verdict.action is Action.ACCEPT and verdict.decision is not None
    same_state(fast, slow)


def test_fast_and_general_paths_agree_on_random_flips_and_cuts() -> None:
    rng = random.Random(20261206)
    fast, slow = engines()
    bases = [d for m in queries() for d in datagrams(m)][:64]
    for _ in range(4000):
        data = bytearray(rng.choice(bases))
        for _flip in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.2:
            del data[rng.randrange(len(data)) :]
        same(fast, slow, bytes(data), rng.choice(METAS))
    same_state(fast, slow)


@settings(max_examples=300, deadline=None)
@given(
    message=st.one_of(
        st.binary(max_size=80),
        st.builds(
            lambda name, qtype, flip, at: _flipped(dns_query(name, qtype), flip, at),
            st.from_regex(r"[a-zA-Z0-9_.-]{1,40}", fullmatch=True),
            st.sampled_from([1, 28, 65, 255]),
            st.integers(0, 255),
            st.integers(0, 60),
        ),
    ),
    six=st.booleans(),
    ttl=st.integers(0, 255),
    sport=st.sampled_from([53, 5353, 40000]),
)
def test_fast_and_general_paths_agree_on_anything(
    message: bytes, six: bool, ttl: int, sport: int
) -> None:
    fast, slow = engines()
    body = udp(sport, 53, message)
    datagram = ipv6(CLIENT6, SERVER6, 17, body, ttl) if six else ipv4(CLIENT4, SERVER4, 17, body)
    for meta in METAS:
        same(fast, slow, datagram, meta)
    same_state(fast, slow)


def _flipped(message: bytes, value: int, at: int) -> bytes:
    if at >= len(message):
        return message
    return message[:at] + bytes([value]) + message[at + 1 :]
