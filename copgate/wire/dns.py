"""DNS messages: the question a client asks, over UDP or TCP.

Reads the header and question section (RFC 1035 §4.1) and, for queries, the
OPT pseudo-record of EDNS (RFC 6891 §6.1) in the additional section. It
never reads answer data: copgate judges questions, not answers. Records
after the question that are cut short or missing leave EDNS unread but the
question read: a server answers the question of such a message (dnsmasq
does), so copgate must judge it, not pass it as malformed. Hostile
names are wire errors: labels are at most 63 octets and names at most 255
(RFC 1035 §2.3.4), the extended label types of RFC 6891 §5 are refused, and
at most ``MAX_POINTERS`` compression pointers are followed, so a loop ends
as an error. A pointer may point anywhere inside the message, forward too:
RFC 1035 §4.1.4 means prior occurrences, but servers follow any pointer
(dnsmasq resolves a question whose name is a pointer to a name placed after
it), so copgate reads the name the server reads and judges it, rather than
pass the query as malformed.
"""

from __future__ import annotations

from struct import Struct

from copgate.errors import WireError
from copgate.tuplenew import new_tuple
from copgate.wire.names import Name, name_from_labels
from copgate.wire.question import DnsQuery

MAX_LABEL = 63  # RFC 1035 §2.3.4
MAX_NAME_WIRE = 255  # RFC 1035 §2.3.4, octets including length bytes
MAX_POINTERS = 32  # far more than any real name needs; bounds hostile chains and loops
HEADER_SIZE = 12  # RFC 1035 §4.1.1
TCP_LENGTH_SIZE = 2  # RFC 1035 §4.2.2: two-octet length before each message
TYPE_A = 1
TYPE_AAAA = 28  # RFC 3596
TYPE_OPT = 41  # RFC 6891 §6.1.1
TYPE_HTTPS = 65  # RFC 9460
QR_BIT = 0x8000
OPCODE_MASK = 0x7800

_HEADER = Struct("!HHHHHH")
_QUESTION_TAIL = Struct("!HH")
_ROOT_OPT = b"\x00\x00\x29"  # root owner name, TYPE 41
_RR_FIXED = Struct("!HHIH")
_DOT = 0x2E
_HOST_OCTETS = b"abcdefghijklmnopqrstuvwxyz0123456789_-."
"""The octets of a lower-case host name that ``VALID_HOST`` accepts, dots between labels."""


def read_dns_message(data: bytes) -> DnsQuery:
    """The question of one DNS message (a UDP payload, or one TCP-framed message)."""
    if len(data) < HEADER_SIZE:
        raise WireError(f"DNS header needs {HEADER_SIZE} bytes, have {len(data)}")
    msg_id, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(data)
    if qdcount != 1:
        # RFC 9619: a query holds exactly one question. Zero-question messages
        # (DNS cookies) name nothing copgate could judge.
        raise WireError(f"DNS message with {qdcount} questions, expected 1")
    name, pos = _read_question_name(data)
    if pos + 4 > len(data):
        raise WireError(f"DNS question cut after its name at offset {pos}")
    qtype, qclass = _QUESTION_TAIL.unpack_from(data, pos)
    response = bool(flags & QR_BIT)
    edns = None
    if arcount and not response:
        pos += 4
        if ancount == nscount == 0 and arcount == 1 and data[pos : pos + 3] == _ROOT_OPT:
            # The common query: one OPT record right after the question.
            if pos + 11 <= len(data):
                edns = (data[pos + 3] << 8) | data[pos + 4]
        else:
            try:
                edns = _read_edns_size(data, pos, ancount + nscount, arcount)
            except WireError:
                # Records after the question cut short or missing (ARCOUNT 1 and
                # nothing there): a server still reads the question and answers
                # it (dnsmasq does), so the question stands, without EDNS.
                edns = None
    return new_tuple(DnsQuery, (name, qtype, qclass, msg_id, response, edns))


_WIRE_NAMES: dict[bytes, Name] = {}
WIRE_NAME_ENTRIES = 8192


def _read_question_name(data: bytes) -> tuple[Name, int]:
    """The question's name and the offset after it.

    Fast path: a name without compression pointers (every real query) is
    found by stepping over its length octets, and its normalised form is
    memoised by its wire bytes; anything else takes the full reader.
    """
    pos = HEADER_SIZE
    try:
        length = data[pos]
        while length:
            if length > MAX_LABEL:
                break
            pos += length + 1
            length = data[pos]
        else:
            wire = data[HEADER_SIZE : pos + 1]
            name = _WIRE_NAMES.get(wire)
            if name is None and len(wire) <= MAX_NAME_WIRE:
                if len(_WIRE_NAMES) >= WIRE_NAME_ENTRIES:
                    _WIRE_NAMES.clear()
                name = _WIRE_NAMES[wire] = _plain_name(wire)
            if name is not None:
                return name, pos + 1
    except IndexError:
        pass  # cut short: the full reader says where
    labels, pos = _read_name(data, HEADER_SIZE)
    return name_from_labels(labels), pos


def _plain_name(wire: bytes) -> Name:
    """``name_from_labels(_plain_labels(wire))``, a third faster for the usual name.

    The usual name is a valid host name with no dot inside a label: its text is
    the wire form with each length octet after the first turned into a dot,
    lower-cased, which ``VALID_HOST`` (``copgate.wire.names``' test of a valid
    name) accepts. Any other (an octet 0x2E anywhere, the root, a byte outside
    ``[a-z0-9_-]``) takes ``name_from_labels``, which also says why it is invalid.
    """
    if len(wire) > 1 and _DOT not in wire:
        text = bytearray(wire[1:-1])
        end = len(text)
        pos = wire[0]
        while pos < end:
            length = text[pos]
            text[pos] = _DOT
            pos += length + 1
        lowered = text.lower()
        # VALID_HOST.fullmatch(lowered), at half the cost: each label is 1 to 63
        # octets already (the caller stepped over them), so only the octets are left.
        if not lowered.translate(None, _HOST_OCTETS):
            return new_tuple(Name, (lowered.decode("ascii"), True, None))
    return name_from_labels(_plain_labels(wire))


