"""QueueEdge.drain over a scripted socket: every packet read gets exactly one verdict.

The lab (``tests/lab/test_queue_edge.py``) drives the real kernel queue; here
the socket hands out datagrams the kernel could send but the lab cannot make
on demand (several messages in one, error answers, an unreadable packet, a
read that fails), and the verdicts sent are read back message by message.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple

import pytest

from copgate.daemon.engine import Action, PacketMeta, PacketVerdict
from copgate.daemon.lograte import LogRate
from copgate.edges import queue as queue_module
from copgate.edges.nfqueue import (
    NF_ACCEPT,
    NF_DROP,
    NF_REPEAT,
    NFQA_HWADDR,
    NFQA_IFINDEX_INDEV,
    NFQA_MARK,
    NFQA_PACKET_HDR,
    NFQA_PAYLOAD,
    NFQNL_MSG_PACKET,
    NFQNL_MSG_VERDICT,
    NFQNL_MSG_VERDICT_BATCH,
    NLMSG_ERROR,
    attribute,
    nfq_message,
    read_messages,
)
from copgate.edges.queue import PACKETS_PER_SEND, QueueEdge

DECIDED = 0x40000000
MAC = bytes.fromhex("020000000b11")
IFINDEX = 7


def queued(packet_id: int, payload: bytes, mark: int = 0) -> bytes:
    """An NFQNL_MSG_PACKET laid out as the kernel sends one from a LAN client."""
    body = attribute(NFQA_PACKET_HDR, packet_id.to_bytes(4, "big") + b"\x08\x00\x02")
    body += attribute(NFQA_IFINDEX_INDEV, IFINDEX.to_bytes(4, "big"))
    if mark:
        body += attribute(NFQA_MARK, mark.to_bytes(4, "big"))
    body += attribute(NFQA_HWADDR, len(MAC).to_bytes(2, "big") + b"\0\0" + MAC + b"\0\0")
    body += attribute(NFQA_PAYLOAD, payload)[: 4 + len(payload)]
    return nfq_message(NFQNL_MSG_PACKET, 0, body, flags=0, seq=0)


def padded(message: bytes) -> bytes:
    return message + bytes(-len(message) % 4)


def error_answer(code: int) -> bytes:
    """An NLMSG_ERROR for a verdict the kernel refused (``-code``)."""
    body = (-code).to_bytes(4, "little", signed=True) + bytes(16)
    length = 16 + len(body)
    return length.to_bytes(4, "little") + NLMSG_ERROR.to_bytes(2, "little") + bytes(10) + body


class ScriptedSocket:
    """``NfqueueSocket``'s part that ``QueueEdge`` uses, over a script of reads."""

    script: Sequence[bytes | OSError] = ()
    """What the next socket made hands out, in order: a datagram, or an error to raise."""

    def __init__(self, queue_num: int, *, max_len: int, fail_open: bool) -> None:
        self.buffer = bytearray(70_000)
        self.enobufs = 0
        self.sent: list[bytes] = []
        self._script = list(type(self).script)

    def receive(self) -> int:
        if not self._script:
            return -1
        item = self._script.pop(0)
        if isinstance(item, OSError):
            raise item
        self.buffer[: len(item)] = item
        return len(item)

    def send(self, data: bytes) -> None:
        self.sent.append(data)

    def fileno(self) -> int:
        return -1

    def close(self) -> None:
        pass


class Sent(NamedTuple):
    """One verdict message read back: single or batch, the verdict, the id, the mark."""

    batch: bool
    verdict: int
    packet_id: int
    mark: int | None


def verdicts_of(datagrams: Sequence[bytes]) -> Iterator[Sent]:
    for data in datagrams:
        for message in read_messages(data):
            msg_type = message.msg_type & 0xFF
            assert msg_type in (NFQNL_MSG_VERDICT, NFQNL_MSG_VERDICT_BATCH)
            body = data[message.start + 20 : message.end]
            verdict = int.from_bytes(body[4:8], "big")
            packet_id = int.from_bytes(body[8:12], "big")
            mark = int.from_bytes(body[16:20], "big") if len(body) >= 20 else None
            yield Sent(msg_type == NFQNL_MSG_VERDICT_BATCH, verdict, packet_id, mark)


