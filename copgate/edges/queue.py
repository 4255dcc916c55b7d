"""The netfilter queue edge: queued packets to the engine, verdicts back.

Binds one NFQUEUE with ``netfilterqueue`` and serves it without blocking:
the event loop calls ``drain()`` when the queue's socket is readable, and
``drain`` hands every waiting packet to the engine and gives each its
verdict before returning. A packet always gets a verdict: if anything here
fails, the packet is accepted (the engine has already applied the group's
failure mode to everything it could read).

A decided flow is marked with NF_REPEAT: the packet goes back to the start
of its hook with ``decided_mark`` set, where copgate's first rule copies the
bit to the connmark and lets it go (see ``copgate.firewall``).
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable

from netfilterqueue import NetfilterQueue
from netfilterqueue import Packet as QueuedPacket

from copgate.daemon.engine import Action, PacketMeta, PacketVerdict
from copgate.edges.inject import Injector
from copgate.firewall import DECIDED_MARK

LOG = logging.getLogger("copgate.queue")
MAX_QUEUE_LENGTH = 4096  # packets the kernel holds for us before it bypasses or drops
COPY_RANGE = 65535


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
    ) -> None:
        self._judge = judge
        self._injector = injector
        self._decided_mark = decided_mark
        self._on_verdict = on_verdict
        self._names: dict[int, str] = {}
        self._queue = NetfilterQueue()
        self._queue.bind(queue_num, self._handle, max_len=MAX_QUEUE_LENGTH, range=COPY_RANGE)
        self._socket = socket.fromfd(self._queue.get_fd(), socket.AF_NETLINK, socket.SOCK_RAW)
        self._socket.setblocking(False)
        self.handled = 0

    def fileno(self) -> int:
        return self._socket.fileno()

    def drain(self) -> None:
        """Judge every packet waiting in the queue; returns when none is left."""
        self._queue.run_socket(self._socket)

    def close(self) -> None:
        """Unbind: with --queue-bypass the kernel passes new packets from now on."""
        try:
            self._queue.unbind()
        finally:
            self._socket.close()

    def _handle(self, queued: QueuedPacket) -> None:
        try:
            meta = PacketMeta(time.time(), self._iface(queued.indev), _mac(queued))
            verdict = self._judge(queued.get_payload(), meta)
            for datagram in verdict.inject:
                self._injector.send(datagram)
            if verdict.action is Action.DROP:
                queued.drop()
            elif verdict.action is Action.DECIDED:
                queued.set_mark(queued.get_mark() | self._decided_mark)
                queued.repeat()
            else:
                queued.accept()
            self.handled += 1
            if self._on_verdict is not None:
                self._on_verdict(verdict)
        except Exception:
            LOG.exception("verdict failed; accepting the packet")
            try:
                queued.accept()
            except Exception:  # the verdict may already have been given
                LOG.debug("packet already had its verdict")

    def _iface(self, index: int) -> str | None:
        if not index:
            return None
        name = self._names.get(index)
        if name is None:
            try:
                name = socket.if_indextoname(index)
            except OSError:
                return None
            self._names[index] = name
        return name


def _mac(queued: QueuedPacket) -> str | None:
    hw = queued.get_hw()
    if not hw or len(hw) < 6:
        return None
    return ":".join(f"{byte:02x}" for byte in hw[:6])
