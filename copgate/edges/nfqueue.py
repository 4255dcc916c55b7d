"""nfnetlink_queue spoken directly: its messages built and read with ``struct``, one socket.

copgate needs four things from the kernel's packet queue: bind a queue with
its copy mode, length and flags; read queued packets (id, payload, mark,
inbound interface, source MAC); give verdicts, one at a time or as a batch;
unbind. That is three message kinds and a dozen attributes, so this module
speaks them itself over ``socket.AF_NETLINK`` instead of using a binding:

- ``netfilterqueue`` 1.1 (a C extension over libnetfilter_queue) exposes
  neither NFQA_CFG_F_FAIL_OPEN nor NETLINK_NO_ENOBUFS, silently ignores
  ENOBUFS, and is not in OpenWrt's package feed (issues 10 and 12).
- pyroute2 is pure Python and in the feed, but has no nfnetlink_queue
  message classes: the messages would be written here anyway, and its
  generic attribute decoder (objects and dicts per message) costs more per
  packet than the whole ``struct`` walk below, on the path every DNS query
  takes. Without it the daemon needs nothing outside the standard library.

The pure part (message building, message and attribute walking, the proc
counters line) is plain functions over bytes, tested with byte vectors. The
socket class is the thin edge: it binds with an acknowledged config message
and maps the kernel's refusals to errors, and otherwise only sends and
receives bytes. This module never judges a packet or chooses a verdict
(``copgate.edges.queue`` does).

Numbers come from the kernel's UAPI headers, named beside each constant.
Netlink headers and attribute headers are in host byte order; nfgenmsg's
resource id and every nfnetlink_queue field are big-endian (network order).
"""

from __future__ import annotations

import errno
import functools
import os
import socket
import struct
from collections import deque
from collections.abc import Iterator
from typing import NamedTuple

from copgate.errors import CopgateError
from copgate.tuplenew import new_tuple

# -- linux/netlink.h ----------------------------------------------------------------
NETLINK_NETFILTER = 12
NLM_F_REQUEST = 0x01
NLM_F_ACK = 0x04
NLMSG_ERROR = 0x2
NLMSG_DONE = 0x3
NLMSG_ALIGNTO = 4
NLA_ALIGNTO = 4
NLA_TYPE_MASK = ~((1 << 15) | (1 << 14)) & 0xFFFF  # clears NLA_F_NESTED, NLA_F_NET_BYTEORDER
NETLINK_NO_ENOBUFS = 5  # socket option: the kernel drops on overflow without telling us
# -- linux/socket.h, asm-generic/socket.h (same number on MIPS) -------------------------------
SOL_NETLINK = 270
SO_RCVBUFFORCE = 33  # beyond rmem_max; needs CAP_NET_ADMIN, which the daemon has
# -- linux/netfilter/nfnetlink.h ------------------------------------------------------
NFNL_SUBSYS_QUEUE = 3
NFNETLINK_V0 = 0
# -- linux/netfilter/nfnetlink_queue.h ------------------------------------------------
NFQNL_MSG_PACKET = 0
NFQNL_MSG_VERDICT = 1
NFQNL_MSG_CONFIG = 2
NFQNL_MSG_VERDICT_BATCH = 3
NFQA_PACKET_HDR = 1
NFQA_VERDICT_HDR = 2
NFQA_MARK = 3
NFQA_IFINDEX_INDEV = 5
NFQA_IFINDEX_OUTDEV = 6
NFQA_IFINDEX_PHYSINDEV = 7
NFQA_HWADDR = 9
NFQA_PAYLOAD = 10
NFQNL_CFG_CMD_BIND = 1
NFQNL_CFG_CMD_UNBIND = 2
NFQNL_COPY_PACKET = 2
NFQA_CFG_CMD = 1
NFQA_CFG_PARAMS = 2
NFQA_CFG_QUEUE_MAXLEN = 3
NFQA_CFG_MASK = 4
NFQA_CFG_FLAGS = 5
NFQA_CFG_F_FAIL_OPEN = 1 << 0
# -- linux/netfilter.h ----------------------------------------------------------------
NF_DROP = 0
NF_ACCEPT = 1
NF_REPEAT = 4

