"""copgate's rules as iptables/ip6tables arguments and ``iptables-restore`` text.

For generic Linux gateways and the lab; ``copgate.edges.iptables`` applies
a plan, and ``copgate firewall --backend iptables`` prints one. Pure: the
model's rules in (``copgate.firewall.model``), argument tuples and text
out. It never runs iptables, reads what is installed or knows the daemon's
state; ``jump_changes`` takes the jumps present as an argument.

copgate owns, per family, in the filter table: ``COPGATE-FORWARD``
(jumped to from FORWARD for packets in from a LAN interface: on to the
refusals, then the queue rules), ``COPGATE-REFUSE`` (the refusals),
``COPGATE`` (the queue rules; INPUT jumps to it directly),
``COPGATE-QUEUE`` (the dispatch, by client) with ``COPGATE-OPEN`` and
``COPGATE-CLOSED`` (a failure mode's rate limit and queue) and
``COPGATE-EXCESS`` (what goes over a client's rate, by client),
``COPGATE-REPLY`` (servers' SYN-ACKs, jumped to from FORWARD and OUTPUT for
SYN-ACKs out to a LAN interface), and two helper chains for "every IP
protocol but TCP, UDP and ICMP", which one iptables rule cannot match; in
the raw table, ``COPGATE-RAW`` (injected packets to the LAN untracked, and
injected answers dropped anywhere else), jumped to from OUTPUT. The jumps
stand first in their hooks, before the router's own "established: accept".

The queue rules reach the dispatch, the dispatch a failure chain and a
failure chain the excess chain with ``-g`` (goto), not ``-j``: a RETURN
there (a client over its rate whose group lets evasion pass) goes straight
back to FORWARD or INPUT, so no later rule of copgate's sees the packet
again, and the router's own rules then judge it as they would without
copgate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from copgate.firewall.model import (
    NEVER_OTHER,
    RATE_TABLE_EXPIRE,
    RATE_TABLE_MAX,
    Action,
    ClientKind,
    ClientMatch,
    Family,
    FirewallSpec,
    Protocol,
    Rule,
    WhenAbsent,
    build_confined,
    build_dispatch,
    build_excess,
    build_queue,
    build_refusals,
    build_replies,
    build_rules,
    build_untracked,
    failure_word,
)

CHAIN = "COPGATE"
"""iptables chain of the queue rules, reached from FORWARD (by ``FORWARD_CHAIN``) and INPUT."""
REFUSE_CHAIN = "COPGATE-REFUSE"
"""iptables chain of the refusals, reached from FORWARD only (by ``FORWARD_CHAIN``)."""
OTHER_CHAIN = "COPGATE-OTHER"
"""iptables chain refusing every IP protocol but TCP, UDP and ICMP."""
OTHER_PASS_CHAIN = "COPGATE-OTHER-OK"
"""iptables chain accepting every IP protocol but TCP, UDP and ICMP: the
exemption of a client from a later refusal of them. iptables cannot match
"none of three protocols" in one rule, so, unlike nftables' ``return``, this
accepts at once (the router's own forward rules for VPN protocols are then
not consulted for exempt clients)."""
QUEUE_CHAIN = "COPGATE-QUEUE"
"""iptables chain sending each client's packets to its failure mode's chain."""
FAILURE_CHAINS = {WhenAbsent.PASS: "COPGATE-OPEN", WhenAbsent.DROP: "COPGATE-CLOSED"}
"""iptables chain of each failure mode: the client's rate limit, then its queue."""
EXCESS_CHAIN = "COPGATE-EXCESS"
"""iptables chain of packets over their client's rate: dropped or passed, by client."""
REPLY_CHAIN = "COPGATE-REPLY"
"""iptables chain of servers' SYN-ACKs out to a LAN interface, queued."""
FORWARD_CHAIN = "COPGATE-FORWARD"
"""iptables chain jumped to from FORWARD for packets in from a LAN interface:
the refusals (``REFUSE_CHAIN``), then the queue rules (``CHAIN``)."""
RAW_CHAIN = "COPGATE-RAW"
"""iptables chain of the raw table: injected packets to the LAN untracked,
injected answers anywhere else dropped."""
IN_HOOKS = {"FORWARD": FORWARD_CHAIN, "INPUT": CHAIN}
"""The chain each hook jumps to for packets in from a LAN interface."""
OUT_HOOKS = ("FORWARD", "OUTPUT")
"""Hooks jumping to ``REPLY_CHAIN`` for servers' SYN-ACKs out to a LAN interface."""
SYNACK = ("-p", "tcp", "-m", "tcp", "--tcp-flags", "FIN,SYN,RST,ACK", "SYN,ACK")
"""The match of the jumps to ``REPLY_CHAIN``, as ``iptables -S`` prints it back."""
HOOKS = ("FORWARD", "INPUT", "OUTPUT")
"""The filter table's hooks copgate jumps from."""
RAW_HOOKS = ("OUTPUT",)
FILTER_CHAINS = (
    FORWARD_CHAIN,
    CHAIN,
    REFUSE_CHAIN,
    QUEUE_CHAIN,
    *FAILURE_CHAINS.values(),
    EXCESS_CHAIN,
    REPLY_CHAIN,
)
HASHLIMIT_PREFIX = "cg"
"""Names of copgate's xt_hashlimit tables: ``cgo300-600`` (fail open, 300/s,
burst 600). The kernel keeps a table by name and reuses it, settings and all,
for a new rule of that name; the rate in the name makes a changed rate a new
table at the next reload."""


