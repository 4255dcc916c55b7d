"""What watching costs: the decision ring on the packet path, its memory, and the socket.

The ring is the only part of status/log/stats on the packet path: every
decision with a name is recorded (``VerdictLog.__call__`` with a ring). This
script measures, in one run, side by side:

- the engine's own cost per DNS query (``Engine.judge``, the baseline: what
  the daemon already spends per decision), the verdict callback without a
  ring, and with a ring keeping allowed names and without (half the
  queries allowed, half blocked, over the lab's lists and config, the
  teen's group); the ratio says what recording adds to a decision;
- memory per held entry (``tracemalloc``, a ring filled to 100,000 entries
  with distinct names and 250 clients), beside the same entries as the
  log lines ``--verbose`` writes (the baseline a text log would hold);
- the control socket's answer times for ``status``-sized, ``log`` and
  ``stats`` requests over full rings of 1,000 and 100,000 entries
  (answered by a thread; the packet loop does not wait for them, but they
  hold the interpreter lock while they count).

Each time is the median of per-call ``perf_counter_ns`` over the batch, best
of ``--repeats`` batches. Nothing here touches the network.

Run: .venv/bin/python benchmarks/bench_ops.py [--repeats N] [--queries N]
"""

from __future__ import annotations

import argparse
import functools
import gc
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from copgate.config.load import load_config  # noqa: E402
from copgate.daemon.control import ring_handlers  # noqa: E402
from copgate.daemon.engine import Engine, PacketMeta, PacketVerdict  # noqa: E402
from copgate.daemon.ring import DecisionRing  # noqa: E402
from copgate.daemon.verdict_log import VerdictLog  # noqa: E402
from copgate.edges.control import ControlServer, ask  # noqa: E402
from copgate.lab.gateway import compile_lab_lists, write_config  # noqa: E402
from copgate.lists.listset import ListSet  # noqa: E402
from tests.wire.builders import dns_query, ipv4, udp  # noqa: E402

TEEN = bytes([192, 0, 2, 11])
RESOLVER = bytes([192, 0, 2, 1])
NOW = 1_790_000_000.0


def queries(count: int) -> list[bytes]:
    """DNS queries from the teen, alternately for an allowed and a blocked name."""
    out = []
    for i in range(count):
        name = f"host{i}.allowed.example" if i % 2 == 0 else f"host{i}.blocked.example"
        out.append(
            ipv4(TEEN, RESOLVER, 17, udp(20000 + i % 40000, 53, dns_query(name, 1, msg_id=i)))
        )
    return out


def per_call(run: Callable[[int], object], count: int, repeats: int) -> float:
    """Median ns per call of ``run(i)`` over ``count`` calls, best of ``repeats``."""
    best = float("inf")
    for _ in range(repeats):
        times = []
        gc.disable()
        for i in range(count):
            start = time.perf_counter_ns()
            run(i)
            times.append(time.perf_counter_ns() - start)
        gc.enable()
        best = min(best, statistics.median(times))
    return best


def packet_path(config_dir: Path, count: int, repeats: int) -> None:
    default, lab = compile_lab_lists(config_dir)
    config = load_config(write_config(config_dir, [default, lab]))
    lists = ListSet.open(config.settings.lists)
    packets = queries(count)
    meta = PacketMeta(NOW, "br-lan")

    def judge(i: int) -> object:
        return Engine.judge(engine, packets[i], meta)

    engine = Engine(config, lists, lists_built=float(lists.built))
    judge_ns = per_call(judge, count, repeats)
    verdicts: list[PacketVerdict] = [engine.judge(p, meta) for p in packets]
    blocked = sum(1 for v in verdicts if v.decision and v.decision.verdict.value == "block")
    rows = [("Engine.judge (the baseline)", judge_ns)]
    for title, ring in (
        ("verdict callback, no ring", None),
        ("verdict callback, ring keeping allowed names", DecisionRing(1000, True)),
        ("verdict callback, ring without allowed names", DecisionRing(1000, False)),
    ):
        log = VerdictLog(lambda: NOW, ring=ring)
        rows.append((title, per_call(functools.partial(_call, log, verdicts), count, repeats)))
    lists.close()
    print(f"packet path: {count:,} DNS queries, {blocked:,} blocked, best of {repeats}")
    print(f"| {'per decision':<48} | {'median':>9} | {'/ judge':>8} |")
    print(f"|{'-' * 50}|{'-' * 11}:|{'-' * 9}:|")
    for title, ns in rows:
        print(f"| {title:<48} | {ns / 1000:>6.2f} us | {ns / judge_ns:>7.1%} |")


