"""The lab's address plan and its closed world of names: pure data.

Every address comes from the documentation ranges (RFC 5737 for IPv4,
RFC 3849 for IPv6), so nothing the lab sends can mean a real host, and every
name a test asks for is answered by the lab's own DNS server on the
``internet`` side. This module only describes; ``topology`` builds it and
``servers`` serves it. It never touches the system.

    pupil ─┐                         ┌─ 198.51.100.53  DNS (authoritative)
    teen  ─┼─ br-lan ─ gateway ─ wan ┼─ 198.51.100.80+ nginx, HTTP/3
    staff ─┘    lan2 ─┘              └─ (no route back to the LANs: NAT)
    lan2  ──────┘

The gateway masquerades both LANs to its WAN address, as a home router does,
so the internet side has no route to any LAN and every answer it sends goes
back through the gateway's NAT.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

LAN_V4 = IPv4Network("192.0.2.0/24")  # RFC 5737 TEST-NET-1
WAN_V4 = IPv4Network("198.51.100.0/24")  # RFC 5737 TEST-NET-2
LAN2_V4 = IPv4Network("203.0.113.0/24")  # RFC 5737 TEST-NET-3
LAN_V6 = IPv6Network("2001:db8:1::/64")  # RFC 3849
WAN_V6 = IPv6Network("2001:db8:2::/64")
LAN2_V6 = IPv6Network("2001:db8:3::/64")

ROUTER_HOST = 1
"""The gateway's host number on every segment (.1 and ::1)."""
DNS_HOST = 53
"""The internet-side DNS server: the "outside resolver" clients may hard-code."""

BRIDGE = "br-lan"
"""The gateway's LAN bridge, named as on OpenWrt; the pupil, teen and staff ports."""
LAN2_INTERFACE = "lan2"
"""The gateway's second LAN interface, for interface-based client groups."""
WAN_INTERFACE = "wan"
"""The gateway's interface towards the internet namespace."""
CLIENT_INTERFACE = "eth0"
"""The one interface of every client namespace, and of the internet namespace."""


def _v4(network: IPv4Network, host: int) -> IPv4Address:
    return network.network_address + host


def _v6(network: IPv6Network, host: int) -> IPv6Address:
    # Host numbers are written as the same digits in IPv6 (::53 for .53) so
    # that a reader sees at once which IPv6 address matches which IPv4 one.
    return ipaddress.IPv6Address(f"{network.network_address}{host}")


@dataclass(frozen=True, slots=True)
class Segment:
    """One routed LAN segment behind the gateway."""

    interface: str
    """The gateway's interface on this segment."""
    v4: IPv4Network
    v6: IPv6Network

    @property
    def router_v4(self) -> IPv4Address:
        """The gateway's IPv4 address here: the clients' default route and resolver."""
        return _v4(self.v4, ROUTER_HOST)

    @property
    def router_v6(self) -> IPv6Address:
        """The gateway's IPv6 address here."""
        return _v6(self.v6, ROUTER_HOST)


LAN = Segment(BRIDGE, LAN_V4, LAN_V6)
LAN2 = Segment(LAN2_INTERFACE, LAN2_V4, LAN2_V6)
WAN = Segment(WAN_INTERFACE, WAN_V4, WAN_V6)


@dataclass(frozen=True, slots=True)
class ClientPlan:
    """A LAN client: one namespace with one address of each family."""

    role: str
    """Also the suffix of the client's namespace name."""
    segment: Segment
    host: int

    @property
    def v4(self) -> IPv4Address:
        return _v4(self.segment.v4, self.host)

    @property
    def v6(self) -> IPv6Address:
        return _v6(self.segment.v6, self.host)


CLIENTS = (
    ClientPlan("pupil", LAN, 10),
    ClientPlan("teen", LAN, 11),
    ClientPlan("staff", LAN, 12),
    ClientPlan("lan2", LAN2, 10),
)
"""Three clients on the bridge told apart by address, one on its own interface."""


@dataclass(frozen=True, slots=True)
class Host:
    """A name the lab's DNS server answers, served on the internet side."""

    name: str
    number: int
    """Host number on the WAN segment: 198.51.100.N and 2001:db8:2::N."""

    @property
    def v4(self) -> IPv4Address:
        return _v4(WAN_V4, self.number)

    @property
    def v6(self) -> IPv6Address:
        return _v6(WAN_V6, self.number)


HOSTS = (
    Host("ns.example", DNS_HOST),
    Host("allowed.example", 80),
    Host("www.allowed.example", 80),
    Host("blocked.example", 81),
    Host("www.blocked.example", 81),
    Host("social.example", 82),
    Host("games.example", 83),
    Host("adult.example", 84),
    Host("white.example", 85),
    # Search engines and their official safe endpoints: each has its own
    # address, so a test tells the safe endpoint's answer from the plain one.
    Host("www.google.com", 90),
    Host("forcesafesearch.google.com", 91),
    Host("www.youtube.com", 92),
    Host("restrict.youtube.com", 93),
    Host("restrictmoderate.youtube.com", 94),
    Host("www.bing.com", 95),
    Host("strict.bing.com", 96),
    Host("duckduckgo.com", 97),
    Host("safe.duckduckgo.com", 98),
    # Canaries: the real internet answers them, so the lab does too, and
    # copgate must turn the answer into a negative one.
    Host("use-application-dns.net", 99),
    Host("mask.icloud.com", 100),
    Host("mask-h2.icloud.com", 101),
    # A DNS-over-HTTPS resolver's name, for the doh category.
    Host("dns.google", 102),
)
"""Every name the lab answers (A and AAAA); any other name is NXDOMAIN."""

WEB_NUMBERS = tuple(sorted({host.number for host in HOSTS}))
"""Host numbers the internet namespace carries (the DNS server's among them)."""


def host(name: str) -> Host:
    """The lab host called ``name``; KeyError if the lab does not answer it."""
    for candidate in HOSTS:
        if candidate.name == name:
            return candidate
    raise KeyError(name)


def client(role: str) -> ClientPlan:
    """The lab client of this role; KeyError for an unknown role."""
    for candidate in CLIENTS:
        if candidate.role == role:
            return candidate
    raise KeyError(role)