@dataclass(frozen=True, slots=True)
class IptablesPlan:
    """copgate's rules for one of iptables (IPv4) or ip6tables (IPv6)."""

    family: Family
    chains: tuple[str, ...]
    """Chains copgate owns in the filter table, created (or emptied) together."""
    rules: tuple[tuple[str, ...], ...]
    """Arguments of each rule, ``-A CHAIN ...``, in order."""
    jumps: tuple[tuple[str, ...], ...]
    """Each jump into copgate's chains without its verb, in the order they must
    stand in their hook: ``FORWARD -i br-lan -j COPGATE-FORWARD`` before
    ``FORWARD -o br-lan ... -j COPGATE-REPLY``."""
    raw_rules: tuple[tuple[str, ...], ...] = ()
    """Rules of ``RAW_CHAIN`` in the raw table."""
    raw_jumps: tuple[tuple[str, ...], ...] = ()
    """Jumps into ``RAW_CHAIN``: ``OUTPUT -j COPGATE-RAW``."""

    @property
    def command(self) -> str:
        return "iptables" if self.family is Family.IPV4 else "ip6tables"

    def restore_text(
        self,
        jump_changes: tuple[tuple[str, ...], ...] = (),
        raw_changes: tuple[tuple[str, ...], ...] = (),
    ) -> str:
        """Input for ``iptables-restore --noflush``: copgate's chains replaced and
        ``jump_changes`` and ``raw_changes`` (see ``jump_changes``) made, one
        transaction per table (raw first: the untracked rule is in place
        before anything is queued)."""
        lines = ["*raw", f":{RAW_CHAIN} - [0:0]"]
        lines += [_restore_line(rule) for rule in (*self.raw_rules, *raw_changes)]
        lines += ["COMMIT", "*filter"]
        lines += [f":{chain} - [0:0]" for chain in self.chains]
        lines += [_restore_line(rule) for rule in (*self.rules, *jump_changes)]
        lines.append("COMMIT")
        return "\n".join(lines) + "\n"


def _restore_line(args: tuple[str, ...]) -> str:
    return " ".join(_restore_quote(arg) for arg in args)


def jump_changes(
    present: Sequence[tuple[str, ...]],
    wanted: Sequence[tuple[str, ...]],
    hooks: Sequence[str] = HOOKS,
) -> tuple[tuple[str, ...], ...]:
    """``-D``/``-I`` commands that turn the jumps ``present`` into ``wanted``.

    Per hook: nothing when its jumps already stand as wanted (a reload that
    changes no interface touches no hook); else every present jump is deleted
    and the wanted ones are inserted first in the hook, in order, before the
    router's own "established: accept". ``present`` must list each hook's
    jumps in the order they stand (``iptables -S`` does).
    """
    changes: list[tuple[str, ...]] = []
    for hook in hooks:
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
    side = "--sport" if rule.source_ports else "--dport"
    if len(rule.ports) == 1:
        return [*negate, side, str(rule.ports[0])]
    return ["-m", "multiport", *negate, f"{side}s", ",".join(map(str, rule.ports))]


def _ipt_client(client: ClientMatch) -> list[str]:
    if client.kind is ClientKind.CIDR:
        return ["-s", client.value]
    if client.kind is ClientKind.INTERFACE:
        return ["-i", client.value]
    if client.kind is ClientKind.MAC:
        return ["-m", "mac", "--mac-source", client.value]
    return []


def hashlimit_name(spec: FirewallSpec, failure: WhenAbsent) -> str:
    """The xt_hashlimit table of a failure chain (see ``HASHLIMIT_PREFIX``)."""
    word = failure_word(failure)[0]
    return f"{HASHLIMIT_PREFIX}{word}{spec.queue_rate}-{spec.queue_burst}"


def _ipt_limit(spec: FirewallSpec, failure: WhenAbsent) -> list[str]:
    # Per source address (srcip: a /32 or /128), counting only what reaches
    # this rule: packets copgate would be handed. Over it: the excess chain,
    # by goto, so that its RETURN leaves copgate's chains.
    return [
        *("-m", "hashlimit", "--hashlimit-above", f"{spec.queue_rate}/sec"),
        *("--hashlimit-burst", str(spec.queue_burst), "--hashlimit-mode", "srcip"),
        *("--hashlimit-htable-max", str(RATE_TABLE_MAX)),
        *("--hashlimit-htable-expire", str(RATE_TABLE_EXPIRE * 1000)),
        *("--hashlimit-name", hashlimit_name(spec, failure), "-g", EXCESS_CHAIN),
    ]


