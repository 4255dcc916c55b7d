"""The netfilter queue edge: queued packets to the engine, verdicts back.

Binds one NFQUEUE through ``copgate.edges.nfqueue`` (the protocol, spoken
directly; its docstring says why no binding) and serves it without
blocking: the event loop calls ``drain()`` when the socket is readable, and
``drain`` hands every waiting packet to the engine and gives each its verdict
before returning. A packet always gets a verdict: if the engine or an
injection fails, the packet is accepted (the engine has already applied the
group's failure mode to everything it could read).

A decided flow is marked with NF_REPEAT: the packet goes back to the start
of its hook with ``decided_mark`` added to its mark, where copgate's first
rule copies the bit to the connmark and lets it go (see ``copgate.firewall``).

Verdicts of one drain go to the kernel together, a few hundred messages per
send, and a run of plain accepts (most packets) becomes one batch verdict.

The queue's failure mode is the kernel's: with ``fail_open`` a full queue
accepts what it cannot hold (NFQA_CFG_F_FAIL_OPEN), without it drops. The
socket asks the kernel not to report receive-buffer overflows as errors
(NETLINK_NO_ENOBUFS); ``stats()`` reads the kernel's own drop counters.
This module never decides anything about a packet's content.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from copgate.daemon.engine import Action, PacketMeta, PacketVerdict
from copgate.daemon.lograte import LogRate
from copgate.daemon.verdict_log import admitted
from copgate.edges.inject import Injector
from copgate.edges.nfqueue import (
    NF_ACCEPT,
    NF_DROP,
    NF_REPEAT,
    NLMSG_ERROR,
    PACKET,
    NetlinkError,
    NfqueueSocket,
    QueueBusyError,
    batch_verdict_message,
    mac_text,
    read_error,
    read_messages,
    read_packet,
    read_proc_counters,
    single_packet,
    verdict_message,
)
from copgate.firewall import DECIDED_MARK

__all__ = ["MAX_QUEUE_LENGTH", "QueueBusyError", "QueueEdge", "QueueStats"]

LOG = logging.getLogger("copgate.queue")
MAX_QUEUE_LENGTH = 4096
"""Packets the kernel holds for us before the queue fails open (accepts) or closed (drops)."""
PACKETS_PER_SEND = 32
"""Packets read before their verdicts go to the kernel, even when all are accepts
(then one batch message): a packet waits in user space until its verdict is sent,
so without this a burst of 4,096 queued packets would hold its first packet for
the whole drain (about 80 ms at 20 µs a packet) instead of about 0.6 ms. One
more send per 32 packets costs about 0.1 µs a packet."""
PROC_COUNTERS = Path("/proc/net/netfilter/nfnetlink_queue")
_ACCEPT, _DROP = Action.ACCEPT, Action.DROP  # module globals: found faster than the enum's


class QueueStats(NamedTuple):
    """What happened to the queue's packets, ours and the kernel's counts."""

    handled: int
    """Packets this edge read and gave a verdict."""
    verdict_failures: int
    """Verdicts the kernel refused, or that could not be sent."""
    enobufs: int
    """Receive-buffer overflows the kernel still reported despite NETLINK_NO_ENOBUFS."""
    kernel_dropped: int
    """The kernel's queue_dropped: packets dropped over max_len (fail-open passes them)."""
    user_dropped: int
    """The kernel's user_dropped: packets it could not put in our socket's buffer."""
    queue_total: int
    """Packets waiting for a verdict when the counters were read."""


class _Verdicts:
    """Verdict messages of one drain, in packet order, with runs of accepts batched."""

    def __init__(self, queue_num: int) -> None:
        self.queue_num = queue_num
        self.messages: list[bytes] = []
        self._accept_last = -1
        self._accept_count = 0

    def accept(self, packet_id: int) -> None:
        self._accept_last = packet_id
        self._accept_count += 1

    def other(self, packet_id: int, verdict: int, mark: int | None = None) -> None:
        self._close_run()
        self.messages.append(verdict_message(self.queue_num, packet_id, verdict, mark))

    def __len__(self) -> int:
        return len(self.messages) + (self._accept_count > 0)

    def take(self) -> bytes:
        """Every message so far as one datagram; starts over."""
        self._close_run()
        data = b"".join(self.messages)
        self.messages.clear()
        return data

    def _close_run(self) -> None:
        # A batch covers every waiting id <= the last one: safe because every
        # earlier packet's own verdict precedes it in this same datagram.
        if self._accept_count == 1:
            self.messages.append(verdict_message(self.queue_num, self._accept_last, NF_ACCEPT))
        elif self._accept_count > 1:
            self.messages.append(
                batch_verdict_message(self.queue_num, self._accept_last, NF_ACCEPT)
            )
        self._accept_count = 0


