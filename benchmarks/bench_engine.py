"""Per-packet cost of the daemon's engine beside the wire core alone, in one run.

Measures ``Engine.judge``, the whole pure path the daemon runs for every
queued packet (read the datagram, feed the flow tracker, find the client's
group, decide, forge what a block injects), against the budget of about
20 µs per DNS packet for the whole daemon (the netfilter queue's own round
trip, about 17 µs, is not in these figures). Beside each case the wire core
alone (``read_ip`` then ``FlowTracker.feed``, as bench_wire.py measures it)
runs on the same packets, so ``engine - wire`` is what group lookup, policy,
the list lookup and forging add.

Setup as in the lab: the default lists and the lab list compiled by
``copgate.lab.gateway.compile_lab_lists``, the lab's school config written
by ``write_config`` and loaded by ``copgate.config.load.load_config``, the
caches opened as a ``ListSet``. Every packet comes from the teen client
192.0.2.11 on ``br-lan`` (group ``teens``: a category filter blocking adult,
gambling and social networks, with safe search) at a fixed time outside the
group's windows. Cases, each a batch of packets that are each a new flow
(own source port), over IPv4:

- a DNS A query (with EDNS) allowed: a different name of top50k.txt per packet;
- the same, one name for every packet (the wire core's name memo hits);
- a DNS A query blocked: names of the gambling, adult and social_networks
  list files (the engine forges NXDOMAIN with an Extended DNS Error);
- the same, one name for every packet (the name, decision and answer memos hit);
- a single-segment TLS ClientHello allowed, and one blocked (RSTs forged);
- a QUIC v1 Initial allowed, a connection's first (a fresh DCID, so its
  keys are derived).

Allowed names are top50k names that the engine allows as DNS queries for the
teens (safe-search names, which get a CNAME, and names of blocked categories
are left out); blocked names are list names that it blocks by their
category. Every verdict of every timed batch is checked after its timing
(kind, group, verdict, the deciding rule for a block, action, how many
packets are injected), so the figures cannot silently come from another
path. The name memos of the wire core and the policy's memo (``Group.memo``:
its plans, windows and DNS decisions) are emptied before every batch (outside
the timing), so engine and wire both see names they have not normalised or
judged yet, except in the one-name cases, where the memos hit after the
first. Engine and wire batches alternate, so that a slow spell of the shared
machine falls on both.

Nothing here touches the network: packets are bytes built in memory and the
engine's forged packets are only counted.

Run: .venv/bin/python benchmarks/bench_engine.py [--repeats N] [--profile]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import copgate  # noqa: E402
from copgate.config.load import load_config  # noqa: E402
from copgate.daemon.engine import Action, Engine, PacketMeta, PacketVerdict  # noqa: E402
from copgate.lab.gateway import compile_lab_lists, write_config  # noqa: E402
from copgate.lists.listset import ListSet  # noqa: E402
from copgate.policy.decision import RuleKind, Verdict  # noqa: E402
from copgate.policy.model import Config  # noqa: E402
from copgate.tools.samples import client_hello, quic_initial  # noqa: E402
from copgate.wire import dns as wire_dns  # noqa: E402
from copgate.wire import names as wire_names  # noqa: E402
from copgate.wire.flows import FlowTracker, Limits, Observation, Seen  # noqa: E402
from copgate.wire.packet import PROTO_TCP, PROTO_UDP, read_ip  # noqa: E402
from copgate.wire.question import Kind  # noqa: E402
from tests.wire.builders import dns_query, ipv4, tcp, udp  # noqa: E402

NAMES = ROOT.parent / "shared" / "data" / "names" / "top50k.txt"
LIST_FILES = ("gambling.txt", "adult.txt", "social_networks.txt")
BATCH = 2000
DNS_BUDGET_US = 20.0
LIMITS = Limits(quic_keys_burst=2.0 * BATCH)
"""The tracker's bounds, but for the per-client QUIC key rate: every packet of a
batch comes from one client at one instant, and the cold QUIC row measures the
key derivation itself, not the throttle that refuses most of a burst."""
TEEN = bytes([192, 0, 2, 11])
RESOLVER = bytes([198, 51, 100, 53])
WEB = bytes([203, 0, 113, 80])
IFACE = "br-lan"
GROUP = "teens"
NOW = 1_795_608_000.0  # 2026-11-25 (a Wednesday) 12:00 UTC: no window of the group in force
EDNS_SIZE = 1232  # what stub resolvers and browsers offer today
FIRST_PORT = 20000

T = TypeVar("T")


@dataclass(frozen=True)
class Case:
    """One row of the table: packets that are each a flow, and what they must yield."""

    title: str
    kind: Kind
    verdict: Verdict
    action: Action
    packets: Sequence[bytes]
    rule: RuleKind | None = None
    """The rule that must decide, when the case names one."""

    @property
    def injected(self) -> int:
        """How many packets the engine must inject: a DNS answer, or RSTs both ways."""
        if self.verdict is not Verdict.BLOCK:
            return 0
        return {Kind.DNS: 1, Kind.TLS: 2}.get(self.kind, 0)


# -- setup ---------------------------------------------------------------------------


def lab_config(workdir: Path) -> tuple[Config, ListSet]:
    """The lab's compiled lists and school config, loaded as the daemon loads them."""
    default, lab = compile_lab_lists(workdir)
    config = load_config(write_config(workdir, [default, lab]))
    return config, ListSet.open(config.settings.lists)


