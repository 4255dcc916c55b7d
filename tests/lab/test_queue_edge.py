"""QueueEdge on the real kernel queue, in two scratch namespaces joined by a veth.

``box`` (198.51.100.1) holds the queue and its iptables rules; ``peer``
(198.51.100.2) receives on UDP port 9 what the queue let through and sends
what ``box`` reads on INPUT. The test process enters ``box`` with setns for
each test (so the netlink socket and /proc/net are box's) and makes peer's
sockets from inside peer; nothing leaves the two namespaces.

Each test judges by payload: ``accept``, ``drop`` or ``decided``. What got
through is what peer receives; a repeated packet is counted by a rule that
matches its new mark before the queue rule.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from copgate.daemon.engine import Action, PacketMeta, PacketVerdict
from copgate.edges import nfqueue
from copgate.edges.inject import Injector
from copgate.edges.queue import QueueBusyError, QueueEdge
from copgate.firewall import DECIDED_MARK
from tests.lab.conftest import require_lab

pytestmark = pytest.mark.lab

BOX, PEER = "198.51.100.1", "198.51.100.2"
PEER_MAC = "02:00:5e:00:53:02"
BOX_DEVICE = "cgq0"
PORT = 9  # discard
QUEUE = 17
SO_MARK = 36  # asm-generic/socket.h
CLONE_NEWNET = 0x4000_0000  # linux/sched.h
SETTLE = 0.2
"""Seconds for the kernel to queue or deliver what was just sent (it needs microseconds)."""


@dataclass
class Pair:
    box: str
    peer: str
    receiver: socket.socket
    """peer's UDP socket on port 9."""


@dataclass
class Judge:
    """Verdicts by payload; records what each packet's meta said."""

    metas: list[PacketMeta] = field(default_factory=list)

    def __call__(self, payload: bytes, meta: PacketMeta) -> PacketVerdict:
        self.metas.append(meta)
        word = payload[28:].decode()  # after IPv4 and UDP headers
        if word == "boom":
            raise RuntimeError("the judge failed")
        return PacketVerdict(Action(word.rstrip("0123456789")))


_libc = ctypes.CDLL(None, use_errno=True)


@contextlib.contextmanager
def inside(name: str) -> Iterator[None]:
    """This thread in network namespace ``name`` (under /run/netns), back after."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        _setns(target)
        yield
    finally:
        _setns(home)
        os.close(target)
        os.close(home)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def _sh(*argv: str, netns: str | None = None) -> str:
    prefix = ["ip", "netns", "exec", netns] if netns else []
    done = subprocess.run([*prefix, *argv], check=True, capture_output=True, text=True)
    return done.stdout


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    require_lab(("ip", "iptables"))
    tag = f"cgq{os.getpid()}"
    box, peer = f"{tag}-box", f"{tag}-peer"
    _sh("ip", "netns", "add", box)
    try:
        _sh("ip", "netns", "add", peer)
        _sh("ip", "link", "add", BOX_DEVICE, "netns", box, "type", "veth", "peer", "cgq1",
            "netns", peer)  # fmt: skip
        _sh("ip", "-n", peer, "link", "set", "cgq1", "address", PEER_MAC, "up")
        _sh("ip", "-n", peer, "addr", "add", f"{PEER}/24", "dev", "cgq1")
        _sh("ip", "-n", box, "link", "set", BOX_DEVICE, "up")
        _sh("ip", "-n", box, "addr", "add", f"{BOX}/24", "dev", BOX_DEVICE)
        with inside(peer):
            receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        receiver.bind((PEER, PORT))
        receiver.setblocking(False)
        yield Pair(box, peer, receiver)
        receiver.close()
    finally:
        for name in (peer, box):
            subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)


@pytest.fixture
def output_rules(pair: Pair) -> Iterator[Pair]:
    """box's UDP to peer:9 queued on OUTPUT; a repeated packet's new mark counted first."""
    rules = [
        ["-A", "OUTPUT", "-p", "udp", "--dport", str(PORT), "-m", "mark", "--mark",
         f"{DECIDED_MARK | 0x4:#x}", "-j", "ACCEPT"],
        ["-A", "OUTPUT", "-p", "udp", "--dport", str(PORT), "-m", "mark", "--mark",
         f"{DECIDED_MARK:#x}/{DECIDED_MARK:#x}", "-j", "ACCEPT"],
        ["-A", "OUTPUT", "-p", "udp", "--dport", str(PORT), "-j", "NFQUEUE", "--queue-num",
         str(QUEUE)],
    ]  # fmt: skip
    for rule in rules:
        _sh("iptables", *rule, netns=pair.box)
    _drain_receiver(pair)
    with inside(pair.box):
        yield pair
    _sh("iptables", "-F", "OUTPUT", netns=pair.box)


def _drain_receiver(pair: Pair) -> list[bytes]:
    got = []
    with contextlib.suppress(BlockingIOError):
        while True:
            got.append(pair.receiver.recv(2048))
    return got


def _received(pair: Pair) -> list[str]:
    time.sleep(SETTLE)
    return sorted(data.decode() for data in _drain_receiver(pair))


def _send_from_box(words: list[str], mark: int = 0) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        if mark:
            sender.setsockopt(socket.SOL_SOCKET, SO_MARK, mark)
        for word in words:
            sender.sendto(word.encode(), (PEER, PORT))


def _rule_packets(pair: Pair) -> list[int]:
    """Packet counts of box's OUTPUT rules, in order."""
    listing = _sh("iptables", "-nvxL", "OUTPUT", netns=pair.box).splitlines()[2:]
    return [int(line.split()[0]) for line in listing]


