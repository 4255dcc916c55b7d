"""copgate.lab.clients: the tools' outputs, as these Debian versions print them, read right."""

from __future__ import annotations

from copgate.lab.clients import page_fields, parse_dns_output

# dig 9.18 (Debian 12), a blocked answer with an RFC 8914 Extended DNS Error.
DIG_BLOCKED = """
; <<>> DiG 9.18.49-1~deb12u3-Debian <<>> @127.0.0.1 blocked.test
;; ->>HEADER<<- opcode: QUERY, status: NXDOMAIN, id: 65003
;; flags: qr rd ra; QUERY: 1, ANSWER: 0, AUTHORITY: 1, ADDITIONAL: 1

;; OPT PSEUDOSECTION:
; EDNS: version: 0, flags:; udp: 1232
; EDE: 15 (Blocked): (blocked by copgate)
;; QUESTION SECTION:
;blocked.test.			IN	A

;; AUTHORITY SECTION:
blocked.test.		60	IN	SOA	. . 1 60 60 60 60

;; Query time: 0 msec
"""

# kdig 3.2 (Debian 12), the same answer.
KDIG_BLOCKED = """;; ->>HEADER<<- opcode: QUERY; status: NXDOMAIN; id: 64122
;; Flags: qr rd ra; QUERY: 1; ANSWER: 0; AUTHORITY: 1; ADDITIONAL: 1

;; EDNS PSEUDOSECTION:
;; Version: 0; flags: ; UDP size: 1232 B; ext-rcode: NOERROR
;; EDE: 15 (Blocked): 'blocked by copgate'

;; QUESTION SECTION:
;; blocked.test.       		IN	A

;; AUTHORITY SECTION:
blocked.test.       	60	IN	SOA	. . 1 60 60 60 60

;; Received 99 B
"""

KDIG_ANSWER = """;; ->>HEADER<<- opcode: QUERY; status: NOERROR; id: 21047
;; Flags: qr aa rd ra; QUERY: 1; ANSWER: 2; AUTHORITY: 0; ADDITIONAL: 0

;; QUESTION SECTION:
;; allowed.example.    		IN	A

;; ANSWER SECTION:
allowed.example.    	0	IN	A	198.51.100.80
allowed.example.    	0	IN	HTTPS	1 . alpn=h2

;; Received 49 B
"""

DIG_TIMEOUT = """;; communications error to 192.0.2.99#53: timed out
;; no servers could be reached
"""


def test_dig_and_kdig_blocked_answers_read_alike() -> None:
    for output in (DIG_BLOCKED, KDIG_BLOCKED):
        result = parse_dns_output(output)
        assert result.status == "NXDOMAIN"
        assert result.answer == ()
        assert [(r.name, r.ttl, r.rtype) for r in result.authority] == [
            ("blocked.test.", 60, "SOA")
        ]
        assert result.ede == (15,)


def test_answer_section_records_and_addresses() -> None:
    result = parse_dns_output(KDIG_ANSWER)
    assert result.status == "NOERROR"
    assert [r.rtype for r in result.answer] == ["A", "HTTPS"]
    assert result.answer[1].data == "1 . alpn=h2"
    assert result.addresses == ("198.51.100.80",)
    assert result.ede == ()


def test_no_answer_is_not_answered() -> None:
    result = parse_dns_output(DIG_TIMEOUT)
    assert not result.answered
    assert result.answer == ()


def test_page_fields() -> None:
    body = "<!doctype html><title>lab a.example</title>\nhost=a.example client=198.51.100.1\n"
    assert page_fields(body) == {"host": "a.example", "client": "198.51.100.1"}
