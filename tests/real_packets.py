"""The real packets of ../shared/data/captures, as IP datagrams, for tests.

Reads every capture once per test session (through the same capture reader
and link-layer code ``copgate inspect`` uses) and offers the client-to-server
ClientHello byte streams and QUIC Initial datagrams that the re-cut and fuzz
tests replay.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import NamedTuple

from copgate.errors import WireError
from copgate.tools.capture import read_capture
from copgate.wire.link import ip_datagram
from copgate.wire.packet import PROTO_TCP, PROTO_UDP, TCP_SYN, read_ip
from copgate.wire.quic import looks_like_quic_initial
from tests.conftest import shared_data


class CapturedDatagram(NamedTuple):
    capture: str
    frame: int
    data: bytes


@functools.cache
def _all_datagrams(directory: Path) -> tuple[CapturedDatagram, ...]:
    out = []
    for path in sorted(directory.glob("*.pcap*")):
        for index, frame in enumerate(read_capture(path)):
            try:
                datagram = ip_datagram(frame.linktype, frame.data)
            except WireError:
                continue
            if datagram is not None:
                out.append(CapturedDatagram(path.name, index, datagram))
    return tuple(out)


def all_datagrams() -> tuple[CapturedDatagram, ...]:
    """Every IP datagram of every real capture."""
    return _all_datagrams(shared_data("captures"))


class TcpStream(NamedTuple):
    capture: str
    isn: int
    """The client's initial sequence number (from its SYN)."""
    data: bytes
    """The client's first bytes, in sequence order."""
    sport: int
    dport: int


@functools.cache
def _tls_streams(directory: Path) -> tuple[TcpStream, ...]:
    syns: dict[tuple[str, bytes, int, bytes, int], int] = {}
    flows: dict[tuple[str, bytes, int, bytes, int], dict[int, bytes]] = {}
    for item in _all_datagrams(directory):
        try:
            packet = read_ip(item.data)
        except WireError:
            continue
        if packet.proto != PROTO_TCP:
            continue
        key = (item.capture, packet.src, packet.sport, packet.dst, packet.dport)
        if packet.flags & TCP_SYN:
            syns[key] = packet.seq
        elif packet.payload:
            flows.setdefault(key, {}).setdefault(packet.seq, packet.payload)
    out = []
    for key, pieces in flows.items():
        capture, _src, sport, _dst, dport = key
        # Without the SYN in the capture, the stream starts at the lowest sequence number.
        isn = syns.get(key, min(pieces) - 1)
        stream = bytearray()
        for seq in sorted(pieces):
            offset = (seq - isn - 1) % (1 << 32)
            if offset == len(stream):
                stream += pieces[seq]
            elif offset < len(stream) < offset + len(pieces[seq]):
                stream += pieces[seq][len(stream) - offset :]
        if stream[:1] == b"\x16" and stream[5:6] == b"\x01":
            out.append(TcpStream(capture, isn, bytes(stream[:65536]), sport, dport))
    return tuple(out)


def tls_streams() -> tuple[TcpStream, ...]:
    """The client streams of every TLS flow whose SYN is in a capture."""
    return _tls_streams(shared_data("captures"))


@functools.cache
def _quic_flows(directory: Path) -> tuple[tuple[str, tuple[bytes, ...]], ...]:
    flows: dict[tuple[str, bytes, int, bytes, int], list[bytes]] = {}
    for item in _all_datagrams(directory):
        try:
            packet = read_ip(item.data)
        except WireError:
            continue
        if packet.proto == PROTO_UDP and looks_like_quic_initial(packet.payload):
            key = (item.capture, packet.src, packet.sport, packet.dst, packet.dport)
            reverse = (item.capture, packet.dst, packet.dport, packet.src, packet.sport)
            if reverse not in flows:
                flows.setdefault(key, []).append(item.data)
    return tuple((key[0], tuple(datagrams)) for key, datagrams in flows.items())


def quic_flows() -> tuple[tuple[str, tuple[bytes, ...]], ...]:
    """Per QUIC flow in the captures, the client's Initial datagrams (as IP datagrams)."""
    return _quic_flows(shared_data("captures"))