PACKET = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET
"""The netlink message type of a queued packet (subsystem in the high byte)."""
MAX_COPY_RANGE = 65535
"""Bytes of each packet copied to us: all of it (an IPv4/IPv6 packet is at most this)."""
HWADDR_MAC_LEN = 6

_NLMSGHDR = struct.Struct("=IHHII")  # len, type, flags, seq, pid (host order)
_NFGENMSG = struct.Struct(">BBH")  # family, version, res_id (big-endian)
_NLATTR = struct.Struct("=HH")  # len, type (host order)
_BE32 = struct.Struct(">I")
_BE32_PAIR = struct.Struct(">II")
_NLMSGERR = struct.Struct("=i")  # error: 0 is an ACK, else -errno
_HEADERS = _NLMSGHDR.size + _NFGENMSG.size
_MAX_PROC_FIELDS = 9


class NetlinkError(CopgateError):
    """The kernel refused an nfnetlink_queue request, or sent a message we cannot read."""

    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.errno = code
        """The kernel's error number (0 when the message itself was malformed)."""


class QueueBusyError(NetlinkError):
    """The queue is bound by another process (another copgate?)."""


class QueuedPacket(NamedTuple):
    """One NFQNL_MSG_PACKET: what copgate reads of a queued packet."""

    packet_id: int
    """The kernel's id for the verdict (NFQA_PACKET_HDR)."""
    payload: bytes
    """The IP datagram (NFQA_PAYLOAD); empty if the kernel sent none."""
    mark: int
    """The skb mark (NFQA_MARK), 0 when absent."""
    indev: int
    """Inbound interface index (NFQA_IFINDEX_INDEV), 0 when absent (local output)."""
    hwaddr: bytes
    """Source link-layer address (NFQA_HWADDR), empty when the link has none."""


class QueueCounters(NamedTuple):
    """One line of /proc/net/netfilter/nfnetlink_queue (net/netfilter/nfnetlink_queue.c)."""

    queue_num: int
    peer_portid: int
    queue_total: int
    """Packets waiting for a verdict now."""
    copy_mode: int
    copy_range: int
    queue_dropped: int
    """Packets the kernel dropped (or with fail-open, accepted) because the queue was full."""
    user_dropped: int
    """Packets the kernel could not deliver to our socket (receive buffer full)."""
    id_sequence: int
    """The last packet id handed out."""


# -- building -----------------------------------------------------------------------


def _align(length: int) -> int:
    return (length + NLA_ALIGNTO - 1) & ~(NLA_ALIGNTO - 1)


def attribute(attr_type: int, value: bytes) -> bytes:
    """One netlink attribute: header, value, zero padding to 4 bytes (NLA_ALIGN)."""
    length = _NLATTR.size + len(value)
    return _NLATTR.pack(length, attr_type) + value + bytes(_align(length) - length)


def nfq_message(msg_type: int, queue_num: int, body: bytes, *, flags: int, seq: int) -> bytes:
    """An nfnetlink_queue message: nlmsghdr, nfgenmsg naming the queue, attributes."""
    length = _HEADERS + len(body)
    header = _NLMSGHDR.pack(length, (NFNL_SUBSYS_QUEUE << 8) | msg_type, flags, seq, 0)
    return header + _NFGENMSG.pack(socket.AF_UNSPEC, NFNETLINK_V0, queue_num) + body


