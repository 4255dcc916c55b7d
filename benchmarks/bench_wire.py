"""Per-packet cost of copgate's wire core beside scapy's dissection, in one run.

Measures the path the daemon runs for every queued packet, from the IP
datagram the netfilter queue hands over to a question (``read_ip`` then
``FlowTracker.feed``), on real packets from ../shared/data/captures:

- a DNS query (UDP);
- a single-segment TLS ClientHello (Chrome, chrome.pcap);
- a two-segment ClientHello of Chromium's post-quantum size (1.9 KB, built by
  ``copgate.tools.samples`` and cut at a 1460-byte MSS: the captures hold no
  such hello),
  as the cost of both segments and per segment;
- a QUIC v1 Initial: "warm" when the Initial keys for its DCID are cached
  (every Initial after a connection's first), "cold" for a connection's first
  Initial (key derivation plus decryption), sealed here with fresh DCIDs.

Beside each, scapy dissects the same bytes (``IP(data)`` with its DNS and TLS
layers loaded, touching the name field). scapy does not decrypt QUIC, so its
QUIC figure is header parsing only, and it does not reassemble TCP, so its
two-segment figure is two independent dissections. Figures are medians of
several repeats of batches; the machine is shared, so read the ratios.

Run: .venv/bin/python benchmarks/bench_wire.py [--repeats N]
"""

from __future__ import annotations

import argparse
import statistics
import struct
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from copgate.tools.capture import read_capture  # noqa: E402
from copgate.tools.samples import client_hello, quic_initial  # noqa: E402
from copgate.wire.dns import read_dns_message  # noqa: E402
from copgate.wire.flows import FlowTracker, Limits, Seen  # noqa: E402
from copgate.wire.link import ip_datagram  # noqa: E402
from copgate.wire.packet import PROTO_TCP, PROTO_UDP, TCP_SYN, read_ip  # noqa: E402
from copgate.wire.quic import looks_like_quic_initial  # noqa: E402
from copgate.wire.tls import read_client_hello_records  # noqa: E402
from tests.wire.builders import with_checksum  # noqa: E402

CAPTURES = ROOT.parent / "shared" / "data" / "captures"
BATCH = 2000
MSS = 1460
BUDGETS_US = {"dns": 5.0, "tls-1seg": 15.0, "quic-warm": 60.0, "quic-cold": 60.0}


def datagrams(name: str) -> list[bytes]:
    out = []
    for frame in read_capture(CAPTURES / name):
        datagram = ip_datagram(frame.linktype, frame.data)
        if datagram is not None:
            out.append(datagram)
    return out


def with_port(datagram: bytes, port: int) -> bytes:
    """The same IPv4/IPv6 TCP or UDP datagram from another source port (a new flow).

    The transport checksum is computed again: the tracker drops a segment
    whose checksum is wrong, as the server would (captures taken on the
    sending host often hold offloaded, unfilled checksums too).
    """
    if datagram[0] >> 4 == 4:
        header, proto = (datagram[0] & 0x0F) * 4, datagram[9]
        src, dst = datagram[12:16], datagram[16:20]
        end = struct.unpack_from("!H", datagram, 2)[0]
    else:  # no extension headers in the datagrams used here
        header, proto = 40, datagram[6]
        src, dst = datagram[8:24], datagram[24:40]
        end = 40 + struct.unpack_from("!H", datagram, 4)[0]
    body = struct.pack("!H", port) + datagram[header + 2 : end]
    return datagram[:header] + with_checksum(src, dst, proto, body)


def first_dns_query() -> bytes:
    for datagram in datagrams("dns-google-nsid.pcapng"):
        packet = read_ip(datagram)
        if packet.proto == PROTO_UDP and packet.dport == 53:
            query = read_dns_message(packet.payload)
            if query.name.valid:  # the capture starts with a priming query for "."
                return datagram
    raise SystemExit("no DNS query found")


def hello_segments(capture: str, segments_wanted: int) -> list[bytes]:
    """The data segments of the first ClientHello that spans ``segments_wanted`` segments."""
    flows: dict[tuple[bytes, int], list[tuple[int, bytes]]] = {}
    done: set[tuple[bytes, int]] = set()
    for datagram in datagrams(capture):
        packet = read_ip(datagram)
        if packet.proto != PROTO_TCP or packet.flags & TCP_SYN or not packet.payload:
            continue
        key = (packet.src, packet.sport)
        starts_hello = packet.payload[:1] == b"\x16" and packet.payload[5:6] == b"\x01"
        if key in done or (key not in flows and not starts_hello):
            continue
        flows.setdefault(key, []).append((packet.seq, datagram))
        ordered = [d for _, d in sorted(flows[key])]
        stream = b"".join(read_ip(d).payload for d in ordered)
        if read_client_hello_records(stream) is not None:
            if len(ordered) == segments_wanted:
                return ordered
            done.add(key)
    raise SystemExit(f"no {segments_wanted}-segment ClientHello in {capture}")


def pq_hello_segments() -> list[bytes]:
    """A 1.9 KB ClientHello (an X25519MLKEM768 key share's size) in two segments."""
    hello = client_hello("www.example.org", ech=b"grease", padding=1700)
    assert 1800 < len(hello) < 2000, len(hello)
    src, dst = bytes([192, 0, 2, 10]), bytes([198, 51, 100, 80])
    out = []
    for start in (0, MSS):
        data = hello[start : start + MSS]
        tcp = struct.pack("!HHIIBBHHH", 40000, 443, 1000 + start, 0, 0x50, 0x18, 64240, 0, 0)
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40 + len(data), 0, 0x4000, 64, 6, 0, src, dst)
        out.append(ip + with_checksum(src, dst, PROTO_TCP, tcp + data))
    return out


