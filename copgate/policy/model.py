"""The typed policy model: what a config file means, whichever syntax it came in.

The UCI and TOML loaders (copgate/config) both build these values; the decision
layer (copgate/policy/decide.py), the daemon and ``copgate check`` read them.
Every value is frozen. The model checks its own invariants (a window's minutes
are on the clock, the default group exists, group names are unique) with
``ValueError``: the loaders validate first and report ``ConfigError`` with file,
line and option, so a ``ValueError`` from here means a loader missed a check.

This module never reads files, the clock or the network.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from types import MappingProxyType

from copgate.firewall.backend import BackendChoice
from copgate.firewall.model import QUEUE_BURST, QUEUE_RATE
from copgate.update.model import UpdateSettings
from copgate.wire.names import name_from_bytes

MINUTES_PER_DAY = 24 * 60
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Day names in the order of ``datetime.weekday()``: 0 is Monday."""


class Mode(enum.StrEnum):
    """How a group is filtered."""

    FILTER = "filter"
    """Block the chosen categories, allow the rest."""
    WHITELIST = "whitelist"
    """The walled garden: allow only white-listed names."""
    OFF = "off"
    """Staff: nothing is filtered."""


class FailureMode(enum.StrEnum):
    """What the daemon does with a packet when it cannot decide."""

    OPEN = "open"
    """Let it through: browsing never stalls."""
    CLOSED = "closed"
    """Refuse it: nothing leaks past the filter."""


class Treatment(enum.StrEnum):
    """A plain allow-or-refuse choice for a class of traffic."""

    ALLOW = "allow"
    REFUSE = "refuse"


class DnsBlockAnswer(enum.StrEnum):
    """How a blocked DNS question is answered."""

    NXDOMAIN = "nxdomain"
    """The name does not exist (RCODE 3)."""
    NULL = "null"
    """0.0.0.0 / :: : the name exists but leads nowhere."""
    BLOCKPAGE = "blockpage"
    """The block page's address, so that HTTP shows why."""


class YouTubeMode(enum.StrEnum):
    """YouTube restricted mode, enforced by DNS (support.google.com/youtube/answer/6214622)."""

    STRICT = "strict"
    """restrict.youtube.com."""
    MODERATE = "moderate"
    """restrictmoderate.youtube.com."""
    OFF = "off"
    """YouTube names are left alone."""


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """A weekly span of local time in which a group is filtered harder.

    Invariants: ``days`` is a non-empty subset of 0..6; ``0 <= start < 1440``;
    ``0 <= end <= 1440``. ``end <= start`` means the window runs across midnight
    into the next day; ``end == start`` is a full 24 hours from ``start``.
    """

    days: frozenset[int]
    """0=Monday .. 6=Sunday: the day the window STARTS on (22:00-06:30 on
    Friday covers Saturday 00:00-06:30 too)."""
    start: int
    """Minutes after local midnight, inclusive."""
    end: int
    """Minutes after local midnight, exclusive; ``<= start`` crosses midnight."""
    block_all: bool
    """True: block everything in the window (own allow entries still open)."""
    categories: frozenset[str]
    """Extra categories blocked in the window (when not ``block_all``)."""

    def __post_init__(self) -> None:
        if not self.days or not self.days <= frozenset(range(7)):
            raise ValueError(f"window days must be a non-empty subset of 0..6: {self.days}")
        if not 0 <= self.start < MINUTES_PER_DAY or not 0 <= self.end <= MINUTES_PER_DAY:
            raise ValueError(f"window minutes off the clock: {self.start}-{self.end}")

    @property
    def crosses_midnight(self) -> bool:
        """True when the window ends on the day after it starts."""
        return self.end <= self.start