def _ipt_target(rule: Rule, spec: FirewallSpec, family: Family) -> list[str]:
    if rule.action is Action.QUEUE:
        return ["-g", QUEUE_CHAIN]
    if rule.action is Action.SEND:
        return ["-g", FAILURE_CHAINS[rule.failure_mode()]]
    if rule.action is Action.LIMIT:
        return _ipt_limit(spec, rule.failure_mode())
    if rule.action is Action.NFQUEUE:
        failure = rule.failure_mode()
        bypass = ["--queue-bypass"] if failure is WhenAbsent.PASS else []
        return ["-j", "NFQUEUE", "--queue-num", str(spec.queue_of(failure)), *bypass]
    if rule.action is Action.NOTRACK:
        return ["-j", "CT", "--notrack"]
    if rule.action is Action.RETURN:
        return ["-j", OTHER_PASS_CHAIN if rule.protocol is Protocol.OTHER else "RETURN"]
    if rule.action is Action.DROP:
        return ["-j", "DROP"]
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
    if rule.out_interface:
        head += ["-o", rule.out_interface]
    if rule.protocol is not None and rule.protocol is not Protocol.OTHER:
        head += ["-p", rule.protocol.value, *_ipt_ports(rule)]
    if rule.syn_only:
        head.append("--syn")
    if rule.synack_only:
        head += ["--tcp-flags", "FIN,SYN,RST,ACK", "SYN,ACK"]
    if rule.original_only:
        head += ["-m", "conntrack", "--ctdir", "ORIGINAL"]
    if rule.reply_only:
        head += ["-m", "conntrack", "--ctdir", "REPLY"]
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
    # ICMP of the other family is no protocol of this one.
    foreign = "ipv6-icmp" if family is Family.IPV4 else "icmp"
    spared = [protocol for protocol in NEVER_OTHER if protocol != foreign]
    reject = "icmp-proto-unreachable" if family is Family.IPV4 else "icmp6-adm-prohibited"
    rules: list[tuple[str, ...]] = []
    for chain, verdict in (
        (OTHER_CHAIN, ("REJECT", "--reject-with", reject)),
        (OTHER_PASS_CHAIN, ("ACCEPT",)),
    ):
        rules += [("-A", chain, "-p", protocol, "-j", "RETURN") for protocol in spared]
        rules.append(("-A", chain, "-j", *verdict))
    return rules


def _chains(spec: FirewallSpec) -> tuple[tuple[str, tuple[Rule, ...]], ...]:
    """Each filter chain of copgate's with its model rules, in the order they are written."""
    return (
        (REFUSE_CHAIN, build_refusals(spec)),
        (CHAIN, build_rules(spec)),
        (QUEUE_CHAIN, build_dispatch(spec)),
        *((chain, build_queue(spec, failure)) for failure, chain in FAILURE_CHAINS.items()),
        (EXCESS_CHAIN, build_excess(spec)),
        (REPLY_CHAIN, build_replies(spec)),
    )


def render_iptables(spec: FirewallSpec, family: Family) -> IptablesPlan:
    """copgate's chains, rules and jumps for iptables (IPV4) or ip6tables (IPV6)."""
    rules: list[tuple[str, ...]] = [
        ("-A", FORWARD_CHAIN, "-j", REFUSE_CHAIN),
        ("-A", FORWARD_CHAIN, "-g", CHAIN),
    ]
    for chain, model in _chains(spec):
        for rule in model:
            if rule.client.family in (None, family):
                rules += _ipt_rule(rule, spec, family, chain)
    rules += _other_chain(family)
    raw_rules: list[tuple[str, ...]] = []
    for rule in (*build_untracked(spec), *build_confined(spec)):
        raw_rules += _ipt_rule(rule, spec, family, RAW_CHAIN)
    # One jump per hook and LAN interface, and none for what a server sends
    # but its SYN-ACKs: every packet of a download is tested against these
    # jumps, so each is one more comparison in its path.
    lans = spec.lan_interfaces
    jumps = (
        *((hook, "-i", lan, "-j", chain) for hook, chain in IN_HOOKS.items() for lan in lans),
        *((hook, "-o", lan, *SYNACK, "-j", REPLY_CHAIN) for hook in OUT_HOOKS for lan in lans),
    )
    chains = (*FILTER_CHAINS, OTHER_CHAIN, OTHER_PASS_CHAIN)
    raw_jumps = (("OUTPUT", "-j", RAW_CHAIN),)
    return IptablesPlan(family, chains, tuple(rules), jumps, tuple(raw_rules), raw_jumps)
