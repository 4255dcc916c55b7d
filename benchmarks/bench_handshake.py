"""The engine's cost for each packet a new TLS connection queues, beside an older copgate.

A new TLS connection through the gateway queues four packets to the daemon,
each on the connection's critical path: the client's SYN, the server's
SYN-ACK, the client's ACK, and the ClientHello (judged allowed, so its flow is
marked decided and the kernel passes the rest). This times ``Engine.judge``
for each of the four, connection after connection, as ``bench_gateway.py``'s
TLS client opens them (one after another); the figure that matters for its
connections/s is the sum.

The packets are what a Linux client and server send: the SYN and SYN-ACK
carry MSS, SACK-permitted, timestamps and window scale options, the ACK and
the hello the timestamps option; the hello is Firefox's (``firefox.pcap``,
517 bytes, SNI ``www.iit.cnr.it``); every checksum is right. Each connection
has its own source port and sequence numbers. Setup as in the lab (and as
``bench_engine.py``): the default and lab lists compiled, the lab's school
config, the teen client 192.0.2.11 on ``br-lan``.

After each timed repeat every verdict is checked (outside the timing): the
SYN, SYN-ACK and ACK accepted, the hello a TLS question for the teens judged
allowed and ``Action.DECIDED``, so the figures cannot come from a broken path.

``--against REF`` measures another copgate in the same run: the git revision
REF of this repository (``git archive``d to a temporary directory) and this
tree each run in a child process, and their repeats alternate, so that a slow
spell of the shared machine falls on both. Figures are medians of repeats.

Nothing here touches the network: packets are bytes built in memory.

Run: .venv/bin/python benchmarks/bench_handshake.py [--repeats N] [--against REF]
"""

from __future__ import annotations

import argparse
import json
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CAPTURES = ROOT.parent / "shared" / "data" / "captures"
HELLO_CAPTURE = "firefox.pcap"
KINDS = ("SYN", "SYN-ACK", "ACK", "hello")
CONNECTIONS = 2000
TEEN = bytes([192, 0, 2, 11])
WEB = bytes([203, 0, 113, 80])
IFACE, WAN = "br-lan", "wan"
MAC = "02:00:00:00:0b:11"
NOW = 1_795_608_000.0  # 2026-11-25 (a Wednesday) 12:00 UTC: no window of the teens in force
GROUP = "teens"
FIRST_PORT = 20000
SYN, ACK, PSH = 0x02, 0x10, 0x08
TTL = 64
# What Linux puts in a SYN and its SYN-ACK: MSS 1460, SACK permitted, timestamps,
# NOP, window scale 7 (RFC 9293 §3.2, RFC 2018, RFC 7323); later segments carry
# NOP, NOP, timestamps.
SYN_OPTIONS = "020405b4 0402 080a{tsval:08x}{tsecr:08x} 01 030307"
DATA_OPTIONS = "0101 080a{tsval:08x}{tsecr:08x}"

Sample = dict[str, float]
"""Seconds per connection spent judging each kind of packet, in one repeat."""


def segment(
    src: tuple[bytes, int],
    dst: tuple[bytes, int],
    numbers: tuple[int, int],
    flags: int,
    options: str,
    payload: bytes = b"",
) -> bytes:
    """An IPv4 datagram holding a TCP segment with ``options`` (hex) and a right checksum."""
    from tests.wire.builders import ipv4

    (saddr, sport), (daddr, dport) = src, dst
    seq, ack = numbers
    raw = bytes.fromhex(options.replace(" ", ""))
    raw += bytes(-len(raw) % 4)
    offset = (5 + len(raw) // 4) << 4
    header = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, offset, flags, 64240, 0, 0)
    return ipv4(saddr, daddr, 6, header + raw + payload, ttl=TTL)


