"""Forged DNS answers as a resolver's client reads them (scapy as the independent reader)."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

from scapy.layers.dns import DNS

from copgate.forge.dns_reply import DnsReply, ReplyKind, forge_dns_reply
from copgate.wire.dns import read_dns_message
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
