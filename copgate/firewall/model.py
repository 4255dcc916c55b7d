"""The firewall's model: which packets to queue and which to refuse, for any backend.

A ``FirewallSpec`` (what the daemon's config asks for) becomes two ordered
lists of backend-neutral ``Rule``s; ``copgate.firewall.iptables`` and
``copgate.firewall.nft`` turn them into text. Pure: it validates and builds
values, and never renders a backend's syntax, runs a command or reads a file.

Two chains, each jumped to for packets from the LAN interfaces.

The refusals (``build_refusals``; iptables ``COPGATE-REFUSE``, nftables
``refuse``), jumped to from the forward hook only, first: per set of
clients, DoT (TCP 853), DNS over QUIC (UDP 853), QUIC, or everything a
walled garden cannot read. The kernel refuses these itself (TCP reset, ICMP
unreachable); they never reach copgate. An exemption (a client of a group
that does not refuse this traffic, placed before a group that does) leaves
the chain, so the client meets no later refusal and the queue rules below
still see its traffic. Only what the router forwards is refused: its own
services (DHCP, the block page on port 8099, its web interface, NTP) are
its own firewall's business, and refusing them would leave a walled
garden's clients without an address, or without the page telling them what
was blocked.

Then the queue (``build_rules``; iptables ``COPGATE``, nftables
``from_lan``), jumped to from the forward and input hooks, so that what
goes to any address, the router included, is judged, in this order:

1. Packets copgate injected carry ``injected_mark`` and are let through first.
2. A packet whose skb mark carries ``decided_mark`` has just been judged: the
   daemon gave it the verdict NF_REPEAT with that mark, the rule copies the
   bit into the connmark and lets the packet go. From then on the flow's
   connmark says "decided" and its packets skip the queue rules below.
3. DNS on UDP and TCP 53: every packet of UDP, every TCP segment that
   carries data, for the life of the flow. Stub resolvers and load tools
   reuse one socket or connection for many queries, so a DNS flow is never
   marked decided.
4. QUIC (UDP 443) and TLS (TCP 443 and the policy's other TLS ports):
   every packet in the original direction until the flow is decided.
5. HTTP (TCP 80): client-to-server segments that carry data, so every
   request on a kept-alive connection is judged and a download's bulk (and
   its pure ACKs) never reaches user space.

When no daemon listens on the queue, ``WhenAbsent.PASS`` (the default, the
kernel's ``--queue-bypass`` / ``bypass``) lets the packets through: a dead or
restarting copgate must not cut a home's internet, and the service manager
restarts it in seconds. ``WhenAbsent.DROP`` fails closed instead (a school
that prefers no internet to an unfiltered one); the queue then holds
nothing, packets are dropped until the daemon is back.

"Carries data" (``Rule.payload_only``) has no direct match in iptables or
nftables; both backends compare the packet's length with its TCP data
offset. Where that cannot be read exactly (IPv4 options, IPv6 extension
headers) they queue the packet anyway: they may queue an empty ACK, never
skip a request.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from enum import Enum

from copgate.errors import ConfigError

DECIDED_MARK = 0x4000_0000
"""Connmark bit of a decided flow. High bits, clear of OpenWrt's mwan3 (0x3F00)
and of fw4's zone marks."""
INJECTED_MARK = 0x2000_0000
"""skb mark bit of packets copgate injects (set with SO_MARK)."""

MAX_PORT = 65535
MAX_QUEUE = 65535  # the queue number is 16 bits (nfnetlink_queue)
MAX_MULTIPORT = 15  # xt_multiport's limit of ports per rule
IFNAMSIZ = 16  # Linux include/uapi/linux/if.h: names of at most 15 bytes
MAX_MARK = 0xFFFF_FFFF
DOT_PORT = 853  # RFC 7858 §3.1 DNS over TLS; RFC 9250 §4.1.1 DNS over QUIC

_IFNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,15}$")
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_REASON = re.compile(r"^[a-z0-9-]{1,32}$")


class Family(Enum):
    IPV4 = 4
    IPV6 = 6


class Protocol(Enum):
    TCP = "tcp"
    UDP = "udp"
    OTHER = "other"
    """Every IP protocol but TCP, UDP and ICMP: VPNs (ESP, GRE), tunnels..."""


class WhenAbsent(Enum):
    """What the kernel does with a packet to queue when no daemon listens."""

    PASS = "pass"
    DROP = "drop"


class Action(Enum):
    QUEUE = "queue"
    REJECT = "reject"
    RETURN = "return"
    MARK_DECIDED = "mark-decided"
    """Copy the decided bit from the packet's mark to its connmark, and return."""