def bind_message(
    queue_num: int, *, seq: int, max_len: int, fail_open: bool, copy_range: int = MAX_COPY_RANGE
) -> bytes:
    """Bind ``queue_num``, copy whole packets, cap its length, set or clear fail-open.

    One message, so the kernel applies it atomically (nfqnl_recv_config checks
    the flags before it creates the queue); the mask names the one flag we
    own, so fail-open is cleared as explicitly as it is set. ACK requested:
    the caller must read the answer.
    """
    body = b"".join(
        (
            attribute(NFQA_CFG_CMD, struct.pack(">BxH", NFQNL_CFG_CMD_BIND, socket.AF_UNSPEC)),
            attribute(NFQA_CFG_PARAMS, struct.pack(">IB", copy_range, NFQNL_COPY_PACKET)),
            attribute(NFQA_CFG_QUEUE_MAXLEN, _BE32.pack(max_len)),
            attribute(NFQA_CFG_MASK, _BE32.pack(NFQA_CFG_F_FAIL_OPEN)),
            attribute(NFQA_CFG_FLAGS, _BE32.pack(NFQA_CFG_F_FAIL_OPEN if fail_open else 0)),
        )
    )
    return nfq_message(NFQNL_MSG_CONFIG, queue_num, body, flags=NLM_F_REQUEST | NLM_F_ACK, seq=seq)


def unbind_message(queue_num: int, *, seq: int) -> bytes:
    """Unbind ``queue_num``; the kernel drops what is still waiting in it."""
    command = attribute(NFQA_CFG_CMD, struct.pack(">BxH", NFQNL_CFG_CMD_UNBIND, socket.AF_UNSPEC))
    return nfq_message(NFQNL_MSG_CONFIG, queue_num, command, flags=NLM_F_REQUEST, seq=seq)


@functools.lru_cache(maxsize=16)
def _verdict_prefix(msg_type: int, queue_num: int, with_mark: bool) -> bytes:
    """Everything of a verdict message before the verdict and id (constant per queue)."""
    body_len = _NLATTR.size + _BE32_PAIR.size + ((_NLATTR.size + _BE32.size) if with_mark else 0)
    message = nfq_message(msg_type, queue_num, bytes(body_len), flags=NLM_F_REQUEST, seq=0)
    return message[:_HEADERS] + _NLATTR.pack(_NLATTR.size + _BE32_PAIR.size, NFQA_VERDICT_HDR)


_MARK_ATTR_HEADER = _NLATTR.pack(_NLATTR.size + _BE32.size, NFQA_MARK)


def verdict_message(queue_num: int, packet_id: int, verdict: int, mark: int | None = None) -> bytes:
    """NFQNL_MSG_VERDICT for one packet, with a new mark when ``mark`` is given.

    No ACK: the kernel answers a verdict only when it fails (an NLMSG_ERROR).
    """
    head = _verdict_prefix(NFQNL_MSG_VERDICT, queue_num, mark is not None)
    if mark is None:
        return head + _BE32_PAIR.pack(verdict, packet_id)
    return head + _BE32_PAIR.pack(verdict, packet_id) + _MARK_ATTR_HEADER + _BE32.pack(mark)


def batch_verdict_message(queue_num: int, last_id: int, verdict: int) -> bytes:
    """NFQNL_MSG_VERDICT_BATCH: ``verdict`` for every packet still waiting with id <= ``last_id``.

    The kernel walks its queue in id order (wrap-safe) and stops at the first
    later id, so this is only correct once every earlier packet has had its
    own verdict sent before it.
    """
    head = _verdict_prefix(NFQNL_MSG_VERDICT_BATCH, queue_num, False)
    return head + _BE32_PAIR.pack(verdict, last_id)


# -- reading -----------------------------------------------------------------------


class Message(NamedTuple):
    """Where one netlink message lies in a received datagram."""

    msg_type: int
    seq: int
    start: int
    """Offset of its nlmsghdr."""
    end: int
    """Offset just past it (without alignment padding)."""


def read_messages(
    data: bytes | bytearray | memoryview, size: int | None = None
) -> Iterator[Message]:
    """Every netlink message in the first ``size`` bytes of ``data`` (all of it by default)."""
    end = len(data) if size is None else size
    offset = 0
    while offset + _NLMSGHDR.size <= end:
        length, msg_type, _flags, seq, _pid = _NLMSGHDR.unpack_from(data, offset)
        if length < _NLMSGHDR.size or offset + length > end:
            raise NetlinkError(f"netlink message of length {length} at {offset} of {end} bytes")
        yield Message(msg_type, seq, offset, offset + length)
        offset += (length + NLMSG_ALIGNTO - 1) & ~(NLMSG_ALIGNTO - 1)
    if offset < end:
        raise NetlinkError(f"{end - offset} trailing bytes after netlink messages")


