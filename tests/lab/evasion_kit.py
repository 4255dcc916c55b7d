"""Crafting kit of the evasion lab tests: a TCP client that does its own handshake.

An evader on the LAN does not use the kernel's TCP: it writes every segment
itself, with the sequence numbers, TTL and checksum it likes. ``RawTcp`` is
that client, inside a lab client's namespace: it sends IP datagrams built
with scapy through a raw socket (``IPPROTO_RAW``: the datagram is sent as
written, the kernel only routes it), and reads what comes back on an
``AF_PACKET`` socket on the client's interface. The kernel of the client
namespace, which has no socket for these connections, would answer the
server's SYN-ACK with a reset; ``kernel_resets_dropped`` drops those (and
only those: source ports ``KIT_PORTS``, without the kit's own ``KIT_MARK``)
with a rule in the client's namespace, never in the gateway's.

A segment can carry what a server drops it for: a short TTL (with
``ttl_dies_at_server`` standing for the hop where it dies), a bad checksum,
an old timestamp (``timestamps=True`` and ``tsval``), an acknowledgment
number, an urgent pointer, a TCP option, an IPv6 extension header
(``emit_with_extension``), or it can go as IP fragments. ``RawUdp`` sends
crafted datagrams (QUIC Initials) the same way; ``syn_flood`` and
``flooding`` send SYNs in bulk; ``fast_open`` turns TCP Fast Open on for the
lab's running nginx and back off.

Sockets are opened inside a namespace by a short-lived thread that joins it
(``setns``), so a test drives several clients from one process; a socket
keeps the namespace it was made in.

What "got through" means here, as the tests use it:
- TLS: a ServerHello (record type 0x16, handshake type 2) reached the client
  in answer to the ClientHello carrying the blocked name; the ServerHello
  echoes the hello's legacy session id (RFC 8446 §4.1.3), which tells the
  two hellos of a trick apart (``RawTcp.answered``);
- HTTP: the lab's nginx page for the blocked name reached the client (its
  title ``lab NAME``), not copgate's redirect or block page.

This is test-bench code: it runs as root in the lab only, and it never
sends anything outside the lab's namespaces (every address comes from
``copgate.lab.plan``).
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import os
import random
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any, NamedTuple, Self, TypeVar

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet import fragment as _scapy_fragment
from scapy.layers.inet6 import IPv6

from copgate.lab import plan
from copgate.lab.processes import Namespace
from copgate.lab.topology import Client, Lab

T = TypeVar("T")
IpAddress = IPv4Address | IPv6Address

CLONE_NEWNET = 0x4000_0000  # <sched.h>
ETH_P_ALL = 0x0003  # <linux/if_ether.h>
ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
PACKET_OUTGOING = 4  # <linux/if_packet.h>: a packet this host sent
ETHERNET_HEADER = 14
IPV6_HEADER = 40
PROTO_TCP = 6
PROTO_UDP = 17
UDP_CHECKSUM_AT = 6
SEQ_MODULO = 1 << 32

KIT_MARK = 0x0C6A_7E00
"""skb mark of what the kit sends, so that only the kernel's own resets are dropped."""
KIT_PORTS = (61000, 61999)
"""Source ports of crafted connections: above Linux's ephemeral range
(32768-60999), so no kernel socket of the client ever uses one."""
DEFAULT_TTL = 64
SHORT_TTL = 2
"""A TTL that crosses the gateway (which makes it 1) and reaches the server
side with 1: ``ttl_dies_at_server`` drops it there, as the next hop would."""
DYING_BELOW = 8
"""The internet namespace drops what arrives with a TTL (hop limit) under this."""
WAIT = 2.0
"""Seconds a test waits for an answer that should come (or proves none came)."""
POLL = 0.01
MSS = 1400
TCP_OPT_TIMESTAMP = 8  # RFC 7323 §3
TS_START = 1_000_000

TLS_HANDSHAKE = 0x16
TLS_SERVER_HELLO = 2
TLS_RECORD_MAX = 16384  # RFC 8446 §5.1: a record's plaintext
TLS_EXT_PADDING = 21  # RFC 7685

