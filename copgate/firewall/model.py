"""The firewall's model: which packets to queue and which to refuse, for any backend.

A ``FirewallSpec`` (what the daemon's config asks for) becomes ordered
lists of backend-neutral ``Rule``s, one per chain; ``copgate.firewall.iptables``
and ``copgate.firewall.nft`` turn them into text. Pure: it validates and
builds values, and never renders a backend's syntax, runs a command or reads
a file.

Two chains are jumped to for packets from the LAN interfaces; the queue
chain hands on to four more (the dispatch, a chain per failure mode, and
the excess chain for packets over a client's rate). One chain is jumped to
for packets leaving through a LAN interface (servers' SYN-ACKs), and one
stands on the output path, before conntrack, for copgate's own packets.

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
4. QUIC (UDP 443): every packet in the original direction until the flow
   is decided.
5. TLS (TCP 443 and the policy's other TLS ports): every packet in the
   original direction until the flow is decided. Not only those with data:
   the tracker must see a client's bare RST or FIN, or it keeps a closed
   connection's sequence numbers, and a new connection from the same port
   (its SYN ignored for a lower TTL) would have its hello read against them
   and pass as "data before the stream start".
6. HTTP (TCP 80): client-to-server segments that carry data, so every
   request on a kept-alive connection is judged and a download's bulk (and
   its pure ACKs) never reaches user space.
7. The bare SYNs of DNS over TCP and HTTP too (the daemon must learn each
   connection's initial sequence number, or a segment sent ahead of the real
   one could make the real one "data before the stream start").

The roles stand busiest first (TLS, HTTP, QUIC, DNS), and what a role's
rules leave unqueued leaves the chain at once: the ports of two roles never
overlap, so no later rule could take it.

Each of those goes on to the dispatch (``build_dispatch``; ``COPGATE-QUEUE``,
``to_queue``), which sends a client's packets to the chain of its group's
failure mode, clients in the daemon's matching order (``failures``, the
first entry a client matches; ``when_absent`` for everyone else). A
failure chain (``build_queue``; ``COPGATE-OPEN``/``COPGATE-CLOSED``,
``open``/``closed``) first limits each client's rate, then queues:

- ``WhenAbsent.PASS`` (fail open): queue ``queue_num`` with the kernel's
  bypass (``--queue-bypass`` / ``bypass``), so with no daemon on the queue
  the packets pass: a dead or restarting copgate must not cut a home's
  internet, and the service manager restarts it in seconds. The daemon
  binds this queue with the fail-open flag (NFQA_CFG_F_FAIL_OPEN), so a
  full queue accepts too.
- ``WhenAbsent.DROP`` (fail closed): queue ``closed_queue_num`` (``queue_num
  + 1``) without bypass, bound without fail-open: with no daemon, or a full
  queue, the packets are dropped (a school that prefers no internet to an
  unfiltered one).

The rate limit stands in front of the queue so that one client cannot take
the queue from everyone (measured: one client's 94,000 UDP packets/s to port
53 made the kernel drop 412,502 queued packets and 6 of 21 other clients'
lookups time out). It counts, per source address, only packets that would
be queued; ``queue_rate`` 0 turns it off (a load test from one address).
What goes over it goes to the excess chain (``build_excess``;
``COPGATE-EXCESS``, ``excess``), which gives it the client's ``Excess``
treatment, in the same client order as the dispatch: its group's *evasion*
treatment, not its failure one. A client over its rate is not copgate
failing; the excess is the client's own doing, and were it treated as a
failure, a fail-open group's client could flood its way past the queue
and have its next blocked hello pass unjudged. So ``Excess.DROP`` (evasion
refused: filter groups and walled gardens by default) drops it, and
``Excess.PASS`` (evasion allowed: mode off, which filters nothing) lets it
go on unqueued to the router's own rules. Its known limit: a client is its
source address, so one that sends from many addresses (IPv6 gives each
client a /64's worth) gets a rate per address, and can fill the table
(``RATE_TABLE_MAX``).

The reply chain (``build_replies``; ``COPGATE-REPLY``, ``to_lan``), jumped
to from the forward and output hooks for packets leaving through a LAN
interface (output: the router's own DNS over TCP and web server), queues the
server's SYN-ACK of each undecided connection to a port copgate reads over
TCP (DNS, TLS, HTTP): reply direction, SYN and ACK set with RST and FIN
clear (ECN's ECE and CWR may ride along). From it the daemon learns the
server's initial sequence number, so it can tell a segment whose ACK number
the server would drop (a fake meant for copgate alone) from one the server
reads. It costs one queued packet per connection. It goes to the open queue
with bypass whatever the client's group: a SYN-ACK that passes unjudged
while the daemon is down opens nothing, since the client's data is still
queued by its own group's rules, and a fail-closed group's connections are
not cut by a rule meant only to inform. A SYN-ACK the daemon hands back
with the decided bit (NF_REPEAT) passes, but its connmark is left alone: a
server's packet never decides a flow, only the client's judged bytes do.
It has no rate limit of its own,
and needs none: every SYN of those ports is queued from the client's side,
so under its rate, and a server answers each with one SYN-ACK (and a few
retransmissions at most); only a client whose group lets its excess pass
(mode off) gets more, and its flows are not filtered.

Last, the output path before conntrack (raw table ``COPGATE-RAW`` from
``OUTPUT``, nftables ``output_raw`` at priority raw), for copgate's own
packets:

- ``build_untracked``: packets copgate injects towards a LAN interface get
  no conntrack entry. A forged DNS answer from the resolver's address to a
  client port that just had an allowed query through NAT clashes with that
  query's NAT entry, and NAT's clash fix-up rewrote its source port
  (``198.51.100.2.255 > 192.0.2.10.40153``): the client never read it.
  Untracked, it leaves as forged. Injected packets towards the internet (the
  RST to the server, sent as the client) stay tracked: only conntrack's
  masquerade gives them the gateway's address and port.
- ``build_confined``: no reflector. An injected packet from a port copgate
  reads (UDP and TCP 53, QUIC, TLS and HTTP: a forged answer or reset
  to a client, sent as the server) leaves only through a LAN interface;
  through any other it is dropped. The engine forges only for packets that
  came in on a LAN interface, but their source address can be forged: a
  blocked query from the LAN that claims an internet source would otherwise
  make copgate send its answer to that outside address. The kernel checks
  where the answer is routed, after routing, for every packet copgate sends,
  at no cost to Python (a route lookup per forged packet in
  ``copgate.edges.inject`` would do the same work twice, and miss policy
  routing by mark). The RST copgate sends to the server goes out from the
  client's port, so it is unaffected; a client that itself uses one of those
  ports as its source port loses that courtesy RST, never its own reset.

What copgate does not do: reverse-path filtering. It sets no ``rp_filter``
sysctl and adds no ``fib saddr . iif oif missing drop`` rule, so a LAN
client may still send packets with a forged source; an allowed query so
sent is forwarded, and the server's answer goes to the forged address, as
it would without copgate. Strict reverse-path checks change routing for
multi-homed and policy-routed routers, which is the router's own firewall's
business (enable ``rp_filter`` on the LAN interfaces, or fw4's equivalent,
to stop it); copgate only guarantees that nothing it forges leaves for the
internet.

"Carries data" (``Rule.payload_only``) has no direct match in iptables or
nftables; both backends compare the packet's length with its TCP data
offset. Where that cannot be read exactly (IPv4 options, IPv6 extension
headers) they queue the packet anyway: they may queue an empty ACK, never
skip a request.
"""

