"""The one validator: values, defaults, templates, windows and every error message.

Configs are written in TOML unless a case is about UCI; ``test_both_syntaxes_
report_the_same_error`` shows that the same mistake reads the same in both.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Network
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from copgate.config import schema
from copgate.config.document import ConfigErrors, Document, Item, Option, Section
from copgate.config.load import parse_text
from copgate.config.templates import TemplateStore
from copgate.config.validate import Loaded, validate
from copgate.policy.model import (
    MODE_DEFAULTS,
    Bypass,
    DnsBlockAnswer,
    FailureMode,
    Mode,
    TimeWindow,
    Treatment,
    YouTubeMode,
)

TEMPLATES = Path(__file__).parent / "fixtures" / "templates"
CATALOGUE = frozenset({"adult", "gambling", "games", "social_networks", "liste_bu"})
MINIMAL = '[group.all]\ninterfaces = ["br-lan"]\n'


def load(text: str, syntax: str = "toml", catalogue: frozenset[str] | None = None) -> Loaded:
    file = "c.toml" if syntax == "toml" else "copgate"
    document = parse_text(text, file, syntax)
    return validate(document, templates=TemplateStore(TEMPLATES), catalogue=catalogue)


def errors(text: str, syntax: str = "toml", catalogue: frozenset[str] | None = None) -> list[str]:
    with pytest.raises(ConfigErrors) as caught:
        load(text, syntax, catalogue)
    return caught.value.lines


def warnings(text: str, syntax: str = "toml") -> list[str]:
    return [str(warning) for warning in load(text, syntax).warnings]


# --- what a valid config means --------------------------------------------


def test_a_minimal_config_takes_the_defaults() -> None:
    config = load(MINIMAL).config
    settings = config.settings
    assert settings.lists == ("/var/lib/copgate/lists.cgc",)
    assert settings.timezone == ""
    assert settings.dns_block is DnsBlockAnswer.NXDOMAIN
    assert (settings.blockpage_ipv4, settings.blockpage_ipv6) == (None, None)
    assert settings.block_ttl == 300
    assert settings.tls_ports == frozenset({443})
    assert settings.lan_interfaces == ("br-lan",)
    assert (settings.queue_rate, settings.queue_burst) == (300, 600)
    # One group and no default_group: the only group is the default.
    assert config.default_group == "all"
    group = config.groups[0]
    assert group.mode is Mode.FILTER
    assert (group.safe_search, group.youtube) == (True, YouTubeMode.MODERATE)
    assert group.bypass == MODE_DEFAULTS[Mode.FILTER].bypass
    assert group.windows == ()
    assert config.source == "c.toml"


@pytest.mark.parametrize(
    ("mode", "failure", "unreadable", "invalid", "bypass", "safe", "youtube"),
    [
        (
            "filter",
            FailureMode.OPEN,
            Treatment.ALLOW,
            Treatment.REFUSE,
            Bypass(True, True, True, True, False, False, False),
            True,
            YouTubeMode.MODERATE,
        ),
        (
            "whitelist",
            FailureMode.CLOSED,
            Treatment.REFUSE,
            Treatment.REFUSE,
            Bypass.all(True),
            True,
            YouTubeMode.STRICT,
        ),
        (
            "off",
            FailureMode.OPEN,
            Treatment.ALLOW,
            Treatment.ALLOW,
            Bypass.all(False),
            False,
            YouTubeMode.OFF,
        ),
    ],
)
def test_defaults_follow_the_mode(
    mode: str,
    failure: FailureMode,
    unreadable: Treatment,
    invalid: Treatment,
    bypass: Bypass,
    safe: bool,
    youtube: YouTubeMode,
) -> None:
    group = load(f'[group.g]\nmode = "{mode}"\ninterfaces = ["br-lan"]\n').config.groups[0]
    assert (group.failure, group.unreadable, group.invalid_names) == (failure, unreadable, invalid)
    assert group.bypass == bypass
    assert (group.safe_search, group.youtube) == (safe, youtube)


def test_every_option_is_read() -> None:
    config = load(
        """
[general]
lists = ["/a.cgc", "/b.cgc"]
timezone = "CET-1CEST,M3.5.0,M10.5.0/3"
dns_block = "blockpage"
blockpage_ipv4 = "192.0.2.1"
blockpage_ipv6 = "2001:db8::1"
block_ttl = 60
tls_ports = [443, 8443]
lan_interfaces = ["br-lan", "br-kids"]
queue_rate = 0
queue_burst = 50
default_group = "kids"