def _call(log: VerdictLog, verdicts: Sequence[PacketVerdict], i: int) -> None:
    log(verdicts[i])


def fill(ring: DecisionRing, count: int) -> None:
    for i in range(count):
        ring.record(
            time=NOW + i / 100,
            client=f"192.168.1.{i % 250 + 2}",
            group="kids",
            kind="dns" if i % 3 else "tls",
            name=f"host{i}.blocked{i % 97}.example",
            verdict="block" if i % 2 else "allow",
            reason=f"blocked{i % 97}.example is listed in category gambling",
            category="gambling" if i % 2 else None,
            source="default" if i % 2 else None,
            rule="category" if i % 2 else "not_listed",
        )


def memory(count: int) -> None:
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    ring = DecisionRing(count, True)
    fill(ring, count)
    ring_bytes = tracemalloc.get_traced_memory()[0] - before
    entries = ring.entries()
    before = tracemalloc.get_traced_memory()[0]
    lines = [
        f"{e.verdict} {e.kind} {e.name} client={e.client}:53000 group={e.group} rule={e.rule} "
        f"list={e.source} category={e.category} match=None: {e.reason}"
        for e in entries
    ]
    lines_bytes = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del lines
    print(f"\nmemory: {count:,} entries (tracemalloc)")
    print(f"| {'held as':<34} | {'bytes/entry':>11} | {'total':>9} |")
    print(f"|{'-' * 36}|{'-' * 12}:|{'-' * 10}:|")
    for title, total in (("ring entries", ring_bytes), ("--verbose log lines (str)", lines_bytes)):
        print(f"| {title:<34} | {total / count:>11.0f} | {total / 1e6:>6.1f} MB |")
    print(f"| {'ratio ring / lines':<34} | {ring_bytes / lines_bytes:>11.2f} | {'':>9} |")


def socket_times(sizes: Sequence[int], repeats: int) -> None:
    print(f"\ncontrol socket: best of {repeats} requests, through ask() (connect, JSON both ways)")
    print(f"| {'request':<34} | {'1,000':>9} | {'100,000':>9} |")
    print(f"|{'-' * 36}|{'-' * 10}:|{'-' * 10}:|")
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            ring = DecisionRing(size, True)
            fill(ring, size)
            path = Path(tmp) / f"control-{size}.sock"
            server = ControlServer(
                path,
                {"status": lambda _p: {"ok": 1}, **ring_handlers(ring, lambda: NOW)},
                allowed_uids=frozenset({os.geteuid()}),
            )
            server.start()
            try:
                for title, command, params in (
                    ("status (a small object)", "status", {}),
                    ("log, last 50", "log", {"limit": 50}),
                    ("log, all held", "log", {}),
                    ("log --client, all held", "log", {"client": "192.168.1.9"}),
                    ("stats", "stats", {}),
                ):
                    best = float("inf")
                    for _ in range(repeats):
                        start = time.perf_counter()
                        ask(path, command, params, timeout=60)
                        best = min(best, time.perf_counter() - start)
                    results.setdefault(title, []).append(best)
            finally:
                server.close()
    for title, times in results.items():
        cells = " | ".join(f"{t * 1000:>6.2f} ms" for t in times)
        print(f"| {title:<34} | {cells} |")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--queries", type=int, default=20_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        packet_path(Path(tmp), args.queries, args.repeats)
    memory(100_000)
    socket_times((1_000, 100_000), max(1, args.repeats // 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
