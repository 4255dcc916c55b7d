"""The daemon's whole per-packet path for a cold DNS query, without the kernel, in one run.

``QueueEdge.drain`` serves queued packets as the daemon does (the nfnetlink
message read, the client's meta, ``Engine.judge``, the verdict batched, the
decision recorded by ``VerdictLog`` in the ring), but over a socket that hands
out prepared NFQNL_MSG_PACKET messages and swallows the verdicts: what is left
of the daemon's CPU per query is the two system calls a packet costs (a
``recv`` each, a ``send`` per 32) and the kernel's side of them. Beside it, in
the same run, its parts alone over the same packets: the edge with a judge
that accepts everything and no callback, ``Engine.judge`` over the payloads,
and ``VerdictLog`` over the verdicts. Cases alternate within each repeat, so
that a slow spell of the shared machine falls on all of them.

Setup as ``bench_gateway.py``'s DNS round: the lab's lists and corpus_840k
compiled, the lab config without the per-client rate, and top50k's names that
copgate lets through unchanged for the teens (``accepted_names``), each asked
once per batch from the teen client on ``br-lan``, so every query is cold (the
name memos and the policy's memo are emptied before each batch). The clock is
fixed at a plausible time outside the teens' window (``NOW``). Every timed batch is checked
after its timing: each packet accepted and counted ``dns:allow``, each
decision in the ring.

Run: .venv/bin/python benchmarks/bench_queue.py [--repeats N] [--names N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import types
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import cast
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_gateway  # noqa: E402
from bench_engine import dns_packet, forget_names  # noqa: E402

from copgate.config.load import load_config  # noqa: E402
from copgate.daemon.engine import Action, Engine, PacketMeta, PacketVerdict  # noqa: E402
from copgate.daemon.ring import DecisionRing  # noqa: E402
from copgate.daemon.verdict_log import VerdictLog  # noqa: E402
from copgate.edges import queue as queue_module  # noqa: E402
from copgate.edges.inject import Injector  # noqa: E402
from copgate.edges.nfqueue import (  # noqa: E402
    NFQA_HWADDR,
    NFQA_IFINDEX_INDEV,
    NFQA_IFINDEX_OUTDEV,
    NFQA_IFINDEX_PHYSINDEV,
    NFQA_PACKET_HDR,
    NFQA_PAYLOAD,
    NFQNL_MSG_PACKET,
    attribute,
    nfq_message,
)
from copgate.lab.gateway import compile_lab_lists, write_config  # noqa: E402
from copgate.lists.listset import ListSet  # noqa: E402
from copgate.policy.model import Config  # noqa: E402

DAY = 86_400
NOW = float((int(time.time()) // DAY + 1) * DAY + 12 * 3600)
"""Tomorrow at noon (the lab's timezone is UTC): after the lists' build time, so
the clock is plausible, and outside the teens' only window (23:00 to 06:00)."""
IFINDEX = 7
PORT_IFINDEX = 8
WAN_IFINDEX = 3
IFACE = "br-lan"
MAC = bytes.fromhex("020000000b11")
PACKETS_PER_DRAIN = 512
"""Packets waiting at each drain: the lab's dnsperf keeps the queue deep (about
640 packets a drain, ``perf stat`` of the daemon's epoll_wait and recvfrom)."""


def queued(packet_id: int, payload: bytes) -> bytes:
    """An NFQNL_MSG_PACKET as the kernel lays one out for a bridged LAN client."""
    # The order nfqnl_build_packet_message writes (seen in the lab): the header,
    # the bridge, its port (br_netfilter is loaded), the way out, the MAC, the packet.
    body = attribute(NFQA_PACKET_HDR, packet_id.to_bytes(4, "big") + b"\x08\x00\x02")
    body += attribute(NFQA_IFINDEX_INDEV, IFINDEX.to_bytes(4, "big"))
    body += attribute(NFQA_IFINDEX_PHYSINDEV, PORT_IFINDEX.to_bytes(4, "big"))
    body += attribute(NFQA_IFINDEX_OUTDEV, WAN_IFINDEX.to_bytes(4, "big"))
    body += attribute(NFQA_HWADDR, len(MAC).to_bytes(2, "big") + b"\0\0" + MAC + b"\0\0")
    body += attribute(NFQA_PAYLOAD, payload)[: 4 + len(payload)]  # last: no padding
    return nfq_message(NFQNL_MSG_PACKET, 0, body, flags=0, seq=0)


class FakeSocket:
    """``NfqueueSocket``'s part that ``QueueEdge`` uses, over prepared messages."""

    messages: Sequence[bytes] = ()
    """What the next socket made hands out, in order."""

    def __init__(self, queue_num: int, *, max_len: int, fail_open: bool) -> None:
        self.buffer = bytearray(70_000)
        self.enobufs = 0
        self.sent = 0
        self._messages = FakeSocket.messages
        self._next = 0
        self._left = 0

    def fill(self, count: int) -> None:
        """Let ``count`` more messages wait, as the kernel queue would."""
        self._left = count

    def done(self) -> bool:
        return self._next >= len(self._messages)

    def receive(self) -> int:
        if self._left <= 0 or self._next >= len(self._messages):
            return -1
        message = self._messages[self._next]
        self._next += 1
        self._left -= 1
        self.buffer[: len(message)] = message
        return len(message)

    def send(self, data: bytes) -> None:
        self.sent += 1

    def fileno(self) -> int:
        return -1

    def close(self) -> None:
        pass


class NoInjector:
    """Nothing is forged for allowed names; counts what would be."""

    def __init__(self) -> None:
        self.sent = 0

    def send(self, datagram: bytes) -> None:
        self.sent += 1


def fresh(config: Config) -> None:
    """Every name cold: the wire core's memos and the policy's emptied."""
    forget_names()
    for group in config.groups:
        group.memo.clear()


def edge(
    messages: Sequence[bytes],
    judge: Callable[[bytes, PacketMeta], PacketVerdict],
    on_verdict: Callable[[PacketVerdict], None] | None,
) -> tuple[queue_module.QueueEdge, FakeSocket]:
    FakeSocket.messages = messages
    queue = queue_module.QueueEdge(
        0, judge, cast(Injector, NoInjector()), on_verdict=on_verdict, max_len=4096
    )
    return queue, cast(FakeSocket, queue._socket)


def drain_all(queue: queue_module.QueueEdge, sock: FakeSocket) -> None:
    while not sock.done():
        sock.fill(PACKETS_PER_DRAIN)
        queue.drain()


def judge_all(engine: Engine, payloads: Sequence[bytes], meta: PacketMeta) -> None:
    judge = engine.judge
    for payload in payloads:
        judge(payload, meta)


def record_all(log: VerdictLog, verdicts: Sequence[PacketVerdict]) -> None:
    for verdict in verdicts:
        log(verdict)


def timed(run: Callable[[], None], count: int) -> float:
    start = time.process_time()
    run()
    return (time.process_time() - start) / count * 1e6


def one_repeat(
    config: Config, listset: ListSet, payloads: Sequence[bytes], messages: Sequence[bytes]
) -> dict[str, float]:
    """Each case once, over every packet; the µs per packet of each."""
    count = len(messages)
    out: dict[str, float] = {}
    fresh(config)
    engine = Engine(config, listset, lists_built=float(listset.built))
    ring = DecisionRing(config.settings.log_entries, config.settings.log_allowed)
    log = VerdictLog(lambda: NOW, ring=ring)
    queue, sock = edge(messages, engine.judge, log)
    out[WHOLE] = timed(lambda: drain_all(queue, sock), count)
    allowed = engine.counters.by_kind.get("dns:allow", 0)
    if allowed != count or ring.recorded != count:
        raise RuntimeError(f"{allowed} of {count} allowed, {ring.recorded} recorded")

    fixed = PacketVerdict(Action.ACCEPT)
    queue, sock = edge(messages, lambda payload, meta: fixed, None)
    out["edge alone (judge accepts, no log)"] = timed(lambda: drain_all(queue, sock), count)

    meta = PacketMeta(NOW, IFACE, ":".join(f"{b:02x}" for b in MAC))
    fresh(config)
    engine = Engine(config, listset, lists_built=float(listset.built))
    # Each verdict dropped as the daemon drops it: holding 20,000 of them would
    # time the garbage collector's walks over them too.
    out["Engine.judge alone"] = timed(lambda: judge_all(engine, payloads, meta), count)
    if engine.counters.by_kind.get("dns:allow", 0) != count:
        raise RuntimeError("Engine.judge did not allow every name")

    fresh(config)
    engine = Engine(config, listset, lists_built=float(listset.built))
    verdicts = [engine.judge(payload, meta) for payload in payloads]
    ring = DecisionRing(config.settings.log_entries, config.settings.log_allowed)
    log = VerdictLog(lambda: NOW, ring=ring)
    out["VerdictLog alone (ring keeping allowed names)"] = timed(
        lambda: record_all(log, verdicts), count
    )
    return out


WHOLE = "whole path (drain: read, judge, log)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--names", type=int, default=20_000)
    args = parser.parse_args()
    rows: dict[str, list[float]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="bench-queue-") as tmp,
        # Inside the queue edge, the clock is the fixed NOW; the socket is the fake;
        # the client's interface index is the lab's bridge, without asking the kernel.
        mock.patch.object(queue_module, "time", types.SimpleNamespace(time=lambda: NOW)),
        mock.patch.object(queue_module, "NfqueueSocket", FakeSocket),
        mock.patch.object(queue_module.QueueEdge, "_iface", lambda self, index: IFACE),
    ):
        workdir = Path(tmp)
        lists = (*compile_lab_lists(workdir), bench_gateway.compile_corpus(workdir))
        config = load_config(bench_gateway.unlimited(write_config(workdir, lists)))
        listset = ListSet.open(config.settings.lists)
        names = bench_gateway.accepted_names(lists)[: args.names]
        payloads = [dns_packet(name, 1024 + n % 60_000) for n, name in enumerate(names)]
        messages = [queued(n + 1, payload) for n, payload in enumerate(payloads)]
        try:
            for _repeat in range(args.repeats):
                for title, value in one_repeat(config, listset, payloads, messages).items():
                    rows.setdefault(title, []).append(value)
        finally:
            listset.close()

    print(f"{len(messages)} cold DNS queries (allowed, teens), {args.repeats} repeats, medians\n")
    print("| per query | µs |")
    print("|---|---:|")
    medians = {title: statistics.median(values) for title, values in rows.items()}
    for title, value in medians.items():
        print(f"| {title} | {value:.2f} |")
    parts = sum(value for title, value in medians.items() if title != WHOLE)
    print(f"| whole less its parts (the callback, cache effects) | {medians[WHOLE] - parts:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
