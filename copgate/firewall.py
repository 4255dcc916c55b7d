"""The firewall rules that hand LAN clients' first packets to copgate: one model, two texts.

Pure: a ``FirewallSpec`` in, rules out, as iptables/ip6tables argument lists
(generic Linux gateways and the lab; applied by ``copgate.edges.iptables``)
or as nftables text (OpenWrt 23.05+ with fw4). It never runs iptables or
nft, reads no file and knows nothing of the daemon's state.

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

"Carries data" has no direct match in iptables or nftables; both compare
the packet's length with its TCP data offset. Where that cannot be read
exactly (IPv4 options, IPv6 extension headers) the rules queue the packet
anyway: they may queue an empty ACK, never skip a request.

The nftables text is a table of its own, ``inet copgate``, with base chains
at priority ``filter - 5`` on the forward and input hooks, so it runs before
fw4's own chains and is replaced atomically (``nft -f``) or removed
(``nft delete table inet copgate``) without touching fw4's table. fw4 only
ever flushes ``table inet fw4``, so a firewall reload leaves copgate's table
in place; the same text may also be installed as
``/usr/share/nftables.d/ruleset-post/copgate.nft``, which fw4 includes after
its table at every start, because the text first deletes any older copgate
table. fw4's ``chain-pre/forward/*.nft`` snippets were not used: fw4 puts its
``flow offload`` statement before those includes, and a snippet cannot be
replaced without reloading the whole firewall. With flow offloading on,
offloaded flows bypass every hook, copgate's included: see the daemon's
detection of it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

from copgate.errors import ConfigError

DECIDED_MARK = 0x4000_0000
"""Connmark bit of a decided flow. High bits, clear of OpenWrt's mwan3 (0x3F00)
and of fw4's zone marks."""
INJECTED_MARK = 0x2000_0000
"""skb mark bit of packets copgate injects (set with SO_MARK)."""
CHAIN = "COPGATE"
"""iptables chain of the queue rules, jumped to from FORWARD and INPUT."""
REFUSE_CHAIN = "COPGATE-REFUSE"
"""iptables chain of the refusals, jumped to from FORWARD only, before ``CHAIN``."""
OTHER_CHAIN = "COPGATE-OTHER"
"""iptables chain refusing every IP protocol but TCP, UDP and ICMP."""
OTHER_PASS_CHAIN = "COPGATE-OTHER-OK"
"""iptables chain accepting every IP protocol but TCP, UDP and ICMP: the
exemption of a client from a later refusal of them. iptables cannot match
"none of three protocols" in one rule, so, unlike nftables' ``return``, this
accepts at once (the router's own forward rules for VPN protocols are then
not consulted for exempt clients)."""
NFT_TABLE = "copgate"
NFT_PRIORITY = "filter - 5"
"""Before fw4's chains (priority filter), after raw and conntrack."""
HOOKS = ("FORWARD", "INPUT")

MAX_PORT = 65535
MAX_QUEUE = 65535  # the queue number is 16 bits (nfnetlink_queue)
MAX_MULTIPORT = 15  # xt_multiport's limit of ports per rule
IFNAMSIZ = 16  # Linux include/uapi/linux/if.h: names of at most 15 bytes
MAX_MARK = 0xFFFF_FFFF
DOT_PORT = 853  # RFC 7858 §3.1 DNS over TLS; RFC 9250 §4.1.1 DNS over QUIC
TCP_DOFF_MIN = 5  # RFC 9293 §3.1: the data offset counts 32-bit words, 5 to 15
TCP_DOFF_MAX = 15
IPV4_HEADER = 20  # RFC 791 without options
MAX_IP_LENGTH = 65535  # RFC 791 total length, RFC 8200 payload length: 16 bits

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


