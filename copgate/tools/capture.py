"""Reading pcap and pcapng capture files: frames with their link type.

A tools-only edge (it imports scapy, which the router package never
carries). It yields raw frames and never interprets them; the wire core
does. A file that is not a capture, or whose header is damaged, raises
``CaptureError`` naming the file; a damaged record ends the file's packets
with the same error, after every good packet before it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from copgate.errors import CaptureError

PCAP_MAGICS = frozenset(
    {b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d"}
)
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"


class Frame(NamedTuple):
    """One captured frame."""

    time: float
    linktype: int
    data: bytes


def read_capture(path: Path) -> Iterator[Frame]:
    """Every frame of a pcap or pcapng file, in file order."""
    logging.getLogger("scapy").setLevel(logging.ERROR)
    from scapy.error import Scapy_Exception
    from scapy.utils import RawPcapNgReader, RawPcapReader

    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        raise CaptureError(f"{path}: {exc.strerror or exc}") from exc
    if magic in PCAP_MAGICS:
        reader_class: type[RawPcapReader] = RawPcapReader
    elif magic == PCAPNG_MAGIC:
        reader_class = RawPcapNgReader
    else:
        raise CaptureError(f"{path}: not a pcap or pcapng file (magic {magic.hex() or 'empty'})")
    try:
        reader = reader_class(str(path))
    except (Scapy_Exception, EOFError, OSError, ValueError) as exc:
        raise CaptureError(f"{path}: damaged capture header: {exc}") from exc
    count = 0
    try:
        with reader:
            for data, meta in reader:
                count += 1
                yield Frame(_time_of(meta), _linktype_of(reader, meta), bytes(data))
    except (Scapy_Exception, EOFError, OSError, ValueError, IndexError) as exc:
        raise CaptureError(f"{path}: damaged record after packet {count}: {exc}") from exc


def _linktype_of(reader: object, meta: object) -> int:
    linktype = getattr(meta, "linktype", None)
    if linktype is None:
        linktype = getattr(reader, "linktype", 1)
    return int(linktype)


def _time_of(meta: object) -> float:
    sec = getattr(meta, "sec", None)
    if sec is not None:
        return float(sec) + float(getattr(meta, "usec", 0)) / 1e6
    high = getattr(meta, "tshigh", 0)
    low = getattr(meta, "tslow", 0)
    resolution = getattr(meta, "tsresol", 1_000_000) or 1_000_000
    return float((int(high) << 32) | int(low)) / float(resolution)