def new_engine(config: Config, lists: ListSet) -> Engine:
    return Engine(config, lists, lists_built=float(lists.built), limits=LIMITS)


def list_names(categories_dir: Path) -> list[str]:
    out = []
    for file in LIST_FILES:
        for line in (categories_dir / file).read_text().splitlines():
            name = line.strip()
            if name and not name.startswith("#"):
                out.append(name)
    return out


def dns_packet(name: str, port: int) -> bytes:
    query = dns_query(name, 1, msg_id=port, edns=EDNS_SIZE)
    return ipv4(TEEN, RESOLVER, PROTO_UDP, udp(port, 53, query))


def tls_packet(name: str, port: int) -> bytes:
    """A ClientHello in one segment, as most are (a non-post-quantum hello)."""
    return ipv4(TEEN, WEB, PROTO_TCP, tcp(port, 443, 1000, client_hello(name, ech=b"grease")))


def quic_packet(name: str, port: int) -> bytes:
    dcid = port.to_bytes(8, "big")
    initial = quic_initial(client_hello(name, records=False), dcid)
    return ipv4(TEEN, WEB, PROTO_UDP, udp(port, 443, initial))


def pick(
    candidates: Sequence[str],
    engine: Engine,
    verdict: Verdict,
    rule: RuleKind | None,
    count: int,
    rng: random.Random,
) -> list[str]:
    """``count`` candidates, in random order, whose DNS query gets ``verdict`` (by ``rule``)."""
    out: list[str] = []
    shuffled = list(candidates)
    rng.shuffle(shuffled)
    for index, name in enumerate(shuffled):
        result = engine.judge(dns_packet(name, 1024 + index % 60000), PacketMeta(NOW, IFACE))
        decision = result.decision
        if decision and decision.verdict is verdict and rule in (None, decision.rule):
            out.append(name)
            if len(out) == count:
                return out
    raise SystemExit(f"only {len(out)} of {len(candidates)} names get {verdict}")


def cases(config: Config, lists: ListSet, names: Path) -> list[Case]:
    rng = random.Random(2026)
    probe = new_engine(config, lists)
    top = [line.strip() for line in names.read_text().splitlines() if line.strip()]
    allowed = pick(top, probe, Verdict.ALLOW, None, BATCH, rng)
    candidates = list_names(ROOT / "lists" / "categories")
    blocked = pick(candidates, probe, Verdict.BLOCK, RuleKind.CATEGORY, BATCH, rng)
    ports = range(FIRST_PORT, FIRST_PORT + BATCH)
    allow, block = Verdict.ALLOW, Verdict.BLOCK
    return [
        Case(
            "dns allow",
            Kind.DNS,
            allow,
            Action.ACCEPT,
            [dns_packet(n, p) for n, p in zip(allowed, ports, strict=True)],
        ),
        Case(
            "dns allow, 1 name",
            Kind.DNS,
            allow,
            Action.ACCEPT,
            [dns_packet(allowed[0], p) for p in ports],
        ),
        Case(
            "dns block",
            Kind.DNS,
            block,
            Action.DROP,
            [dns_packet(n, p) for n, p in zip(blocked, ports, strict=True)],
            RuleKind.CATEGORY,
        ),
        Case(
            "dns block, 1 name",
            Kind.DNS,
            block,
            Action.DROP,
            [dns_packet(blocked[0], p) for p in ports],
            RuleKind.CATEGORY,
        ),
        Case(
            "tls allow",
            Kind.TLS,
            allow,
            Action.DECIDED,
            [tls_packet(n, p) for n, p in zip(allowed, ports, strict=True)],
        ),
        Case(
            "tls block",
            Kind.TLS,
            block,
            Action.DROP,
            [tls_packet(n, p) for n, p in zip(blocked, ports, strict=True)],
            RuleKind.CATEGORY,
        ),
        Case(
            "quic allow (cold)",
            Kind.QUIC,
            allow,
            Action.DECIDED,
            [quic_packet(n, p) for n, p in zip(allowed, ports, strict=True)],
        ),
    ]


# -- checks --------------------------------------------------------------------------