_libc = ctypes.CDLL(None, use_errno=True)
_fragment: Callable[..., list[Any]] = _scapy_fragment
_first_port = random.randint(*KIT_PORTS)
_ports = itertools.chain(
    range(_first_port, KIT_PORTS[1] + 1), itertools.cycle(range(KIT_PORTS[0], KIT_PORTS[1] + 1))
)


def next_port() -> int:
    """A source port of the kit's range, from a random start, each in turn."""
    return next(_ports)


# -- namespaces ----------------------------------------------------------------


def in_netns(netns: Namespace, make: Callable[[], T]) -> T:
    """``make()`` run by a thread inside ``netns``: sockets it makes stay in it."""
    result: list[T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            fd = os.open(f"/run/netns/{netns.name}", os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    errno = ctypes.get_errno()
                    raise OSError(errno, f"setns {netns.name}: {os.strerror(errno)}")
            finally:
                os.close(fd)
            result.append(make())
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=run, name=f"setns-{netns.name}")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]


def family_of(address: IpAddress) -> int:
    return 4 if address.version == 4 else 6


def client_address(client: Client, family: int) -> IpAddress:
    return client.v4 if family == 4 else client.v6


def server_address(name: str, family: int) -> IpAddress:
    host = plan.host(name)
    return host.v4 if family == 4 else host.v6


def tcp_socket(
    client: Client, server: IpAddress, port: int, timeout: float = WAIT
) -> socket.socket:
    """A kernel TCP connection from ``client`` to ``server``: for honest clients and
    for tricks that need only the bytes, not the segments."""
    af = socket.AF_INET if server.version == 4 else socket.AF_INET6
    sock = in_netns(client.netns, lambda: socket.socket(af, socket.SOCK_STREAM))
    sock.settimeout(timeout)
    sock.connect((str(server), port))
    return sock


def raw_pair(client: Client, family: int) -> tuple[socket.socket, socket.socket]:
    """In ``client``'s namespace: a raw IP socket that sends whole datagrams with
    the kit's mark, and a packet socket that sees everything on its interface."""
    af = socket.AF_INET if family == 4 else socket.AF_INET6

    def make() -> tuple[socket.socket, socket.socket]:
        send = socket.socket(af, socket.SOCK_RAW, socket.IPPROTO_RAW)
        send.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, KIT_MARK)
        sniff = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        sniff.bind((plan.CLIENT_INTERFACE, ETH_P_ALL))
        sniff.settimeout(0.05)
        return send, sniff

    return in_netns(client.netns, make)


def read_for(sock: socket.socket, seconds: float) -> bytes:
    """What ``sock`` receives within ``seconds`` (or until the peer closes or resets)."""
    data = b""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except (TimeoutError, ConnectionResetError):
            break
        if not chunk:
            break
        data += chunk
    return data


def nginx_page(name: str) -> bytes:
    """What only the lab's real server sends for ``name`` (``servers.PAGE``)."""
    return f"<title>lab {name}</title>".encode()


# -- rules in the lab's namespaces ---------------------------------------------


def _tools(lab: Lab, family: int | None) -> tuple[str, ...]:
    if family is None:
        return lab.iptables
    return (lab.iptables[0],) if family == 4 else (lab.iptables[1],)


@contextlib.contextmanager
def rule(
    lab: Lab, netns: Namespace, table: str, chain: str, match: list[str], family: int | None = None
) -> Iterator[None]:
    """An iptables rule (``-j DROP`` after ``match``) inserted first, removed on leaving."""
    tools = _tools(lab, family)
    added: list[str] = []
    try:
        for tool in tools:
            argv = [tool, "-w", "-t", table, "-I", chain, *match, "-j", "DROP"]
            lab.run(netns, argv, check=True)
            added.append(tool)
        yield
    finally:
        for tool in added:
            argv = [tool, "-w", "-t", table, "-D", chain, *match, "-j", "DROP"]
            lab.run(netns, argv, check=False)


@contextlib.contextmanager
def kernel_resets_dropped(lab: Lab, client: Client) -> Iterator[None]:
    """The client kernel's resets from the kit's ports dropped (in its namespace only)."""
    ports = f"{KIT_PORTS[0]}:{KIT_PORTS[1]}"
    match = ["-p", "tcp", "--sport", ports, "--tcp-flags", "RST", "RST"]
    match += ["-m", "mark", "!", "--mark", hex(KIT_MARK)]
    with rule(lab, client.netns, "filter", "OUTPUT", match):
        yield