class QueueEdge:
    """One bound netfilter queue."""

    def __init__(
        self,
        queue_num: int,
        judge: Callable[[bytes, PacketMeta], PacketVerdict],
        injector: Injector,
        *,
        decided_mark: int = DECIDED_MARK,
        on_verdict: Callable[[PacketVerdict], None] | None = None,
        fail_open: bool = True,
        max_len: int = MAX_QUEUE_LENGTH,
        rate: LogRate | None = None,
    ) -> None:
        """``rate``: where failures' log lines are admitted (None: every one is written)."""
        self.queue_num = queue_num
        self._judge = judge
        self._injector = injector
        self._decided_mark = decided_mark
        self._on_verdict = on_verdict
        self._max_len = max_len
        self._names: dict[int, str] = {}
        self._handled = 0
        self._verdict_failures = 0
        self._rate = rate
        self._socket = NfqueueSocket(queue_num, max_len=max_len, fail_open=fail_open)

    def fileno(self) -> int:
        return self._socket.fileno()

    def drain(self) -> None:
        """Judge every packet waiting in the queue, give each its verdict; return when none is left.

        At most ``max_len`` packets wait in the kernel when this is called, so
        reading that many datagrams serves them all; a flood that keeps
        refilling the queue cannot hold the event loop here longer than that.
        The verdicts read so far go to the kernel even when a read fails.

        Every queued packet takes this loop, so its per-packet steps stand in
        line, with one copy of them: the kernel sends each queued packet in a
        datagram of its own, and a datagram that is anything else (several
        messages, an error answer) is split by ``_packets_in`` and its packets
        served by the same steps.
        """
        verdicts = _Verdicts(self.queue_num)
        now = time.time()
        # One PacketMeta per interface and source MAC in this drain: a burst
        # comes from a few clients, and building one costs more than finding it.
        metas: dict[tuple[int, bytes], PacketMeta] = {}
        receive, data = self._socket.receive, self._socket.buffer
        judge, on_verdict, accept = self._judge, self._on_verdict, verdicts.accept
        held: list[tuple[int, int]] = []
        """Packets of a datagram that held several, still to serve, last first."""
        datagrams = handled = 0
        try:
            while True:
                if held:
                    start, end = held.pop()
                else:
                    if datagrams >= self._max_len:
                        break
                    size = receive()
                    if size < 0:
                        break
                    datagrams += 1
                    if not single_packet(data, size):
                        held = self._packets_in(data, size)
                        continue
                    start, end = 0, size
                try:
                    packet_id, payload, mark, indev, hwaddr = read_packet(data, start, end)
                except NetlinkError:
                    self._log("unreadable queued packet; it waits until the queue is unbound")
                    continue
                handled += 1
                try:
                    source = (indev, hwaddr)
                    meta = metas.get(source)
                    if meta is None:
                        iface = self._names.get(indev) or self._iface(indev)
                        meta = metas[source] = PacketMeta(now, iface, mac_text(hwaddr))
                    verdict = judge(payload, meta)
                    if verdict.inject:  # a block: most verdicts inject nothing
                        for datagram in verdict.inject:
                            self._injector.send(datagram)
                except Exception:
                    self._log("judging failed; accepting the packet")
                    accept(packet_id)
                else:
                    action = verdict.action
                    if action is _ACCEPT:
                        accept(packet_id)
                    elif action is _DROP:
                        verdicts.other(packet_id, NF_DROP)
                    else:
                        verdicts.other(packet_id, NF_REPEAT, mark | self._decided_mark)
                    if on_verdict is not None:
                        try:
                            on_verdict(verdict)
                        except Exception:
                            self._log("verdict callback failed")
                if not handled % PACKETS_PER_SEND:
                    self._send(verdicts)
        finally:
            self._handled += handled
            self._send(verdicts)

    def _packets_in(self, data: bytearray, size: int) -> list[tuple[int, int]]:
        """Where the packets of a datagram that is not one packet lie, last first.

        Error answers are counted and logged as refused verdicts. An unreadable
        datagram is logged: the packets read before its bad message are served;
        one we could not read has no id to answer and waits until the unbind.
        """
        found: list[tuple[int, int]] = []
        try:
            for message in read_messages(data, size):
                if message.msg_type == PACKET:
                    found.append((message.start, message.end))
                elif message.msg_type == NLMSG_ERROR and (code := read_error(data, message)):
                    self._verdict_failures += 1
                    self._log(f"the kernel refused a verdict: {os.strerror(code)}", traceback=False)
        except NetlinkError:
            self._log("unreadable datagram from the kernel")
        found.reverse()
        return found

    def close(self) -> None:
        """Unbind, close: with --queue-bypass the kernel passes new packets from now on."""
        self._socket.close()

    def stats(self) -> QueueStats:
        """Our counters and the kernel's for this queue (its zeros if it is not listed)."""
        try:
            counters = read_proc_counters(PROC_COUNTERS.read_text(), self.queue_num)
        except OSError:
            counters = None
        kernel_dropped = user_dropped = total = 0
        if counters is not None:
            kernel_dropped, user_dropped = counters.queue_dropped, counters.user_dropped
            total = counters.queue_total
        return QueueStats(
            self._handled,
            self._verdict_failures,
            self._socket.enobufs,
            kernel_dropped,
            user_dropped,
            total,
        )

    def _send(self, verdicts: _Verdicts) -> None:
        count = len(verdicts)
        if not count:
            return
        try:
            self._socket.send(verdicts.take())
        except OSError:
            self._verdict_failures += count
            self._log(f"could not send {count} verdicts")

    def _log(self, message: str, *, traceback: bool = True) -> None:
        """An error line (with the exception being handled, if ``traceback``): with a
        ``rate``, once per kind and window, and the window's repeats summarised
        with their count, so that a packet that fails the same way at packet
        rate is a line and a count, not a flood."""
        failure = sys.exc_info()[0]
        key = ("queue", message, failure.__name__ if traceback and failure else "")
        if admitted(self._rate, key, time.time()):
            LOG.error(message, exc_info=traceback)

    def _iface(self, index: int) -> str | None:
        if not index:
            return None
        try:
            name = socket.if_indextoname(index)
        except OSError:
            return None  # not cached: an interface may appear under this index later
        self._names[index] = name
        return name