from __future__ import annotations

import dataclasses
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
MAX_OPEN_QUEUE = MAX_QUEUE - 1
"""The highest ``queue_num``: fail-closed groups use the queue after it."""
MAX_MULTIPORT = 15  # xt_multiport's limit of ports per rule
IFNAMSIZ = 16  # Linux include/uapi/linux/if.h: names of at most 15 bytes
MAX_MARK = 0xFFFF_FFFF
DOT_PORT = 853  # RFC 7858 §3.1 DNS over TLS; RFC 9250 §4.1.1 DNS over QUIC

QUEUE_RATE = 300
"""Default per-client limit, packets per second handed to copgate. A browser
starting up asks ~100 names in a second and opens tens of TLS connections
(about four queued packets each until decided): 300/s covers a busy device
while a flood is cut to what the daemon judges in a few milliseconds (it
judges over 20,000 DNS packets/s), so a house full of clients fits."""
QUEUE_BURST = 600
"""Default per-client burst, packets: two seconds of the rate, so a page load
after an idle minute is never limited."""
MAX_QUEUE_RATE = 99_999
"""Above what the daemon can judge, a limit limits nothing; and five digits
keep the iptables hashlimit name (``cgo99999-99999``) within its 15 bytes."""
RATE_TABLE_MAX = 65535
"""Clients each per-client rate table holds (iptables hashlimit ``htable-max``,
nftables set ``size``). A full table cannot take a new client: nftables then
queues its packets unlimited; xt_hashlimit drops them (its "hotdrop"), so a
flood from many forged source addresses can cost new clients their queued
packets until entries expire. 65,535 entries cost a few MB, only when used."""
RATE_TABLE_EXPIRE = 10
"""Seconds an idle client's count is kept (xt_hashlimit's default expiry)."""
NEVER_OTHER = ("tcp", "udp", "icmp", "ipv6-icmp")
"""IP protocols that ``Protocol.OTHER`` never covers: ICMP and ICMPv6 are
never refused as "unreadable" (path MTU discovery, RFC 1191; IPv6 itself,
RFC 4890)."""

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
    """A group's failure mode in the kernel: what happens to a packet copgate
    should judge but cannot take (no daemon on the queue, a full queue, a
    client over its rate)."""

    PASS = "pass"
    """Fail open: it passes unjudged (queue ``queue_num``, with bypass)."""
    DROP = "drop"
    """Fail closed: it is dropped (queue ``closed_queue_num``, no bypass)."""