def quic_datagram(capture: str) -> bytes:
    for datagram in datagrams(capture):
        packet = read_ip(datagram)
        if packet.proto == PROTO_UDP and looks_like_quic_initial(packet.payload):
            return datagram
    raise SystemExit(f"no QUIC Initial in {capture}")


def time_batch(run: Callable[[], None], repeats: int) -> float:
    """Median seconds of one call of ``run`` (which handles BATCH packets) per packet."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        samples.append((time.perf_counter() - start) / BATCH)
    return statistics.median(samples)


def copgate_runner(flows: Sequence[Sequence[bytes]]) -> Callable[[], None]:
    """Feed each flow's datagrams to one tracker; every flow must end in a question."""

    def run() -> None:
        # Every QUIC flow of a batch derives keys at once: the per-client key
        # rate would (rightly) refuse most of a batch from one address.
        tracker = FlowTracker(Limits(quic_keys_burst=float(BATCH)))
        for flow in flows:
            for datagram in flow:
                observation = tracker.feed(read_ip(datagram), 0.0)
            if observation.seen is not Seen.QUESTION:
                raise SystemExit(f"benchmark flow did not yield a question: {observation}")

    return run


def scapy_runner(
    flows: Sequence[Sequence[bytes]], field: Callable[[object], object]
) -> Callable[[], None]:
    from scapy.layers.inet import IP
    from scapy.layers.inet6 import IPv6

    def run() -> None:
        for flow in flows:
            for datagram in flow:
                layer = IP if datagram[0] >> 4 == 4 else IPv6
                field(layer(datagram))

    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    if not CAPTURES.is_dir():
        raise SystemExit(f"{CAPTURES} is absent: the benchmark reads the shared captures")
    import logging

    logging.getLogger("scapy").setLevel(logging.ERROR)
    from scapy.layers.dns import DNS
    from scapy.main import load_layer

    load_layer("tls")
    from scapy.layers.tls.record import TLS

    dns = first_dns_query()
    one = hello_segments("chrome.pcap", 1)
    two = pq_hello_segments()
    quic = quic_datagram("quic_0RTT.pcap")
    # Cold QUIC: the same real hello sealed under a fresh DCID per flow, so
    # every Initial derives its keys.
    real_hello = _quic_hello_bytes(quic)
    cold_initials = [
        with_port(_with_udp_payload(quic, quic_initial(real_hello, i.to_bytes(8, "big"))), 1024 + i)
        for i in range(BATCH)
    ]

    def ports(datagram_flow: list[bytes]) -> list[list[bytes]]:
        return [[with_port(d, 1024 + i) for d in datagram_flow] for i in range(BATCH)]

    cases = {
        "dns": ([[dns]] * BATCH, lambda p: p[DNS].qd.qname),
        "tls-1seg": (ports(one), lambda p: p.haslayer(TLS) and p[TLS].msg),
        "tls-2seg (both)": (ports(two), lambda p: p.haslayer(TLS) and p[TLS].msg),
        "quic-warm": (ports([quic]), lambda p: bytes(p.payload)),
        "quic-cold": ([[d] for d in cold_initials], lambda p: bytes(p.payload)),
    }
    print(f"{'case':18} {'copgate µs':>11} {'scapy µs':>9} {'scapy/copgate':>14}  budget")
    for case, (flows, field) in cases.items():
        mine = time_batch(copgate_runner(flows), args.repeats) * 1e6
        theirs = time_batch(scapy_runner(flows, field), max(3, args.repeats // 3)) * 1e6
        budget = BUDGETS_US.get(case)
        verdict = "" if budget is None else f"{budget:.0f} µs {'ok' if mine <= budget else 'OVER'}"
        print(f"{case:18} {mine:11.2f} {theirs:9.1f} {theirs / mine:14.1f}  {verdict}")
    two_seg = time_batch(copgate_runner(ports(two)), args.repeats) * 1e6
    print(f"{'tls-2seg per seg':18} {two_seg / 2:11.2f}")
    print("scapy: no TCP reassembly (each segment dissected alone); no QUIC decryption.")
    return 0


def _quic_hello_bytes(datagram: bytes) -> bytes:
    from copgate.wire.quic import read_initial_datagram

    initials = read_initial_datagram(read_ip(datagram).payload)
    assert initials
    frames = sorted((f.offset, f.data) for p in initials for f in p.crypto)
    return b"".join(data for _offset, data in frames)


def _with_udp_payload(template: bytes, payload: bytes) -> bytes:
    """``payload`` in the IP/UDP headers of ``template`` (IPv4 or IPv6), lengths fixed."""
    if template[0] >> 4 == 4:
        header = template[:20]
        total = 20 + 8 + len(payload)
        header = header[:2] + struct.pack("!H", total) + header[4:]
    else:
        header = template[:40]
        header = header[:4] + struct.pack("!H", 8 + len(payload)) + header[6:]
    udp = template[len(header) : len(header) + 4] + struct.pack("!HH", 8 + len(payload), 0)
    return header + udp + payload


if __name__ == "__main__":
    sys.exit(main())
