"""Link-layer headers of captures: from a frame to the IP datagram inside.

Only the offline inspector needs this (the netfilter queue hands over IP
datagrams). Link types are the pcap LINKTYPE_ numbers of
https://www.tcpdump.org/linktypes.html. A frame that carries no IP (ARP,
LLDP, ...) gives ``None``; a frame too short for its own header is a
``WireError``.
"""

from __future__ import annotations

from copgate.errors import WireError

LINKTYPE_NULL = 0  # BSD loopback: 4-byte address family in host byte order
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101  # raw IPv4 or IPv6
LINKTYPE_LOOP = 108  # OpenBSD loopback: address family in network byte order
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276
DLT_RAW_ALIASES = frozenset({12, 14})  # DLT_RAW as some systems number it

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
_VLAN_TAGS = frozenset({0x8100, 0x88A8, 0x9100})  # 802.1Q, 802.1ad, old QinQ
_NULL_FAMILIES_IP = frozenset({2, 24, 28, 30})  # AF_INET, AF_INET6 on BSDs/macOS
MAX_VLAN_TAGS = 4


def ip_datagram(linktype: int, frame: bytes) -> bytes | None:
    """The IP datagram a captured frame carries, or None for non-IP frames."""
    if linktype == LINKTYPE_ETHERNET:
        return _ethernet(frame)
    if linktype in (LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6) or linktype in DLT_RAW_ALIASES:
        return frame
    if linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        if len(frame) < 4:
            raise WireError("loopback header needs 4 bytes")
        # NULL is in the capturing host's byte order, which the file does not say.
        big = int.from_bytes(frame[:4], "big")
        families = (
            {big} if linktype == LINKTYPE_LOOP else {big, int.from_bytes(frame[:4], "little")}
        )
        return frame[4:] if families & _NULL_FAMILIES_IP else None
    if linktype == LINKTYPE_LINUX_SLL:
        return _by_ethertype(frame, 16, 14)
    if linktype == LINKTYPE_LINUX_SLL2:
        return _by_ethertype(frame, 20, 0)
    raise WireError(f"link type {linktype} is not supported")


def _ethernet(frame: bytes) -> bytes | None:
    pos = 12
    for _ in range(MAX_VLAN_TAGS + 1):
        if len(frame) < pos + 2:
            raise WireError(f"Ethernet frame of {len(frame)} bytes is cut before its type")
        ethertype = int.from_bytes(frame[pos : pos + 2], "big")
        if ethertype not in _VLAN_TAGS:
            break
        pos += 4
    else:
        raise WireError(f"more than {MAX_VLAN_TAGS} VLAN tags")
    if ethertype in (ETHERTYPE_IPV4, ETHERTYPE_IPV6):
        return frame[pos + 2 :]
    return None


def _by_ethertype(frame: bytes, header: int, type_at: int) -> bytes | None:
    if len(frame) < header:
        raise WireError(f"cooked-capture header needs {header} bytes, have {len(frame)}")
    ethertype = int.from_bytes(frame[type_at : type_at + 2], "big")
    if ethertype in (ETHERTYPE_IPV4, ETHERTYPE_IPV6):
        return frame[header:]
    return None
