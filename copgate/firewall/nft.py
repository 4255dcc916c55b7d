"""copgate's rules as nftables text: a table of its own for OpenWrt 23.05+ with fw4.

``render_nft`` gives what ``nft -f`` loads, and what ``copgate firewall``
prints for an fw4 include directory. Pure: the model's rules in
(``copgate.firewall.model``), text out. It never runs nft, reads the
ruleset or knows the daemon's state.

The text is a table of its own, ``inet copgate``, with base chains at
priority ``filter - 5`` on the forward and input hooks, so it runs before
fw4's own chains and is replaced atomically (``nft -f``) or removed
(``nft delete table inet copgate``) without touching fw4's table. fw4 only
ever flushes ``table inet fw4``, so a firewall reload leaves copgate's table
in place; the same text may also be installed as
``/usr/share/nftables.d/ruleset-post/copgate.nft``, which fw4 includes after
its table at every start, because the text first deletes any older copgate
table. fw4's ``chain-pre/forward/*.nft`` snippets were not used: fw4 puts its
``flow offload`` statement before those includes, and a snippet cannot be
replaced without reloading the whole firewall. With flow offloading on,
offloaded flows bypass every hook, copgate's included: the daemon's nft
backend (``copgate.edges.firewall``) finds it at every apply, logs it, and
makes fw4's offload rule wait for copgate's decision
(``copgate.firewall.offload`` says how and why).

Chains: ``refuse`` and ``from_lan`` (the model's two for packets in from a
LAN interface: the forward base chain jumps to ``forward_lan``, which goes
through both, the input base chain to ``from_lan`` alone),
``to_queue`` (the dispatch, by client), ``open`` and ``closed`` (a failure
mode's rate limit and queue) and ``excess`` (what goes over a client's rate,
by client), reached with ``goto`` so that a ``return`` there (a client over
its rate whose group lets evasion pass) ends copgate's say on the packet;
``to_lan`` (servers' SYN-ACKs, jumped to from the forward and output base
chains for SYN-ACKs out to a LAN interface); and ``output_raw``, a base chain
at priority raw of the output hook (injected packets to the LAN untracked,
injected answers anywhere else dropped).
The per-client rate is kept in a dynamic set per failure mode and family
(``open4``...) updated with a ``limit`` per element: the form nftables now
writes the older ``meter`` statement as. ``nft -c`` 1.0.6 accepts both (the
tests check the text with it); OpenWrt 23.05 ships a 1.0.x, not checked
here.
"""

from __future__ import annotations

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

NFT_TABLE = "copgate"
NFT_PRIORITY = "filter - 5"
"""Before fw4's chains (priority filter), after raw and conntrack."""
_SET_KEYS = {
    Family.IPV4: ("4", "ipv4_addr", "ip saddr"),
    Family.IPV6: ("6", "ipv6_addr", "ip6 saddr"),
}
TCP_DOFF_MIN = 5  # RFC 9293 §3.1: the data offset counts 32-bit words, 5 to 15
TCP_DOFF_MAX = 15
IPV4_HEADER = 20  # RFC 791 without options
MAX_IP_LENGTH = 65535  # RFC 791 total length, RFC 8200 payload length: 16 bits


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
        return ["meta", "l4proto", "!=", _nft_set(list(NEVER_OTHER))]
    if rule.protocol is None:
        return []
    if not rule.ports:
        return ["meta", "l4proto", rule.protocol.value]
    negate = ["!="] if rule.except_ports else []
    side = "sport" if rule.source_ports else "dport"
    return [rule.protocol.value, side, *negate, _nft_set([str(p) for p in rule.ports])]


def _nft_verdict(rule: Rule, spec: FirewallSpec) -> list[str]:
    if rule.action is Action.QUEUE:
        return ["goto", "to_queue"]
    if rule.action is Action.SEND:
        return ["goto", failure_word(rule.failure_mode())]
    if rule.action is Action.NFQUEUE:
        failure = rule.failure_mode()
        bypass = ["bypass"] if failure is WhenAbsent.PASS else []
        return ["queue", "num", str(spec.queue_of(failure)), *bypass]
    if rule.action is Action.NOTRACK:
        return ["notrack"]
    if rule.action is Action.RETURN:
        return ["return"]
    if rule.action is Action.DROP:
        return ["drop"]
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