def _plain_labels(wire: bytes) -> list[bytes]:
    """The labels of a name already stepped over: no pointer, no label over
    ``MAX_LABEL``, the root label last, at most ``MAX_NAME_WIRE`` octets; so
    ``_read_name``'s checks all hold and only the slicing is left."""
    labels: list[bytes] = []
    pos = 0
    length = wire[0]
    while length:
        end = pos + 1 + length
        labels.append(wire[pos + 1 : end])
        pos = end
        length = wire[pos]
    return labels


def read_dns_tcp(stream: bytes) -> tuple[list[DnsQuery], int]:
    """Every complete length-framed message at the start of a TCP stream.

    Returns the questions and the number of bytes they took; the rest is an
    incomplete message that needs more bytes.
    """
    out: list[DnsQuery] = []
    pos = 0
    while pos + TCP_LENGTH_SIZE <= len(stream):
        length = int.from_bytes(stream[pos : pos + 2], "big")
        if length < HEADER_SIZE:
            raise WireError(f"DNS-over-TCP message length {length} at offset {pos} is too short")
        end = pos + TCP_LENGTH_SIZE + length
        if end > len(stream):
            break
        out.append(read_dns_message(stream[pos + TCP_LENGTH_SIZE : end]))
        pos = end
    return out, pos


def read_dns_addresses(data: bytes) -> tuple[int, list[tuple[int, bytes, int]]]:
    """The rcode and the A/AAAA records (type, address, TTL) of a response.

    For the daemon's own lookups of safe-search endpoints; CNAME chains are
    followed implicitly, since a resolver puts the target's addresses in the
    same answer section.
    """
    if len(data) < HEADER_SIZE:
        raise WireError(f"DNS header needs {HEADER_SIZE} bytes, have {len(data)}")
    _msg_id, flags, qdcount, ancount, _nscount, _arcount = _HEADER.unpack_from(data)
    pos = HEADER_SIZE
    for _ in range(qdcount):
        _labels, pos = _read_name(data, pos)
        pos += 4
    records: list[tuple[int, bytes, int]] = []
    for _ in range(ancount):
        _labels, pos = _read_name(data, pos)
        if pos + _RR_FIXED.size > len(data):
            raise WireError(f"DNS resource record cut at offset {pos}")
        rtype, _rclass, ttl, rdlength = _RR_FIXED.unpack_from(data, pos)
        pos += _RR_FIXED.size
        if pos + rdlength > len(data):
            raise WireError(f"DNS record data passes the message end at offset {pos}")
        if (rtype, rdlength) in ((TYPE_A, 4), (TYPE_AAAA, 16)):
            records.append((rtype, data[pos : pos + rdlength], ttl))
        pos += rdlength
    return flags & 0x000F, records


def question_end(data: bytes) -> int:
    """Offset just past the question of a message ``read_dns_message`` accepted."""
    _labels, pos = _read_name(data, HEADER_SIZE)
    return pos + 4


def _read_name(data: bytes, pos: int) -> tuple[list[bytes], int]:
    """Labels of the name at ``pos`` and the offset just past it."""
    labels: list[bytes] = []
    wire_length = 1
    after: int | None = None
    pointers = 0
    limit = len(data)
    while True:
        if pos >= limit:
            raise WireError(f"DNS name cut at offset {pos}")
        length = data[pos]
        if length == 0:
            pos += 1
            break
        kind = length & 0xC0
        if kind == 0xC0:
            if pos + 2 > limit:
                raise WireError(f"DNS compression pointer cut at offset {pos}")
            target = ((length & 0x3F) << 8) | data[pos + 1]
            # Any target inside the message, as servers take it (see the
            # module docstring); a chain that loops meets MAX_POINTERS.
            if target >= limit:
                raise WireError(f"DNS compression pointer at {pos} points past the end to {target}")
            pointers += 1
            if pointers > MAX_POINTERS:
                raise WireError(f"more than {MAX_POINTERS} DNS compression pointers")
            if after is None:
                after = pos + 2
            pos = target
            continue
        if kind:
            raise WireError(f"DNS label type 0x{kind:02x} at offset {pos} is not supported")
        end = pos + 1 + length
        if end > limit:
            raise WireError(f"DNS label at offset {pos} passes the message end")
        wire_length += length + 1
        if wire_length > MAX_NAME_WIRE:
            raise WireError(f"DNS name longer than {MAX_NAME_WIRE} octets")
        labels.append(data[pos + 1 : end])
        pos = end
    return labels, pos if after is None else after


def _read_edns_size(data: bytes, pos: int, skip: int, arcount: int) -> int | None:
    """The UDP payload size of the OPT record, or None when there is none."""
    for index in range(skip + arcount):
        _labels, pos = _read_name(data, pos)
        if pos + _RR_FIXED.size > len(data):
            raise WireError(f"DNS resource record cut at offset {pos}")
        rtype, rclass, _ttl, rdlength = _RR_FIXED.unpack_from(data, pos)
        pos += _RR_FIXED.size + rdlength
        if pos > len(data):
            raise WireError(f"DNS record data passes the message end at offset {pos}")
        if index >= skip and rtype == TYPE_OPT:
            return int(rclass)
    return None
