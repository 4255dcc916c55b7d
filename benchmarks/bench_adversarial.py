"""Per-packet cost of the engine under an evader's packet streams, and a bystander's verdicts.

Feeds the pure ``Engine.judge`` (the whole path the daemon runs for each
queued packet) streams that an evader on the LAN can send at will, each
built to make per-flow state expensive:

- one-byte segments: a blocked ClientHello one byte per segment, 32 flows;
- overlapping segments: 64-byte pieces every 8 bytes, sent from the hello's
  end back to its start, so every piece is held out of order until the
  last one, 32 flows;
- random offsets: 1,024 pieces of 1 to 64 bytes of one stream at random
  offsets under 30,000 that never include offset 0, so nothing completes
  and overlapping pieces agree, 16 flows;
- 4,096 SYNs from one client, each a new flow;
- random QUIC DCIDs: 1,024 Initials, each with a DCID never seen, so each
  costs an Initial key derivation (RFC 9001 §5.2).

Meanwhile a second client (the teen, 192.0.2.11 on ``br-lan``, group
``teens``) sends its own traffic, one packet after every 16 of the
evader's: DNS queries and single-segment ClientHellos, each a new flow,
alternately for an allowed and a blocked name. Every one of its verdicts
is checked (allow: accepted, the TLS flow marked decided; block: dropped),
so the table shows that the evader's streams did not change how the other
client is judged. The evader is the ``lan2`` client (203.0.113.10, group
``lab2``, the school template), with the lab's lists and config as in
bench_engine.py.

Each packet is timed on its own (``perf_counter_ns`` around one
``judge``), a fresh engine per run, the simulated clock advancing 100 µs
per packet (``--no-gc`` turns Python's cyclic GC off while timing, to tell
its pauses from the engine's own). Per scenario the table gives the median and the 99.9th
percentile over every packet of every run, the worst packet of the
quietest run (the lowest of the runs' maxima: the machine is shared, and
one preemption makes a worst of milliseconds) and of all runs, and how many
packets per run took over the 50 µs target (median over runs). Nothing
here touches the network.

Run: .venv/bin/python benchmarks/bench_adversarial.py [--repeats N]
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import copgate  # noqa: E402
from copgate.config.load import load_config  # noqa: E402
from copgate.daemon.engine import Action, Engine, PacketMeta, PacketVerdict  # noqa: E402
from copgate.lab.gateway import compile_lab_lists, write_config  # noqa: E402
from copgate.lists.listset import ListSet  # noqa: E402
from copgate.policy.decision import Verdict  # noqa: E402
from copgate.policy.model import Config  # noqa: E402
from copgate.tools.samples import client_hello, quic_initial  # noqa: E402
from copgate.wire.packet import PROTO_TCP, PROTO_UDP, TCP_ACK, TCP_SYN  # noqa: E402
from tests.wire.builders import dns_query, ipv4, tcp, udp  # noqa: E402

EVADER = bytes([203, 0, 113, 10])
EVADER_IFACE = "lan2"
VICTIM = bytes([192, 0, 2, 11])
VICTIM_IFACE = "br-lan"
VICTIM_GROUP = "teens"
SERVER = bytes([198, 51, 100, 81])
RESOLVER = bytes([198, 51, 100, 53])
BLOCKED = "blocked.example"
ALLOWED = "allowed.example"
NOW = 1_795_608_000.0  # 2026-11-25 (a Wednesday) 12:00 UTC: no window of any group in force
TCP_PSH = 0x08  # RFC 9293 §3.1
TICK = 1e-4
"""Simulated seconds between two packets."""
EVERY = 16
"""One packet of the other client after this many of the evader's."""
TARGET_US = 50.0
ISN = 1_000_000
FIRST_PORT = 10_000
SYNS = 4096
QUIC_INITIALS = 1024
RANDOM_PIECES = 1024
RANDOM_SPAN = 30_000
HELLO_PADDING = 400
"""Padding of the evader's hellos: about 500 bytes, as OpenSSL's and Chromium's are."""


# -- the evader's streams ---------------------------------------------------------