class Excess(Enum):
    """What happens to a client's packets over its queue rate.

    A client over its rate is not copgate failing: the excess is the
    client's own doing (a flood, or a burst of tricks meant to outrun the
    queue), so it gets its group's *evasion* treatment, never its failure
    one. Were it the failure treatment, a fail-open group's flood would make
    the client's next hello pass unjudged."""

    DROP = "drop"
    """Evasion refused (filter groups and walled gardens by default): dropped."""
    PASS = "pass"
    """Evasion allowed (mode off, or a filter that allows it): passes unqueued."""


class Action(Enum):
    QUEUE = "queue"
    """To copgate: go to the dispatch, which picks the client's queue."""
    SEND = "send"
    """Go to the failure chain of ``Rule.failure`` (the dispatch's rules)."""
    LIMIT = "limit"
    """Over the client's rate: on to the excess chain (``build_excess``), which
    gives the packet its client's ``Excess`` treatment."""
    NFQUEUE = "nfqueue"
    """Hand to the queue of ``Rule.failure``, with bypass when it fails open."""
    NOTRACK = "notrack"
    """No conntrack entry (raw table, output hook)."""
    REJECT = "reject"
    DROP = "drop"
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
    """The queue of fail-open clients; fail-closed ones use the next one."""
    when_absent: WhenAbsent = WhenAbsent.PASS
    """The failure mode of clients that match no entry of ``failures``."""
    failures: tuple[tuple[ClientMatch, WhenAbsent], ...] = ()
    """Each client set's failure mode, in the daemon's group-matching order:
    the first entry a client matches decides its queue."""
    excess: Excess = Excess.DROP
    """What happens over the rate to clients that match no entry of ``excesses``."""
    excesses: tuple[tuple[ClientMatch, Excess], ...] = ()
    """Each client set's treatment over its rate, in the daemon's group-matching
    order: the first entry a client matches decides it."""
    queue_rate: int = QUEUE_RATE
    """Packets per second each client may hand to copgate (0: no limit)."""
    queue_burst: int = QUEUE_BURST
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
        if not 0 <= self.queue_num <= MAX_OPEN_QUEUE:
            raise ConfigError(
                f"firewall: queue number {self.queue_num} out of 0-{MAX_OPEN_QUEUE}"
                f" (fail-closed groups use the queue after it)"
            )
        if not 0 <= self.queue_rate <= MAX_QUEUE_RATE:
            raise ConfigError(f"firewall: queue rate {self.queue_rate} out of 0-{MAX_QUEUE_RATE}")
        if not 1 <= self.queue_burst <= MAX_QUEUE_RATE:
            raise ConfigError(f"firewall: queue burst {self.queue_burst} out of 1-{MAX_QUEUE_RATE}")
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

    @property
    def closed_queue_num(self) -> int:
        """The queue of fail-closed clients: ``queue_num + 1``, bound without fail-open."""
        return self.queue_num + 1

    def queue_of(self, failure: WhenAbsent) -> int:
        """The queue number that takes the packets of clients with this failure mode."""
        return self.queue_num if failure is WhenAbsent.PASS else self.closed_queue_num


