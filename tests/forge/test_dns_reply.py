"""Forged DNS answers as a resolver's client reads them (scapy as the independent reader)."""

from __future__ import annotations

import struct
from ipaddress import IPv4Address, IPv6Address

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.dns import DNS

from copgate.errors import WireError
from copgate.forge.dns_reply import DnsReply, ReplyKind, forge_dns_reply
from copgate.wire.dns import question_end, read_dns_message
from copgate.wire.question import DnsQuery
from tests.wire.builders import dns_query


def answer(name: str, qtype: int, reply: DnsReply, edns: int | None = 1232) -> DNS:
    query = dns_query(name, qtype=qtype, msg_id=0x0BAD, edns=edns)
    return DNS(forge_dns_reply(query, read_dns_message(query), reply))


def test_nxdomain_with_soa_negative_ttl_and_extended_error() -> None:
    dns = answer("Casino.Example", 1, DnsReply(ReplyKind.NXDOMAIN, 77, ede_text="gambling"))
    assert dns.id == 0x0BAD and dns.qr == 1 and dns.rcode == 3 and dns.rd == 1
    assert dns.qd[0].qname == b"Casino.Example."
    assert dns.ancount == 0 and dns.nscount == 1
    assert dns.ns[0].type == 6 and dns.ns[0].ttl == 77 and dns.ns[0].minimum == 77
    (ede,) = dns.ar[0].rdata
    assert ede.info_code == 15 and ede.extra_text == b"gambling"


def test_no_opt_record_when_the_query_had_no_edns() -> None:
    dns = answer("casino.example", 1, DnsReply(ReplyKind.NXDOMAIN), edns=None)
    assert dns.arcount == 0


def test_address_answers_match_the_question_type() -> None:
    reply = DnsReply(ReplyKind.ADDRESS, 60, IPv4Address("192.0.2.1"), IPv6Address("2001:db8::1"))
    a = answer("casino.example", 1, reply)
    assert a.rcode == 0 and a.ancount == 1 and a.an[0].rdata == "192.0.2.1"
    aaaa = answer("casino.example", 28, reply)
    assert aaaa.an[0].rdata == "2001:db8::1"
    mx = answer("casino.example", 15, reply)
    assert mx.rcode == 0 and mx.ancount == 0 and mx.nscount == 1  # NODATA


def test_nodata_is_noerror_without_answers() -> None:
    dns = answer("www.youtube.com", 65, DnsReply(ReplyKind.NODATA, ede=17))
    assert dns.rcode == 0 and dns.ancount == 0 and dns.ns[0].type == 6
    assert dns.ar[0].rdata[0].info_code == 17


def test_safe_search_cname_with_the_endpoint_addresses() -> None:
    reply = DnsReply(
        ReplyKind.CNAME,
        300,
        target="forcesafesearch.google.com",
        target_ipv4=(IPv4Address("216.239.38.120"),),
        ede=None,
    )
    dns = answer("www.google.de", 1, reply)
    assert dns.ancount == 2
    assert dns.an[0].type == 5 and dns.an[0].rdata == b"forcesafesearch.google.com."
    assert (
        dns.an[1].rrname == b"forcesafesearch.google.com." and dns.an[1].rdata == "216.239.38.120"
    )
    assert not dns.ar[0].rdata  # no error for safe search


def test_the_same_reply_object_answers_each_query_with_its_own_header_and_question() -> None:
    reply = DnsReply(ReplyKind.NXDOMAIN, 300, ede_text="copgate: casino.example is in gambling")
    first = dns_query("Casino.Example", 1, msg_id=1, edns=1232)
    second = dns_query("cAsInO.eXaMpLe", 1, msg_id=2, edns=1232)
    forge_dns_reply(first, read_dns_message(first), reply)
    dns = DNS(forge_dns_reply(second, read_dns_message(second), reply))  # the sections' memo hits
    assert dns.id == 2 and dns.qd[0].qname == b"cAsInO.eXaMpLe."


def test_the_same_reply_with_and_without_edns() -> None:
    reply = DnsReply(ReplyKind.NXDOMAIN, 300, ede_text="gambling")
    with_edns = answer("casino.example", 1, reply)
    without = answer("casino.example", 1, reply, edns=None)
    assert with_edns.arcount == 1 and without.arcount == 0 and without.nscount == 1


def test_a_compressed_question_name_is_echoed_as_sent() -> None:
    # The question's name is a pointer to offset 4, QDCOUNT's 0x00 0x01: the
    # root name followed by nothing (RFC 1035 §4.1.4 lets a pointer go back
    # anywhere). No resolver sends this, so the reader steps over it the slow
    # way. An OPT record padded to 300 bytes (RFC 7830) makes sure nothing is
    # read past the pointer as if it were a label.
    padding = struct.pack("!HH", 12, 300) + bytes(300)
    opt = b"\x00" + struct.pack("!HHIH", 41, 1232, 0, len(padding)) + padding
    header = struct.pack("!HHHHHH", 7, 0x0100, 1, 0, 0, 1)
    query = header + b"\xc0\x04" + struct.pack("!HH", 1, 1) + opt
    reply = DnsReply(ReplyKind.NXDOMAIN, 60)
    forged = forge_dns_reply(query, read_dns_message(query), reply)
    assert forged[12:18] == b"\xc0\x04\x00\x01\x00\x01"
    assert forged == reference_reply(query, read_dns_message(query), reply)