def outcome(sent: Sequence[Sent], ids: Sequence[int]) -> dict[int, tuple[int, int | None]]:
    """Each id's verdict and mark as the kernel applies them: a batch covers every
    id still waiting up to its own; an id that gets two verdicts is an error."""
    waiting = sorted(ids)
    done: dict[int, tuple[int, int | None]] = {}
    for one in sent:
        covered = [i for i in waiting if i <= one.packet_id] if one.batch else [one.packet_id]
        for packet_id in covered:
            assert packet_id in waiting, f"id {packet_id} had a verdict already, or never waited"
            waiting.remove(packet_id)
            done[packet_id] = (one.verdict, one.mark)
    return done


class FakeInjector:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def send(self, datagram: bytes) -> None:
        self.sent.append(datagram)


class Run(NamedTuple):
    edge: QueueEdge
    socket: ScriptedSocket
    injector: FakeInjector
    seen: list[PacketVerdict]


@pytest.fixture
def drain(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Run]:
    monkeypatch.setattr(queue_module, "NfqueueSocket", ScriptedSocket)
    monkeypatch.setattr(QueueEdge, "_iface", lambda self, index: f"if{index}")

    def run(
        script: Sequence[bytes | OSError],
        judge: Callable[[bytes, PacketMeta], PacketVerdict],
        on_verdict: Callable[[PacketVerdict], None] | None = None,
        max_len: int = 4096,
        rate: LogRate | None = None,
    ) -> Run:
        ScriptedSocket.script = script
        injector = FakeInjector()
        seen: list[PacketVerdict] = []

        def record(verdict: PacketVerdict) -> None:
            seen.append(verdict)
            if on_verdict is not None:
                on_verdict(verdict)

        edge = QueueEdge(
            0,
            judge,
            injector,  # type: ignore[arg-type]
            decided_mark=DECIDED,
            on_verdict=record,
            max_len=max_len,
            rate=rate,
        )
        sock = edge._socket
        assert isinstance(sock, ScriptedSocket)
        edge.drain()
        return Run(edge, sock, injector, seen)

    return run


def by_payload(table: dict[bytes, PacketVerdict]) -> Callable[[bytes, PacketMeta], PacketVerdict]:
    def judge(payload: bytes, meta: PacketMeta) -> PacketVerdict:
        assert meta.iface == f"if{IFINDEX}" and meta.mac == "02:00:00:00:0b:11"
        return table[payload]

    return judge


ACCEPT = PacketVerdict(Action.ACCEPT)
DROP = PacketVerdict(Action.DROP, inject=(b"forged-1", b"forged-2"))
DECIDE = PacketVerdict(Action.DECIDED)


def test_each_action_becomes_its_verdict_and_accepts_are_batched(
    drain: Callable[..., Run],
) -> None:
    judge = by_payload({b"a": ACCEPT, b"d": DROP, b"r": DECIDE})
    payloads = [b"a", b"a", b"d", b"a", b"r", b"a", b"a"]
    script = [queued(n + 1, p, mark=5 if p == b"r" else 0) for n, p in enumerate(payloads)]
    run = drain(script, judge)
    sent = list(verdicts_of(run.socket.sent))
    assert outcome(sent, range(1, 8)) == {
        1: (NF_ACCEPT, None),
        2: (NF_ACCEPT, None),
        3: (NF_DROP, None),
        4: (NF_ACCEPT, None),
        5: (NF_REPEAT, 5 | DECIDED),  # the packet's own mark kept, the decided bit added
        6: (NF_ACCEPT, None),
        7: (NF_ACCEPT, None),
    }
    assert [one.batch for one in sent] == [True, False, False, False, True]
    assert run.injector.sent == [b"forged-1", b"forged-2"]
    assert len(run.seen) == 7
    assert run.edge._handled == 7


def test_several_packets_in_one_datagram_and_an_error_answer_are_all_served(
    drain: Callable[..., Run],
) -> None:
    judge = by_payload({b"a": ACCEPT, b"d": DROP})
    together = padded(queued(1, b"a")) + padded(error_answer(errno.ENOENT)) + queued(2, b"d")
    run = drain([together, queued(3, b"a")], judge)
    assert outcome(list(verdicts_of(run.socket.sent)), [1, 2, 3]) == {
        1: (NF_ACCEPT, None),
        2: (NF_DROP, None),
        3: (NF_ACCEPT, None),
    }
    assert run.edge.stats().verdict_failures == 1


def test_an_unreadable_message_skips_only_itself(drain: Callable[..., Run]) -> None:
    broken = bytearray(queued(2, b"a"))
    broken[20:22] = (200).to_bytes(2, "little")  # the first attribute overruns its message
    spliced = padded(queued(3, b"a")) + b"\xff" * 7  # trailing bytes after a good message
    run = drain(
        [queued(1, b"a"), bytes(broken), spliced, queued(4, b"a")], by_payload({b"a": ACCEPT})
    )
    # Packet 2 has no id anyone could answer: it waits for the unbind.
    assert outcome(list(verdicts_of(run.socket.sent)), [1, 3, 4]) == {
        1: (NF_ACCEPT, None),
        3: (NF_ACCEPT, None),
        4: (NF_ACCEPT, None),
    }