@contextlib.contextmanager
def ttl_dies_at_server(lab: Lab) -> Iterator[None]:
    """The internet side drops what arrives with a short TTL: the hop where it dies."""
    with (
        rule(
            lab, lab.internet, "raw", "PREROUTING", ["-m", "ttl", "--ttl-lt", str(DYING_BELOW)], 4
        ),
        rule(lab, lab.internet, "raw", "PREROUTING", ["-m", "hl", "--hl-lt", str(DYING_BELOW)], 6),
    ):
        yield


@contextlib.contextmanager
def sysctl(lab: Lab, netns: Namespace, name: str, value: str) -> Iterator[None]:
    """``name`` set to ``value`` inside ``netns``, restored on leaving."""
    before = lab.run(netns, ["sysctl", "-n", name], check=True).stdout.strip()
    lab.run(netns, ["sysctl", "-qw", f"{name}={value}"], check=True)
    try:
        yield
    finally:
        lab.run(netns, ["sysctl", "-qw", f"{name}={before}"], check=False)


def tcp_ext(lab: Lab, netns: Namespace, counter: str) -> int:
    """A ``TcpExt`` counter of ``/proc/net/netstat`` in ``netns`` (e.g. TCPFastOpenPassive)."""
    lines = lab.run(netns, ["cat", "/proc/net/netstat"], check=True).stdout.splitlines()
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            return int(dict(zip(names.split(), values.split(), strict=True))[counter])
    raise KeyError(counter)


# -- TCP Fast Open on the lab's running nginx ------------------------------------

TCP_FASTOPEN = 23  # <netinet/tcp.h>
SYS_PIDFD_GETFD = 438  # x86-64 and aarch64 alike (Linux 5.6)
TFO_SERVER = 0x2 | 0x200
"""net.ipv4.tcp_fastopen: server on, and data in a SYN accepted without a cookie."""
TFO_CLIENT = 0x1 | 0x4
"""net.ipv4.tcp_fastopen: client on, data sent in the SYN without a cookie."""
TFO_QUEUE = 64