def _nft_limit(rule: Rule, spec: FirewallSpec) -> list[str]:
    """The rate limit: one rule per family, each with its own set of clients;
    over it, the excess chain (by goto: its ``return`` leaves copgate's chains)."""
    failure = rule.failure_mode()
    rate = f"limit rate over {spec.queue_rate}/second burst {spec.queue_burst} packets"
    return [
        f"update @{failure_word(failure)}{suffix} {{ {key} {rate} }} goto excess"
        f' comment "{rule.comment}"'
        for family, (suffix, _type, key) in _SET_KEYS.items()
        if family in spec.families
    ]


def _rate_sets(spec: FirewallSpec) -> list[str]:
    if not spec.queue_rate:
        return []
    return [
        f"\tset {failure_word(failure)}{suffix} {{ type {key_type}; size {RATE_TABLE_MAX};"
        f" flags dynamic,timeout; timeout {RATE_TABLE_EXPIRE}s; }}"
        for failure in WhenAbsent
        for family, (suffix, key_type, _key) in _SET_KEYS.items()
        if family in spec.families
    ]


def _nft_rule(rule: Rule, spec: FirewallSpec) -> list[str]:
    if rule.action is Action.LIMIT:
        return _nft_limit(rule, spec)
    words = [*_nft_client(rule.client), *_nft_protocol(rule)]
    if rule.out_interface:
        words += ["oifname", f'"{rule.out_interface}"']
    if rule.syn_only:
        words += ["tcp", "flags", "&", "(fin|syn|rst|ack)", "==", "syn"]
    if rule.synack_only:
        words += ["tcp", "flags", "&", "(fin|syn|rst|ack)", "==", "syn|ack"]
    if rule.original_only:
        words += ["ct", "direction", "original"]
    if rule.reply_only:
        words += ["ct", "direction", "reply"]
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
        *_rate_sets(spec),
    ]
    # In from the LAN: the refusals for what the router forwards only, then
    # the queue for all. Out to the LAN: servers' SYN-ACKs, and nothing else
    # a server sends (each rule here is tested against a download's every packet).
    synack = "tcp flags & (fin|syn|rst|ack) == syn|ack "
    hooks = (
        ("forward", (f"iifname {lans} jump forward_lan", f"oifname {lans} {synack}jump to_lan")),
        ("input", (f"iifname {lans} jump from_lan",)),
        ("output", (f"oifname {lans} {synack}jump to_lan",)),
    )
    for hook, jumps in hooks:
        lines += [
            f"\tchain {hook} {{",
            f"\t\ttype filter hook {hook} priority {NFT_PRIORITY}; policy accept;",
            *(f"\t\t{only}{jump}" for jump in jumps),
            "\t}",
        ]
    lines += ["\tchain forward_lan {", "\t\tjump refuse", "\t\tgoto from_lan", "\t}"]
    chains: tuple[tuple[str, tuple[Rule, ...]], ...] = (
        ("refuse", build_refusals(spec)),
        ("from_lan", build_rules(spec)),
        ("to_queue", build_dispatch(spec)),
        *((failure_word(failure), build_queue(spec, failure)) for failure in WhenAbsent),
        ("excess", build_excess(spec)),
        ("to_lan", build_replies(spec)),
    )
    for chain, model in chains:
        lines.append(f"\tchain {chain} {{")
        lines += [f"\t\t{text}" for rule in model for text in _nft_rule(rule, spec)]
        lines.append("\t}")
    # Before conntrack (priority raw): an untracked packet is never NATed,
    # and a dropped one never gets an entry.
    raw = (*build_untracked(spec), *build_confined(spec))
    lines += [
        "\tchain output_raw {",
        "\t\ttype filter hook output priority raw; policy accept;",
        *(f"\t\t{only}{text}" for rule in raw for text in _nft_rule(rule, spec)),
        "\t}",
        "}",
    ]
    return "\n".join(lines) + "\n"
