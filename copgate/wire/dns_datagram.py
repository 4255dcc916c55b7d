"""A plain DNS query over UDP, read straight from its IP datagram: the daemon's fast path.

Nearly every packet the daemon's queue carries is a DNS query from a LAN
client, and the general path (``read_ip`` down through any tunnel and
extension header to a ``Packet``, then ``FlowTracker.feed``) does work such a
query never needs. ``read_dns_query`` reads only the one shape that almost
every query has, and says ``None`` for everything else:

- IPv4 with a 20-byte header (no options), not a fragment (MF clear, offset
  0; DF may be set), total length equal to the datagram's, protocol UDP; or
  IPv6 whose first next header is UDP (no extension header), payload length
  equal to the rest of the datagram;
- UDP to port 53 whose length field is the rest of the datagram;
- a DNS message that ``read_dns_message`` accepts, with QR clear (a query).

Under those conditions ``read_ip`` and the tracker would read the very same
fields (the lengths agree, so neither trusts one over the other), so the
caller can take the result for what the general path would read. Anything
else, however common or odd (a fragment, a tunnel, IP options, a length that
disagrees, a response, a message the DNS reader refuses), is ``None`` and
takes the general path, which alone decides what is malformed and how. The
UDP checksum is not verified, as the general path does not verify it for DNS
(``copgate.wire.flows``). This module never raises for any input and keeps
no state of its own (the DNS reader memoises names).
"""

from __future__ import annotations

from struct import Struct
from typing import NamedTuple

from copgate.errors import WireError
from copgate.tuplenew import new_tuple
from copgate.wire.dns import read_dns_message
from copgate.wire.flows import DNS_PORT
from copgate.wire.packet import PROTO_UDP
from copgate.wire.question import DnsQuery

__all__ = ["DnsDatagram", "read_dns_query"]

IPV4_HEADER = 20  # RFC 791 §3.1: IHL 5, no options
IPV6_HEADER = 40  # RFC 8200 §3
UDP_HEADER = 8  # RFC 768
_IPV4_PLAIN = 0x45  # version 4, IHL 5
_IPV4_FRAGMENT = 0x3FFF  # RFC 791: MF and the fragment offset (DF, 0x4000, is no fragment)
_QR = 0x80  # RFC 1035 §4.1.1: high bit of the header's third octet

# IPv4 header and UDP header in one unpack: version/IHL, total length, flags and
# offset, TTL, protocol, source, destination, then source port, port, UDP length.
_V4_UDP = Struct("!BxHxxHBBxx4s4sHHH")
# IPv6 header and UDP header: version/class/flow, payload length, next header,
# hop limit, source, destination, then source port, port, UDP length.
_V6_UDP = Struct("!IHBB16s16sHHH")
_V4_MIN = IPV4_HEADER + UDP_HEADER
_V6_MIN = IPV6_HEADER + UDP_HEADER


class DnsDatagram(NamedTuple):
    """What the general path would read of a plain DNS query over UDP."""

    src: bytes
    """Packed source address (4 or 16 bytes): the client."""
    dst: bytes
    """Packed destination address: the resolver asked."""
    sport: int
    """The client's UDP port (the destination port is ``DNS_PORT``)."""
    ttl: int
    """IPv4 TTL or IPv6 hop limit, which the tracker learns per client."""
    query: DnsQuery


def read_dns_query(data: bytes) -> DnsDatagram | None:
    """The query of a plain DNS-over-UDP datagram, or None when it is anything else."""
    size = len(data)
    if size < _V4_MIN:
        return None
    first = data[0]
    if first == _IPV4_PLAIN:
        _vihl, total, frag, ttl, proto, src, dst, sport, dport, length = _V4_UDP.unpack_from(data)
        if (
            proto != PROTO_UDP
            or dport != DNS_PORT
            or total != size
            or frag & _IPV4_FRAGMENT
            or length != size - IPV4_HEADER
        ):
            return None
        payload = data[_V4_MIN:]
    elif first >> 4 == 6:  # the IP version
        if size < _V6_MIN:
            return None
        _head, plen, proto, ttl, src, dst, sport, dport, length = _V6_UDP.unpack_from(data)
        if proto != PROTO_UDP or dport != DNS_PORT or plen != size - IPV6_HEADER or length != plen:
            return None
        payload = data[_V6_MIN:]
    else:
        return None
    # QR set (a response) takes the general path, which reads both directions.
    if len(payload) < 3 or payload[2] & _QR:  # octet 2: QR, opcode, AA, TC, RD
        return None
    try:
        query = read_dns_message(payload)
    except WireError:
        return None
    return new_tuple(DnsDatagram, (src, dst, sport, ttl, query))