def _segment(port: int, offset: int, data: bytes) -> bytes:
    body = tcp(port, 443, (ISN + 1 + offset) % (1 << 32), data, TCP_ACK | TCP_PSH)
    return ipv4(EVADER, SERVER, PROTO_TCP, body)


def _syn(port: int) -> bytes:
    return ipv4(EVADER, SERVER, PROTO_TCP, tcp(port, 443, ISN, b"", TCP_SYN))


def one_byte_segments(flows: int = 32) -> list[bytes]:
    hello = client_hello(BLOCKED, padding=HELLO_PADDING)
    out: list[bytes] = []
    for flow in range(flows):
        port = FIRST_PORT + flow
        out.append(_syn(port))
        out += [_segment(port, at, hello[at : at + 1]) for at in range(len(hello))]
    return out


def overlapping_segments(flows: int = 32, size: int = 64, step: int = 8) -> list[bytes]:
    hello = client_hello(BLOCKED, padding=HELLO_PADDING)
    out: list[bytes] = []
    for flow in range(flows):
        port = FIRST_PORT + flow
        out.append(_syn(port))
        starts = range(len(hello) - size, -1, -step)
        out += [_segment(port, at, hello[at : at + size]) for at in starts]
        out.append(_segment(port, 0, hello[:size]))
    return out


def random_offsets(flows: int = 16) -> list[bytes]:
    # Slices of one stream per flow, so overlapping pieces agree (a conflict
    # would end the flow at once): the reassembly itself is what is measured.
    rng = random.Random(9)
    out: list[bytes] = []
    for flow in range(flows):
        port = FIRST_PORT + flow
        stream = rng.randbytes(RANDOM_SPAN + 64)
        out.append(_syn(port))
        for _ in range(RANDOM_PIECES):
            at, size = rng.randrange(1, RANDOM_SPAN), rng.randint(1, 64)
            out.append(_segment(port, at, stream[at : at + size]))
    return out


def syn_burst() -> list[bytes]:
    return [_syn(FIRST_PORT + number) for number in range(SYNS)]


def quic_dcids() -> list[bytes]:
    rng = random.Random(10)
    hello = client_hello(ALLOWED, records=False)
    out = []
    for number in range(QUIC_INITIALS):
        initial = quic_initial(hello, rng.randbytes(8))
        out.append(ipv4(EVADER, SERVER, PROTO_UDP, udp(FIRST_PORT + number, 443, initial)))
    return out


SCENARIOS: dict[str, Callable[[], list[bytes]]] = {
    "one-byte segments": one_byte_segments,
    "overlapping segments": overlapping_segments,
    "random offsets": random_offsets,
    "4096 SYNs": syn_burst,
    "random QUIC DCIDs": quic_dcids,
}


# -- the other client ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Expected:
    """One packet of the other client and the verdict it must get."""

    datagram: bytes
    verdict: Verdict
    action: Action


def victim_packets(count: int) -> list[Expected]:
    out: list[Expected] = []
    for number in range(count):
        port = 40_000 + number % 20_000
        name = (ALLOWED, BLOCKED)[number % 2]
        verdict = (Verdict.ALLOW, Verdict.BLOCK)[number % 2]
        if number % 4 < 2:
            query = dns_query(name, 1, msg_id=port)
            datagram = ipv4(VICTIM, RESOLVER, PROTO_UDP, udp(port, 53, query))
            action = Action.ACCEPT if verdict is Verdict.ALLOW else Action.DROP
        else:
            body = tcp(port, 443, ISN + 1, client_hello(name), TCP_ACK | TCP_PSH)
            datagram = ipv4(VICTIM, SERVER, PROTO_TCP, body)
            action = Action.DECIDED if verdict is Verdict.ALLOW else Action.DROP
        out.append(Expected(datagram, verdict, action))
    return out


def judged_normally(expected: Expected, got: PacketVerdict) -> bool:
    decision = got.decision
    return (
        decision is not None
        and decision.group == VICTIM_GROUP
        and decision.verdict is expected.verdict
        and got.action is expected.action
    )


