"""Forged DNS answers: NXDOMAIN, NODATA, an address, or a safe-search CNAME.

The answer echoes the query's ID, flags that matter (opcode, RD) and its
question section byte for byte (resolvers check the case of 0x20-randomised
names). Negative answers carry an SOA in the authority section whose
minimum and TTL give the negative-caching time (RFC 2308 §3, §5). When the
query carried EDNS (RFC 6891), the answer carries an OPT record with an
Extended DNS Error (RFC 8914 §4.16 Blocked = 15, §4.18 Filtered = 17) whose
extra text says why; without EDNS in the query there is no OPT in the
answer, as RFC 6891 §7 requires. This module builds bytes only.

Everything after the question depends only on the reply, the question's
type and whether the query had EDNS, so it is built once per reply (the
engine hands out the same ``DnsReply`` for a name asked again) and an
answer is a header, the query's own question bytes and those sections.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address
from typing import NamedTuple

from copgate.wire.dns import HEADER_SIZE, MAX_LABEL, question_end
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
SOA_TIMERS = (1, 3600, 600, 86400)  # serial, refresh, retry, expire (RFC 1035 §3.3.13)
SECTIONS_MEMO_ENTRIES = 1024
"""Replies whose sections are remembered; a few hundred bytes each."""

_ID_FLAGS = struct.Struct("!HH")  # RFC 1035 §4.1.1, then the four counts
_COUNTS = struct.Struct("!HHHH")
_RECORD = struct.Struct("!HHIH")  # type, class, TTL, RDLENGTH (RFC 1035 §4.1.3)
_SOA_RDATA = struct.Struct("!IIIII")
_OPT = struct.Struct("!BHHIH")  # root owner, TYPE, UDP size, extended RCODE and flags, RDLENGTH
_OPT_EDE = struct.Struct("!BHHIHHHH")  # and OPTION-CODE, OPTION-LENGTH, INFO-CODE (RFC 8914 §2)
EDE_FIXED = 6  # OPTION-CODE, OPTION-LENGTH and INFO-CODE, before the extra text


class ReplyKind(enum.StrEnum):
    """What a forged answer says."""

    NXDOMAIN = "nxdomain"
    NODATA = "nodata"
    ADDRESS = "address"
    """A or AAAA with the given address (0.0.0.0 / :: for "null", or the block page)."""
    CNAME = "cname"
    """A CNAME to a safe-search endpoint, with its addresses when known."""


class DnsReply(NamedTuple):
    """The answer to forge for one question.

    A NamedTuple rather than a frozen dataclass: the engine builds one for
    every blocked name it has not answered yet, and a tuple costs a third as
    much to build.
    """

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


_Sections = tuple[DnsReply, int, bytes, bytes]
"""What follows the question in the answer to one reply, question type and EDNS
presence: the reply (held so that its ``id``, the memo's key, is not reused while
the entry lives), QR, RA and the RCODE (the query's opcode and RD are added per
answer), the four section counts, and the sections' bytes. A plain tuple: one is
built for every name answered the first time."""

_SECTIONS: dict[tuple[int, int, bool], _Sections] = {}


def forge_dns_reply(message: bytes, query: DnsQuery, reply: DnsReply) -> bytes:
    """The answer to the query ``message`` (one DNS message, no TCP length)."""
    edns = query.edns_udp_size is not None
    key = (id(reply), query.qtype, edns)
    held = _SECTIONS.get(key)
    if held is not None and held[0] is reply:
        _reply, flags, counts, data = held
    else:
        flags, counts, data = _sections(reply, query.qtype, edns)
        if reply.kind is not ReplyKind.CNAME:  # safe-search replies are built afresh each time
            if len(_SECTIONS) >= SECTIONS_MEMO_ENTRIES:
                _SECTIONS.clear()
            _SECTIONS[key] = (reply, flags, counts, data)
    flags |= (message[2] << 8) & KEEP_FLAGS
    question = message[HEADER_SIZE : _question_end(message)]
    return _ID_FLAGS.pack(query.msg_id, flags) + counts + question + data


def _question_end(message: bytes) -> int:
    """Offset just past the question: its name's length octets stepped over, as
    ``copgate.wire.dns`` finds it, or its full reader for a compressed name."""
    pos = HEADER_SIZE
    try:
        length = message[pos]
        while length:
            if length > MAX_LABEL:
                return question_end(message)  # a compression pointer: never in real queries
            pos += length + 1
            length = message[pos]
    except IndexError:
        return question_end(message)  # cut short: it raises the wire error
    return pos + 5  # the root label, QTYPE and QCLASS


def _sections(reply: DnsReply, qtype: int, edns: bool) -> tuple[int, bytes, bytes]:
    """Flags, section counts and the bytes after the question."""
    answers = _ANSWERS[reply.kind](reply, qtype)
    # No answer is NXDOMAIN or NODATA: both carry the SOA (RFC 2308 §2.1, §2.2).
    authority = b"" if answers else _soa(reply.ttl)
    additional = _opt(reply.ede, reply.ede_text) if edns else b""
    rcode = RCODE_NXDOMAIN if reply.kind is ReplyKind.NXDOMAIN else RCODE_NOERROR
    counts = _COUNTS.pack(1, len(answers), 0 if answers else 1, 1 if edns else 0)
    return FLAG_QR | FLAG_RA | rcode, counts, b"".join(answers) + authority + additional


def _no_answers(reply: DnsReply, qtype: int) -> list[bytes]:
    return []


def _address_answers(reply: DnsReply, qtype: int) -> list[bytes]:
    return _addresses(POINTER_TO_QUESTION, qtype, reply.ipv4, reply.ipv6, reply.ttl)


def _cname_answers(reply: DnsReply, qtype: int) -> list[bytes]:
    """The CNAME, then the target's addresses of the question's type."""
    if not reply.target:
        return []
    target = _wire_name(reply.target)
    answers = [_record(POINTER_TO_QUESTION, TYPE_CNAME, reply.ttl, target)]
    for address in reply.target_ipv4 if qtype == TYPE_A else ():
        answers.append(_record(target, TYPE_A, reply.ttl, address.packed))
    for address6 in reply.target_ipv6 if qtype == TYPE_AAAA else ():
        answers.append(_record(target, TYPE_AAAA, reply.ttl, address6.packed))
    return answers


_ANSWERS: dict[ReplyKind, Callable[[DnsReply, int], list[bytes]]] = {
    ReplyKind.NXDOMAIN: _no_answers,
    ReplyKind.NODATA: _no_answers,
    ReplyKind.ADDRESS: _address_answers,
    ReplyKind.CNAME: _cname_answers,
}
"""The answer section of each kind of reply."""


def _addresses(
    owner: bytes, qtype: int, ipv4: IPv4Address | None, ipv6: IPv6Address | None, ttl: int
) -> list[bytes]:
    if qtype == TYPE_A and ipv4 is not None:
        return [_record(owner, TYPE_A, ttl, ipv4.packed)]
    if qtype == TYPE_AAAA and ipv6 is not None:
        return [_record(owner, TYPE_AAAA, ttl, ipv6.packed)]
    return []


def _record(owner: bytes, rtype: int, ttl: int, rdata: bytes) -> bytes:
    return owner + _RECORD.pack(rtype, CLASS_IN, ttl, len(rdata)) + rdata


_SOAS: dict[int, bytes] = {}


def _soa(ttl: int) -> bytes:
    """The SOA record of a negative answer; one per TTL (a config sets one)."""
    soa = _SOAS.get(ttl)
    if soa is None:
        rdata = SOA_MNAME + SOA_RNAME + _SOA_RDATA.pack(*SOA_TIMERS, ttl)  # minimum = TTL
        if len(_SOAS) >= SECTIONS_MEMO_ENTRIES:
            _SOAS.clear()
        soa = _SOAS[ttl] = _record(POINTER_TO_QUESTION, TYPE_SOA, ttl, rdata)
    return soa


def _opt(ede: int | None, text: str) -> bytes:
    """The OPT record (RFC 6891 §6.1.2), with an Extended DNS Error when ``ede`` is set."""
    if ede is None:
        return _OPT.pack(0, TYPE_OPT, EDNS_UDP_SIZE, 0, 0)
    extra = text.encode("utf-8")[:MAX_EDE_TEXT]
    size = EDE_FIXED + len(extra)  # OPTION-LENGTH counts INFO-CODE and the text
    return _OPT_EDE.pack(0, TYPE_OPT, EDNS_UDP_SIZE, 0, size, EDE_OPTION, size - 4, ede) + extra


def _wire_name(name: str) -> bytes:
    labels = [label.encode("ascii") for label in name.split(".") if label]
    return b"".join(bytes([len(label)]) + label for label in labels) + b"\x00"