[group.kids]
description = "Kids"
mode = "whitelist"
interfaces = ["br-kids"]
addresses = ["192.0.2.0/26", "2001:db8:1::/64", "198.51.100.7"]
macs = ["02-00-00-00-00-AA"]
block_categories = ["adult"]
allow_categories = ["liste_bu"]
allow = ["Example.ORG.", "bücher.example", "example.org"]
block = ["bad.example"]
safe_search = false
youtube = "off"
failure = "open"
unreadable = "allow"
invalid_names = "allow"
block_dot = false
block_doh = false
canaries = false
https_records_nodata = false
refuse_real_ech = false
refuse_quic = true
refuse_bare_ip = false
"""
    ).config
    settings = config.settings
    assert settings.lists == ("/a.cgc", "/b.cgc")
    assert settings.dns_block is DnsBlockAnswer.BLOCKPAGE
    assert settings.blockpage_ipv4 == IPv4Address("192.0.2.1")
    assert settings.block_ttl == 60
    assert settings.tls_ports == frozenset({443, 8443})
    assert settings.lan_interfaces == ("br-lan", "br-kids")
    assert (settings.queue_rate, settings.queue_burst) == (0, 50)
    group = config.groups[0]
    assert group.description == "Kids"
    assert group.match.networks == (
        IPv4Network("192.0.2.0/26"),
        IPv6Network("2001:db8:1::/64"),
        IPv4Network("198.51.100.7/32"),
    )
    assert group.match.macs == frozenset({"02:00:00:00:00:aa"})
    # Names are normalised (case, trailing dot, IDN) and repeats dropped.
    assert group.allow == ("example.org", "xn--bcher-kva.example")
    assert group.block == ("bad.example",)
    assert (group.safe_search, group.youtube) == (False, YouTubeMode.OFF)
    assert (group.failure, group.unreadable, group.invalid_names) == (
        FailureMode.OPEN,
        Treatment.ALLOW,
        Treatment.ALLOW,
    )
    assert group.bypass == Bypass(False, False, False, False, False, True, False)


def test_uci_values_are_words() -> None:
    config = load(
        "config general 'general'\n"
        "\toption block_ttl '120'\n"
        "\toption queue_rate '1000'\n"
        "\toption queue_burst '99999'\n"
        "\tlist tls_ports '443'\n"
        "config group 'g'\n"
        "\toption interfaces 'br-lan'\n"  # a single option for a list: one element
        "\toption safe_search 'no'\n"
        "\toption block_dot 'enabled'\n"
        "\toption refuse_quic 'ON'\n",
        syntax="uci",
    ).config
    assert config.settings.block_ttl == 120
    assert (config.settings.queue_rate, config.settings.queue_burst) == (1000, 99_999)
    group = config.groups[0]
    assert group.match.interfaces == frozenset({"br-lan"})
    assert (group.safe_search, group.bypass.block_dot, group.bypass.refuse_quic) == (
        False,
        True,
        True,
    )


@pytest.mark.parametrize(
    ("days", "start", "end", "window"),
    [
        (
            '["mon", "tue"]',
            '"22:00"',
            '"06:30"',
            TimeWindow(frozenset({0, 1}), 1320, 390, True, frozenset()),
        ),
        (
            '["mon-fri"]',
            '"08:00"',
            '"24:00"',
            TimeWindow(frozenset(range(5)), 480, 1440, True, frozenset()),
        ),
        (
            '["fri-mon"]',
            "21:00:00",
            '"7:05"',
            TimeWindow(frozenset({4, 5, 6, 0}), 1260, 425, True, frozenset()),
        ),
        (
            '["weekend", "Wednesday"]',
            '"00:00"',
            '"00:00"',
            TimeWindow(frozenset({2, 5, 6}), 0, 0, True, frozenset()),
        ),
    ],
)
def test_windows(days: str, start: str, end: str, window: TimeWindow) -> None:
    text = (
        f"{MINIMAL}[[group.all.window]]\ndays = {days}\nstart = {start}\nend = {end}\n"
        'block = "all"\n'
    )
    assert load(text).config.groups[0].windows == (window,)


def test_a_window_without_days_is_every_day_and_may_block_categories() -> None:
    text = (
        f'{MINIMAL}[[group.all.window]]\nstart = "09:00"\nend = "12:00"\ncategories = ["games"]\n'
    )
    assert load(text).config.groups[0].windows == (
        TimeWindow(frozenset(range(7)), 540, 720, False, frozenset({"games"})),
    )


def test_uci_windows_name_their_group() -> None:
    text = (
        "config group 'a'\n\toption interfaces 'br-a'\n"
        "config group 'b'\n\toption interfaces 'br-b'\n"
        "config window\n\toption group 'b'\n\toption start '10:00'\n\toption end '11:00'\n"
        "\toption block 'all'\n"
        "config general\n\toption default_group 'a'\n\tlist lan_interfaces br-a\n"
        "\tlist lan_interfaces br-b\n"
    )
    config = load(text, "uci").config
    assert [len(group.windows) for group in config.groups] == [0, 1]


# --- templates ------------------------------------------------------------


def test_a_group_gets_its_template_and_its_own_options_win() -> None:
    group = load(
        '[group.older]\ntemplate = "school"\ninterfaces = ["br-lan"]\n'
        'block_categories = ["games"]\nyoutube = "strict"\n'
    ).config.groups[0]
    # From the template:
    assert group.mode is Mode.FILTER
    assert group.safe_search is True
    assert group.bypass.refuse_quic is True
    assert group.windows == (TimeWindow(frozenset(range(5)), 1320, 390, True, frozenset()),)
    # The group's own options replace the template's (a list is not merged):
    assert group.block_categories == frozenset({"games"})
    assert group.youtube is YouTubeMode.STRICT


def test_own_windows_replace_the_template_s() -> None:
    text = (
        '[group.older]\ntemplate = "school"\ninterfaces = ["br-lan"]\n'
        '[[group.older.window]]\nstart = "12:00"\nend = "13:00"\ncategories = ["games"]\n'
    )
    assert load(text).config.groups[0].windows == (
        TimeWindow(frozenset(range(7)), 720, 780, False, frozenset({"games"})),
    )


def test_the_template_s_mode_sets_the_defaults() -> None:
    group = load('[group.g]\ntemplate = "walled"\ninterfaces = ["br-lan"]\n').config.groups[0]
    assert group.mode is Mode.WHITELIST
    assert group.allow_categories == frozenset({"liste_bu"})
    assert group.failure is FailureMode.CLOSED
    assert group.bypass == Bypass.all(True)


def test_template_errors_name_the_template_file() -> None:
    broken = str(TEMPLATES / "broken.toml")
    assert errors('[group.g]\ntemplate = "broken"\ninterfaces = ["br-lan"]\n') == [
        f"{broken}:4: option 'colour' in [template]: unknown",
        f"{broken}:7: option 'mode' in template 'broken': expected one of filter, whitelist, "
        "off, got 'strict'",
        f"{broken}:8: option 'interfaces' in template 'broken': not allowed in a template (a "
        "template says what a group gets, not who is in it)",
        f"{broken}:10: option 'end' in window of template 'broken': expected a time HH:MM, "
        "got nothing",
        f"{broken}:10: option 'block' in window of template 'broken': expected 'all' or a list "
        "of 'categories', got nothing",
    ]
    bad = str(TEMPLATES / "badsyntax.toml")
    assert errors('[group.g]\ntemplate = "badsyntax"\ninterfaces = ["br-lan"]\n') == [
        f"{bad}:2: TOML syntax: Illegal character '\\n' (column 14)",
    ]
    misnamed = str(TEMPLATES / "misnamed.toml")
    assert errors('[group.g]\ntemplate = "misnamed"\ninterfaces = ["br-lan"]\n') == [
        f"{misnamed}:2: option 'name' in [template]: expected 'misnamed' (the file name), "
        "got 'other'",
        f"{misnamed}:3: option 'title' in [template]: expected title.en = \"...\"",
        f"{misnamed}:4: option 'description' in [template]: expected an English description.en",
    ]


def test_a_template_s_group_options_are_validated_once(tmp_path: Path) -> None:
    (tmp_path / "t.toml").write_text(
        '[template]\ntitle.en = "T"\ndescription.en = "T"\n'
        '[group]\nmode = "strict"\ninterfaces = ["br-lan"]\n'
        '[[group.window]]\nstart = "22:00"\nblock = "all"\n'
    )
    document = parse_text(
        '[group.a]\ntemplate = "t"\ninterfaces = ["br-a"]\n'
        '[group.b]\ntemplate = "t"\ninterfaces = ["br-b"]\n',
        "c.toml",
        "toml",
    )
    with pytest.raises(ConfigErrors) as caught:
        validate(document, templates=TemplateStore(tmp_path))
    template = str(tmp_path / "t.toml")
    assert caught.value.lines == [
        "c.toml:1: option 'default_group' in section 'general': expected the name of a group "
        "(a, b), got nothing",
        # Reported once, though two groups use the template.
        f"{template}:5: option 'mode' in template 't': expected one of filter, whitelist, off, "
        "got 'strict'",
        f"{template}:6: option 'interfaces' in template 't': not allowed in a template (a "
        "template says what a group gets, not who is in it)",
        f"{template}:7: option 'end' in window of template 't': expected a time HH:MM, got nothing",
    ]


def test_an_unknown_template_is_named_with_the_ones_there() -> None:
    assert errors('[group.g]\ntemplate = "scool"\ninterfaces = ["br-lan"]\n') == [
        f"c.toml:2: option 'template' in group 'g': expected one of the templates in "
        f"{TEMPLATES} (badsyntax, broken, misnamed, school, walled), got 'scool' "
        "(did you mean 'school'?)",
    ]


# --- every error path, with its exact message -------------------------------

GROUP = '[group.g]\ninterfaces = ["br-lan"]\n'  # lines 1-2; the case's own lines start at 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # [general]
        (
            f'{GROUP}[general]\ntimezon = "MSK-3"\n',
            "c.toml:4: option 'timezon' in section 'general': unknown option "
            "(did you mean 'timezone'?)",
        ),
        (
            f'{GROUP}[general]\ntimezone = "Europe/Paris"\n',
            "c.toml:4: option 'timezone' in section 'general': expected a POSIX TZ string like "
            "CET-1CEST,M3.5.0,M10.5.0/3 or MSK-3, got 'Europe/Paris' (invalid POSIX TZ string "
            "'Europe/Paris': expected std offset [dst [offset] [,start[/time],end[/time]]])",
        ),
        (
            f'{GROUP}[general]\ntimezone = ["MSK-3"]\n',
            "c.toml:4: option 'timezone' in section 'general': expected a single value, got a list",
        ),
        (
            f'{GROUP}[general]\ndns_block = "nxdomian"\n',
            "c.toml:4: option 'dns_block' in section 'general': expected one of nxdomain, null, "
            "blockpage, got 'nxdomian' (did you mean 'nxdomain'?)",
        ),
        (
            f'{GROUP}[general]\ndns_block = "blockpage"\n',
            "c.toml:4: option 'dns_block' in section 'general': 'blockpage' needs "
            "blockpage_ipv4 or blockpage_ipv6, got neither",
        ),
        (
            f'{GROUP}[general]\nblockpage_ipv4 = "2001:db8::1"\n',
            "c.toml:4: option 'blockpage_ipv4' in section 'general': expected an IPv4 address "
            "like 192.0.2.1, got '2001:db8::1'",
        ),
        (
            f'{GROUP}[general]\nblockpage_ipv6 = "192.0.2.1"\n',
            "c.toml:4: option 'blockpage_ipv6' in section 'general': expected an IPv6 address "
            "like 2001:db8::1, got '192.0.2.1'",
        ),
        (
            f'{GROUP}[general]\nblockpage_ipv6 = "fe80::1"\n',
            "c.toml:4: option 'blockpage_ipv6' in section 'general': expected a global or ULA "
            "IPv6 address of the router like fd00::1, got 'fe80::1' (link-local: a client "
            "cannot be sent there)",
        ),
        (
            f'{GROUP}[general]\nblockpage_ipv4 = "127.0.0.1"\n',
            "c.toml:4: option 'blockpage_ipv4' in section 'general': expected a unicast IPv4 "
            "address of the router like 192.168.1.1, got '127.0.0.1' (loopback: a client "
            "cannot be sent there)",
        ),
        (
            f'{GROUP}[general]\nblockpage_ipv4 = "0.0.0.0"\n',
            "c.toml:4: option 'blockpage_ipv4' in section 'general': expected a unicast IPv4 "
            "address of the router like 192.168.1.1, got '0.0.0.0' (unspecified: a client "
            "cannot be sent there)",
        ),
        (
            f"{GROUP}[general]\nblock_ttl = 86401\n",
            "c.toml:4: option 'block_ttl' in section 'general': expected an integer from 0 to "
            "86400, got '86401'",
        ),
        (
            f"{GROUP}[general]\nblock_ttl = true\n",
            "c.toml:4: option 'block_ttl' in section 'general': expected an integer from 0 to "
            "86400, got 'true'",
        ),
        (
            f"{GROUP}[general]\nblock_ttl = 1.5\n",
            "c.toml:4: option 'block_ttl' in section 'general': expected an integer from 0 to "
            "86400, got '1.5'",
        ),
        (
            f"{GROUP}[general]\ntls_ports = [443, 0]\n",
            "c.toml:4: option 'tls_ports' in section 'general': expected an integer from 1 to "
            "65535, got '0'",
        ),
        (
            f"{GROUP}[general]\ntls_ports = []\n",
            "c.toml:4: option 'tls_ports' in section 'general': expected at least one port, "
            "got none",
        ),
        (
            f'{GROUP}[general]\nlan_interfaces = ["br-lan", "a/b"]\n',
            "c.toml:4: option 'lan_interfaces' in section 'general': expected an interface name "
            "(1 to 15 characters, no '/', ':' or spaces), got 'a/b'",
        ),
        (
            f'{GROUP}[general]\nlan_interfaces = ["a-very-long-name0"]\n',
            "c.toml:4: option 'lan_interfaces' in section 'general': expected an interface name "
            "(1 to 15 characters, no '/', ':' or spaces), got 'a-very-long-name0'",
        ),
        (
            f'{GROUP}[general]\nlists = [""]\n',
            "c.toml:4: option 'lists' in section 'general': expected a file path, got ''",
        ),
        (
            f'{GROUP}[general]\ndefault_group = "gg"\n',
            "c.toml:4: option 'default_group' in section 'general': expected the name of a group "
            "(g), got 'gg' (did you mean 'g'?)",
        ),
        (
            f'{GROUP}[general]\ndefault_group = "a-b"\n',
            "c.toml:4: option 'default_group' in section 'general': expected a group name "
            "(letters, digits and '_'), got 'a-b'",
        ),
        (
            f'{GROUP}[group.h]\ninterfaces = ["br-h"]\n',
            "c.toml:1: option 'default_group' in section 'general': expected the name of a group "
            "(g, h), got nothing",
        ),
        (
            '[general]\ntimezone = "UTC0"\n',
            "c.toml:1: no group defined: expected at least one group ([group.NAME] in TOML, "
            "config group 'NAME' in UCI)",
        ),
        (
            f"{GROUP}[genral]\n",
            "c.toml:3: unknown section type 'genral': expected general, group, window or update "
            "(did you mean 'general'?)",
        ),
        # groups
        (
            '[group.older-pupils]\ninterfaces = ["br-lan"]\n',
            "c.toml:1: group 'older-pupils': expected a group name (letters, digits and '_'), "
            "got 'older-pupils'",
        ),
        (
            f"{GROUP}safesearch = true\n",
            "c.toml:3: option 'safesearch' in group 'g': unknown option "
            "(did you mean 'safe_search'?)",
        ),
        (
            f'{GROUP}mode = "walled"\n',
            "c.toml:3: option 'mode' in group 'g': expected one of filter, whitelist, off, "
            "got 'walled'",
        ),
        (
            f'{GROUP}mode = ["off"]\n',
            "c.toml:3: option 'mode' in group 'g': expected a single value, got a list",
        ),
        (
            '[group.g]\ninterfaces = ["br-lan wlan0"]\n',
            "c.toml:2: option 'interfaces' in group 'g': expected an interface name (1 to 15 "
            "characters, no '/', ':' or spaces), got 'br-lan wlan0' (give one value per 'list' "
            "line or array element)",
        ),
        (
            f'{GROUP}addresses = ["192.0.2.1/24"]\n',
            "c.toml:3: option 'addresses' in group 'g': expected an IP address or a network like "
            "192.0.2.0/24 or 2001:db8::/64, got '192.0.2.1/24' (host bits set: the network is "
            "192.0.2.0/24)",
        ),
        (
            f'{GROUP}addresses = ["192.0.2.0/33"]\n',
            "c.toml:3: option 'addresses' in group 'g': expected an IP address or a network like "
            "192.0.2.0/24 or 2001:db8::/64, got '192.0.2.0/33'",
        ),
        (
            f'{GROUP}macs = ["02:00:00:00:00"]\n',
            "c.toml:3: option 'macs' in group 'g': expected a MAC address like "
            "02:00:00:00:00:01, got '02:00:00:00:00'",
        ),
        (
            f'{GROUP}macs = ["02:00-00:00:00:01"]\n',
            "c.toml:3: option 'macs' in group 'g': expected a MAC address like "
            "02:00:00:00:00:01, got '02:00-00:00:00:01'",
        ),
        (
            f'{GROUP}block_categories = ["Adult"]\n',
            "c.toml:3: option 'block_categories' in group 'g': expected a category name "
            "(lower-case letters, digits, '_' and '-'), got 'Adult'",
        ),
        (
            f'{GROUP}allow = ["*.example.org"]\n',
            "c.toml:3: option 'allow' in group 'g': expected a host name (it covers its "
            "subdomains), got '*.example.org' (write 'example.org': a name already covers its "
            "subdomains)",
        ),
        (
            f'{GROUP}block = ["a..b"]\n',
            "c.toml:3: option 'block' in group 'g': expected a host name (it covers its "
            "subdomains), got 'a..b' (an empty label)",
        ),
        (
            f'{GROUP}block = ["https://example.org/"]\n',
            "c.toml:3: option 'block' in group 'g': expected a host name (it covers its "
            "subdomains), got 'https://example.org/'",
        ),
        (
            f'{GROUP}safe_search = "maybe"\n',
            "c.toml:3: option 'safe_search' in group 'g': expected a boolean (true/false, 1/0, "
            "yes/no, on/off, enabled/disabled), got 'maybe'",
        ),
        (
            f"{GROUP}refuse_quic = 1\n",
            "c.toml:3: option 'refuse_quic' in group 'g': expected a boolean (true/false, 1/0, "
            "yes/no, on/off, enabled/disabled), got '1'",
        ),
        (
            f'{GROUP}youtube = "restricted"\n',
            "c.toml:3: option 'youtube' in group 'g': expected one of strict, moderate, off, "
            "got 'restricted' (did you mean 'strict'?)",
        ),
        (
            f'{GROUP}failure = "close"\n',
            "c.toml:3: option 'failure' in group 'g': expected one of open, closed, "
            "got 'close' (did you mean 'closed'?)",
        ),
        (
            f'{GROUP}unreadable = "deny"\n',
            "c.toml:3: option 'unreadable' in group 'g': expected one of allow, refuse, got 'deny'",
        ),
        (
            f'{GROUP}invalid_names = "block"\n',
            "c.toml:3: option 'invalid_names' in group 'g': expected one of allow, refuse, "
            "got 'block'",
        ),
        (
            f"{GROUP}description = 5\n",
            "c.toml:3: option 'description' in group 'g': expected a string, got '5'",
        ),
        (
            f'{GROUP}[group.h]\ndescription = "matches nobody"\n[general]\ndefault_group = "g"\n',
            "c.toml:3: group 'h' matches no client: expected interfaces, addresses or macs (only "
            "the default_group may have none)",
        ),
        (
            f'{GROUP}[group.h]\ninterfaces = ["br-lan"]\n[general]\ndefault_group = "g"\n',
            "c.toml:4: option 'interfaces' in group 'h': 'br-lan' is already in group 'g' "
            "(line 2); a client would match both",
        ),
        (
            '[group.g]\nmacs = ["02:00:00:00:00:01"]\n[group.h]\nmacs = ["02-00-00-00-00-01"]\n'
            '[general]\ndefault_group = "g"\n',
            "c.toml:4: option 'macs' in group 'h': '02:00:00:00:00:01' is already in group 'g' "
            "(line 2); a client would match both",
        ),
        (
            '[group.g]\naddresses = ["192.0.2.0/24"]\n[group.h]\n'
            'addresses = ["192.0.2.0/25", "192.0.2.0/24"]\n[general]\ndefault_group = "g"\n',
            "c.toml:4: option 'addresses' in group 'h': '192.0.2.0/24' is already in group 'g' "
            "(line 2); a client would match both",
        ),
        # windows
        (
            f'{GROUP}[[group.g.window]]\nstart = "22:00"\nend = "06:00"\nblock = "most"\n',
            "c.toml:6: option 'block' in window of group 'g': expected 'all' (for extra "
            "categories use the option 'categories'), got 'most'",
        ),
        (
            f'{GROUP}[[group.g.window]]\nstart = "22:00"\nend = "06:00"\n',
            "c.toml:3: option 'block' in window of group 'g': expected 'all' or a list of "
            "'categories', got nothing",
        ),
        (
            f'{GROUP}[[group.g.window]]\nstart = "22:00"\nend = "06:00"\ncategories = []\n',
            "c.toml:3: option 'block' in window of group 'g': expected 'all' or a list of "
            "'categories', got nothing",
        ),
        (
            f'{GROUP}[[group.g.window]]\nstart = "22:00"\nend = "06:00"\nblock = "all"\n'
            'categories = ["games"]\n',
            "c.toml:6: option 'block' in window of group 'g': expected either block 'all' or a "
            "list of categories, got both",
        ),
        (
            f'{GROUP}[[group.g.window]]\nend = "06:00"\nblock = "all"\n',
            "c.toml:3: option 'start' in window of group 'g': expected a time HH:MM, got nothing",
        ),
        (
            f'{GROUP}[[group.g.window]]\nstart = "24:00"\nend = "06:00"\nblock = "all"\n',
            "c.toml:4: option 'start' in window of group 'g': expected a time HH:MM from 00:00 "
            "to 23:59, got '24:00'",
        ),
        (
            f'{GROUP}[[group.g.window]]\nstart = "10:00"\nend = "12:60"\nblock = "all"\n',
            "c.toml:5: option 'end' in window of group 'g': expected a time HH:MM from 00:00 "
            "to 24:00, got '12:60'",
        ),
        (
            f'{GROUP}[[group.g.window]]\nstart = "9am"\nend = "12:00"\nblock = "all"\n',
            "c.toml:4: option 'start' in window of group 'g': expected a time HH:MM from 00:00 "
            "to 23:59, got '9am'",
        ),
        (
            f'{GROUP}[[group.g.window]]\nstart = 10:00:30\nend = "12:00"\nblock = "all"\n',
            "c.toml:4: option 'start' in window of group 'g': expected a time HH:MM from 00:00 "
            "to 23:59, got '10:00:30'",
        ),
        (
            f'{GROUP}[[group.g.window]]\ndays = ["mon", "tues"]\nstart = "10:00"\n'
            'end = "12:00"\nblock = "all"\n',
            "c.toml:4: option 'days' in window of group 'g': expected a day (mon..sun), a range "
            "like mon-fri, or weekdays, weekend, daily, got 'tues' (did you mean 'tue'?)",
        ),
        (
            f'{GROUP}[[group.g.window]]\ndays = []\nstart = "10:00"\nend = "12:00"\n'
            'block = "all"\n',
            "c.toml:4: option 'days' in window of group 'g': expected a day, got none",
        ),
        (
            f'{GROUP}[[group.g.window]]\nstart = "10:00"\nend = "12:00"\nblock = "all"\n'
            "colour = 1\n",
            "c.toml:7: option 'colour' in window of group 'g': unknown option",
        ),
    ],
)
def test_each_error_names_file_line_and_option(text: str, expected: str) -> None:
    assert errors(text) == [expected]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "config group 'g'\n\tlist interfaces 'br-lan'\nconfig window\n\toption start '10:00'\n"
            "\toption end '11:00'\n\toption block 'all'\n",
            "copgate:3: option 'group' in window: expected the name of a group, got nothing",
        ),
        (
            "config group 'g'\n\tlist interfaces 'br-lan'\nconfig window\n\toption group 'gg'\n"
            "\toption start '10:00'\n\toption end '11:00'\n\toption block 'all'\n",
            "copgate:4: option 'group' in window: expected the name of a group (g), got 'gg' "
            "(did you mean 'g'?)",
        ),
        (
            "config group 'g'\n\tlist interfaces 'br-lan'\nconfig window\n\toption group 'a-b'\n"
            "\toption start '10:00'\n\toption end '11:00'\n\toption block 'all'\n",
            "copgate:4: option 'group' in window of group 'a-b': expected a group name (letters, "
            "digits and '_'), got 'a-b'",
        ),
        (
            "config group 'g'\n\tlist interfaces 'br-lan'\nconfig group 'g'\n",
            "copgate:3: group 'g' is defined twice (first on line 1)",
        ),
        (
            "config group\n\tlist interfaces 'br-lan'\n",
            "copgate:1: a group needs a name: config group 'NAME'",
        ),
        (
            "config general\nconfig general 'general'\nconfig group 'g'\n\toption interfaces 'x'\n",
            "copgate:2: section 'general' is given twice (first on line 1)",
        ),
        (
            "config group 'g'\n\toption interfaces 'x'\nconfig grop 'g'\n",
            "copgate:3: unknown section type 'grop': expected general, group, window or update "
            "(did you mean 'group'?)",
        ),
        (
            "config general\n\tlist timezone 'UTC0'\nconfig group 'g'\n\toption interfaces 'x'\n",
            "copgate:2: option 'timezone' in section 'general': expected a single value, "
            "got a list",
        ),
    ],
)
def test_uci_only_errors(text: str, expected: str) -> None:
    assert errors(text, "uci") == [expected]


@pytest.mark.parametrize(
    ("toml", "uci"),
    [
        ('[group.g]\nmode = "walled"\n', "config group 'g'\n\toption mode 'walled'\n"),
        ('[group.g]\nmacs = ["x"]\n', "config group 'g'\n\tlist macs 'x'\n"),
        (
            '[group.g]\ninterfaces = ["a"]\n[[group.g.window]]\nstart = "1"\n',
            "config group 'g'\n\tlist interfaces 'a'\nconfig window\n\toption group 'g'\n"
            "\toption start '1'\n",
        ),
    ],
)
def test_both_syntaxes_report_the_same_error(toml: str, uci: str) -> None:
    def without_place(lines: list[str]) -> list[str]:
        return [line.split(": ", 1)[1] for line in lines]

    assert without_place(errors(toml)) == without_place(errors(uci, "uci"))


def test_categories_are_checked_against_the_catalogue_when_given() -> None:
    text = (
        f'{GROUP}block_categories = ["adult", "gambelling"]\n'
        '[[group.g.window]]\nstart = "10:00"\nend = "11:00"\ncategories = ["gamez"]\n'
    )
    assert errors(text, catalogue=CATALOGUE) == [
        "c.toml:3: option 'block_categories' in group 'g': expected a category of the list "
        "catalogue, got 'gambelling' (did you mean 'gambling'?)",
        "c.toml:7: option 'categories' in window of group 'g': expected a category of the "
        "list catalogue, got 'gamez' (did you mean 'games'?)",
    ]
    assert load(text).config.groups[0].block_categories == frozenset({"adult", "gambelling"})


def test_every_error_of_a_file_is_reported_in_line_order() -> None:
    text = (
        '[group.g]\nmode = "walled"\ninterfaces = ["br lan"]\n'
        '[general]\ndefault_group = "x"\nblock_ttl = -1\n'
    )
    assert [line.split(": ")[0] for line in errors(text)] == [
        "c.toml:2",
        "c.toml:3",
        "c.toml:5",
        "c.toml:6",
    ]


# --- warnings ----------------------------------------------------------------


def test_the_default_group_unfiltered_is_a_warning() -> None:
    text = (
        '[general]\ndefault_group = "staff"\n[group.staff]\nmode = "off"\n'
        '[group.pupils]\ninterfaces = ["br-lan"]\n'
    )
    assert warnings(text) == [
        "c.toml:3: warning: the default group 'staff' has mode off: unknown and spoofed "
        "devices land in the default group, which should be the strictest"
    ]


def test_a_group_matched_by_mac_only_is_a_warning() -> None:
    text = f'{GROUP}[group.teacher]\nmacs = ["02:00:00:00:00:01"]\n[general]\ndefault_group = "g"\n'
    assert warnings(text) == [
        "c.toml:3: warning: group 'teacher' is matched by MAC address only: a MAC is easy to "
        "spoof and phones randomise it per network; prefer an interface"
    ]


def test_an_interface_outside_lan_interfaces_is_a_warning() -> None:
    assert warnings('[group.g]\ninterfaces = ["br-lan", "wlan1"]\n') == [
        "c.toml:2: warning: option 'interfaces' in group 'g': 'wlan1' is not in lan_interfaces, "
        "so its clients are not filtered"
    ]


def test_an_option_the_mode_ignores_is_a_warning() -> None:
    text = f'{GROUP}mode = "whitelist"\nblock_categories = ["adult"]\n'
    assert warnings(text) == [
        "c.toml:4: warning: option 'block_categories' in group 'g' has no effect in mode whitelist"
    ]
    # Set by the template, not by the group: no warning.
    text = f'{GROUP}template = "school"\nmode = "off"\n[group.d]\n[general]\ndefault_group = "d"\n'
    assert warnings(text) == []


# --- robustness: any document gives a config or ConfigErrors -----------------

_OPTION_NAMES = sorted({*schema.GENERAL, *schema.GROUP, *schema.WINDOW, "junk"})
_SCALARS = st.one_of(
    st.sampled_from(
        [
            "",
            "all",
            "off",
            "whitelist",
            "br-lan",
            "10:00",
            "24:00",
            "mon-fri",
            "192.0.2.0/24",
            "02:00:00:00:00:01",
            "g",
            "h",
            "school",
            "adult",
            "1",
        ]
    ),
    st.text(max_size=8),
    st.integers(-1, 70000),
    st.booleans(),
    st.floats(allow_nan=False),
)
_VALUES = st.one_of(
    _SCALARS,
    st.lists(_SCALARS, max_size=3),
    st.dictionaries(st.text(max_size=3), _SCALARS, max_size=2),
)


@st.composite
def documents(draw: st.DrawFn) -> Document:
    sections = []
    for line in range(draw(st.integers(0, 5))):
        options = tuple(
            Option(
                name,
                tuple(Item(v, line) for v in (value if isinstance(value, list) else [value])),
                isinstance(value, list),
                "f",
                line,
            )
            for name, value in draw(
                st.dictionaries(st.sampled_from(_OPTION_NAMES), _VALUES, max_size=5)
            ).items()
        )
        kind = draw(st.sampled_from(["general", "group", "group", "window", "other"]))
        name = draw(st.sampled_from([None, "g", "h", "a-b"]))
        sections.append(Section(kind, name, options, "f", line + 1))
    return Document("f", tuple(sections))


@settings(max_examples=300)
@given(documents())
def test_any_document_gives_a_config_or_config_errors(document: Document) -> None:
    try:
        loaded = validate(document, templates=TemplateStore(TEMPLATES))
    except ConfigErrors as exc:
        assert exc.problems
    else:
        assert loaded.config.group(loaded.config.default_group) is not None


# --- evasion: a flow that ends without a name judged ----------------------


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("filter", Treatment.REFUSE), ("whitelist", Treatment.REFUSE), ("off", Treatment.ALLOW)],
)
def test_evasion_defaults_by_mode(mode: str, expected: Treatment) -> None:
    group = load(f'[group.g]\nmode = "{mode}"\ninterfaces = ["br-lan"]\n').config.groups[0]
    assert group.evasion is expected is MODE_DEFAULTS[Mode(mode)].evasion


def test_a_filter_may_allow_evasion_in_either_syntax() -> None:
    toml = load('[group.g]\ninterfaces = ["br-lan"]\nevasion = "allow"\n').config
    uci = load(
        "config group 'g'\n\tlist interfaces 'br-lan'\n\toption evasion 'allow'\n", "uci"
    ).config
    assert toml.groups[0].evasion is uci.groups[0].evasion is Treatment.ALLOW


def test_a_group_s_evasion_replaces_its_template_s(tmp_path: Path) -> None:
    (tmp_path / "t.toml").write_text(
        '[template]\ntitle.en = "T"\ndescription.en = "T"\n[group]\nevasion = "allow"\n'
    )

    def group_of(text: str) -> Treatment:
        document = parse_text(text, "c.toml", "toml")
        return validate(document, templates=TemplateStore(tmp_path)).config.groups[0].evasion

    base = '[group.g]\ntemplate = "t"\ninterfaces = ["br-lan"]\n'
    assert group_of(base) is Treatment.ALLOW
    assert group_of(base + 'evasion = "refuse"\n') is Treatment.REFUSE


@pytest.mark.parametrize(
    ("text", "syntax", "expected"),
    [
        (
            '[group.g]\ninterfaces = ["br-lan"]\nevasion = "block"\n',
            "toml",
            "c.toml:3: option 'evasion' in group 'g': expected one of allow, refuse, got 'block'",
        ),
        (
            "config group 'g'\n\tlist interfaces 'br-lan'\n\toption evasion 'maybe'\n",
            "uci",
            "copgate:3: option 'evasion' in group 'g': expected one of allow, refuse, got 'maybe'",
        ),
        (
            '[group.g]\nmode = "whitelist"\ninterfaces = ["br-lan"]\nevasion = "allow"\n',
            "toml",
            "c.toml:4: option 'evasion' in group 'g': a walled garden (mode whitelist) always "
            "refuses evasion, got 'allow'",
        ),
        (
            "config group 'g'\n\toption mode 'whitelist'\n\tlist interfaces 'br-lan'\n"
            "\toption evasion 'allow'\n",
            "uci",
            "copgate:4: option 'evasion' in group 'g': a walled garden (mode whitelist) always "
            "refuses evasion, got 'allow'",
        ),
    ],
)
def test_evasion_errors_name_file_line_and_option(text: str, syntax: str, expected: str) -> None:
    assert errors(text, syntax) == [expected]


def test_a_walled_garden_template_that_allows_evasion_is_refused_where_it_says_so(
    tmp_path: Path,
) -> None:
    (tmp_path / "w.toml").write_text(
        '[template]\ntitle.en = "W"\ndescription.en = "W"\n'
        '[group]\nmode = "whitelist"\nevasion = "allow"\n'
    )
    document = parse_text('[group.g]\ntemplate = "w"\ninterfaces = ["br-lan"]\n', "c.toml", "toml")
    with pytest.raises(ConfigErrors) as caught:
        validate(document, templates=TemplateStore(tmp_path))
    assert caught.value.lines == [
        f"{tmp_path / 'w.toml'}:6: option 'evasion' in group 'g': a walled garden (mode "
        "whitelist) always refuses evasion, got 'allow'"
    ]


@pytest.mark.parametrize(
    ("text", "syntax", "expected"),
    [
        (
            f"{GROUP}[general]\nqueue_rate = 100000\n",
            "toml",
            "c.toml:4: option 'queue_rate' in section 'general': expected an integer from 0 "
            "to 99999, got '100000'",
        ),
        (
            f"{GROUP}[general]\nqueue_rate = -1\n",
            "toml",
            "c.toml:4: option 'queue_rate' in section 'general': expected an integer from 0 "
            "to 99999, got '-1'",
        ),
        (
            f"{GROUP}[general]\nqueue_burst = 0\n",
            "toml",
            "c.toml:4: option 'queue_burst' in section 'general': expected an integer from 1 "
            "to 99999, got '0'",
        ),
        (
            "config general 'general'\n\toption queue_rate 'fast'\n"
            "config group 'g'\n\tlist interfaces 'br-lan'\n",
            "uci",
            "copgate:2: option 'queue_rate' in section 'general': expected an integer from 0 "
            "to 99999, got 'fast'",
        ),
        (
            "config general 'general'\n\toption queue_burst '100000'\n"
            "config group 'g'\n\tlist interfaces 'br-lan'\n",
            "uci",
            "copgate:2: option 'queue_burst' in section 'general': expected an integer from 1 "
            "to 99999, got '100000'",
        ),
    ],
)
def test_queue_rate_errors_name_file_line_and_option(text: str, syntax: str, expected: str) -> None:
    assert errors(text, syntax) == [expected]


# --- category aliases -------------------------------------------------------


def test_a_category_alias_is_read_as_its_category_with_a_warning() -> None:
    loaded = load(
        '[general]\ndefault_group = "g"\n'
        '[group.g]\ninterfaces = ["br-lan"]\nblock_categories = ["porn", "gambling"]\n'
        '[[group.g.window]]\nstart = "08:00"\nend = "09:00"\ncategories = ["proxy"]\n'
        '[group.w]\nmode = "whitelist"\naddresses = ["192.0.2.0/26"]\n'
        'allow_categories = ["ads"]\n',
        # With the catalogue too: the alias's category is what must be in it.
        catalogue=CATALOGUE | {"redirector", "publicite"},
    )
    g, w = loaded.config.groups
    assert g.block_categories == frozenset({"adult", "gambling"})
    assert g.windows[0].categories == frozenset({"redirector"})
    assert w.allow_categories == frozenset({"publicite"})
    by_line = sorted(loaded.warnings, key=lambda warning: warning.line or 0)
    assert [str(warning) for warning in by_line] == [
        "c.toml:5: warning: option 'block_categories' in group 'g': porn is an alias of "
        "adult; read as adult",
        "c.toml:9: warning: option 'categories' in window of group 'g': proxy is an alias of "
        "redirector; read as redirector",
        "c.toml:13: warning: option 'allow_categories' in group 'w': ads is an alias of "
        "publicite; read as publicite",
    ]


def test_a_category_alias_in_uci_reads_the_same() -> None:
    loaded = load(
        "config group 'g'\n\tlist interfaces 'br-lan'\n\tlist block_categories 'porn'\n", "uci"
    )
    assert loaded.config.groups[0].block_categories == frozenset({"adult"})
    assert [str(warning) for warning in loaded.warnings] == [
        "copgate:3: warning: option 'block_categories' in group 'g': porn is an alias of "
        "adult; read as adult"
    ]


def test_a_category_alias_in_a_template_is_read_as_its_category(tmp_path: Path) -> None:
    (tmp_path / "t.toml").write_text(
        '[template]\nname = "t"\ntitle.en = "T"\ndescription.en = "T"\n'
        '[group]\nmode = "filter"\nblock_categories = ["porn"]\n',
        encoding="utf-8",
    )
    document = parse_text('[group.g]\ntemplate = "t"\ninterfaces = ["br-lan"]\n', "c.toml", "toml")
    loaded = validate(document, templates=TemplateStore(tmp_path), catalogue=CATALOGUE)
    assert loaded.config.groups[0].block_categories == frozenset({"adult"})
    (warning,) = loaded.warnings
    assert str(warning).startswith(f"{tmp_path / 't.toml'}:7: warning: option 'block_categories'")
    assert str(warning).endswith("porn is an alias of adult; read as adult")


def test_an_unknown_category_is_still_refused_against_the_catalogue() -> None:
    assert errors(
        '[group.g]\ninterfaces = ["br-lan"]\nblock_categories = ["pron"]\n', catalogue=CATALOGUE
    ) == [
        "c.toml:3: option 'block_categories' in group 'g': expected a category of the list "
        "catalogue, got 'pron'"
    ]