def test_a_judge_or_injection_that_raises_accepts_and_a_callback_that_raises_is_survived(
    drain: Callable[..., Run],
) -> None:
    def judge(payload: bytes, meta: PacketMeta) -> PacketVerdict:
        if payload == b"boom":
            raise RuntimeError("a bug in the engine")
        return DROP if payload == b"d" else ACCEPT

    def callback(verdict: PacketVerdict) -> None:
        raise RuntimeError("a bug in the log")

    run = drain([queued(1, b"boom"), queued(2, b"d"), queued(3, b"a")], judge, callback)
    assert outcome(list(verdicts_of(run.socket.sent)), [1, 2, 3]) == {
        1: (NF_ACCEPT, None),
        2: (NF_DROP, None),
        3: (NF_ACCEPT, None),
    }


def test_verdicts_go_out_every_packets_per_send_packets(drain: Callable[..., Run]) -> None:
    count = 2 * PACKETS_PER_SEND + 3
    run = drain([queued(n, b"a") for n in range(1, count + 1)], by_payload({b"a": ACCEPT}))
    assert [list(verdicts_of([one]))[-1].packet_id for one in run.socket.sent] == [
        PACKETS_PER_SEND,
        2 * PACKETS_PER_SEND,
        count,
    ]


def test_a_drain_reads_at_most_max_len_datagrams(drain: Callable[..., Run]) -> None:
    run = drain([queued(n, b"a") for n in range(1, 11)], by_payload({b"a": ACCEPT}), max_len=4)
    assert outcome(list(verdicts_of(run.socket.sent)), [1, 2, 3, 4]) == {
        n: (NF_ACCEPT, None) for n in (1, 2, 3, 4)
    }
    assert run.edge._handled == 4


def test_a_failed_read_flushes_the_verdicts_already_given(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[ScriptedSocket] = []

    class Remembered(ScriptedSocket):
        def __init__(self, queue_num: int, *, max_len: int, fail_open: bool) -> None:
            super().__init__(queue_num, max_len=max_len, fail_open=fail_open)
            made.append(self)

    monkeypatch.setattr(queue_module, "NfqueueSocket", Remembered)
    monkeypatch.setattr(QueueEdge, "_iface", lambda self, index: f"if{index}")
    Remembered.script = [queued(1, b"a"), queued(2, b"d"), OSError(errno.EIO, "failed")]
    injector = FakeInjector()
    edge = QueueEdge(0, by_payload({b"a": ACCEPT, b"d": DROP}), injector)  # type: ignore[arg-type]
    with pytest.raises(OSError, match="failed"):
        edge.drain()
    assert outcome(list(verdicts_of(made[0].sent)), [1, 2]) == {
        1: (NF_ACCEPT, None),
        2: (NF_DROP, None),
    }


def test_a_failure_at_packet_rate_is_one_line_and_a_count(
    drain: Callable[..., Run], caplog: pytest.LogCaptureFixture
) -> None:
    def judge(payload: bytes, meta: PacketMeta) -> PacketVerdict:
        raise RuntimeError("a bug every packet meets")

    rate = LogRate()
    with caplog.at_level(logging.ERROR, logger="copgate.queue"):
        run = drain([queued(n, b"a") for n in range(1, 501)], judge, rate=rate)
    lines = [r for r in caplog.records if r.name == "copgate.queue"]
    assert [r.getMessage() for r in lines] == ["judging failed; accepting the packet"]
    assert lines[0].exc_info is not None  # the traceback of the first
    assert rate.suppressed == 499
    sent = outcome(list(verdicts_of(run.socket.sent)), range(1, 501))
    assert set(sent.values()) == {(NF_ACCEPT, None)}


def test_without_a_rate_each_failure_is_written(
    drain: Callable[..., Run], caplog: pytest.LogCaptureFixture
) -> None:
    def callback(verdict: PacketVerdict) -> None:
        raise RuntimeError("a bug in the log")

    with caplog.at_level(logging.ERROR, logger="copgate.queue"):
        drain([queued(n, b"a") for n in range(1, 4)], by_payload({b"a": ACCEPT}), callback)
    lines = [r.getMessage() for r in caplog.records if r.name == "copgate.queue"]
    assert lines == ["verdict callback failed"] * 3