def check_engine(case: Case, verdicts: Sequence[PacketVerdict]) -> None:
    """Every packet took the case's path: kind, group, verdict, rule, action, injection."""
    for verdict in verdicts:
        decision, question = verdict.decision, verdict.question
        ok = (
            decision is not None
            and question is not None
            and question.kind is case.kind
            and decision.group == GROUP
            and decision.verdict is case.verdict
            and case.rule in (None, decision.rule)
            and verdict.action is case.action
            and len(verdict.inject) == case.injected
        )
        if not ok:
            raise SystemExit(f"{case.title}: unexpected verdict {verdict}")


def check_wire(case: Case, observations: Sequence[Observation]) -> None:
    for observation in observations:
        if observation.seen is not Seen.QUESTION or observation.questions[0].kind is not case.kind:
            raise SystemExit(f"{case.title}: the wire core saw {observation}")


# -- timing --------------------------------------------------------------------------


def forget_names() -> None:
    """Empty the wire core's name memos, so that every batch normalises its names."""
    wire_names._CACHE.clear()
    wire_dns._WIRE_NAMES.clear()


def engine_run(case: Case, config: Config, lists: ListSet) -> Callable[[], list[PacketVerdict]]:
    """A fresh engine (no flow state, no remembered decisions) judging the case's packets."""
    forget_names()
    for group in config.groups:
        group.memo.clear()  # the policy's memo lives on the config's groups
    judge = new_engine(config, lists).judge
    meta = PacketMeta(NOW, IFACE)
    packets = case.packets
    return lambda: [judge(datagram, meta) for datagram in packets]


def wire_run(case: Case) -> Callable[[], list[Observation]]:
    """A fresh flow tracker fed the case's packets, as bench_wire.py does."""
    forget_names()
    feed = FlowTracker(LIMITS).feed
    packets = case.packets
    return lambda: [feed(read_ip(datagram), NOW) for datagram in packets]


def timed(run: Callable[[], list[T]]) -> tuple[float, list[T]]:
    """Seconds per packet of one batch, and what it returned."""
    start = time.perf_counter()
    results = run()
    return (time.perf_counter() - start) / BATCH, results


def measure(case: Case, config: Config, lists: ListSet, repeats: int) -> tuple[float, float]:
    """Median seconds per packet of the engine and of the wire core alone.

    Their batches alternate, so that a slow spell of the shared machine falls
    on both; every batch's results are checked after its timing.
    """
    engine, wire = [], []
    for _ in range(repeats):
        seconds, verdicts = timed(engine_run(case, config, lists))
        check_engine(case, verdicts)
        engine.append(seconds)
        seconds, observations = timed(wire_run(case))
        check_wire(case, observations)
        wire.append(seconds)
    return statistics.median(engine), statistics.median(wire)


def profile(case: Case, config: Config, lists: ListSet, repeats: int, top: int) -> None:
    """cProfile of the engine over ``repeats`` batches of ``case``: top rows by cumulative
    and by own time."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    for _ in range(repeats):
        run = engine_run(case, config, lists)
        profiler.enable()
        run()
        profiler.disable()
    stats = pstats.Stats(profiler).strip_dirs()
    print(f"\n== profile: {case.title}, {repeats} x {BATCH} packets, by cumulative time")
    stats.sort_stats("cumulative").print_stats(top)
    print(f"== profile: {case.title}, by own time")
    stats.sort_stats("tottime").print_stats(top)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument(
        "--names", type=Path, default=NAMES, help=f"the allowed names' source (default {NAMES})"
    )
    parser.add_argument(
        "--profile", action="store_true", help="also cProfile the DNS allow and block cases"
    )
    args = parser.parse_args()
    if not args.names.is_file():
        raise SystemExit(f"{args.names} is absent: the benchmark reads the shared top50k names")
    with tempfile.TemporaryDirectory(prefix="bench-engine-") as workdir:
        config, lists = lab_config(Path(workdir))
        try:
            rows = cases(config, lists, args.names)
            print(
                f"{'case':18} {'engine µs':>10} {'wire µs':>8} {'engine-wire':>12}"
                f" {'engine/wire':>12} {'of 20 µs':>9}"
            )
            for case in rows:
                engine, wire = measure(case, config, lists, args.repeats)
                engine_us, wire_us = engine * 1e6, wire * 1e6
                print(
                    f"{case.title:18} {engine_us:10.2f} {wire_us:8.2f} {engine_us - wire_us:12.2f}"
                    f" {engine_us / wire_us:12.2f} {engine_us / DNS_BUDGET_US:9.0%}"
                )
            print(
                f"median of {args.repeats} batches of {BATCH} packets, each a new flow;"
                f" copgate from {Path(copgate.__file__).parent}"
            )
            if args.profile:
                for case in rows:
                    if case.title in ("dns allow", "dns block"):
                        profile(case, config, lists, max(3, args.repeats // 3), 30)
        finally:
            lists.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