# -- iptables ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IptablesPlan:
    """copgate's rules for one of iptables (IPv4) or ip6tables (IPv6)."""

    family: Family
    chains: tuple[str, ...]
    """Chains copgate owns, created (or emptied) together."""
    rules: tuple[tuple[str, ...], ...]
    """Arguments of each rule, ``-A CHAIN ...``, in order."""
    jumps: tuple[tuple[str, ...], ...]
    """Each jump into copgate's chains without its verb, in the order they must
    stand in their hook: ``FORWARD -i br-lan -j COPGATE-REFUSE`` before
    ``FORWARD -i br-lan -j COPGATE``."""

    @property
    def command(self) -> str:
        return "iptables" if self.family is Family.IPV4 else "ip6tables"

    def restore_text(self, jump_changes: tuple[tuple[str, ...], ...] = ()) -> str:
        """Input for ``iptables-restore --noflush``: copgate's chains replaced and
        ``jump_changes`` (see ``jump_changes``) made, in one atomic transaction."""
        lines = ["*filter"]
        lines += [f":{chain} - [0:0]" for chain in self.chains]
        lines += [" ".join(_restore_quote(arg) for arg in rule) for rule in self.rules]
        lines += [" ".join(_restore_quote(arg) for arg in change) for change in jump_changes]
        lines.append("COMMIT")
        return "\n".join(lines) + "\n"


def jump_changes(
    present: Sequence[tuple[str, ...]], wanted: Sequence[tuple[str, ...]]
) -> tuple[tuple[str, ...], ...]:
    """``-D``/``-I`` commands that turn the jumps ``present`` into ``wanted``.

    Per hook: nothing when its jumps already stand as wanted (a reload that
    changes no interface touches no hook); else every present jump is deleted
    and the wanted ones are inserted first in the hook, in order, before the
    router's own "established: accept". ``present`` must list each hook's
    jumps in the order they stand (``iptables -S`` does).
    """
    changes: list[tuple[str, ...]] = []
    for hook in HOOKS:
        have = [jump for jump in present if jump[0] == hook]
        want = [jump for jump in wanted if jump[0] == hook]
        if have == want:
            continue
        changes += [("-D", *jump) for jump in have]
        changes += [("-I", hook, "1", *jump[1:]) for jump in reversed(want)]
    return tuple(changes)


def _restore_quote(arg: str) -> str:
    # iptables-restore splits on blanks and honours double quotes with
    # backslash escapes; every argument here is generated, so this is enough.
    if arg and not any(c in arg for c in ' "\\\t'):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _mask(bits: int) -> str:
    return f"{bits:#x}/{bits:#x}"


_U32_PAYLOAD = {
    # xt_u32 cannot add or compare two fields, but a read past the packet's
    # end fails the match. "32>>26&0x3C" is 4*doff (the data offset nibble at
    # byte 32 of an IPv4 packet without options); "@17" then reads 4 bytes at
    # 4*doff + 17, which exist exactly when the packet is at least
    # 20 + 4*doff + 1 bytes long: the segment carries data. The first test
    # (IHL = 5) makes the offsets right; the second rule queues the rest.
    Family.IPV4: ("0>>24&0xF=5", "0>>24&0xF=5&&32>>26&0x3C@17=0:0xFFFFFFFF"),
    # IPv6 whose next header is TCP (no extension header): the TCP header is
    # at byte 40, doff at byte 52, and "@37" needs 40 + 4*doff + 1 bytes.
    Family.IPV6: ("4>>8&0xFF=6", "4>>8&0xFF=6&&52>>26&0x3C@37=0:0xFFFFFFFF"),
}


def _ipt_ports(rule: Rule) -> list[str]:
    if not rule.ports:
        return []
    negate = ["!"] if rule.except_ports else []
    if len(rule.ports) == 1:
        return [*negate, "--dport", str(rule.ports[0])]
    return ["-m", "multiport", *negate, "--dports", ",".join(map(str, rule.ports))]


def _ipt_client(client: ClientMatch) -> list[str]:
    if client.kind is ClientKind.CIDR:
        return ["-s", client.value]
    if client.kind is ClientKind.INTERFACE:
        return ["-i", client.value]
    if client.kind is ClientKind.MAC:
        return ["-m", "mac", "--mac-source", client.value]
    return []


def _ipt_target(rule: Rule, spec: FirewallSpec, family: Family) -> list[str]:
    if rule.action is Action.QUEUE:
        bypass = ["--queue-bypass"] if spec.when_absent is WhenAbsent.PASS else []
        return ["-j", "NFQUEUE", "--queue-num", str(spec.queue_num), *bypass]
    if rule.action is Action.RETURN:
        return ["-j", OTHER_PASS_CHAIN if rule.protocol is Protocol.OTHER else "RETURN"]
    if rule.action is Action.MARK_DECIDED:
        return ["-j", "CONNMARK", "--set-xmark", _mask(spec.decided_mark)]
    if rule.protocol is Protocol.TCP:
        return ["-j", "REJECT", "--reject-with", "tcp-reset"]
    if rule.protocol is Protocol.OTHER:
        return ["-j", OTHER_CHAIN]
    unreachable = "icmp-port-unreachable" if family is Family.IPV4 else "icmp6-port-unreachable"
    return ["-j", "REJECT", "--reject-with", unreachable]


