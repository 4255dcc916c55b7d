"""Converters from one config value to its typed form, shared by UCI and TOML.

Each converter takes a value as the syntax gave it (UCI gives strings, TOML
gives strings, integers, booleans, ...) and returns the typed value or raises
``BadValueError`` saying what was expected. A string is accepted wherever UCI would
write one (``'1'`` for true, ``'300'`` for a TTL), so the two syntaxes accept
the same settings; TOML's own booleans and integers are accepted too.

The caller (``copgate.config.validate``) adds the file, line, option and
section to the message. This module is pure; it never reads files.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from datetime import date, datetime, time
from ipaddress import (
    IPv4Address,
    IPv4Network,
    IPv6Address,
    IPv6Network,
    ip_address,
    ip_network,
)
from typing import TypeVar

from copgate.config.document import did_you_mean
from copgate.errors import ConfigError
from copgate.policy.model import DAYS, MINUTES_PER_DAY
from copgate.policy.tz import parse_tz
from copgate.wire.names import name_from_bytes

E = TypeVar("E", bound=enum.StrEnum)

IFNAMSIZ = 16  # linux/include/uapi/linux/if.h: names are at most 15 bytes plus NUL
MAX_PORT = 65535  # RFC 793 §3.1: 16-bit port numbers
BOOLEAN_WORDS = {
    # The words OpenWrt's config_get_bool (functions.sh) takes.
    "1": True,
    "true": True,
    "yes": True,
    "on": True,
    "enabled": True,
    "0": False,
    "false": False,
    "no": False,
    "off": False,
    "disabled": False,
}
_MAC = re.compile(r"[0-9a-f]{2}([:-])[0-9a-f]{2}(?:\1[0-9a-f]{2}){4}")
_CLOCK = re.compile(r"(?P<hour>\d{1,2}):(?P<minute>\d{2})")
_CATEGORY = re.compile(r"[a-z0-9][a-z0-9_-]*")
_GROUP_NAME = re.compile(r"[A-Za-z0-9_]+")
_FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_SETS = {
    "weekdays": frozenset(range(5)),
    "weekend": frozenset({5, 6}),
    "daily": frozenset(range(7)),
}


class BadValueError(Exception):
    """A value does not fit; ``expected`` says what would."""

    def __init__(self, expected: str, hint: str = "") -> None:
        super().__init__(expected)
        self.expected = expected
        self.hint = hint
        """Appended to the message, e.g. `` (did you mean 'adult'?)``."""


def show(value: object) -> str:
    """A value as the user wrote it, for ``got '...'``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{...}"
    if isinstance(value, list):
        return "[" + ", ".join(show(item) for item in value) + "]"
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def _string(value: object, expected: str) -> str:
    if not isinstance(value, str):
        raise BadValueError(expected)
    return value


def text(value: object) -> str:
    """Any string (a description)."""
    return _string(value, "a string")


def path_text(value: object) -> str:
    """A file path: a non-empty string."""
    found = _string(value, "a file path")
    if not found or "\0" in found:
        raise BadValueError("a file path")
    return found


def boolean(value: object) -> bool:
    """A boolean: TOML true/false, or a word OpenWrt's config_get_bool takes."""
    expected = "a boolean (true/false, 1/0, yes/no, on/off, enabled/disabled)"
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in BOOLEAN_WORDS:
        return BOOLEAN_WORDS[value.lower()]
    raise BadValueError(expected)


def integer(low: int, high: int) -> Callable[[object], int]:
    """An integer in ``low..high``, as a TOML integer or decimal digits."""
    expected = f"an integer from {low} to {high}"

    def convert(value: object) -> int:
        if isinstance(value, bool):
            raise BadValueError(expected)
        if isinstance(value, str) and re.fullmatch(r"[0-9]{1,10}", value):
            value = int(value)
        if not isinstance(value, int) or not low <= value <= high:
            raise BadValueError(expected)
        return value

    return convert


def choice(kind: type[E]) -> Callable[[object], E]:
    """One of an enum's values, written in lower case."""
    words = [member.value for member in kind]
    expected = "one of " + ", ".join(words)

    def convert(value: object) -> E:
        found = _string(value, expected)
        if found not in words:
            raise BadValueError(expected, did_you_mean(found, words))
        return kind(found)

    return convert


def ipv4(value: object) -> IPv4Address:
    """An IPv4 address (dotted quad)."""
    found = _string(value, "an IPv4 address")
    try:
        return IPv4Address(found)
    except ValueError:
        raise BadValueError("an IPv4 address like 192.0.2.1") from None


