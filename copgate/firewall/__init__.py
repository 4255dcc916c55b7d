"""The firewall rules that hand LAN clients' first packets to copgate: one model, two texts.

Pure: a ``FirewallSpec`` in, rules out, as iptables/ip6tables argument lists
(generic Linux gateways and the lab; applied by ``copgate.edges.iptables``)
or as nftables text (OpenWrt 23.05+ with fw4; applied by
``copgate.edges.nft``, printed by ``copgate firewall``). It never runs
iptables or nft, reads no file and knows nothing of the daemon's state.

- ``model``: the spec, its validation, and the backend-neutral rules of its
  chains (the refusals, the queue, the dispatch by client, each failure
  mode's rate limit and queue, the excess over a client's rate, servers'
  SYN-ACKs, the injected packets untracked and kept on the LAN) with the
  reasons for their order.
- ``iptables``: those rules as iptables arguments and ``iptables-restore`` text.
- ``nft``: those rules as a table of copgate's own beside fw4's.
- ``backend``: which of the two a host gets (``firewall_backend``), and
  ``offload``: finding flow offloading and holding fw4's offload rule back
  until copgate has decided a flow (imported from their modules).

Every public name is re-exported here, so callers import from
``copgate.firewall``.
"""

from __future__ import annotations

from copgate.firewall.iptables import (
    CHAIN,
    EXCESS_CHAIN,
    FAILURE_CHAINS,
    FILTER_CHAINS,
    FORWARD_CHAIN,
    HOOKS,
    IN_HOOKS,
    OTHER_CHAIN,
    OTHER_PASS_CHAIN,
    OUT_HOOKS,
    QUEUE_CHAIN,
    RAW_CHAIN,
    RAW_HOOKS,
    REFUSE_CHAIN,
    REPLY_CHAIN,
    IptablesPlan,
    hashlimit_name,
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
    MAX_OPEN_QUEUE,
    MAX_PORT,
    MAX_QUEUE,
    MAX_QUEUE_RATE,
    NEVER_OTHER,
    QUEUE_BURST,
    QUEUE_RATE,
    RATE_TABLE_EXPIRE,
    RATE_TABLE_MAX,
    REFUSE_DOQ,
    REFUSE_DOT,
    REFUSE_QUIC,
    Action,
    ClientKind,
    ClientMatch,
    Excess,
    Family,
    FirewallSpec,
    Protocol,
    Refusal,
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
    "EXCESS_CHAIN",
    "FAILURE_CHAINS",
    "FILTER_CHAINS",
    "FORWARD_CHAIN",
    "HOOKS",
    "IFNAMSIZ",
    "INJECTED_MARK",
    "IN_HOOKS",
    "IPV4_HEADER",
    "MAX_IP_LENGTH",
    "MAX_MARK",
    "MAX_MULTIPORT",
    "MAX_OPEN_QUEUE",
    "MAX_PORT",
    "MAX_QUEUE",
    "MAX_QUEUE_RATE",
    "NEVER_OTHER",
    "NFT_PRIORITY",
    "NFT_TABLE",
    "OTHER_CHAIN",
    "OTHER_PASS_CHAIN",
    "OUT_HOOKS",
    "QUEUE_BURST",
    "QUEUE_CHAIN",
    "QUEUE_RATE",
    "RATE_TABLE_EXPIRE",
    "RATE_TABLE_MAX",
    "RAW_CHAIN",
    "RAW_HOOKS",
    "REFUSE_CHAIN",
    "REFUSE_DOQ",
    "REFUSE_DOT",
    "REFUSE_QUIC",
    "REPLY_CHAIN",
    "TCP_DOFF_MAX",
    "TCP_DOFF_MIN",
    "Action",
    "ClientKind",
    "ClientMatch",
    "Excess",
    "Family",
    "FirewallSpec",
    "IptablesPlan",
    "Protocol",
    "Refusal",
    "Rule",
    "WhenAbsent",
    "build_confined",
    "build_dispatch",
    "build_excess",
    "build_queue",
    "build_refusals",
    "build_replies",
    "build_rules",
    "build_untracked",
    "failure_word",
    "hashlimit_name",
    "jump_changes",
    "render_iptables",
    "render_nft",
    "unreadable",
]
