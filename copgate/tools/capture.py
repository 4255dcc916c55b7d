"""Reading pcap and pcapng capture files: frames with their link type.

A small strict reader of the two formats (pcap: the tcpdump file format;
pcapng: draft-ietf-opsawg-pcapng), so that ``copgate inspect`` needs no
third-party dissector and a damaged file is caught rather than silently cut
short. It yields raw frames and never interprets them; the wire core does.
A file that is not a capture, or whose header is damaged, raises
``CaptureError`` naming the file; a damaged or truncated record raises it
after every good frame before it.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, NamedTuple

from copgate.errors import CaptureError

PCAP_MICRO = 0xA1B2C3D4
PCAP_NANO = 0xA1B23C4D
PCAPNG_SHB = 0x0A0D0D0A
PCAPNG_BYTE_ORDER_MAGIC = 0x1A2B3C4D
PCAPNG_IDB = 1
PCAPNG_OPB = 2  # obsolete Packet Block
PCAPNG_SPB = 3
PCAPNG_EPB = 6
IDB_OPTION_TSRESOL = 9
MAX_RECORD = 1 << 24  # no link layer carries frames of 16 MiB; a bigger length is damage


class Frame(NamedTuple):
    """One captured frame."""

    time: float
    linktype: int
    data: bytes


def read_capture(path: Path) -> Iterator[Frame]:
    """Every frame of a pcap or pcapng file, in file order."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise CaptureError(f"{path}: {exc.strerror or exc}") from exc
    with handle:
        magic = handle.read(4)
        if len(magic) == 4 and struct.unpack("<I", magic)[0] == PCAPNG_SHB:
            yield from _pcapng(path, handle, magic)
            return
        for order in ("<", ">"):
            if len(magic) == 4 and struct.unpack(order + "I", magic)[0] in (PCAP_MICRO, PCAP_NANO):
                yield from _pcap(path, handle, order, struct.unpack(order + "I", magic)[0])
                return
        raise CaptureError(f"{path}: not a pcap or pcapng file (magic {magic.hex() or 'empty'})")


def _exact(path: Path, handle: BinaryIO, size: int, what: str) -> bytes:
    data = handle.read(size)
    if len(data) != size:
        raise CaptureError(f"{path}: truncated {what} at byte {handle.tell()}")
    return data


def _pcap(path: Path, handle: BinaryIO, order: str, magic: int) -> Iterator[Frame]:
    header = _exact(path, handle, 20, "pcap file header")
    _major, _minor, _zone, _sigfigs, _snaplen, linktype = struct.unpack(order + "HHiIII", header)
    divisor = 1e9 if magic == PCAP_NANO else 1e6
    record = struct.Struct(order + "IIII")
    count = 0
    while True:
        head = handle.read(16)
        if not head:
            return
        if len(head) != 16:
            raise CaptureError(f"{path}: truncated record header after packet {count}")
        sec, frac, caplen, _wirelen = record.unpack(head)
        if caplen > MAX_RECORD:
            raise CaptureError(f"{path}: record {count + 1} claims {caplen} bytes")
        data = _exact(path, handle, caplen, f"record {count + 1}")
        count += 1
        yield Frame(sec + frac / divisor, linktype & 0x0FFFFFFF, data)


class _Interface(NamedTuple):
    linktype: int
    snaplen: int
    resolution: float


def _pcapng(path: Path, handle: BinaryIO, first: bytes) -> Iterator[Frame]:
    order = "<"
    interfaces: list[_Interface] = []
    count = 0
    head = first + _exact(path, handle, 4, "section header")
    while True:
        if len(head) < 8:
            if head:
                raise CaptureError(f"{path}: truncated block header after packet {count}")
            return
        block_type = struct.unpack(order + "I", head[:4])[0]
        if block_type == PCAPNG_SHB:
            magic = _exact(path, handle, 4, "section header")
            order = "<" if struct.unpack("<I", magic)[0] == PCAPNG_BYTE_ORDER_MAGIC else ">"
            if struct.unpack(order + "I", magic)[0] != PCAPNG_BYTE_ORDER_MAGIC:
                raise CaptureError(f"{path}: pcapng section header with a bad byte-order magic")
            length = struct.unpack(order + "I", head[4:8])[0]
            body = magic + _block_rest(path, handle, length, 12, order)
            interfaces = []
        else:
            length = struct.unpack(order + "I", head[4:8])[0]
            body = _block_rest(path, handle, length, 8, order)
        if block_type == PCAPNG_IDB:
            interfaces.append(_read_idb(path, body, order))
        elif block_type in (PCAPNG_EPB, PCAPNG_SPB, PCAPNG_OPB):
            count += 1
            yield _read_packet_block(path, block_type, body, order, interfaces, count)
        head = handle.read(8)


def _block_rest(path: Path, handle: BinaryIO, length: int, used: int, order: str) -> bytes:
    if length < used + 4 or length % 4 or length > MAX_RECORD:
        raise CaptureError(f"{path}: pcapng block with bad length {length} at byte {handle.tell()}")
    rest = _exact(path, handle, length - used, "pcapng block")
    if struct.unpack(order + "I", rest[-4:])[0] != length:
        raise CaptureError(f"{path}: pcapng block lengths disagree at byte {handle.tell()}")
    return rest[:-4]


def _read_idb(path: Path, body: bytes, order: str) -> _Interface:
    if len(body) < 8:
        raise CaptureError(f"{path}: pcapng interface block too short")
    linktype, _reserved, snaplen = struct.unpack(order + "HHI", body[:8])
    resolution = 1e-6
    pos = 8
    while pos + 4 <= len(body):
        code, size = struct.unpack(order + "HH", body[pos : pos + 4])
        if code == 0:
            break
        if code == IDB_OPTION_TSRESOL and size >= 1:
            value = body[pos + 4]
            resolution = 2.0 ** -(value & 0x7F) if value & 0x80 else 10.0**-value
        pos += 4 + (size + 3) // 4 * 4
    return _Interface(linktype, snaplen, resolution)


def _read_packet_block(
    path: Path, kind: int, body: bytes, order: str, interfaces: list[_Interface], count: int
) -> Frame:
    if kind == PCAPNG_SPB:
        if not interfaces or len(body) < 4:
            raise CaptureError(f"{path}: simple packet block {count} without an interface")
        iface = interfaces[0]
        wirelen = struct.unpack(order + "I", body[:4])[0]
        caplen = min(wirelen, iface.snaplen or wirelen, len(body) - 4)
        return Frame(0.0, iface.linktype, body[4 : 4 + caplen])
    if kind == PCAPNG_EPB:
        fields, start = order + "IIIII", 20
    else:
        fields, start = order + "HHIIII", 20
    if len(body) < start:
        raise CaptureError(f"{path}: packet block {count} too short")
    values = struct.unpack(fields, body[:start])
    iface_id = values[0]
    high, low, caplen = values[-4], values[-3], values[-2]
    if iface_id >= len(interfaces):
        raise CaptureError(f"{path}: packet {count} names interface {iface_id}, which is undefined")
    if start + caplen > len(body):
        raise CaptureError(f"{path}: packet {count} claims {caplen} bytes past its block")
    iface = interfaces[iface_id]
    stamp = ((high << 32) | low) * iface.resolution
    return Frame(stamp, iface.linktype, body[start : start + caplen])
