"""The policy model: group matching precedence, own entries, invariants, defaults."""

from __future__ import annotations

import dataclasses
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network

import pytest

from copgate.policy.model import (
    MODE_DEFAULTS,
    Bypass,
    ClientMatch,
    Config,
    DnsBlockAnswer,
    FailureMode,
    Mode,
    Settings,
    TimeWindow,
    Treatment,
)
from tests.policy.helpers import make_group

SETTINGS = Settings(
    lists=("/var/lib/copgate/lists.cgc",),
    timezone="CET-1CEST,M3.5.0,M10.5.0/3",
    dns_block=DnsBlockAnswer.NXDOMAIN,
    blockpage_ipv4=None,
    blockpage_ipv6=None,
    block_ttl=300,
    tls_ports=frozenset({443}),
    lan_interfaces=("br-lan",),
)
TEACHER_MAC = "02:00:00:00:00:01"


def _match(
    interfaces: tuple[str, ...] = (), networks: tuple[str, ...] = (), macs: tuple[str, ...] = ()
) -> ClientMatch:
    return ClientMatch(
        frozenset(interfaces), tuple(ip_network(net) for net in networks), frozenset(macs)
    )


CONFIG = Config(
    settings=SETTINGS,
    groups=(
        make_group("pupils", match=_match(("br-pupils",), ("192.0.2.0/24",))),
        make_group("lab", match=_match(networks=("192.0.2.128/25",))),
        make_group("teacher", match=_match(networks=("192.0.2.10/32",), macs=(TEACHER_MAC,))),
        make_group("staff", Mode.OFF, match=_match(("br-staff",), ("2001:db8::/32",))),
        make_group("strict", Mode.WHITELIST),
    ),
    default_group="strict",
    source="test.toml",
)

# (interface, address, MAC) -> group: the precedence of Config.group_for.
GROUP_FOR_CASES = [
    # 1. The interface wins over a MAC and over the most specific address.
    (("br-pupils", "192.0.2.10", TEACHER_MAC), "pupils"),
    (("br-staff", "192.0.2.200", None), "staff"),
    # 2. A MAC wins over addresses; MACs compare case-insensitively.
    (("br-lan", "192.0.2.200", TEACHER_MAC.upper()), "teacher"),
    ((None, None, TEACHER_MAC), "teacher"),
    # 3. The most specific prefix wins: /32 over /25 over /24.
    (("br-lan", "192.0.2.10", "02:00:00:00:00:99"), "teacher"),
    ((None, "192.0.2.200", None), "lab"),
    ((None, "192.0.2.5", None), "pupils"),
    ((None, "::ffff:192.0.2.200", None), "lab"),
    ((None, "2001:db8::1", None), "staff"),
    # 4. Anything else lands in the default group.
    ((None, "198.51.100.1", None), "strict"),
    (("br-guest", None, None), "strict"),
    ((None, None, None), "strict"),
]


@pytest.mark.parametrize(("client", "expected"), GROUP_FOR_CASES)
def test_group_for_precedence(
    client: tuple[str | None, str | None, str | None], expected: str
) -> None:
    iface, address, mac = client
    ip: IPv4Address | IPv6Address | None = None if address is None else ip_address(address)
    assert CONFIG.group_for(iface, ip, mac).name == expected


def test_equal_prefixes_go_to_the_first_group_in_the_file() -> None:
    first = make_group("first", match=_match(networks=("192.0.2.0/24",)))
    second = make_group("second", match=_match(networks=("192.0.2.0/24",)))
    config = Config(SETTINGS, (first, second), "first", "x")
    assert config.group_for(None, ip_address("192.0.2.1"), None).name == "first"


def test_group_by_name() -> None:
    assert CONFIG.group("lab") is CONFIG.groups[1]
    assert CONFIG.group("nobody") is None


def test_default_group_must_exist() -> None:
    with pytest.raises(ValueError, match="default_group 'nobody'"):
        Config(SETTINGS, CONFIG.groups, "nobody", "x")


def test_group_names_are_unique() -> None:
    with pytest.raises(ValueError, match="two groups are called 'g'"):
        Config(SETTINGS, (make_group("g"), make_group("g")), "g", "x")


def test_replace_rebuilds_the_index() -> None:
    lab_only = dataclasses.replace(CONFIG, groups=CONFIG.groups[1:], default_group="lab")
    assert lab_only.group_for(None, ip_address("192.0.2.5"), None).name == "lab"


@pytest.mark.parametrize(
    ("days", "start", "end"),
    [
        (frozenset(), 0, 60),
        (frozenset({7}), 0, 60),
        (frozenset({0}), 1440, 60),
        (frozenset({0}), 0, 1441),
    ],
)
def test_time_window_invariants(days: frozenset[int], start: int, end: int) -> None:
    with pytest.raises(ValueError):
        TimeWindow(days, start, end, True, frozenset())


def test_time_window_crossing_midnight() -> None:
    assert TimeWindow(frozenset({0}), 22 * 60, 6 * 60, True, frozenset()).crosses_midnight
    assert TimeWindow(frozenset({0}), 8 * 60, 8 * 60, True, frozenset()).crosses_midnight
    assert not TimeWindow(frozenset({0}), 0, 1440, True, frozenset()).crosses_midnight


# name -> (entry, allowed): own entries cover subdomains, the most specific
# wins, and allow beats block at the same name.
OWN = make_group(
    allow=("a.blocked.test", "opened.test", "both.test", "Пример.рф"),
    block=("blocked.test", "x.opened.test", "both.test"),
)
OWN_CASES = [
    ("blocked.test", ("blocked.test", False)),
    ("b.blocked.test", ("blocked.test", False)),
    ("a.blocked.test", ("a.blocked.test", True)),
    ("deep.a.blocked.test", ("a.blocked.test", True)),
    ("opened.test", ("opened.test", True)),
    ("x.opened.test", ("x.opened.test", False)),
    ("y.x.opened.test", ("x.opened.test", False)),
    ("both.test", ("both.test", True)),
    ("xn--e1afmkfd.xn--p1ai", ("xn--e1afmkfd.xn--p1ai", True)),
    ("notblocked.test", None),
    ("test", None),
]


@pytest.mark.parametrize(("host", "expected"), OWN_CASES)
def test_own_entry(host: str, expected: tuple[str, bool] | None) -> None:
    assert OWN.own_entry(host) == expected


def test_no_own_entries() -> None:
    assert make_group().own_entry("example.test") is None


def test_mode_defaults_follow_the_spec() -> None:
    filt, walled, off = (MODE_DEFAULTS[mode] for mode in (Mode.FILTER, Mode.WHITELIST, Mode.OFF))
    assert (filt.failure, filt.unreadable, filt.invalid_names) == (
        FailureMode.OPEN,
        Treatment.ALLOW,
        Treatment.REFUSE,
    )
    assert filt.bypass == Bypass(
        block_dot=True,
        block_doh=True,
        canaries=True,
        https_records_nodata=True,
        refuse_real_ech=False,
        refuse_quic=False,
        refuse_bare_ip=False,
    )
    assert (walled.failure, walled.unreadable, walled.invalid_names) == (
        FailureMode.CLOSED,
        Treatment.REFUSE,
        Treatment.REFUSE,
    )
    assert walled.bypass == Bypass.all(True)
    assert off.invalid_names is Treatment.ALLOW
    assert off.bypass == Bypass.all(False)