class ClientKind(Enum):
    ANY = "any"
    CIDR = "cidr"
    INTERFACE = "interface"
    MAC = "mac"


@dataclass(frozen=True, slots=True)
class ClientMatch:
    """Which LAN clients a refusal applies to: one address range, interface or MAC."""

    kind: ClientKind
    value: str = ""

    def __post_init__(self) -> None:
        if self.kind is ClientKind.ANY and self.value:
            raise ConfigError("a match of any client takes no value")
        if self.kind is ClientKind.CIDR:
            try:
                network = ipaddress.ip_network(self.value, strict=True)
            except ValueError as exc:
                raise ConfigError(f"client match: bad address range {self.value!r}") from exc
            object.__setattr__(self, "value", str(network))
        if self.kind is ClientKind.INTERFACE:
            _check_interface(self.value)
        if self.kind is ClientKind.MAC:
            mac = self.value.lower().replace("-", ":")
            if not _MAC.match(mac):
                raise ConfigError(f"client match: bad MAC address {self.value!r}")
            object.__setattr__(self, "value", mac)

    @property
    def family(self) -> Family | None:
        """The only family an address range can match; None for the other kinds."""
        if self.kind is not ClientKind.CIDR:
            return None
        version = ipaddress.ip_network(self.value).version
        return Family.IPV4 if version == 4 else Family.IPV6


ANY_CLIENT = ClientMatch(ClientKind.ANY)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Traffic the kernel refuses for a set of clients, never queued."""

    reason: str
    """Short word for the rule comment: dot, doq, quic, unreadable-tcp..."""
    protocol: Protocol
    ports: tuple[int, ...] = ()
    """Destination ports; empty: every port (required empty for OTHER)."""
    except_ports: bool = False
    """Refuse every port but ``ports``."""
    exempt: bool = False
    """Not a refusal but an exemption: these clients are spared the refusals of
    this traffic that follow (a group that allows QUIC, placed before the
    default group that refuses it), and copgate's queue rules still see it.
    The first entry a packet matches wins."""

    def __post_init__(self) -> None:
        if not _REASON.match(self.reason):
            raise ConfigError(f"refusal reason {self.reason!r}: use a-z, 0-9 and -")
        if self.protocol is Protocol.OTHER and (self.ports or self.except_ports):
            raise ConfigError("a refusal of other protocols takes no ports")
        if self.except_ports and not self.ports:
            raise ConfigError(f"refusal {self.reason}: 'every port but' needs ports")
        _check_ports(self.ports, f"refusal {self.reason}")


def _check_interface(name: str) -> None:
    if not _IFNAME.match(name):
        raise ConfigError(f"interface name {name!r}: at most {IFNAMSIZ - 1} of A-Z a-z 0-9 _ . @ -")


def _check_ports(ports: tuple[int, ...], what: str) -> None:
    if len(ports) > MAX_MULTIPORT:
        raise ConfigError(f"{what}: at most {MAX_MULTIPORT} ports in one rule")
    for port in ports:
        if not 1 <= port <= MAX_PORT:
            raise ConfigError(f"{what}: port {port} out of 1-{MAX_PORT}")


def _check_mark(mark: int, what: str) -> None:
    if not 0 < mark <= MAX_MARK:
        raise ConfigError(f"{what} {mark:#x}: must be a non-zero 32-bit mark")


REFUSE_DOT = Refusal("dot", Protocol.TCP, (DOT_PORT,))
REFUSE_DOQ = Refusal("doq", Protocol.UDP, (DOT_PORT,))
REFUSE_QUIC = Refusal("quic", Protocol.UDP, (443,))


@dataclass(frozen=True, slots=True)
class FirewallSpec:
    """What to queue and what to refuse, as the daemon's config says."""

    lan_interfaces: tuple[str, ...]
    """Interfaces LAN clients' packets arrive on (br-lan, a guest VLAN...)."""
    queue_num: int = 0
    when_absent: WhenAbsent = WhenAbsent.PASS
    dns_ports: tuple[int, ...] = (53,)
    tls_ports: tuple[int, ...] = (443,)
    quic_ports: tuple[int, ...] = (443,)
    http_ports: tuple[int, ...] = (80,)
    decided_mark: int = DECIDED_MARK
    injected_mark: int = INJECTED_MARK
    refusals: tuple[tuple[ClientMatch, Refusal], ...] = ()
    """In order: the first refusal a packet matches applies."""
    families: tuple[Family, ...] = (Family.IPV4, Family.IPV6)

    def __post_init__(self) -> None:
        if not self.lan_interfaces:
            raise ConfigError("firewall: no LAN interface to filter")
        for name in self.lan_interfaces:
            _check_interface(name)
        if not 0 <= self.queue_num <= MAX_QUEUE:
            raise ConfigError(f"firewall: queue number {self.queue_num} out of 0-{MAX_QUEUE}")
        _check_mark(self.decided_mark, "decided mark")
        _check_mark(self.injected_mark, "injected mark")
        if self.decided_mark & self.injected_mark:
            raise ConfigError("firewall: the decided and injected marks share bits")
        for what, ports in (
            ("DNS ports", self.dns_ports),
            ("TLS ports", self.tls_ports),
            ("QUIC ports", self.quic_ports),
            ("HTTP ports", self.http_ports),
        ):
            _check_ports(ports, f"firewall: {what}")
        tcp = [*self.dns_ports, *self.tls_ports, *self.http_ports]
        udp = [*self.dns_ports, *self.quic_ports]
        for protocol, used in (("TCP", tcp), ("UDP", udp)):
            if len(set(used)) != len(used):
                raise ConfigError(f"firewall: a {protocol} port is in two roles: {sorted(used)}")


