"""Forged DNS answers: NXDOMAIN, NODATA, an address, or a safe-search CNAME.

The answer echoes the query's ID, flags that matter (opcode, RD) and its
question section byte for byte (resolvers check the case of 0x20-randomised
names). Negative answers carry an SOA in the authority section whose
minimum and TTL give the negative-caching time (RFC 2308 §3, §5). When the
query carried EDNS (RFC 6891), the answer carries an OPT record with an
Extended DNS Error (RFC 8914 §4.16 Blocked = 15, §4.18 Filtered = 17) whose
extra text says why; without EDNS in the query there is no OPT in the
answer, as RFC 6891 §7 requires. This module builds bytes only.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address

from copgate.wire.dns import question_end
from copgate.wire.question import DnsQuery

TYPE_A = 1
TYPE_CNAME = 5
TYPE_SOA = 6
TYPE_AAAA = 28
TYPE_OPT = 41
CLASS_IN = 1
RCODE_NOERROR = 0
RCODE_NXDOMAIN = 3
FLAG_QR = 0x8000
FLAG_RA = 0x0080
KEEP_FLAGS = 0x7900  # opcode and RD are echoed (RFC 1035 §4.1.1)
POINTER_TO_QUESTION = b"\xc0\x0c"
EDE_OPTION = 15  # RFC 8914 §2
EDE_BLOCKED = 15  # RFC 8914 §4.16
EDE_FILTERED = 17  # RFC 8914 §4.18
EDNS_UDP_SIZE = 1232  # the DNS flag day 2020 default
MAX_EDE_TEXT = 200
SOA_MNAME = b"\x07copgate\x07invalid\x00"  # RFC 6761 §6.4: .invalid never resolves
SOA_RNAME = b"\x06nobody\x07invalid\x00"


class ReplyKind(enum.StrEnum):
    """What a forged answer says."""

    NXDOMAIN = "nxdomain"
    NODATA = "nodata"
    ADDRESS = "address"
    """A or AAAA with the given address (0.0.0.0 / :: for "null", or the block page)."""
    CNAME = "cname"
    """A CNAME to a safe-search endpoint, with its addresses when known."""


@dataclass(frozen=True, slots=True)
class DnsReply:
    """The answer to forge for one question."""

    kind: ReplyKind
    ttl: int = 300
    ipv4: IPv4Address | None = None
    ipv6: IPv6Address | None = None
    target: str | None = None
    """CNAME target (normalised name)."""
    target_ipv4: tuple[IPv4Address, ...] = ()
    target_ipv6: tuple[IPv6Address, ...] = ()
    ede: int | None = EDE_BLOCKED
    """Extended DNS Error code; None for none (safe search is not an error)."""
    ede_text: str = ""


def forge_dns_reply(message: bytes, query: DnsQuery, reply: DnsReply) -> bytes:
    """The answer to the query ``message`` (one DNS message, no TCP length)."""
    end = question_end(message)
    flags_in = struct.unpack_from("!H", message, 2)[0]
    answers: list[bytes] = []
    authority: list[bytes] = []
    rcode = RCODE_NOERROR
    if reply.kind is ReplyKind.NXDOMAIN:
        rcode = RCODE_NXDOMAIN
        authority.append(_soa(reply.ttl))
    elif reply.kind is ReplyKind.ADDRESS:
        answers += _addresses(POINTER_TO_QUESTION, query.qtype, reply.ipv4, reply.ipv6, reply.ttl)
    elif reply.kind is ReplyKind.CNAME and reply.target:
        target = _wire_name(reply.target)
        answers.append(_record(POINTER_TO_QUESTION, TYPE_CNAME, reply.ttl, target))
        for address in reply.target_ipv4 if query.qtype == TYPE_A else ():
            answers.append(_record(target, TYPE_A, reply.ttl, address.packed))
        for address6 in reply.target_ipv6 if query.qtype == TYPE_AAAA else ():
            answers.append(_record(target, TYPE_AAAA, reply.ttl, address6.packed))
    if not answers and rcode == RCODE_NOERROR:
        authority.append(_soa(reply.ttl))  # NODATA (RFC 2308 §2.2)
    additional = [_opt(reply)] if query.edns_udp_size is not None else []
    flags = FLAG_QR | FLAG_RA | (flags_in & KEEP_FLAGS) | rcode
    header = struct.pack(
        "!HHHHHH", query.msg_id, flags, 1, len(answers), len(authority), len(additional)
    )
    return header + message[12:end] + b"".join(answers + authority + additional)


def _addresses(
    owner: bytes, qtype: int, ipv4: IPv4Address | None, ipv6: IPv6Address | None, ttl: int
) -> list[bytes]:
    if qtype == TYPE_A and ipv4 is not None:
        return [_record(owner, TYPE_A, ttl, ipv4.packed)]
    if qtype == TYPE_AAAA and ipv6 is not None:
        return [_record(owner, TYPE_AAAA, ttl, ipv6.packed)]
    return []


def _record(owner: bytes, rtype: int, ttl: int, rdata: bytes) -> bytes:
    return owner + struct.pack("!HHIH", rtype, CLASS_IN, ttl, len(rdata)) + rdata


def _soa(ttl: int) -> bytes:
    # serial, refresh, retry, expire, minimum (RFC 1035 §3.3.13)
    rdata = SOA_MNAME + SOA_RNAME + struct.pack("!IIIII", 1, 3600, 600, 86400, ttl)
    return _record(POINTER_TO_QUESTION, TYPE_SOA, ttl, rdata)


def _opt(reply: DnsReply) -> bytes:
    options = b""
    if reply.ede is not None:
        text = reply.ede_text.encode("utf-8")[:MAX_EDE_TEXT]
        body = struct.pack("!H", reply.ede) + text
        options = struct.pack("!HH", EDE_OPTION, len(body)) + body
    return b"\x00" + struct.pack("!HHIH", TYPE_OPT, EDNS_UDP_SIZE, 0, len(options)) + options


def _wire_name(name: str) -> bytes:
    labels = [label.encode("ascii") for label in name.split(".") if label]
    return b"".join(bytes([len(label)]) + label for label in labels) + b"\x00"
