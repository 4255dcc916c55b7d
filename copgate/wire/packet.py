"""IPv4, IPv6 and their transport headers: from an IP datagram to a ``Packet``.

Reads what the netfilter queue hands to user space (an IP datagram, no link
header): the IPv4 header (RFC 791) or the IPv6 header and its extension
headers (RFC 8200 §4), through IP-in-IP tunnels (4in4, 6in4, 4in6, 6in6:
RFC 2003, RFC 4213, RFC 2473) to the innermost TCP (RFC 9293) or UDP
(RFC 768) header. It never reassembles IP fragments (the kernel's conntrack
does that before the queue); a first fragment is read as far as it goes and
flagged, a later fragment carries no transport header and is reported as
such. Checksums are not verified here: ``copgate.wire.checksum`` checks the
``segment`` kept on the packet, and only where it matters (the tracker, for
data that could decide a flow), since most packets never need it.
"""

from __future__ import annotations

from struct import Struct
from typing import NamedTuple

from copgate.errors import WireError
from copgate.tuplenew import new_tuple

PROTO_TCP = 6
PROTO_UDP = 17
PROTO_IPV4 = 4  # IP-in-IP, RFC 2003
PROTO_IPV6 = 41  # IPv6 encapsulation, RFC 2473 / RFC 4213
PROTO_NONE = 59  # IPv6 No Next Header, RFC 8200 §4.7

# IPv6 extension headers that share the (next header, length in 8-octet units
# minus one) layout of RFC 8200 §4.2; AH (RFC 4302) counts in 4-octet units.
_EXT_GENERIC = frozenset({0, 43, 60, 135, 139, 140})
_EXT_FRAGMENT = 44
_EXT_AH = 51

_EXT_HOP_BY_HOP, _EXT_ROUTING, _EXT_DEST_OPTS = 0, 43, 60
# RFC 8200 §4.2: option types whose top two bits are not 00 make a node that
# does not know them discard the packet. The ones a host may know:
# RPL (0x63, RFC 6553), MPL (0x6D, RFC 7731), ILNP nonce (0x8B, RFC 6744),
# jumbo payload (0xC2, RFC 2675), home address (0xC9, RFC 6275).
_KNOWN_OPTIONS = frozenset({0x63, 0x6D, 0x8B, 0xC2, 0xC9})

MAX_TUNNEL_DEPTH = 3  # deeper nesting is not something a LAN client sends
MAX_EXT_HEADERS = 8  # RFC 8200 §4.1 expects each at most once or twice

TCP_FIN = 0x01
TCP_SYN = 0x02
TCP_RST = 0x04
TCP_ACK = 0x10
TCP_URG = 0x20

_IPV4 = Struct("!BBHHHBBH4s4s")
_IPV6 = Struct("!IHBB16s16s")
_TCP = Struct("!HHIIBB")
_UDP = Struct("!HHH")
_IPV4_TCP = Struct("!BxHxxHBB2x4s4sHHIIBB")
"""An IPv4 header without options and the TCP header's first fields, in one unpack."""
_IPV4_PLAIN = 0x45  # version 4, a 20-byte header: no IP options
_FRAGMENT_BITS = 0x3FFF  # more fragments, and the fragment offset (RFC 791)


class Packet(NamedTuple):
    """A transport segment, read from the innermost IP header.

    A NamedTuple for speed (see ``copgate.wire.names.Name``).
    """

    version: int
    """4 or 6: the innermost IP header's version."""
    src: bytes
    """Packed source address (4 or 16 bytes)."""
    dst: bytes
    proto: int
    """IP protocol of the transport: 6 TCP, 17 UDP, or another number."""
    sport: int
    """Transport ports; 0 for other protocols and later fragments."""
    dport: int
    payload: bytes
    """The transport payload (TCP data, UDP datagram data)."""
    seq: int = 0
    """TCP sequence number of the first payload byte (0 for UDP)."""
    ack: int = 0
    """TCP acknowledgment number: the next byte the sender expects (0 for UDP)."""
    flags: int = 0
    """TCP flags (``TCP_SYN`` ...); 0 for UDP."""
    fragment: bool = False
    """Part of a fragmented datagram: payload may be cut, or absent (later fragment)."""
    ttl: int = 0
    """The innermost IPv4 TTL or IPv6 hop limit: how far the packet may still go."""
    segment: bytes = b""
    """The whole TCP or UDP segment, header included, for ``copgate.wire.checksum``
    (empty for other protocols and later fragments)."""
    discarded: bool = False
    """An IPv6 extension header makes the destination discard the packet or
    forward it on: an option it cannot know (RFC 8200 §4.2), or a routing
    header with segments left (RFC 8200 §4.4, RFC 5095)."""


def read_ip(data: bytes) -> Packet:
    """Read an IP datagram down to its innermost transport header."""
    if len(data) >= 40 and data[0] == _IPV4_PLAIN:
        # Nearly every queued TCP segment: IPv4 without options, not a fragment.
        # Read in one unpack exactly as ``_read_ipv4`` and ``_transport`` read
        # it; any other shape (options, fragments, tunnels, a length or data
        # offset they refuse) takes the general path, which says what it is.
        _v, total, frag, ttl, proto, src, dst, sport, dport, seq, ack, offset, flags = (
            _IPV4_TCP.unpack_from(data)
        )
        if proto == PROTO_TCP and not frag & _FRAGMENT_BITS:
            end = total if 0 < total <= len(data) else len(data)
            header = (offset >> 4) * 4
            if 20 <= header <= end - 20:
                segment = data[20:end]
                payload = segment[header:]
                return new_tuple(
                    Packet,
                    (
                        4,
                        src,
                        dst,
                        PROTO_TCP,
                        sport,
                        dport,
                        payload,
                        seq,
                        ack,
                        flags,
                        False,
                        ttl,
                        segment,
                        False,
                    ),
                )
    return _read_ip(data, 0)