def unreadable(spec: FirewallSpec, reason: str = "unreadable") -> tuple[Refusal, ...]:
    """Refusals of everything copgate cannot read: for walled gardens."""
    return (
        Refusal(
            f"{reason}-tcp",
            Protocol.TCP,
            (*spec.dns_ports, *spec.tls_ports, *spec.http_ports),
            except_ports=True,
        ),
        Refusal(
            f"{reason}-udp", Protocol.UDP, (*spec.dns_ports, *spec.quic_ports), except_ports=True
        ),
        Refusal(f"{reason}-other", Protocol.OTHER),
    )


# -- the rule model ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rule:
    """One backend-neutral rule of copgate's chain; its match is the AND of its fields."""

    action: Action
    comment: str
    protocol: Protocol | None = None
    ports: tuple[int, ...] = ()
    except_ports: bool = False
    client: ClientMatch = field(default=ANY_CLIENT)
    mark: int = 0
    """skb mark bits that must all be set (0: no test)."""
    undecided: int = 0
    """Connmark bits that must not all be set (0: no test)."""
    original_only: bool = False
    """Only packets in the flow's original (client-to-server) direction."""
    payload_only: bool = False
    """Only TCP segments that carry data (see the module docstring)."""


def _exemption(client: ClientMatch, refusal: Refusal) -> Rule:
    """The rule that spares ``client`` the later refusals of ``refusal``'s traffic.

    It leaves the refusals' chain: traffic copgate queues (QUIC) then meets
    the queue rules, for as long as its flow is undecided, as any client's
    does; traffic it never queues (DoT, the unreadable rest) goes on to the
    router's own rules.
    """
    comment = f"copgate: {refusal.reason} not refused"
    return Rule(
        Action.RETURN, comment, refusal.protocol, refusal.ports, refusal.except_ports, client
    )


def build_refusals(spec: FirewallSpec) -> tuple[Rule, ...]:
    """The rules of the refusals' chain (forward hook only), in order."""
    rules: list[Rule] = []
    for client, refusal in spec.refusals:
        if refusal.exempt:
            rules.append(_exemption(client, refusal))
            continue
        rules.append(
            Rule(
                Action.REJECT,
                f"copgate: refuse {refusal.reason}",
                refusal.protocol,
                refusal.ports,
                refusal.except_ports,
                client,
            )
        )
    return tuple(rules)


def build_rules(spec: FirewallSpec) -> tuple[Rule, ...]:
    """The rules of the queue chain (forward and input hooks), in order, for every family."""
    rules = [
        Rule(Action.RETURN, "copgate: injected by copgate", mark=spec.injected_mark),
        Rule(Action.MARK_DECIDED, "copgate: flow decided", mark=spec.decided_mark),
    ]
    tcp, udp = Protocol.TCP, Protocol.UDP
    rules += [
        Rule(Action.QUEUE, "copgate: dns udp", udp, spec.dns_ports),
        Rule(Action.QUEUE, "copgate: dns tcp", tcp, spec.dns_ports, payload_only=True),
        Rule(
            Action.QUEUE,
            "copgate: quic",
            udp,
            spec.quic_ports,
            undecided=spec.decided_mark,
            original_only=True,
        ),
        Rule(
            Action.QUEUE,
            "copgate: tls",
            tcp,
            spec.tls_ports,
            undecided=spec.decided_mark,
            original_only=True,
        ),
        Rule(
            Action.QUEUE,
            "copgate: http",
            tcp,
            spec.http_ports,
            original_only=True,
            payload_only=True,
        ),
    ]
    # A role with no ports (QUIC refused everywhere, say) queues nothing.
    return tuple(rule for rule in rules if rule.action is not Action.QUEUE or rule.ports)