# -- timing -------------------------------------------------------------------------


@dataclass(slots=True)
class Run:
    evader_ns: list[int]
    victim_ns: list[int]
    victim_ok: int
    victim_total: int


def one_run(
    config: Config, lists: ListSet, evader: Sequence[bytes], *, collect: bool = True
) -> Run:
    """A fresh engine judging the evader's packets, the other client's among them."""
    engine = Engine(config, lists, lists_built=float(lists.built))
    victims = victim_packets(len(evader) // EVERY + 1)
    gc.collect()
    if not collect:
        gc.disable()
    try:
        return _timed_run(engine.judge, evader, victims, time.perf_counter_ns)
    finally:
        gc.enable()


def _timed_run(
    judge: Callable[[bytes, PacketMeta], PacketVerdict],
    evader: Sequence[bytes],
    victims: Sequence[Expected],
    clock: Callable[[], int],
) -> Run:
    evader_meta = PacketMeta(NOW, EVADER_IFACE)
    evader_ns: list[int] = []
    victim_ns: list[int] = []
    ok = 0
    for index, datagram in enumerate(evader):
        now = NOW + index * TICK
        start = clock()
        judge(datagram, evader_meta._replace(now=now))
        evader_ns.append(clock() - start)
        if index % EVERY == EVERY - 1:
            expected = victims[index // EVERY]
            meta = PacketMeta(now, VICTIM_IFACE)
            start = clock()
            got = judge(expected.datagram, meta)
            victim_ns.append(clock() - start)
            ok += judged_normally(expected, got)
    return Run(evader_ns, victim_ns, ok, len(victim_ns))


def percentile(sorted_values: Sequence[int], fraction: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))] / 1e3


def lab_config(workdir: Path) -> tuple[Config, ListSet]:
    """The lab's compiled lists and school config, loaded as the daemon loads them."""
    default, lab = compile_lab_lists(workdir)
    config = load_config(write_config(workdir, [default, lab]))
    return config, ListSet.open(config.settings.lists)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", choices=sorted(SCENARIOS), action="append")
    parser.add_argument(
        "--no-gc",
        action="store_true",
        help="disable Python's cyclic GC while timing (to tell its pauses from the engine's)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-adversarial-") as workdir:
        config, lists = lab_config(Path(workdir))
        try:
            print(
                f"{'scenario':22} {'who':7} {'packets':>8} {'median µs':>10} {'p99.9 µs':>9}"
                f" {'worst µs':>9} {'worst, all':>10} {'>50 µs':>7} {'judged ok':>10}"
            )
            for title, build in SCENARIOS.items():
                if args.only and title not in args.only:
                    continue
                evader = build()
                runs = [
                    one_run(config, lists, evader, collect=not args.no_gc)
                    for _ in range(args.repeats)
                ]
                for who in ("evader", "other"):
                    per_run = [r.evader_ns if who == "evader" else r.victim_ns for r in runs]
                    every = sorted(ns for run in per_run for ns in run)
                    worsts = [max(run) / 1e3 for run in per_run]
                    over = statistics.median(
                        sum(ns > TARGET_US * 1e3 for ns in run) for run in per_run
                    )
                    ok = (
                        f"{sum(r.victim_ok for r in runs)}/{sum(r.victim_total for r in runs)}"
                        if who == "other"
                        else ""
                    )
                    print(
                        f"{title if who == 'evader' else '':22} {who:7} {len(per_run[0]):8}"
                        f" {statistics.median(every) / 1e3:10.2f} {percentile(every, 0.999):9.1f}"
                        f" {min(worsts):9.1f} {max(worsts):10.1f} {over:7g} {ok:>10}"
                    )
            print(
                f"{args.repeats} runs per scenario, a fresh engine each; worst = the lowest"
                f" of the runs' worst packets; >50 µs = packets per run over {TARGET_US:g} µs"
                f" (median of runs); GC {'off' if args.no_gc else 'on'} while timing;"
                f" copgate from {Path(copgate.__file__).parent}"
            )
        finally:
            lists.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