def _ipt_rule(rule: Rule, spec: FirewallSpec, family: Family, chain: str) -> list[tuple[str, ...]]:
    """One model rule as iptables rules (two for payload-only, three for mark-decided)."""
    head = ["-A", chain, *_ipt_client(rule.client)]
    if rule.protocol is not None and rule.protocol is not Protocol.OTHER:
        head += ["-p", rule.protocol.value, *_ipt_ports(rule)]
    if rule.original_only:
        head += ["-m", "conntrack", "--ctdir", "ORIGINAL"]
    if rule.undecided:
        head += ["-m", "connmark", "!", "--mark", _mask(rule.undecided)]
    if rule.mark:
        head += ["-m", "mark", "--mark", _mask(rule.mark)]
    tail = ["-m", "comment", "--comment", rule.comment, *_ipt_target(rule, spec, family)]
    if rule.action is Action.MARK_DECIDED:
        # CONNMARK is not terminal: the packet must then leave the chain.
        return [(*head, *tail), (*head, "-m", "comment", "--comment", rule.comment, "-j", "RETURN")]
    if not rule.payload_only:
        return [(*head, *tail)]
    plain_header, exact = _U32_PAYLOAD[family]
    return [
        (*head, "-m", "u32", "--u32", exact, *tail),
        # Headers u32 cannot measure: queue, whether or not data follows.
        (*head, "-m", "u32", "!", "--u32", plain_header, *tail),
    ]


def _other_chain(family: Family) -> list[tuple[str, ...]]:
    icmp = "icmp" if family is Family.IPV4 else "ipv6-icmp"
    reject = "icmp-proto-unreachable" if family is Family.IPV4 else "icmp6-adm-prohibited"
    rules: list[tuple[str, ...]] = []
    for chain, verdict in (
        (OTHER_CHAIN, ("REJECT", "--reject-with", reject)),
        (OTHER_PASS_CHAIN, ("ACCEPT",)),
    ):
        rules += [
            ("-A", chain, "-p", protocol, "-j", "RETURN") for protocol in ("tcp", "udp", icmp)
        ]
        rules.append(("-A", chain, "-j", *verdict))
    return rules


def render_iptables(spec: FirewallSpec, family: Family) -> IptablesPlan:
    """copgate's chains, rules and jumps for iptables (IPV4) or ip6tables (IPV6)."""
    rules: list[tuple[str, ...]] = []
    for chain, model in ((REFUSE_CHAIN, build_refusals(spec)), (CHAIN, build_rules(spec))):
        for rule in model:
            if rule.client.family in (None, family):
                rules += _ipt_rule(rule, spec, family, chain)
    rules += _other_chain(family)
    lans = spec.lan_interfaces
    jumps = (
        *(("FORWARD", "-i", interface, "-j", REFUSE_CHAIN) for interface in lans),
        *((hook, "-i", interface, "-j", CHAIN) for hook in HOOKS for interface in lans),
    )
    chains = (CHAIN, REFUSE_CHAIN, OTHER_CHAIN, OTHER_PASS_CHAIN)
    return IptablesPlan(family, chains, tuple(rules), jumps)


# -- nftables ----------------------------------------------------------------


def _nft_set(values: list[str]) -> str:
    return values[0] if len(values) == 1 else "{ " + ", ".join(values) + " }"


def _nft_client(client: ClientMatch) -> list[str]:
    if client.kind is ClientKind.CIDR:
        prefix = "ip" if client.family is Family.IPV4 else "ip6"
        return [prefix, "saddr", client.value]
    if client.kind is ClientKind.INTERFACE:
        return ["iifname", f'"{client.value}"']
    if client.kind is ClientKind.MAC:
        return ["ether", "saddr", client.value]
    return []