def firefox_hello(captures: Path) -> bytes:
    """The payload of the capture's first ClientHello segment."""
    from copgate.tools.capture import read_capture
    from copgate.wire.link import ip_datagram
    from copgate.wire.packet import read_ip

    for frame in read_capture(captures / HELLO_CAPTURE):
        datagram = ip_datagram(frame.linktype, frame.data)
        if datagram is None:
            continue
        payload = read_ip(datagram).payload
        if payload[:1] == b"\x16" and payload[5:6] == b"\x01":
            return payload
    raise SystemExit(f"no ClientHello in {captures / HELLO_CAPTURE}")


def connections(hello: bytes) -> list[tuple[bytes, bytes, bytes, bytes]]:
    """SYN, SYN-ACK, ACK and hello of each connection, as a Linux client and server send them."""
    out = []
    for index in range(CONNECTIONS):
        client, server = (TEEN, FIRST_PORT + index), (WEB, 443)
        isn, iss = (0x1000_0000 + index * 7919) % (1 << 32), (0x8000_0000 + index * 104729)
        tsc, tss = 1_000_000 + index * 10, 5_000_000 + index * 10
        out.append(
            (
                segment(client, server, (isn, 0), SYN, SYN_OPTIONS.format(tsval=tsc, tsecr=0)),
                segment(
                    server,
                    client,
                    (iss, isn + 1),
                    SYN | ACK,
                    SYN_OPTIONS.format(tsval=tss, tsecr=tsc),
                ),
                segment(
                    client,
                    server,
                    (isn + 1, iss + 1),
                    ACK,
                    DATA_OPTIONS.format(tsval=tsc + 1, tsecr=tss),
                ),
                segment(
                    client,
                    server,
                    (isn + 1, iss + 1),
                    ACK | PSH,
                    DATA_OPTIONS.format(tsval=tsc + 1, tsecr=tss),
                    hello,
                ),
            )
        )
    return out


def prepare(workdir: Path, captures: Path) -> Callable[[], Sample]:
    """One repeat's measurement over the copgate on ``sys.path``: a fresh engine each time."""
    from copgate.config.load import load_config
    from copgate.daemon.engine import Action, Engine, PacketMeta, PacketVerdict
    from copgate.lab.gateway import compile_lab_lists, write_config
    from copgate.lists.listset import ListSet
    from copgate.policy.decision import Verdict
    from copgate.wire.question import Kind

    default, lab = compile_lab_lists(workdir)
    config = load_config(write_config(workdir, [default, lab]))
    lists = ListSet.open(config.settings.lists)
    handshakes = connections(firefox_hello(captures))
    lan, wan = PacketMeta(NOW, IFACE, MAC), PacketMeta(NOW, WAN, None)

    def check(verdicts: Sequence[PacketVerdict]) -> None:
        syn, syn_ack, ack, hello = verdicts
        if not (syn.action is syn_ack.action is ack.action is Action.ACCEPT):
            raise SystemExit(f"a handshake packet not accepted: {syn}, {syn_ack}, {ack}")
        question, decision = hello.question, hello.decision
        if not (
            hello.action is Action.DECIDED
            and question is not None
            and question.kind is Kind.TLS
            and question.trusted
            and decision is not None
            and decision.group == GROUP
            and decision.verdict is Verdict.ALLOW
        ):
            raise SystemExit(f"the hello was not decided allowed: {hello}")

    def run() -> Sample:
        engine = Engine(config, lists, lists_built=float(lists.built))
        judge, clock = engine.judge, time.perf_counter
        spent = [0.0, 0.0, 0.0, 0.0]
        verdicts: list[PacketVerdict] = []
        keep = verdicts.append
        for syn, syn_ack, ack, hello in handshakes:
            start = clock()
            keep(judge(syn, lan))
            first = clock()
            keep(judge(syn_ack, wan))
            second = clock()
            keep(judge(ack, lan))
            third = clock()
            keep(judge(hello, lan))
            fourth = clock()
            spent[0] += first - start
            spent[1] += second - first
            spent[2] += third - second
            spent[3] += fourth - third
        for at in range(0, len(verdicts), 4):
            check(verdicts[at : at + 4])
        return {kind: seconds / CONNECTIONS for kind, seconds in zip(KINDS, spent, strict=True)}

    return run