@dataclass(frozen=True, slots=True)
class Bypass:
    """The bypass countermeasures, each a named switch (see issue 4)."""

    block_dot: bool
    """Refuse DNS over TLS (TCP/UDP 853) and DNS over QUIC (UDP 853)."""
    block_doh: bool
    """Refuse known DoH resolvers (category ``doh``) by SNI and by DNS."""
    canaries: bool
    """Negative answer for use-application-dns.net, mask.icloud.com, mask-h2.icloud.com."""
    https_records_nodata: bool
    """DNS type 65 (HTTPS) questions get NODATA, so browsers learn no ECH keys."""
    refuse_real_ech: bool
    """Refuse flows whose outer SNI is an ECH public name (the real name is hidden)."""
    refuse_quic: bool
    """Refuse QUIC so browsers fall back to TCP, where the SNI is readable."""
    refuse_bare_ip: bool
    """Refuse TLS and QUIC without SNI (HTTPS to a bare IP address)."""

    @classmethod
    def all(cls, on: bool) -> Bypass:
        """Every switch on, or every switch off."""
        return cls(on, on, on, on, on, on, on)


@dataclass(frozen=True, slots=True)
class ClientMatch:
    """Which clients belong to a group. All empty: only as the default group."""

    interfaces: frozenset[str]
    """Inbound interface names (``br-pupils``, ``wlan1``): a pupil cannot spoof these."""
    networks: tuple[IPv4Network | IPv6Network, ...]
    """Addresses and CIDR blocks (a single address is a /32 or /128)."""
    macs: frozenset[str]
    """MAC addresses, lower case ``aa:bb:cc:dd:ee:ff``: spoofable, and broken by
    MAC randomisation unless the device turns it off for the network."""


@dataclass(frozen=True, slots=True)
class Group:
    """A client group and everything that decides its traffic."""

    name: str
    """The group's id (the UCI section or TOML table name)."""
    description: str
    match: ClientMatch
    mode: Mode
    block_categories: frozenset[str]
    """Filter mode: categories whose black entries block. Whitelist mode: unused."""
    allow_categories: frozenset[str]
    """Whitelist mode: categories whose white entries open the walled garden
    (beside ``infrastructure`` and ``starter_whitelist``, which always do)."""
    allow: tuple[str, ...]
    """Own allow entries: normalised names, each covering its subdomains."""
    block: tuple[str, ...]
    """Own block entries: normalised names, each covering its subdomains."""
    safe_search: bool
    """Search engines (Google, Bing, DuckDuckGo, ...) answered with their safe endpoints."""
    youtube: YouTubeMode
    """YouTube restricted mode; a switch of its own, independent of ``safe_search``."""
    windows: tuple[TimeWindow, ...]
    failure: FailureMode
    """What the daemon does when it cannot decide (parser error, full buffer, crash)."""
    unreadable: Treatment
    """Traffic copgate cannot read: VPN, SSH, SOCKS, DoQ, TLS on other ports, non-TLS on 443."""
    invalid_names: Treatment
    """Names that are not valid host names (control bytes, over-long, empty labels)."""
    bypass: Bypass
    evasion: Treatment = Treatment.REFUSE
    """A flow that did what only an evader does, or ended undecided (a bound hit,
    overlapping bytes that disagree, expiry or eviction before a name, HTTP that
    cannot be framed). Mode off allows it and a walled garden always refuses it,
    whatever this says (``copgate.policy.outright.decide_evasion``)."""
    _own: Mapping[str, bool] = field(init=False, repr=False, compare=False, hash=False)
    """Own entries by name: True for allow. Built from ``allow`` and ``block``."""
    memo: dict[object, object] = field(
        init=False, repr=False, compare=False, hash=False, default_factory=dict
    )
    """A memo for the decision layer (``copgate.policy.decide``): the rows of its
    table that can apply to this group by question shape, the windows in force at
    the last local time asked, the DNS decisions for the current lists and
    windows. Filled on use; a changed group is a new ``Group``
    with an empty memo."""

    def __post_init__(self) -> None:
        own = {_normal(entry): False for entry in self.block}
        # Allow is written second: a name in both lists is allowed.
        own.update((_normal(entry), True) for entry in self.allow)
        object.__setattr__(self, "_own", MappingProxyType(own))

    def own_entry(self, name: str) -> tuple[str, bool] | None:
        """The most specific own entry covering ``name``: (entry, True for allow), or None.

        Invariants: an entry covers itself and its subdomains; the longest
        covering entry decides; at the same name, allow beats block.
        """
        if not self._own:
            return None
        suffix = name
        while True:
            if suffix in self._own:
                return suffix, self._own[suffix]
            dot = suffix.find(".")
            if dot < 0:
                return None
            suffix = suffix[dot + 1 :]