def _read_ip(data: bytes, depth: int) -> Packet:
    if not data:
        raise WireError("empty IP datagram")
    version = data[0] >> 4
    if version == 4:
        return _read_ipv4(data, depth)
    if version == 6:
        return _read_ipv6(data, depth)
    raise WireError(f"IP version {version} is neither 4 nor 6")


def _read_ipv4(data: bytes, depth: int) -> Packet:
    if len(data) < 20:
        raise WireError(f"IPv4 header needs 20 bytes, have {len(data)}")
    vihl, _tos, total, _ident, frag, ttl, proto, _csum, src, dst = _IPV4.unpack_from(data)
    ihl = (vihl & 0x0F) * 4
    if ihl < 20:
        raise WireError(f"IPv4 header length {ihl} is under 20 (RFC 791)")
    # A total length of 0 is what TSO-offloaded captures carry; trust the buffer.
    end = total if 0 < total <= len(data) else len(data)
    if ihl > end:
        raise WireError(f"IPv4 header length {ihl} passes the datagram's {end} bytes")
    more_fragments = bool(frag & 0x2000)
    offset = frag & 0x1FFF
    return _transport(
        4, src, dst, proto, data[ihl:end], depth, more_fragments or offset > 0, offset, ttl
    )


def _read_ipv6(data: bytes, depth: int) -> Packet:
    if len(data) < 40:
        raise WireError(f"IPv6 header needs 40 bytes, have {len(data)}")
    _vtcfl, plen, next_header, hops, src, dst = _IPV6.unpack_from(data)
    end = 40 + plen if plen > 0 and 40 + plen <= len(data) else len(data)
    pos = 40
    fragment = False
    frag_offset = 0
    discarded = False
    for _ in range(MAX_EXT_HEADERS):
        if next_header in _EXT_GENERIC or next_header == _EXT_AH:
            if pos + 2 > end:
                raise WireError(f"IPv6 extension header {next_header} cut at {pos}")
            unit = 4 if next_header == _EXT_AH else 8
            length = (data[pos + 1] + (2 if next_header == _EXT_AH else 1)) * unit
            discarded = discarded or _discards(next_header, data, pos, min(pos + length, end))
            next_header = data[pos]
            pos += length
        elif next_header == _EXT_FRAGMENT:
            if pos + 8 > end:
                raise WireError(f"IPv6 fragment header cut at {pos}")
            frag_field = int.from_bytes(data[pos + 2 : pos + 4], "big")
            frag_offset = frag_field >> 3
            fragment = True
            next_header = data[pos]
            pos += 8
        else:
            break
    else:
        raise WireError(f"more than {MAX_EXT_HEADERS} IPv6 extension headers")
    if pos > end:
        raise WireError(f"IPv6 extension headers pass the datagram's {end} bytes")
    packet = _transport(6, src, dst, next_header, data[pos:end], depth, fragment, frag_offset, hops)
    return packet._replace(discarded=True) if discarded else packet


def _discards(header: int, data: bytes, start: int, stop: int) -> bool:
    """True when the extension header at ``start`` makes a host discard the packet."""
    if header == _EXT_ROUTING:
        return stop - start >= 4 and data[start + 3] > 0  # segments left
    if header not in (_EXT_HOP_BY_HOP, _EXT_DEST_OPTS):
        return False
    pos = start + 2
    while pos < stop:
        option = data[pos]
        if option == 0:  # Pad1
            pos += 1
            continue
        if option >> 6 and option not in _KNOWN_OPTIONS:
            return True
        if pos + 1 >= stop:
            return False
        pos += 2 + data[pos + 1]
    return False


def _transport(
    version: int,
    src: bytes,
    dst: bytes,
    proto: int,
    body: bytes,
    depth: int,
    fragment: bool,
    frag_offset: int,
    ttl: int,
) -> Packet:
    if frag_offset:
        return Packet(version, src, dst, proto, 0, 0, b"", fragment=True, ttl=ttl)
    if proto == PROTO_UDP:
        if len(body) < 8:
            raise WireError(f"UDP header needs 8 bytes, have {len(body)}")
        sport, dport, length = _UDP.unpack_from(body)
        # Length 0 is legal for IPv6 jumbograms (RFC 2675); otherwise trust it
        # unless the datagram is a fragment or the field overstates.
        end = length if 8 <= length <= len(body) and not fragment else len(body)
        segment = b"" if fragment else body[:end]  # a fragment's checksum cannot be checked
        return Packet(
            version, src, dst, proto, sport, dport, body[8:end], 0, 0, 0, fragment, ttl, segment
        )
    if proto == PROTO_TCP:
        if len(body) < 20:
            raise WireError(f"TCP header needs 20 bytes, have {len(body)}")
        sport, dport, seq, ack, offset_byte, flags = _TCP.unpack_from(body)
        header = (offset_byte >> 4) * 4
        if header < 20 or header > len(body):
            raise WireError(f"TCP data offset {header} is out of the segment's {len(body)} bytes")
        payload = body[header:]
        segment = b"" if fragment else body
        return Packet(
            version, src, dst, proto, sport, dport, payload, seq, ack, flags, fragment, ttl, segment
        )
    if proto in (PROTO_IPV4, PROTO_IPV6) and not fragment:
        if depth >= MAX_TUNNEL_DEPTH:
            raise WireError(f"IP tunnels nested deeper than {MAX_TUNNEL_DEPTH}")
        return _read_ip(body, depth + 1)
    return Packet(version, src, dst, proto, 0, 0, body, fragment=fragment, ttl=ttl)