def ipv6(value: object) -> IPv6Address:
    """An IPv6 address (RFC 5952 text or any form Python reads)."""
    found = _string(value, "an IPv6 address")
    try:
        return IPv6Address(found)
    except ValueError:
        raise BadValueError("an IPv6 address like 2001:db8::1") from None


def router_ipv4(value: object) -> IPv4Address:
    """An IPv4 address of the router that LAN clients are sent to (the block page)."""
    return _reachable(ipv4(value), "a unicast IPv4 address of the router like 192.168.1.1")


def router_ipv6(value: object) -> IPv6Address:
    """An IPv6 address of the router that LAN clients are sent to (the block page)."""
    return _reachable(ipv6(value), "a global or ULA IPv6 address of the router like fd00::1")


_Address = TypeVar("_Address", IPv4Address, IPv6Address)


def _reachable(address: _Address, expected: str) -> _Address:
    # A client cannot be redirected to these: loopback and unspecified are its
    # own, multicast serves no TCP, and a link-local URL needs a zone
    # (http://[fe80::1%eth0]/) that browsers refuse.
    for what, bad in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("multicast", address.is_multicast),
        ("link-local", address.is_link_local),
    ):
        if bad:
            raise BadValueError(expected, f" ({what}: a client cannot be sent there)")
    return address


def network(value: object) -> IPv4Network | IPv6Network:
    """An address (a /32 or /128) or a CIDR block with no host bits set."""
    expected = "an IP address or a network like 192.0.2.0/24 or 2001:db8::/64"
    found = _string(value, expected)
    try:
        return ip_network(found, strict=True)
    except ValueError:
        pass
    try:
        loose = ip_network(found, strict=False)
    except ValueError:
        raise BadValueError(expected) from None
    raise BadValueError(expected, f" (host bits set: the network is {loose})")


def mac(value: object) -> str:
    """A MAC address, ``aa:bb:cc:dd:ee:ff`` or with dashes, any case; kept lower with colons."""
    expected = "a MAC address like 02:00:00:00:00:01"
    found = _string(value, expected).lower()
    if not _MAC.fullmatch(found):
        raise BadValueError(expected)
    return found.replace("-", ":")


def interface(value: object) -> str:
    """A Linux interface name (net/core/dev.c dev_valid_name)."""
    expected = f"an interface name (1 to {IFNAMSIZ - 1} characters, no '/', ':' or spaces)"
    found = _string(value, expected)
    if (
        not 0 < len(found.encode()) < IFNAMSIZ
        or found in (".", "..")
        or any(char in "/:" or char.isspace() for char in found)
    ):
        raise BadValueError(expected)
    return found


def port(value: object) -> int:
    """A TCP or UDP port, 1..65535."""
    return integer(1, MAX_PORT)(value)


def category(value: object) -> str:
    """A category id as the catalogue writes it (``adult``, ``social_networks``)."""
    expected = "a category name (lower-case letters, digits, '_' and '-')"
    found = _string(value, expected)
    if not _CATEGORY.fullmatch(found):
        raise BadValueError(expected)
    return found


def host_name(value: object) -> str:
    """A host name for an own allow or block entry (it covers its subdomains)."""
    expected = "a host name (it covers its subdomains)"
    found = _string(value, expected)
    if found.startswith("*."):
        raise BadValueError(
            expected, f" (write '{found[2:]}': a name already covers its subdomains)"
        )
    if not found or found.startswith(".") or "/" in found:
        raise BadValueError(expected)
    name = name_from_bytes(found.encode("utf-8", "surrogateescape"))
    if not name.valid:
        raise BadValueError(expected, f" ({name.reason})")
    return name.text


def group_name(value: object) -> str:
    """A group's name: letters, digits and ``_`` (what UCI allows as a section name)."""
    expected = "a group name (letters, digits and '_')"
    found = _string(value, expected)
    if not _GROUP_NAME.fullmatch(found):
        raise BadValueError(expected)
    return found


def template_name(value: object) -> str:
    """A template's name (a file lists/templates/<name>.toml); checked against the files later."""
    expected = "a template name"
    found = _string(value, expected)
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", found):
        raise BadValueError(expected)
    return found


def clock_start(value: object) -> int:
    """HH:MM from 00:00 to 23:59, as minutes after midnight."""
    return _clock(value, allow_midnight_end=False)


def clock_end(value: object) -> int:
    """HH:MM from 00:00 to 24:00 (the end of the day), as minutes after midnight."""
    return _clock(value, allow_midnight_end=True)