def _normal(entry: str) -> str:
    """An own entry as lists and questions spell names (IDN to punycode, lower case)."""
    return name_from_bytes(entry.encode("utf-8")).text


@dataclass(frozen=True, slots=True)
class ModeDefaults:
    """What a group gets for the keys that neither it nor its template sets."""

    failure: FailureMode
    unreadable: Treatment
    invalid_names: Treatment
    bypass: Bypass
    evasion: Treatment


MODE_DEFAULTS: Mapping[Mode, ModeDefaults] = MappingProxyType(
    {
        # A category filter must not break what it cannot read; ECH-fronted
        # sites, QUIC and bare addresses stay open (the others are closed).
        Mode.FILTER: ModeDefaults(
            FailureMode.OPEN,
            Treatment.ALLOW,
            Treatment.REFUSE,
            Bypass(True, True, True, True, False, False, False),
            # An honest client never ends undecided on purpose: refusing it
            # costs a retry, allowing it is the free pass evaders look for.
            Treatment.REFUSE,
        ),
        # A walled garden refuses anything it cannot see the name of.
        Mode.WHITELIST: ModeDefaults(
            FailureMode.CLOSED,
            Treatment.REFUSE,
            Treatment.REFUSE,
            Bypass.all(True),
            Treatment.REFUSE,
        ),
        # Staff: nothing filtered, nothing refused.
        Mode.OFF: ModeDefaults(
            FailureMode.OPEN,
            Treatment.ALLOW,
            Treatment.ALLOW,
            Bypass.all(False),
            Treatment.ALLOW,
        ),
    }
)
"""Defaults by mode, as the issue 4 spec states them."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Gateway-wide settings (``[general]`` / ``config general``)."""

    lists: tuple[str, ...]
    """Paths of compiled list caches, in lookup order."""
    timezone: str
    """POSIX TZ string (``CET-1CEST,M3.5.0,M10.5.0/3``); "" means: read /etc/TZ at
    the edge, UTC if there is none."""
    dns_block: DnsBlockAnswer
    blockpage_ipv4: IPv4Address | None
    blockpage_ipv6: IPv6Address | None
    block_ttl: int
    """Negative TTL of forged answers, in seconds (the SOA minimum, RFC 2308 §5)."""
    tls_ports: frozenset[int]
    """TCP ports whose flows are read as TLS (default {443})."""
    lan_interfaces: tuple[str, ...]
    """Interfaces whose clients are filtered."""
    queue_rate: int = QUEUE_RATE
    """Packets per second each client may hand to copgate's queue; over it the
    client's group evasion treatment applies in the kernel. 0 means no limit. The
    default and its bound are the firewall's (``copgate.firewall.model``),
    which is what enforces it."""
    queue_burst: int = QUEUE_BURST
    """Packets a client may hand over at once above ``queue_rate``."""
    page_name: str = "blocked.copgate.lan"
    """The block page's own name, answered with its addresses ("recently blocked")."""
    reports_dir: str = "/etc/copgate/reports"
    """Where requests, reports and grants are kept (flash: they survive a reboot)."""
    reports_url: str | None = None
    """The distributor's report intake (``docs/reports.md``); None: reports stay here."""
    reports_token: str | None = None
    """Bearer token for ``reports_url``."""
    log_entries: int = 1000
    """Decisions the daemon keeps in memory for ``copgate log`` (0: none)."""
    log_allowed: bool = True
    """Whether allowed names are kept in that log at all (privacy)."""
    metrics_listen: tuple[IPv4Address | IPv6Address, int] | None = None
    """(address, port) of the Prometheus endpoint on loopback or the LAN; None: off."""
    enabled: bool = True
    """The service switch (``option enabled``): the init script starts copgate
    only when it is on; ``copgate run`` refuses to start when it is off."""
    firewall_backend: BackendChoice = BackendChoice.AUTO
    """nft, iptables, or auto (``copgate.firewall.backend`` says how auto picks);
    read at start, a reload keeps the backend in use."""