def read_error(data: bytes | bytearray | memoryview, message: Message) -> int:
    """The errno of an NLMSG_ERROR (0 for an ACK)."""
    start = message.start + _NLMSGHDR.size
    if start + _NLMSGERR.size > message.end:
        raise NetlinkError("NLMSG_ERROR too short for its error code")
    (code,) = _NLMSGERR.unpack_from(data, start)
    return -int(code)


_attr_at = _NLATTR.unpack_from
_be32_at = _BE32.unpack_from
_be16_at = struct.Struct(">H").unpack_from
_len_type_at = struct.Struct("=IH").unpack_from  # nlmsghdr's length and type


def read_packet(data: bytes | bytearray | memoryview, start: int, end: int) -> QueuedPacket:
    """The attributes copgate reads of the NFQNL_MSG_PACKET at ``data[start:end]``; others
    are skipped.

    On every queued packet's path, so written for speed: struct methods bound
    once, the payload (the kernel puts it last) tested first.
    """
    packet_id = -1
    mark = indev = 0
    payload = hwaddr = b""
    offset = start + _HEADERS
    while offset + 4 <= end:
        length, attr_type = _attr_at(data, offset)
        after = offset + length
        if length < 4 or after > end:
            raise NetlinkError(f"attribute of length {length} at {offset} overruns its message")
        attr_type &= NLA_TYPE_MASK
        if attr_type == NFQA_PAYLOAD:
            payload = bytes(data[offset + 4 : after])
        elif length >= 8:
            if attr_type == NFQA_PACKET_HDR:
                packet_id = _be32_at(data, offset + 4)[0]
            elif attr_type == NFQA_MARK:
                mark = _be32_at(data, offset + 4)[0]
            elif attr_type == NFQA_IFINDEX_INDEV:
                indev = _be32_at(data, offset + 4)[0]
            elif attr_type == NFQA_HWADDR:  # nfqnl_msg_packet_hw: be16 length, pad, 8 bytes
                hw_len = min(_be16_at(data, offset + 4)[0], length - 8)
                hwaddr = bytes(data[offset + 8 : offset + 8 + hw_len])
        offset = (after + 3) & ~3  # NLA_ALIGN
    if packet_id < 0:
        raise NetlinkError("queued packet without NFQA_PACKET_HDR")
    return new_tuple(QueuedPacket, (packet_id, payload, mark, indev, hwaddr))


def single_packet(data: bytes | bytearray | memoryview, size: int) -> bool:
    """Whether the first ``size`` bytes are exactly one NFQNL_MSG_PACKET: the usual
    datagram (the kernel sends each queued packet on its own), read without the walk."""
    return size >= _HEADERS and _len_type_at(data) == (size, PACKET)


@functools.lru_cache(maxsize=1024)
def mac_text(hwaddr: bytes) -> str | None:
    """``aa:bb:cc:dd:ee:ff`` for an Ethernet-sized address, else None (cached: a LAN
    has few clients, and formatting costs more than the rest of a packet's reading)."""
    if len(hwaddr) < HWADDR_MAC_LEN:
        return None
    return ":".join(f"{byte:02x}" for byte in hwaddr[:HWADDR_MAC_LEN])


def read_proc_counters(text: str, queue_num: int) -> QueueCounters | None:
    """The counters of ``queue_num`` from /proc/net/netfilter/nfnetlink_queue, if it is bound."""
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < _MAX_PROC_FIELDS - 1 or not all(f.lstrip("-").isdigit() for f in fields):
            continue
        numbers = [int(field) for field in fields[: _MAX_PROC_FIELDS - 1]]
        if numbers[0] == queue_num:
            return QueueCounters(*numbers)
    return None


# -- the socket ------------------------------------------------------------------------