def test_a_cut_question_raises_the_wire_error() -> None:
    whole = dns_query("casino.example", 1)
    query = read_dns_message(whole)
    with pytest.raises(WireError):
        forge_dns_reply(whole[:20], query, DnsReply(ReplyKind.NXDOMAIN))


# -- the fast path against the builder it replaced --------------------------------------


def reference_reply(message: bytes, query: DnsQuery, reply: DnsReply) -> bytes:
    """The answer as the forge built it before its sections were remembered: every
    record packed on each call, the question's end found by the wire reader."""
    end = question_end(message)
    flags_in = struct.unpack_from("!H", message, 2)[0]
    answers: list[bytes] = []
    authority: list[bytes] = []
    rcode = 0
    if reply.kind is ReplyKind.NXDOMAIN:
        rcode = 3
        authority.append(_soa(reply.ttl))
    elif reply.kind is ReplyKind.ADDRESS:
        if query.qtype == 1 and reply.ipv4 is not None:
            answers.append(_record(b"\xc0\x0c", 1, reply.ttl, reply.ipv4.packed))
        elif query.qtype == 28 and reply.ipv6 is not None:
            answers.append(_record(b"\xc0\x0c", 28, reply.ttl, reply.ipv6.packed))
    elif reply.kind is ReplyKind.CNAME and reply.target:
        labels = [label.encode("ascii") for label in reply.target.split(".") if label]
        target = b"".join(bytes([len(label)]) + label for label in labels) + b"\x00"
        answers.append(_record(b"\xc0\x0c", 5, reply.ttl, target))
        for address in reply.target_ipv4 if query.qtype == 1 else ():
            answers.append(_record(target, 1, reply.ttl, address.packed))
        for address6 in reply.target_ipv6 if query.qtype == 28 else ():
            answers.append(_record(target, 28, reply.ttl, address6.packed))
    if not answers and rcode == 0:
        authority.append(_soa(reply.ttl))
    additional = [_opt(reply)] if query.edns_udp_size is not None else []
    flags = 0x8000 | 0x0080 | (flags_in & 0x7900) | rcode
    header = struct.pack(
        "!HHHHHH", query.msg_id, flags, 1, len(answers), len(authority), len(additional)
    )
    return header + message[12:end] + b"".join(answers + authority + additional)


def _record(owner: bytes, rtype: int, ttl: int, rdata: bytes) -> bytes:
    return owner + struct.pack("!HHIH", rtype, 1, ttl, len(rdata)) + rdata


def _soa(ttl: int) -> bytes:
    mname, rname = b"\x07copgate\x07invalid\x00", b"\x06nobody\x07invalid\x00"
    rdata = mname + rname + struct.pack("!IIIII", 1, 3600, 600, 86400, ttl)
    return _record(b"\xc0\x0c", 6, ttl, rdata)


def _opt(reply: DnsReply) -> bytes:
    options = b""
    if reply.ede is not None:
        text = reply.ede_text.encode("utf-8")[:200]
        body = struct.pack("!H", reply.ede) + text
        options = struct.pack("!HH", 15, len(body)) + body
    return b"\x00" + struct.pack("!HHIH", 41, 1232, 0, len(options)) + options


LABEL = st.binary(min_size=1, max_size=63)
NAME = st.lists(LABEL, max_size=5).filter(lambda labels: sum(len(x) + 1 for x in labels) < 255)
HOST = st.from_regex(r"[a-z0-9-]{1,20}(\.[a-z0-9-]{1,20}){0,3}", fullmatch=True)
QTYPE = st.sampled_from([1, 28, 15, 65, 255]) | st.integers(0, 0xFFFF)
IPV4 = st.integers(0, 2**32 - 1).map(IPv4Address)
IPV6 = st.integers(0, 2**128 - 1).map(IPv6Address)


@st.composite
def queries(draw: st.DrawFn) -> bytes:
    """A query as a client could send it: any flags, labels of any bytes, with or without
    EDNS (its OPT record last, as stub resolvers put it)."""
    labels = draw(NAME)
    edns = draw(st.none() | st.integers(0, 0xFFFF))
    header = struct.pack(
        "!HHHHHH", draw(st.integers(0, 0xFFFF)), draw(st.integers(0, 0x7FFF)), 1, 0, 0, 0
    )
    if edns is not None:
        header = header[:10] + b"\x00\x01"
    question = b"".join(bytes([len(x)]) + x for x in labels) + b"\x00"
    question += struct.pack("!HH", draw(QTYPE), draw(st.sampled_from([1, 3, 255])))
    opt = b"" if edns is None else b"\x00" + struct.pack("!HHIH", 41, edns, 0, 0)
    return header + question + opt


REPLIES = st.builds(
    DnsReply,
    st.sampled_from(ReplyKind),
    st.integers(0, 2**31 - 1),
    st.none() | IPV4,
    st.none() | IPV6,
    st.none() | HOST,
    st.lists(IPV4, max_size=3).map(tuple),
    st.lists(IPV6, max_size=3).map(tuple),
    st.none() | st.sampled_from([15, 17]) | st.integers(0, 0xFFFF),
    st.text(max_size=120) | st.text(alphabet="aé€😀", min_size=60, max_size=120),
)


@settings(max_examples=400, deadline=None)
@given(queries(), REPLIES)
def test_the_forge_equals_the_reference_builder(message: bytes, reply: DnsReply) -> None:
    query = read_dns_message(message)
    expected = reference_reply(message, query, reply)
    assert forge_dns_reply(message, query, reply) == expected
    assert forge_dns_reply(message, query, reply) == expected  # again, from the memo
