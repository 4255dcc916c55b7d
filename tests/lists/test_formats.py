"""One line of each format: which hosts it blocks, and why the rest is not a block."""

from __future__ import annotations

import pytest

from copgate.lists.formats import (
    adblock_tokens,
    dnsmasq_tokens,
    hosts_tokens,
    ip_of,
    normalise,
)


@pytest.mark.parametrize(
    ("token", "result"),
    [
        ("Example.COM.", ("example.com", None)),
        ("*.example.com", ("example.com", None)),
        ("*.*.example.com", ("example.com", None)),
        (".afshin.ir", ("afshin.ir", None)),
        ("ÄPFEL.example", ("xn--pfel-koa.example", None)),
        ("1.2.3.4", ("1.2.3.4", "ip address")),
        ("[2001:db8::1]", ("[2001:db8::1]", "ip address")),
        ("10.0.0.0/8", ("10.0.0.0/8", "ip address")),
        ("１.２.３.４", ("１.２.３.４", "ip address")),  # fullwidth digits map to an IP
        ("999.1.1.1", ("999.1.1.1", "all-numeric top-level label")),
        ("example.com/path", ("example.com/path", "url or path, not a host")),
        ("a.*.example", ("a.*.example", "wildcard pattern")),
        ("*", ("*", "wildcard pattern")),
        ("ip6-allrouters", ("ip6-allrouters", "localhost entry")),
        ("ip6-x.example.com", ("ip6-x.example.com", None)),
        ("", ("", "empty name")),
    ],
)
def test_normalise(token: str, result: tuple[str, str | None]) -> None:
    assert normalise(token) == result


def test_hosts_line_with_a_real_address_is_a_redirect() -> None:
    assert list(hosts_tokens("1.2.3.4 a.example b.example")) == [
        ("1.2.3.4 a.example b.example", "address is not a sink (a redirect, not a block)"),
        ("1.2.3.4 a.example b.example", "address is not a sink (a redirect, not a block)"),
    ]
    assert list(hosts_tokens("0.0.0.0 a.example # c.example")) == [("a.example", None)]


@pytest.mark.parametrize(
    ("options", "taken"),
    [
        ("important", True),
        ("third-party", True),
        ("3p,important", True),
        ("~third-party", True),
        ("1p", True),
        ("document", True),
        ("all", True),
        ("Important", True),
        ("script", False),
        ("image,third-party", False),
        ("domain=a.example|b.example", False),
        ("denyallow=a.example", False),
        ("badfilter", False),
        ("dnstype=AAAA", False),
        ("dnsrewrite=1.2.3.4", False),
        ("popup", False),
        ("", False),
    ],
)
def test_adblock_options_that_keep_the_rule_about_the_host(options: str, taken: bool) -> None:
    tokens = list(adblock_tokens(f"||a.example^${options}"))
    if taken:
        assert tokens == [("a.example", None)]
    else:
        assert tokens == [(f"||a.example^${options}", "options a name filter cannot honour")]


def test_dnsmasq_names_between_slashes_all_share_the_verdict() -> None:
    assert list(dnsmasq_tokens("address=/a.example/b.example/127.0.0.1")) == [
        ("a.example", None),
        ("b.example", None),
    ]
    line = "server=/a.example/b.example/9.9.9.9#53"
    assert list(dnsmasq_tokens(line)) == [
        (line, "forwarding rule, not a block"),
        (line, "forwarding rule, not a block"),
    ]


def test_ip_of_reads_both_families_and_nothing_else() -> None:
    assert str(ip_of("::1")) == "::1"
    assert str(ip_of("127.0.0.1")) == "127.0.0.1"
    assert ip_of("example.com") is None
    assert ip_of("1.2.3") is None