def _nft_protocol(rule: Rule) -> list[str]:
    if rule.protocol is Protocol.OTHER:
        return ["meta", "l4proto", "!=", "{ tcp, udp, icmp, ipv6-icmp }"]
    if rule.protocol is None:
        return []
    if not rule.ports:
        return ["meta", "l4proto", rule.protocol.value]
    negate = ["!="] if rule.except_ports else []
    return [rule.protocol.value, "dport", *negate, _nft_set([str(p) for p in rule.ports])]


def _nft_verdict(rule: Rule, spec: FirewallSpec) -> list[str]:
    if rule.action is Action.QUEUE:
        bypass = ["bypass"] if spec.when_absent is WhenAbsent.PASS else []
        return ["queue", "num", str(spec.queue_num), *bypass]
    if rule.action is Action.RETURN:
        return ["return"]
    if rule.action is Action.MARK_DECIDED:
        return ["ct", "mark", "set", "ct", "mark", "|", f"{spec.decided_mark:#x}", "return"]
    if rule.protocol is Protocol.TCP:
        return ["reject", "with", "tcp", "reset"]
    if rule.protocol is Protocol.OTHER:
        return ["reject", "with", "icmpx", "admin-prohibited"]
    return ["reject", "with", "icmpx", "port-unreachable"]


def _payload_set(header: int) -> str:
    # Pairs (length range . data offset): a length above header + 4*doff
    # means at least one byte of data. nftables cannot add two fields, so
    # the eleven possible data offsets are listed (a concatenated interval
    # set: kernel 5.6+, OpenWrt 23.05 has 5.15).
    elements = [
        f"{header + 4 * doff + 1}-{MAX_IP_LENGTH} . {doff}"
        for doff in range(TCP_DOFF_MIN, TCP_DOFF_MAX + 1)
    ]
    return "{ " + ", ".join(elements) + " }"


_NFT_PAYLOAD = (
    # IPv4: "ip length" counts the whole packet. With options the header is
    # longer than 20 and an empty segment may match: queued, never missed.
    ["ip", "length", ".", "tcp", "doff", _payload_set(IPV4_HEADER)],
    # IPv6: "ip6 length" is the payload length, extension headers included
    # (which again can only queue more, never less).
    ["ip6", "length", ".", "tcp", "doff", _payload_set(0)],
)


def _nft_rule(rule: Rule, spec: FirewallSpec) -> list[str]:
    words = [*_nft_client(rule.client), *_nft_protocol(rule)]
    if rule.original_only:
        words += ["ct", "direction", "original"]
    if rule.undecided:
        words += ["ct", "mark", "&", f"{rule.undecided:#x}", "!=", f"{rule.undecided:#x}"]
    if rule.mark:
        words += ["meta", "mark", "&", f"{rule.mark:#x}", "==", f"{rule.mark:#x}"]
    tail = [*_nft_verdict(rule, spec), "comment", f'"{rule.comment}"']
    if not rule.payload_only:
        return [" ".join([*words, *tail])]
    return [" ".join([*words, *payload, *tail]) for payload in _NFT_PAYLOAD]


def render_nft(spec: FirewallSpec) -> str:
    """copgate's own nftables table, for ``nft -f`` (replaces any older copgate table)."""
    lans = _nft_set([f'"{name}"' for name in spec.lan_interfaces])
    families = {Family.IPV4: "ipv4", Family.IPV6: "ipv6"}
    only = "" if len(spec.families) == 2 else f"meta nfproto {families[spec.families[0]]} "
    lines = [
        "# copgate: hands LAN clients' first packets to copgate's queue (generated; do not edit)",
        f"table inet {NFT_TABLE}",
        f"delete table inet {NFT_TABLE}",
        f"table inet {NFT_TABLE} {{",
    ]
    # The refusals for what the router forwards only, then the queue for all.
    for hook, chains in (("forward", ("refuse", "from_lan")), ("input", ("from_lan",))):
        lines += [
            f"\tchain {hook} {{",
            f"\t\ttype filter hook {hook} priority {NFT_PRIORITY}; policy accept;",
            *(f"\t\t{only}iifname {lans} jump {chain}" for chain in chains),
            "\t}",
        ]
    for chain, model in (("refuse", build_refusals(spec)), ("from_lan", build_rules(spec))):
        lines.append(f"\tchain {chain} {{")
        lines += [f"\t\t{text}" for rule in model for text in _nft_rule(rule, spec)]
        lines.append("\t}")
    lines.append("}")
    return "\n".join(lines) + "\n"
