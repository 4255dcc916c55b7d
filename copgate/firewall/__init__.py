"""The firewall rules that hand LAN clients' first packets to copgate: one model, two texts.

Pure: a ``FirewallSpec`` in, rules out, as iptables/ip6tables argument lists
(generic Linux gateways and the lab; applied by ``copgate.edges.iptables``)
or as nftables text (OpenWrt 23.05+ with fw4; printed by ``copgate
firewall``). It never runs iptables or nft, reads no file and knows nothing
of the daemon's state.

- ``model``: the spec, its validation, and the backend-neutral rules of the
  two chains (the refusals, then the queue) with the reasons for their order.
- ``iptables``: those rules as iptables arguments and ``iptables-restore`` text.
- ``nft``: those rules as a table of copgate's own beside fw4's.

Every public name is re-exported here, so callers import from
``copgate.firewall``.
"""

from __future__ import annotations

from copgate.firewall.iptables import (
    CHAIN,
    HOOKS,
    OTHER_CHAIN,
    OTHER_PASS_CHAIN,
    REFUSE_CHAIN,
    IptablesPlan,
    jump_changes,
    render_iptables,
)
from copgate.firewall.model import (
    ANY_CLIENT,
    DECIDED_MARK,
    DOT_PORT,
    IFNAMSIZ,
    INJECTED_MARK,
    MAX_MARK,
    MAX_MULTIPORT,
    MAX_PORT,
    MAX_QUEUE,
    REFUSE_DOQ,
    REFUSE_DOT,
    REFUSE_QUIC,
    Action,
    ClientKind,
    ClientMatch,
    Family,
    FirewallSpec,
    Protocol,
    Refusal,
    Rule,
    WhenAbsent,
    build_refusals,
    build_rules,
    unreadable,
)
from copgate.firewall.nft import (
    IPV4_HEADER,
    MAX_IP_LENGTH,
    NFT_PRIORITY,
    NFT_TABLE,
    TCP_DOFF_MAX,
    TCP_DOFF_MIN,
    render_nft,
)

__all__ = [
    "ANY_CLIENT",
    "CHAIN",
    "DECIDED_MARK",
    "DOT_PORT",
    "HOOKS",
    "IFNAMSIZ",
    "INJECTED_MARK",
    "IPV4_HEADER",
    "MAX_IP_LENGTH",
    "MAX_MARK",
    "MAX_MULTIPORT",
    "MAX_PORT",
    "MAX_QUEUE",
    "NFT_PRIORITY",
    "NFT_TABLE",
    "OTHER_CHAIN",
    "OTHER_PASS_CHAIN",
    "REFUSE_CHAIN",
    "REFUSE_DOQ",
    "REFUSE_DOT",
    "REFUSE_QUIC",
    "TCP_DOFF_MAX",
    "TCP_DOFF_MIN",
    "Action",
    "ClientKind",
    "ClientMatch",
    "Family",
    "FirewallSpec",
    "IptablesPlan",
    "Protocol",
    "Refusal",
    "Rule",
    "WhenAbsent",
    "build_refusals",
    "build_rules",
    "jump_changes",
    "render_iptables",
    "render_nft",
    "unreadable",
]