def _edge(judge: Callable[[bytes, PacketMeta], PacketVerdict], **options: object) -> QueueEdge:
    return QueueEdge(QUEUE, judge, Injector(), **options)  # type: ignore[arg-type]


def test_accept_drop_and_repeat_with_the_old_mark_kept(output_rules: Pair) -> None:
    judge = Judge()
    edge = _edge(judge)
    try:
        _send_from_box(["accept1", "accept2", "drop1", "accept3", "decided1", "accept4"])
        _send_from_box(["decided2"], mark=0x4)
        time.sleep(SETTLE)
        edge.drain()
        received = _received(output_rules)
        stats = edge.stats()
    finally:
        edge.close()
    assert received == ["accept1", "accept2", "accept3", "accept4", "decided1", "decided2"]
    marked_old, marked, queued = _rule_packets(output_rules)
    assert (marked_old, marked) == (1, 1)  # decided2 kept its 0x4; decided1 got the bit alone
    assert queued == 7
    assert stats.handled == 7
    assert stats.verdict_failures == 0
    assert judge.metas[0].iface is None  # local output has no inbound interface


def test_a_judge_that_raises_still_gives_the_packet_a_verdict(output_rules: Pair) -> None:
    edge = _edge(Judge())
    try:
        _send_from_box(["drop1", "boom", "drop2"])
        time.sleep(SETTLE)
        edge.drain()
        assert _received(output_rules) == ["boom"]
        assert edge.stats().queue_total == 0
    finally:
        edge.close()


def test_a_second_bind_of_the_same_queue_is_refused(output_rules: Pair) -> None:
    edge = _edge(Judge())
    try:
        with pytest.raises(QueueBusyError, match=f"queue {QUEUE} is bound by another process"):
            _edge(Judge())
    finally:
        edge.close()
    _edge(Judge()).close()  # free again once the first let go


@pytest.mark.parametrize("fail_open", [True, False])
def test_a_full_queue_fails_the_way_it_was_bound(output_rules: Pair, fail_open: bool) -> None:
    edge = _edge(Judge(), fail_open=fail_open, max_len=2)
    try:
        _send_from_box([f"drop{n}" for n in range(6)])
        time.sleep(SETTLE)
        before = edge.stats()
        over_limit = _received(output_rules)
        edge.drain()
        after = edge.stats()
    finally:
        edge.close()
    assert before.queue_total == 2
    assert after.queue_total == 0
    assert after.handled == 2  # the two it held, both dropped by the judge
    if fail_open:
        assert over_limit == [f"drop{n}" for n in range(2, 6)]
        assert after.kernel_dropped == 0  # the kernel counts only what it drops
    else:
        assert over_limit == []
        assert after.kernel_dropped == 4


def test_a_full_socket_buffer_is_counted_by_the_kernel_not_reported(
    output_rules: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NETLINK_NO_ENOBUFS: what the socket cannot hold is the kernel's user_dropped
    (fail-closed: dropped), and reading goes on without an ENOBUFS error."""
    monkeypatch.setattr(nfqueue, "RECEIVE_BUFFER", 4096)  # the kernel doubles it: a few packets
    edge = _edge(Judge(), fail_open=False)
    try:
        _send_from_box([f"accept{n}" for n in range(50)])
        time.sleep(SETTLE)
        edge.drain()
        stats = edge.stats()
        received = _received(output_rules)
    finally:
        edge.close()
    assert stats.user_dropped > 0
    assert stats.enobufs == 0
    assert 0 < stats.handled == 50 - stats.user_dropped == len(received)


def test_a_packet_from_the_link_names_its_interface_and_mac(pair: Pair) -> None:
    rule = ["INPUT", "-p", "udp", "--dport", str(PORT), "-j", "NFQUEUE", "--queue-num", str(QUEUE)]
    _sh("iptables", "-A", *rule, netns=pair.box)
    judge = Judge()
    try:
        with inside(pair.box):
            edge = _edge(judge)
            try:
                with inside(pair.peer), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    s.sendto(b"accept", (BOX, PORT))
                time.sleep(SETTLE)
                edge.drain()
            finally:
                edge.close()
    finally:
        _sh("iptables", "-D", *rule, netns=pair.box)
    (meta,) = judge.metas
    assert (meta.iface, meta.mac) == (BOX_DEVICE, PEER_MAC)