def _listener_inodes(pid: int, port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("tcp", "tcp6"):
        with open(f"/proc/{pid}/net/{table}") as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == "0A" and int(local.rpartition(":")[2], 16) == port:
                    inodes.add(inode)
    return inodes


def set_listener_fastopen(pid: int, port: int, queue: int) -> int:
    """TCP_FASTOPEN on the listening sockets of ``pid`` for ``port``; how many.

    nginx in the lab listens without ``fastopen=``, and the sysctl's "every
    listener" bit applies only at ``listen()``: the test borrows nginx's own
    sockets (``pidfd_getfd``, root in the lab) to turn TFO on and off.
    """
    wanted = _listener_inodes(pid, port)
    done = 0
    pidfd = os.pidfd_open(pid)
    try:
        for entry in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{entry}")
            except FileNotFoundError:
                continue
            if not (target.startswith("socket:[") and target[8:-1] in wanted):
                continue
            fd = _libc.syscall(SYS_PIDFD_GETFD, pidfd, int(entry), 0)
            if fd < 0:
                errno = ctypes.get_errno()
                raise OSError(errno, f"pidfd_getfd: {os.strerror(errno)}")
            borrowed = socket.socket(fileno=fd)
            try:
                borrowed.setsockopt(socket.IPPROTO_TCP, TCP_FASTOPEN, queue)
            finally:
                borrowed.close()  # our copy only: nginx keeps its socket
            wanted.discard(target[8:-1])
            done += 1
    finally:
        os.close(pidfd)
    return done


@contextlib.contextmanager
def fast_open(lab: Lab, clients: tuple[Client, ...] = ()) -> Iterator[None]:
    """TCP Fast Open on the lab's HTTPS server (and on these clients' kernels)."""
    nginx = next(p for p in lab.processes if p.name == "nginx")
    with contextlib.ExitStack() as stack:
        stack.enter_context(sysctl(lab, lab.internet, "net.ipv4.tcp_fastopen", hex(TFO_SERVER)))
        for client in clients:
            sysctl_cm = sysctl(lab, client.netns, "net.ipv4.tcp_fastopen", hex(TFO_CLIENT))
            stack.enter_context(sysctl_cm)
        if set_listener_fastopen(nginx.pid, 443, TFO_QUEUE) < 2:
            raise AssertionError("nginx's IPv4 and IPv6 listeners on 443 were not found")
        stack.callback(set_listener_fastopen, nginx.pid, 443, 0)
        yield


# -- ClientHellos ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hello:
    """A real ClientHello (OpenSSL's, through Python's ssl) as TLS records."""

    name: str
    records: bytes
    session_id: bytes
    """The legacy session id a ServerHello answering this hello echoes."""

    def __len__(self) -> int:
        return len(self.records)


def client_hello(name: str, *, padding: int = 0) -> Hello:
    """OpenSSL's ClientHello for ``name``; ``padding`` bytes of a padding extension
    (RFC 7685) put first, so the name comes after them, in as many records as needed."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=name)
    with contextlib.suppress(ssl.SSLWantReadError):
        tls.do_handshake()
    record = outgoing.read()
    if record[0] != TLS_HANDSHAKE or record[5] != 1:
        raise AssertionError("ssl did not write a ClientHello")
    message = record[5:]
    body = message[4:]
    at = 2 + 32
    session_id = body[at + 1 : at + 1 + body[at]]
    if padding:
        body = _padded(body, padding)
        message = bytes([1]) + len(body).to_bytes(3, "big") + body
    records = b""
    for start in range(0, len(message), TLS_RECORD_MAX):
        piece = message[start : start + TLS_RECORD_MAX]
        records += bytes([TLS_HANDSHAKE]) + record[1:3] + struct.pack("!H", len(piece)) + piece
    return Hello(name, records, session_id)


def _padded(body: bytes, padding: int) -> bytes:
    """``body`` (a ClientHello's) with one padding extension of ``padding`` bytes, first.

    OpenSSL pads its own hello already; a second padding extension would be a
    duplicate, which a server refuses (RFC 8446 §4.2), so that one goes.
    """
    at = 2 + 32
    at += 1 + body[at]  # session id
    at += 2 + struct.unpack_from("!H", body, at)[0]  # cipher suites
    at += 1 + body[at]  # compression methods
    (length,) = struct.unpack_from("!H", body, at)
    kept = struct.pack("!HH", TLS_EXT_PADDING, padding) + bytes(padding)
    cursor, end = at + 2, at + 2 + length
    while cursor < end:
        kind, size = struct.unpack_from("!HH", body, cursor)
        if kind != TLS_EXT_PADDING:
            kept += body[cursor : cursor + 4 + size]
        cursor += 4 + size
    return body[:at] + struct.pack("!H", len(kept)) + kept + body[end:]


def server_hello_session_ids(stream: bytes) -> list[bytes]:
    """Session ids echoed by the ServerHellos that open a server's TLS stream."""
    found: list[bytes] = []
    at = 0
    while at + 5 <= len(stream):
        kind, length = stream[at], struct.unpack_from("!H", stream, at + 3)[0]
        fragment = stream[at + 5 : at + 5 + length]
        if kind == TLS_HANDSHAKE and len(fragment) > 39 and fragment[0] == TLS_SERVER_HELLO:
            sid_at = 4 + 2 + 32
            found.append(fragment[sid_at + 1 : sid_at + 1 + fragment[sid_at]])
        at += 5 + length
        if kind != TLS_HANDSHAKE:
            break
    return found


# -- the raw client --------------------------------------------------------------


@dataclass(slots=True)
class Segment:
    """A TCP segment from the server, as the client's interface saw it."""

    seq: int
    ack: int
    flags: int
    payload: bytes
    ttl: int


class Inbound(NamedTuple):
    """A frame the server sent to the client, read past its IP header."""

    proto: int
    ttl: int
    """TTL (IPv6: hop limit) as the frame arrived."""
    transport: bytes
    """From the transport header to the end of the IP datagram."""


def inbound(frame: bytes, family: int, server: IpAddress, client: IpAddress) -> Inbound | None:
    """``frame`` read as an IP datagram of ``family`` from ``server`` to ``client``, else None."""
    ethertype = struct.unpack_from("!H", frame, 12)[0]
    ip = frame[ETHERNET_HEADER:]
    if ethertype == ETH_P_IP and family == 4:
        header, proto, ttl = (ip[0] & 15) * 4, ip[9], ip[8]
        src, dst = ip_address(ip[12:16]), ip_address(ip[16:20])
        end = struct.unpack_from("!H", ip, 2)[0]
    elif ethertype == ETH_P_IPV6 and family == 6:
        header, proto, ttl = IPV6_HEADER, ip[6], ip[7]
        src, dst = ip_address(ip[8:24]), ip_address(ip[24:40])
        end = IPV6_HEADER + struct.unpack_from("!H", ip, 4)[0]
    else:
        return None
    if src != server or dst != client:
        return None
    return Inbound(proto, ttl, ip[header:end])


@dataclass(slots=True)
class RawPeer:
    """A lab client's crafted traffic to one server port: the marked raw sender, and
    a thread that hands every frame the server sends back to ``_take_frame``."""

    client: Client
    server: IpAddress
    dport: int
    sport: int = field(default_factory=next_port)
    _send: socket.socket | None = None
    _sniff: socket.socket | None = None
    _thread: threading.Thread | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    @property
    def family(self) -> int:
        return family_of(self.server)

    @property
    def source(self) -> IpAddress:
        return client_address(self.client, self.family)

    def __enter__(self) -> Self:
        self._send, self._sniff = raw_pair(self.client, self.family)
        name = f"{type(self).__name__.lower()}-{self.sport}"
        self._thread = threading.Thread(target=self._receive, name=name)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        for sock in (self._send, self._sniff):
            if sock is not None:
                sock.close()

    def _receive(self) -> None:
        assert self._sniff is not None
        while not self._stop.is_set():
            try:
                frame, address = self._sniff.recvfrom(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if address[2] == PACKET_OUTGOING:
                continue
            got = inbound(frame, self.family, self.server, self.source)
            if got is not None:
                self._take_frame(got)

    def _take_frame(self, got: Inbound) -> None:
        raise NotImplementedError


@dataclass(slots=True)
class RawTcp(RawPeer):
    """One crafted TCP connection from a lab client to a server port."""

    isn: int = field(default_factory=lambda: random.getrandbits(32))
    received: list[Segment] = field(default_factory=list)
    server_isn: int | None = None
    rcv_nxt: int | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _buffer: dict[int, bytes] = field(default_factory=dict)
    snd_nxt: int = 0
    timestamps: bool = False
    """Send the RFC 7323 timestamp option (from the SYN on)."""
    ts_clock: int = TS_START
    ts_peer: int = 0
    """The server's last TSval, echoed."""

    def __enter__(self) -> Self:
        self.snd_nxt = (self.isn + 1) % SEQ_MODULO
        return RawPeer.__enter__(self)

    # -- sending ------------------------------------------------------------

    def packet(
        self,
        flags: str,
        seq: int,
        payload: bytes = b"",
        *,
        ttl: int = DEFAULT_TTL,
        options: list[Any] | None = None,
        ack: int | None = None,
        urgent: int = 0,
        tsval: int | None = None,
    ) -> Any:
        """The scapy packet of one segment (not sent); ``urgent`` is the urgent pointer.

        With ``timestamps`` on, it carries the RFC 7323 option: ``tsval`` or the
        next value of the connection's clock, and the server's last value.
        """
        options = list(options or [])
        if self.timestamps:
            if tsval is None:
                self.ts_clock += 1
                tsval = self.ts_clock
            options.append(("Timestamp", (tsval % SEQ_MODULO, self.ts_peer)))
        if ack is None:
            ack = self.rcv_nxt or 0
        if "A" not in flags:
            ack = 0
        tcp = TCP(
            sport=self.sport,
            dport=self.dport,
            seq=seq % SEQ_MODULO,
            ack=ack,
            flags=flags,
            window=65535,
            options=options,
            urgptr=urgent,
        )
        if self.family == 4:
            return IP(src=str(self.source), dst=str(self.server), ttl=ttl) / tcp / payload
        return IPv6(src=str(self.source), dst=str(self.server), hlim=ttl) / tcp / payload

    def emit_with_extension(self, packet: Any, extension: Any) -> None:
        """Send one scapy IPv6 packet with ``extension`` (a scapy IPv6 extension
        header) between its IPv6 header and its TCP segment."""
        assert self.family == 6
        ip = packet[IPv6]
        rebuilt = IPv6(src=ip.src, dst=ip.dst, hlim=ip.hlim) / extension / packet[TCP]
        self.emit(rebuilt)

    def emit_fragments(self, packet: Any, size: int) -> None:
        """Send one scapy IPv4 packet as IP fragments of ``size`` data bytes."""
        assert self._send is not None and self.family == 4
        for piece in _fragment(packet, fragsize=size):
            with self._lock:
                self._send.sendto(bytes(piece), (str(self.server), 0))

    def emit(self, packet: Any, *, bad_checksum: bool = False) -> None:
        """Send one scapy packet; ``bad_checksum`` flips its TCP checksum."""
        wire = bytes(packet)
        if bad_checksum:
            header = IPV6_HEADER if self.family == 6 else (wire[0] & 15) * 4
            checksum = struct.unpack_from("!H", wire, header + 16)[0] ^ 0x5A5A
            wire = wire[: header + 16] + struct.pack("!H", checksum) + wire[header + 18 :]
        assert self._send is not None
        with self._lock:
            self._send.sendto(wire, (str(self.server), 0))

    def syn(self, data: bytes = b"", *, ttl: int = DEFAULT_TTL) -> None:
        """The SYN (with ``data``: TCP Fast Open, RFC 7413, without a cookie)."""
        options: list[Any] = [("MSS", MSS), ("SAckOK", b""), ("WScale", 7)]
        if data:
            options.append((34, b""))  # the TFO option, cookie request form
        self.emit(self.packet("S", self.isn, data, ttl=ttl, options=options))

    def connect(self, data: bytes = b"", *, timeout: float = WAIT, required: bool = True) -> int:
        """Handshake (``data`` in the SYN); how many SYN data bytes the server took.

        Without a SYN-ACK: AssertionError, or -1 when not ``required`` (a SYN
        whose data was judged and dropped never reaches the server).
        """
        self.syn(data)
        synack = self.wait_for(lambda: self.server_isn is not None, timeout)
        if not synack:
            if not required:
                return -1
            raise AssertionError(f"no SYN-ACK from {self.server}:{self.dport}")
        segment = next(s for s in self.received if s.flags & 0x12 == 0x12)
        taken = (segment.ack - self.isn - 1) % SEQ_MODULO
        self.snd_nxt = (self.isn + 1 + taken) % SEQ_MODULO
        self.emit(self.packet("A", self.snd_nxt))
        return taken

    def send(
        self,
        data: bytes,
        offset: int,
        *,
        ttl: int = DEFAULT_TTL,
        bad_checksum: bool = False,
        flags: str = "PA",
        urgent: int = 0,
        tsval: int | None = None,
        ack: int | None = None,
    ) -> None:
        """``data`` at stream ``offset`` (0 is the first byte after the SYN), one segment.

        ``urgent`` (with "U" in ``flags``) is the urgent pointer: Linux takes
        the byte before it out of the stream (RFC 9293 §3.8.5, BSD reading).
        """
        seq = (self.isn + 1 + offset) % SEQ_MODULO
        packet = self.packet(flags, seq, data, ttl=ttl, urgent=urgent, tsval=tsval, ack=ack)
        self.emit(packet, bad_checksum=bad_checksum)

    def send_stream(
        self, data: bytes, offset: int = 0, *, size: int = MSS, pause: float = 0.0
    ) -> None:
        """``data`` from ``offset`` in segments of ``size`` bytes, ``pause`` s apart."""
        for start in range(0, len(data), size):
            self.send(data[start : start + size], offset + start)
            if pause:
                time.sleep(pause)

    def reset(self, offset: int) -> None:
        self.send(b"", offset, flags="RA")

    # -- receiving ------------------------------------------------------------

    def _take_frame(self, got: Inbound) -> None:
        segment = self._parse(got)
        if segment is not None:
            self._take(segment)

    def _parse(self, got: Inbound) -> Segment | None:
        if got.proto != PROTO_TCP:
            return None
        tcp = got.transport
        sport, dport, seq, ack = struct.unpack_from("!HHII", tcp)
        if (sport, dport) != (self.dport, self.sport):
            return None
        offset, flags = (tcp[12] >> 4) * 4, tcp[13]
        self._read_timestamp(tcp[20:offset])
        return Segment(seq, ack, flags, bytes(tcp[offset:]), got.ttl)

    def _read_timestamp(self, options: bytes) -> None:
        at = 0
        while at < len(options):
            kind = options[at]
            if kind == 0:
                return
            if kind == 1:
                at += 1
                continue
            if at + 1 >= len(options) or options[at + 1] < 2:
                return
            if kind == TCP_OPT_TIMESTAMP and options[at + 1] == 10:
                self.ts_peer = struct.unpack_from("!I", options, at + 2)[0]
            at += options[at + 1]

    def _take(self, segment: Segment) -> None:
        self.received.append(segment)
        if segment.flags & 0x12 == 0x12 and self.server_isn is None:
            self.server_isn = segment.seq
            self.rcv_nxt = (segment.seq + 1) % SEQ_MODULO
            return
        if self.rcv_nxt is None or not segment.payload:
            return
        self._buffer.setdefault(segment.seq, segment.payload)
        advanced = False
        while (piece := self._buffer.pop(self.rcv_nxt, None)) is not None:
            self.rcv_nxt = (self.rcv_nxt + len(piece)) % SEQ_MODULO
            advanced = True
        if advanced:
            self.emit(self.packet("A", self.snd_nxt))

    def wait_for(self, done: Callable[[], bool], timeout: float = WAIT) -> bool:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                return False
            time.sleep(POLL)
        return True

    def stream(self) -> bytes:
        """The server's bytes in order from its first, as far as they are contiguous."""
        if self.server_isn is None:
            return b""
        pieces = {s.seq: s.payload for s in list(self.received) if s.payload}
        data, at = b"", (self.server_isn + 1) % SEQ_MODULO
        while at in pieces:
            data += pieces[at]
            at = (at + len(pieces[at])) % SEQ_MODULO
        return data

    def was_reset(self) -> bool:
        """Whether a reset came from the server's side (the server's or copgate's)."""
        return any(s.flags & 0x04 for s in list(self.received))

    def answered(self, hello: Hello) -> bool:
        """Whether a ServerHello answering ``hello`` (by its session id) came back."""
        return hello.session_id in server_hello_session_ids(self.stream())

    def wait_answer(self, hello: Hello, timeout: float = WAIT) -> bool:
        """Wait for a ServerHello to ``hello``; False after ``timeout`` or a reset."""
        return self.wait_for(lambda: self.answered(hello) or self.was_reset(), timeout) and (
            self.answered(hello)
        )


def _syns(client: Client, server: IpAddress, dport: int, count: int) -> list[bytes]:
    source = str(client_address(client, family_of(server)))
    layer: Any = (
        IP(src=source, dst=str(server))
        if server.version == 4
        else IPv6(src=source, dst=str(server))
    )
    return [
        bytes(layer / TCP(sport=1024 + n, dport=dport, seq=random.getrandbits(32), flags="S"))
        for n in range(count)
    ]


def _raw_sender(client: Client, server: IpAddress) -> socket.socket:
    af = socket.AF_INET if server.version == 4 else socket.AF_INET6
    return in_netns(client.netns, lambda: socket.socket(af, socket.SOCK_RAW, socket.IPPROTO_RAW))


def syn_flood(
    client: Client,
    server: IpAddress,
    dport: int,
    count: int,
    *,
    burst: int | None = None,
    rate: float | None = None,
) -> None:
    """``count`` SYNs from distinct source ports of ``client``: undecided flows.

    All at once, or ``burst`` at once and then ``rate`` a second (to stay
    under a per-client limit that would keep them from copgate).
    """
    packets = _syns(client, server, dport, count)
    started = time.monotonic()
    with _raw_sender(client, server) as sock:
        for number, packet in enumerate(packets):
            if rate is not None and burst is not None and number >= burst:
                due = started + (number - burst) / rate
                if (wait := due - time.monotonic()) > 0:
                    time.sleep(wait)
            sock.sendto(packet, (str(server), 0))


@contextlib.contextmanager
def flooding(client: Client, server: IpAddress, dport: int, ports: int = 1024) -> Iterator[None]:
    """SYNs from ``client`` as fast as a thread sends them (thousands a second),
    over and over from ``ports`` source ports, for as long as the block runs."""
    packets = _syns(client, server, dport, ports)
    stop = threading.Event()

    def run(sock: socket.socket) -> None:
        with sock:
            while not stop.is_set():
                for packet in packets:
                    sock.sendto(packet, (str(server), 0))

    thread = threading.Thread(target=run, args=(_raw_sender(client, server),), name="flood")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


# -- crafted UDP (QUIC Initials) ---------------------------------------------------


@dataclass(slots=True)
class RawUdp(RawPeer):
    """Crafted UDP datagrams from a lab client to a server port, and what comes back."""

    received: list[bytes] = field(default_factory=list)

    def send(self, payload: bytes, *, ttl: int = DEFAULT_TTL, bad_checksum: bool = False) -> None:
        """One datagram; ``bad_checksum`` flips its UDP checksum."""
        datagram = UDP(sport=self.sport, dport=self.dport) / payload
        packet: Any = (
            IP(src=str(self.source), dst=str(self.server), ttl=ttl)
            if self.family == 4
            else IPv6(src=str(self.source), dst=str(self.server), hlim=ttl)
        )
        wire = bytes(packet / datagram)
        if bad_checksum:
            at = (IPV6_HEADER if self.family == 6 else (wire[0] & 15) * 4) + UDP_CHECKSUM_AT
            checksum = struct.unpack_from("!H", wire, at)[0] ^ 0x5A5A
            wire = wire[:at] + struct.pack("!H", checksum) + wire[at + 2 :]
        assert self._send is not None
        self._send.sendto(wire, (str(self.server), 0))

    def _take_frame(self, got: Inbound) -> None:
        if got.proto != PROTO_UDP:
            return
        sport, dport, length = struct.unpack_from("!HHH", got.transport)
        if (sport, dport) == (self.dport, self.sport):
            self.received.append(bytes(got.transport[8:length]))

    def answered_within(self, seconds: float) -> bool:
        """Whether the server sent anything back within ``seconds``."""
        deadline = time.monotonic() + seconds
        while not self.received:
            if time.monotonic() > deadline:
                return False
            time.sleep(POLL)
        return True


@contextlib.contextmanager
def udp_to(netns: Namespace, address: IPv4Address, port: int) -> Iterator[list[bytes]]:
    """Every UDP payload from source ``port`` to ``address`` seen in ``netns`` while
    the block runs (on its interface ``eth0``); the list fills as they come."""
    sniff = in_netns(
        netns, lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    )
    sniff.bind((plan.CLIENT_INTERFACE, ETH_P_ALL))
    sniff.settimeout(0.05)
    seen: list[bytes] = []
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            try:
                frame = sniff.recv(65536)
            except TimeoutError:
                continue
            ip = frame[ETHERNET_HEADER:]
            if frame[12:14] != b"\x08\x00" or ip[9] != PROTO_UDP or ip[16:20] != address.packed:
                continue
            header = (ip[0] & 15) * 4
            if struct.unpack_from("!H", ip, header)[0] == port:
                seen.append(bytes(ip[header + 8 :]))

    thread = threading.Thread(target=run, name=f"udp-to-{address}")
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join()
        sniff.close()


def send_spoofed_udp(
    client: Client, source: IPv4Address, server: IPv4Address, port: int, payload: bytes
) -> None:
    """One UDP datagram from ``client``'s namespace that claims ``source``."""
    packet = IP(src=str(source), dst=str(server)) / UDP(sport=next_port(), dport=port) / payload
    with _raw_sender(client, server) as sock:
        sock.sendto(bytes(packet), (str(server), 0))
