"""The Internet checksum of a TCP or UDP segment, checked without a loop in Python.

RFC 1071 sums 16-bit words in one's complement; a segment is intact when the
sum over the pseudo-header (RFC 9293 §3.1 for IPv4, RFC 8200 §8.1 for IPv6)
and the segment, its checksum field included, is all ones. Since
2**16 ≡ 1 (mod 0xFFFF), that one's complement sum is congruent to the whole
byte string read as one big-endian integer (and the sum of several such
integers, each starting on a word boundary), so the check is an
``int.from_bytes`` and a ``%`` in C: the sum is all ones exactly when the
integer is a multiple of 0xFFFF (the sum is never +0, because the
pseudo-header's protocol word is not zero). A field of 0x0000 and one of
0xFFFF are then the same, as RFC 1624 says they are.

Only the receiver's side is done here: copgate checks, it never computes a
checksum to send (``copgate.forge`` does that). This module never raises.
"""

from __future__ import annotations

from copgate.wire.packet import PROTO_UDP, Packet

_ONES = 0xFFFF
UDP_CHECKSUM_AT = 6  # RFC 768: source port, destination port, length, checksum


def segment_ok(packet: Packet) -> bool:
    """True when ``packet``'s TCP or UDP checksum is right (or, UDP over IPv4, absent)."""
    segment = packet.segment
    if not segment:
        return True  # a later fragment, or a protocol with no checksum read here
    if packet.proto == PROTO_UDP and segment[UDP_CHECKSUM_AT : UDP_CHECKSUM_AT + 2] == b"\0\0":
        # RFC 768: zero means "no checksum" over IPv4; RFC 8200 §8.1 forbids it over IPv6.
        return packet.version == 4
    length = len(segment)
    # The pseudo-header's words, summed apart so the segment is never copied:
    # addresses, protocol and length (RFC 9293 §3.1; RFC 8200 §8.1 for IPv6).
    pseudo = int.from_bytes(packet.src + packet.dst, "big") + packet.proto + length
    whole = int.from_bytes(segment, "big")
    if length & 1:
        whole <<= 8  # RFC 1071: an odd last byte is padded on the right
    return (whole + pseudo) % _ONES == 0
