"""Link-layer headers of captures down to the IP datagram."""

from __future__ import annotations

import pytest

from copgate.errors import WireError
from copgate.wire.link import ip_datagram

IP = b"\x45" + bytes(19)


def test_ethernet_with_and_without_vlan_tags() -> None:
    macs = bytes(12)
    assert ip_datagram(1, macs + b"\x08\x00" + IP) == IP
    assert ip_datagram(1, macs + b"\x81\x00\x00\x05" + b"\x86\xdd" + IP) == IP
    assert ip_datagram(1, macs + b"\x88\xa8\x00\x01\x81\x00\x00\x02\x08\x00" + IP) == IP
    assert ip_datagram(1, macs + b"\x08\x06" + bytes(28)) is None  # ARP


def test_cooked_raw_and_loopback_captures() -> None:
    assert ip_datagram(113, bytes(14) + b"\x08\x00" + IP) == IP
    assert ip_datagram(276, b"\x86\xdd" + bytes(18) + IP) == IP
    assert ip_datagram(101, IP) == IP
    assert ip_datagram(0, b"\x02\x00\x00\x00" + IP) == IP
    assert ip_datagram(0, b"\x00\x00\x00\x1e" + IP) == IP
    assert ip_datagram(108, b"\x00\x00\x00\x02" + IP) == IP
    assert ip_datagram(0, b"\x07\x00\x00\x00" + IP) is None


@pytest.mark.parametrize(
    ("linktype", "frame"), [(1, bytes(13)), (113, bytes(10)), (0, b"\x02"), (147, IP)]
)
def test_short_frames_and_unknown_link_types_are_wire_errors(linktype: int, frame: bytes) -> None:
    with pytest.raises(WireError):
        ip_datagram(linktype, frame)