ACK_TIMEOUT = 2.0
"""Seconds to wait for the kernel's answer to a config message (it answers in microseconds)."""
RECEIVE_BUFFER = 4 * 1024 * 1024
"""Bytes of socket receive buffer: a burst of a full 4096-packet queue of small packets fits."""
RECEIVE_SIZE = 65536 + 4096
"""Bytes read per datagram: one whole copied packet with its headers and attributes."""
_REFUSALS = {
    errno.EPERM: "queue {q} is bound by another process (is another copgate running?)",
    errno.EBUSY: "queue {q} is already bound (is another copgate running?)",
    errno.EOPNOTSUPP: "the kernel does not support the queue flags asked for queue {q}",
    errno.EINVAL: "the kernel refused the configuration of queue {q} as invalid",
}


class NfqueueSocket:
    """A netlink socket bound to one nfnetlink_queue; non-blocking once bound."""

    def __init__(self, queue_num: int, *, max_len: int, fail_open: bool) -> None:
        self.queue_num = queue_num
        self.enobufs = 0
        """Times the kernel still reported a receive-buffer overflow (ENOBUFS)."""
        self._seq = 0
        self._backlog: deque[bytes] = deque()
        self.buffer = bytearray(RECEIVE_SIZE)
        """Where ``receive`` puts each datagram; overwritten by the next."""
        self._socket = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        try:
            self._socket.setsockopt(SOL_NETLINK, NETLINK_NO_ENOBUFS, 1)
            self._grow_receive_buffer()
            self._socket.bind((0, 0))
            self._request(
                bind_message(queue_num, seq=self._next_seq(), max_len=max_len, fail_open=fail_open)
            )
            self._socket.setblocking(False)
        except BaseException:
            self._socket.close()
            raise

    def fileno(self) -> int:
        return self._socket.fileno()

    def receive(self) -> int:
        """Bytes of the next datagram from the kernel, now in ``buffer``; -1 when none waits."""
        if self._backlog:
            data = self._backlog.popleft()
            self.buffer[: len(data)] = data
            return len(data)
        while True:
            try:
                return self._socket.recv_into(self.buffer)
            except BlockingIOError:
                return -1
            except OSError as error:
                if error.errno != errno.ENOBUFS:
                    raise
                self.enobufs += 1  # packets were lost to a full buffer; the rest are still there

    def send(self, data: bytes) -> None:
        """Messages to the kernel, as one datagram."""
        self._socket.send(data)

    def close(self) -> None:
        """Unbind and close; closing alone would unbind too (the kernel's netlink notifier)."""
        try:
            self._socket.send(unbind_message(self.queue_num, seq=self._next_seq()))
        except OSError:
            pass  # closing below releases the queue anyway
        finally:
            self._socket.close()

    def _grow_receive_buffer(self) -> None:
        try:
            self._socket.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RECEIVE_BUFFER)
        except PermissionError:
            self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFFFFFFFF
        return self._seq

    def _request(self, message: bytes) -> None:
        """Send a config message and wait for its ACK; packets that arrive meanwhile wait."""
        seq = _NLMSGHDR.unpack_from(message)[3]
        self._socket.settimeout(ACK_TIMEOUT)
        self._socket.send(message)
        while True:
            try:
                data = self._socket.recv(RECEIVE_SIZE)
            except TimeoutError:
                raise NetlinkError(
                    f"no answer from the kernel for queue {self.queue_num}"
                ) from None
            for found in read_messages(data):
                if found.msg_type == NLMSG_ERROR and found.seq == seq:
                    self._raise_refusal(read_error(data, found))
                    return
            self._backlog.append(data)

    def _raise_refusal(self, code: int) -> None:
        if code == 0:
            return
        text = _REFUSALS.get(code, "the kernel refused queue {q}").format(q=self.queue_num)
        detail = f"{text}: {os.strerror(code)}"
        if code in (errno.EPERM, errno.EBUSY):
            raise QueueBusyError(detail, code)
        raise NetlinkError(detail, code)