@dataclass(frozen=True, slots=True)
class Config:
    """A whole configuration: settings, groups and the group for everyone else.

    Invariants: group names are unique and ``default_group`` names one of them,
    so ``group_for`` always has an answer.
    """

    settings: Settings
    groups: tuple[Group, ...]
    default_group: str
    """The group of a client nothing else matches: should be the strictest one,
    so that a spoofed or unknown device lands there."""
    source: str
    """The file the configuration was read from, for messages."""
    update: UpdateSettings | None = None
    """Signed list releases (``[update]``); None: the gateway never polls."""
    _index: _GroupIndex = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", _GroupIndex.build(self.groups, self.default_group))

    def group(self, name: str) -> Group | None:
        """The group called ``name``, or None."""
        return self._index.by_name.get(name)

    def group_for(
        self,
        iface: str | None,
        ip: IPv4Address | IPv6Address | None,
        mac: str | None,
    ) -> Group:
        """The group of a client, by this precedence (first row that matches wins):

        ====  ==========================  =============================================
        step  matched by                  why this order
        ====  ==========================  =============================================
        1     inbound interface           a VLAN or Wi-Fi network: a pupil cannot spoof it
        2     MAC address                 names one device (spoofable, randomised)
        3     most specific CIDR / IP     longest prefix wins: a /32 inside a /24
        4     ``default_group``           unknown or spoofed devices: the strictest
        ====  ==========================  =============================================

        Within a step, a tie (two groups listing the same interface, MAC or
        prefix) goes to the group that comes first in the file; the loaders
        reject such duplicates anyway. An IPv4-mapped IPv6 address
        (``::ffff:192.0.2.1``) is matched as the IPv4 address it carries.
        A group matched by interface claims every client of that interface, so
        staff on the pupils' network need their own interface, not a MAC entry.
        """
        return self._index.find(iface, ip, mac)


@dataclass(frozen=True, slots=True)
class _GroupIndex:
    """Lookup tables for ``Config.group_for``, built once per config."""

    by_name: Mapping[str, Group]
    by_iface: Mapping[str, Group]
    by_mac: Mapping[str, Group]
    networks: tuple[tuple[IPv4Network | IPv6Network, Group], ...]
    """Most specific prefix first; config order among equal prefixes."""
    default: Group

    @classmethod
    def build(cls, groups: tuple[Group, ...], default_group: str) -> _GroupIndex:
        by_name: dict[str, Group] = {}
        by_iface: dict[str, Group] = {}
        by_mac: dict[str, Group] = {}
        networks: list[tuple[IPv4Network | IPv6Network, Group]] = []
        for group in groups:
            if group.name in by_name:
                raise ValueError(f"two groups are called {group.name!r}")
            by_name[group.name] = group
            for iface in group.match.interfaces:
                by_iface.setdefault(iface, group)
            for mac in group.match.macs:
                by_mac.setdefault(mac.lower(), group)
            networks.extend((net, group) for net in group.match.networks)
        if default_group not in by_name:
            raise ValueError(f"default_group {default_group!r} names no group")
        # sorted() is stable: equal prefixes keep config order.
        networks.sort(key=lambda pair: -pair[0].prefixlen)
        return cls(by_name, by_iface, by_mac, tuple(networks), by_name[default_group])

    def find(
        self, iface: str | None, ip: IPv4Address | IPv6Address | None, mac: str | None
    ) -> Group:
        if iface is not None and iface in self.by_iface:
            return self.by_iface[iface]
        if mac is not None and mac.lower() in self.by_mac:
            return self.by_mac[mac.lower()]
        if ip is not None:
            if isinstance(ip, IPv6Address) and ip.ipv4_mapped is not None:
                ip = ip.ipv4_mapped
            for net, group in self.networks:
                if net.version == ip.version and ip in net:
                    return group
        return self.default