def unreadable(
    spec: FirewallSpec,
    reason: str = "unreadable",
    exempt: tuple[tuple[Protocol, int], ...] = (),
) -> tuple[Refusal, ...]:
    """Refusals of everything copgate cannot read: for walled gardens.

    ``exempt``: (protocol, port) pairs never refused (NTP: the policy's
    ``EXEMPT_FROM_UNREADABLE``); ICMP and ICMPv6 never are (``NEVER_OTHER``).
    """
    spared = {protocol: [port for p, port in exempt if p is protocol] for protocol in Protocol}
    if spared[Protocol.OTHER]:
        raise ConfigError("unreadable: other protocols have no ports to exempt")
    tcp = (*spec.dns_ports, *spec.tls_ports, *spec.http_ports, *spared[Protocol.TCP])
    udp = (*spec.dns_ports, *spec.quic_ports, *spared[Protocol.UDP])
    return (
        Refusal(f"{reason}-tcp", Protocol.TCP, tuple(dict.fromkeys(tcp)), except_ports=True),
        Refusal(f"{reason}-udp", Protocol.UDP, tuple(dict.fromkeys(udp)), except_ports=True),
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
    syn_only: bool = False
    """Only TCP SYNs (SYN set; ACK, RST and FIN clear)."""
    synack_only: bool = False
    """Only TCP SYN-ACKs (SYN and ACK set; RST and FIN clear)."""
    reply_only: bool = False
    """Only packets in the flow's reply (server-to-client) direction."""
    source_ports: bool = False
    """``ports`` are source ports (a server's replies), not destination ports."""
    failure: WhenAbsent | None = None
    """SEND, LIMIT, NFQUEUE: the failure mode whose chain or queue this is."""
    out_interface: str = ""
    """Only packets leaving through this interface (the output path, replies)."""

    def failure_mode(self) -> WhenAbsent:
        """``failure`` of a SEND, LIMIT or NFQUEUE rule; ``ValueError`` if it has none."""
        if self.failure is None:
            raise ValueError(f"{self.action.value} rule without a failure mode: {self.comment}")
        return self.failure


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


def _refuses(refusal: Refusal, protocol: Protocol, port: int) -> bool:
    """Whether ``refusal`` (not an exemption) refuses ``protocol`` traffic to ``port``."""
    if refusal.exempt or refusal.protocol is not protocol:
        return False
    return not refusal.ports or (port in refusal.ports) != refusal.except_ports


def _never_refused(spec: FirewallSpec) -> tuple[Rule, ...]:
    """A first rule per protocol that lets the ports copgate reads which no
    refusal of the spec can match leave the refusals at once.

    Nothing changes for those packets (they would meet no refusal), but every
    packet of a download's ACKs and of every DNS query would otherwise walk
    each client set's refusals: on a router that is most of the chain's cost.
    """
    if all(refusal.exempt for _client, refusal in spec.refusals):
        return ()  # nothing refused: the chain is walked in no time
    readable = {
        Protocol.TCP: (*spec.dns_ports, *spec.tls_ports, *spec.http_ports),
        Protocol.UDP: (*spec.dns_ports, *spec.quic_ports),
    }
    rules: list[Rule] = []
    for protocol, ports in readable.items():
        spared = [
            port
            for port in ports
            if not any(_refuses(refusal, protocol, port) for _client, refusal in spec.refusals)
        ]
        rules += [
            Rule(
                Action.RETURN,
                "copgate: never refused",
                protocol,
                tuple(spared[at : at + MAX_MULTIPORT]),
            )
            for at in range(0, len(spared), MAX_MULTIPORT)
        ]
    return tuple(rules)


def build_refusals(spec: FirewallSpec) -> tuple[Rule, ...]:
    """The rules of the refusals' chain (forward hook only), in order."""
    rules = list(_never_refused(spec))
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
    """The rules of the queue chain (forward and input hooks), in order, for every family.

    After the two marks, one role after the other, busiest first: TLS, HTTP,
    QUIC, DNS. Each role's ports are its own (``FirewallSpec`` refuses a port
    in two roles), so a packet that a role's rules did not queue leaves the
    chain at that role's "nothing to judge" instead of walking the others:
    a download's ACKs and a decided connection's packets meet a few rules.
    """
    rules = [
        Rule(Action.RETURN, "copgate: injected by copgate", mark=spec.injected_mark),
        Rule(Action.MARK_DECIDED, "copgate: flow decided", mark=spec.decided_mark),
    ]
    tcp, udp = Protocol.TCP, Protocol.UDP
    decided = spec.decided_mark
    roles = (
        (
            "tls",
            tcp,
            spec.tls_ports,
            (Rule(Action.QUEUE, "copgate: tls", undecided=decided, original_only=True),),
        ),
        (
            "http",
            tcp,
            spec.http_ports,
            (
                Rule(Action.QUEUE, "copgate: http syn", syn_only=True),
                Rule(Action.QUEUE, "copgate: http", original_only=True, payload_only=True),
            ),
        ),
        (
            "quic",
            udp,
            spec.quic_ports,
            (Rule(Action.QUEUE, "copgate: quic", undecided=decided, original_only=True),),
        ),
        ("dns udp", udp, spec.dns_ports, (Rule(Action.QUEUE, "copgate: dns udp"),)),
        (
            "dns tcp",
            tcp,
            spec.dns_ports,
            (
                Rule(Action.QUEUE, "copgate: dns tcp syn", syn_only=True),
                Rule(Action.QUEUE, "copgate: dns tcp", payload_only=True),
            ),
        ),
    )
    # A role with no ports (QUIC refused everywhere, say) queues nothing.
    for role, protocol, ports, queued in roles:
        if not ports:
            continue
        rules += [dataclasses.replace(rule, protocol=protocol, ports=ports) for rule in queued]
        if any(_conditional(rule) for rule in queued):  # else its rules took every packet
            rules.append(Rule(Action.RETURN, f"copgate: {role}, nothing to judge", protocol, ports))
    if rules[-1].action is Action.RETURN:
        rules.pop()  # the chain's end returns as well
    return tuple(rules)


def _conditional(rule: Rule) -> bool:
    """Whether a rule of a role takes only some of the role's packets."""
    return bool(rule.syn_only or rule.payload_only or rule.original_only or rule.undecided)


_FAILURE_WORD = {WhenAbsent.PASS: "open", WhenAbsent.DROP: "closed"}


def failure_word(failure: WhenAbsent) -> str:
    """``open`` or ``closed``: how chains, sets and comments name a failure mode."""
    return _FAILURE_WORD[failure]


def build_dispatch(spec: FirewallSpec) -> tuple[Rule, ...]:
    """The dispatch's rules: each client set to its failure chain, everyone else last."""
    entries = [*spec.failures, (ANY_CLIENT, spec.when_absent)]
    return tuple(
        Rule(
            Action.SEND,
            f"copgate: fails {failure_word(failure)}",
            client=client,
            failure=failure,
        )
        for client, failure in entries
    )


def build_excess(spec: FirewallSpec) -> tuple[Rule, ...]:
    """The excess chain's rules: each client set's packets over its rate dropped
    or passed unqueued, in the daemon's matching order, everyone else last."""
    entries = [*spec.excesses, (ANY_CLIENT, spec.excess)]
    return tuple(
        Rule(
            Action.DROP if excess is Excess.DROP else Action.RETURN,
            f"copgate: over the rate, {'dropped' if excess is Excess.DROP else 'passed'}",
            client=client,
        )
        for client, excess in entries
    )


def build_queue(spec: FirewallSpec, failure: WhenAbsent) -> tuple[Rule, ...]:
    """A failure chain's rules: the client's rate (over it: the excess chain), then its queue."""
    queue = Rule(Action.NFQUEUE, f"copgate: queue {spec.queue_of(failure)}", failure=failure)
    if not spec.queue_rate:
        return (queue,)
    limit = Rule(Action.LIMIT, "copgate: over the client rate", failure=failure)
    return (limit, queue)


def _server_ports(spec: FirewallSpec) -> tuple[tuple[str, Protocol, tuple[int, ...]], ...]:
    """Each role's server ports with its protocol: the ports copgate reads."""
    tcp, udp = Protocol.TCP, Protocol.UDP
    return (
        ("dns udp", udp, spec.dns_ports),
        ("quic", udp, spec.quic_ports),
        ("dns tcp", tcp, spec.dns_ports),
        ("tls", tcp, spec.tls_ports),
        ("http", tcp, spec.http_ports),
    )


def build_replies(spec: FirewallSpec) -> tuple[Rule, ...]:
    """The reply chain's rules (packets leaving through a LAN interface): the
    server's SYN-ACK of every undecided connection copgate reads over TCP, to
    the open queue with bypass."""
    # A SYN-ACK the daemon gave back with the decided bit (NF_REPEAT) passes
    # and decides nothing: only a client's bytes, judged, may decide a flow.
    rules = [Rule(Action.RETURN, "copgate: judged", mark=spec.decided_mark)]
    rules += [
        Rule(
            Action.NFQUEUE,
            f"copgate: {role} syn-ack",
            protocol,
            ports,
            source_ports=True,
            reply_only=True,
            synack_only=True,
            undecided=spec.decided_mark,
            failure=WhenAbsent.PASS,
        )
        for role, protocol, ports in _server_ports(spec)
        if protocol is Protocol.TCP and ports
    ]
    return tuple(rules)


def build_confined(spec: FirewallSpec) -> tuple[Rule, ...]:
    """The raw output rules that keep copgate's forged answers on the LAN:
    an injected packet from a port copgate reads (a server's port: it answers
    a client) that leaves through any other interface is dropped."""
    rules = [
        Rule(Action.RETURN, "copgate: to the lan", out_interface=interface)
        for interface in spec.lan_interfaces
    ]
    rules += [
        Rule(
            Action.DROP,
            f"copgate: injected {role} answer off the lan",
            protocol,
            ports,
            source_ports=True,
            mark=spec.injected_mark,
        )
        for role, protocol, ports in _server_ports(spec)
        if ports
    ]
    return tuple(rules)


def build_untracked(spec: FirewallSpec) -> tuple[Rule, ...]:
    """The raw output rules: injected packets towards the LAN get no conntrack entry."""
    return tuple(
        Rule(
            Action.NOTRACK,
            "copgate: injected to the lan, untracked",
            mark=spec.injected_mark,
            out_interface=interface,
        )
        for interface in spec.lan_interfaces
    )