def _clock(value: object, *, allow_midnight_end: bool) -> int:
    last = "24:00" if allow_midnight_end else "23:59"
    expected = f"a time HH:MM from 00:00 to {last}"
    if isinstance(value, time):  # a TOML local time, 22:00:00
        if value.second or value.microsecond:
            raise BadValueError(expected)
        return value.hour * 60 + value.minute
    found = _CLOCK.fullmatch(_string(value, expected))
    if found is None:
        raise BadValueError(expected)
    minutes = int(found["hour"]) * 60 + int(found["minute"])
    if int(found["minute"]) >= 60 or minutes > MINUTES_PER_DAY:
        raise BadValueError(expected)
    if minutes == MINUTES_PER_DAY and not allow_midnight_end:
        raise BadValueError(expected)
    return minutes


def days(value: object) -> frozenset[int]:
    """A day (``mon``, ``monday``), a range (``mon-fri``, ``fri-mon`` wraps), or
    ``weekdays``, ``weekend``, ``daily``; 0 is Monday."""
    expected = "a day (mon..sun), a range like mon-fri, or weekdays, weekend, daily"
    found = _string(value, expected).lower()
    if found in _DAY_SETS:
        return _DAY_SETS[found]
    first, dash, last = found.partition("-")
    start = _day(first, expected)
    if not dash:
        return frozenset({start})
    end = _day(last, expected)
    return frozenset((start + step) % 7 for step in range((end - start) % 7 + 1))


def _day(word: str, expected: str) -> int:
    if word in DAYS:
        return DAYS.index(word)
    if word in _FULL_DAYS:
        return _FULL_DAYS.index(word)
    raise BadValueError(expected, did_you_mean(word, DAYS))


def block_word(value: object) -> bool:
    """A window's ``block``: only ``all`` (extra categories go in ``categories``)."""
    if value != "all":
        raise BadValueError("'all' (for extra categories use the option 'categories')")
    return True


def tz_string(value: object) -> str:
    """A POSIX TZ string (what OpenWrt writes in /etc/TZ); "" means read /etc/TZ."""
    expected = "a POSIX TZ string like CET-1CEST,M3.5.0,M10.5.0/3 or MSK-3"
    found = _string(value, expected)
    try:
        parse_tz(found)
    except ConfigError as exc:
        raise BadValueError(expected, f" ({exc})") from None
    return found


def address(value: object) -> IPv4Address | IPv6Address:
    """An IPv4 or IPv6 address."""
    found = _string(value, "an IP address")
    try:
        return ip_address(found)
    except ValueError:
        raise BadValueError("an IP address") from None


METRICS_PORT = 9119
"""The Prometheus endpoint's port when ``metrics_listen`` names none."""


def listen_address(value: object) -> tuple[IPv4Address | IPv6Address, int]:
    """``ADDRESS``, ``ADDRESS:PORT`` or ``[IPV6]:PORT`` on loopback or the LAN, never the WAN.

    The metrics endpoint has no authentication: it is served on loopback or on
    a private (RFC 1918, RFC 4193 ULA, documentation) address of the router,
    never on a global address or on every address (0.0.0.0, ::), which would
    include the WAN.
    """
    expected = "a loopback or LAN address like 127.0.0.1, 192.168.1.1:9119 or [fd00::1]:9119"
    text = _string(value, expected).strip()
    host, port = text, METRICS_PORT
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise BadValueError(expected)
        if rest:
            port = _listen_port(rest[1:], expected)
    elif text.count(":") == 1:
        host, _, rest = text.partition(":")
        port = _listen_port(rest, expected)
    try:
        found = ip_address(host)
    except ValueError:
        raise BadValueError(expected) from None
    if found.is_unspecified or found.is_multicast:
        raise BadValueError(expected, " (that is not one address: the WAN would be served too)")
    if not (found.is_loopback or found.is_private):
        raise BadValueError(expected, " (a global address: the metrics would reach the WAN)")
    return found, port


def _listen_port(text: str, expected: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_PORT:
        raise BadValueError(expected, f" (port {text!r} is not within 1..{MAX_PORT})")
    return int(text)


def http_url(value: object) -> str:
    """An ``http://`` or ``https://`` URL with a host (the distributor's report intake)."""
    expected = "an http:// or https:// URL"
    found = _string(value, expected)
    scheme, sep, rest = found.partition("://")
    if scheme not in ("http", "https") or not sep or not rest.split("/")[0]:
        raise BadValueError(expected)
    if any(ch.isspace() or not ch.isprintable() for ch in found):
        raise BadValueError(expected, "no spaces or control characters")
    return found