# -- one tree in a child process ---------------------------------------------------------


def child(tree: Path, captures: Path) -> int:
    """Measure the copgate in ``tree``: one repeat per line read, a JSON sample written."""
    sys.path.insert(0, str(tree))
    with tempfile.TemporaryDirectory(prefix="bench-handshake-") as workdir:
        run = prepare(Path(workdir), captures)
        print("ready", flush=True)
        for _line in sys.stdin:
            print(json.dumps(run()), flush=True)
    return 0


class Child:
    """A child process measuring one tree."""

    def __init__(self, label: str, tree: Path, captures: Path) -> None:
        self.label = label
        argv = [sys.executable, __file__, "--child", str(tree), "--captures", str(captures)]
        self.process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=tree
        )
        if self._line() != "ready":
            raise SystemExit(f"{label}: the child did not start")

    def _line(self) -> str:
        stdout = self.process.stdout
        assert stdout is not None
        return stdout.readline().strip()

    def sample(self) -> Sample:
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write("go\n")
        stdin.flush()
        line = self._line()
        if not line:
            raise SystemExit(f"{self.label}: the child ended (see its error above)")
        data: Any = json.loads(line)
        return {kind: float(data[kind]) for kind in KINDS}

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=60)


def extract(ref: str, into: Path) -> Path:
    """The files of git revision ``ref`` of this repository, written under ``into``."""
    tree = into / "tree"
    tree.mkdir()
    # git's own archive of this repository, unpacked by tar: tarfile's extraction
    # filters (which a tarball from elsewhere would need) are not in Debian's 3.11.2.
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", ref],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


# -- the table ---------------------------------------------------------------------------


def table(samples: dict[str, list[Sample]], repeats: int) -> None:
    labels = list(samples)
    header = f"{'packet':10}" + "".join(f" {label + ' µs':>16}" for label in labels)
    if len(labels) == 2:
        header += f" {'new/old':>8}"
    print(header)
    for kind in (*KINDS, "connection"):
        medians = [
            statistics.median(
                sum(s.values()) if kind == "connection" else s[kind] for s in samples[label]
            )
            * 1e6
            for label in labels
        ]
        row = f"{kind:10}" + "".join(f" {value:16.2f}" for value in medians)
        if len(labels) == 2:
            row += f" {medians[1] / medians[0]:8.2f}"
        print(row)
    print(
        f"median of {repeats} repeats of {CONNECTIONS} connections, each SYN, SYN-ACK, ACK"
        " and a Firefox ClientHello judged allowed (decided); µs per packet, and per connection"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument(
        "--against", metavar="REF", help="also measure this git revision (e.g. main or a commit)"
    )
    parser.add_argument(
        "--captures", type=Path, default=CAPTURES, help=f"the shared captures (default {CAPTURES})"
    )
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not (args.captures / HELLO_CAPTURE).is_file():
        raise SystemExit(f"{args.captures / HELLO_CAPTURE} is absent: the hello comes from it")
    if args.child is not None:
        return child(args.child, args.captures)
    with tempfile.TemporaryDirectory(prefix="bench-handshake-") as workdir:
        trees = {"this": ROOT}
        if args.against:
            trees = {args.against: extract(args.against, Path(workdir)), "this": ROOT}
        children = [Child(label, tree, args.captures) for label, tree in trees.items()]
        try:
            samples: dict[str, list[Sample]] = {c.label: [] for c in children}
            for _ in range(args.repeats):
                for each in children:
                    samples[each.label].append(each.sample())
        finally:
            for each in children:
                each.close()
    table(samples, args.repeats)
    print(f"this: copgate from {ROOT}" + (f"; {args.against}: git archive" if args.against else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
