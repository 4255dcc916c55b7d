"""From the policy config to the firewall's model: what to queue, what to refuse.

Pure. Groups are written into the refusal section in the order the daemon
matches clients to groups (``Config.group_for``): interface, then MAC, then
address ranges from the longest prefix down, and the default group last,
for any client. Each client set gets its group's refusals, then an
exemption for every refusal its group does not make, so that a client
never falls through to the refusals of a group it does not belong to (a
staff laptop must not meet the walled garden's refusal of QUIC).
"""

from __future__ import annotations

import dataclasses

from copgate.firewall import (
    ANY_CLIENT,
    REFUSE_DOQ,
    REFUSE_DOT,
    REFUSE_QUIC,
    ClientKind,
    ClientMatch,
    FirewallSpec,
    Refusal,
    unreadable,
)
from copgate.policy.model import Config, Group
from copgate.policy.outright import refused_outright


def firewall_spec(config: Config, queue_num: int = 0) -> FirewallSpec:
    """The firewall model for ``config``."""
    settings = config.settings
    base = FirewallSpec(
        tuple(settings.lan_interfaces),
        queue_num=queue_num,
        tls_ports=tuple(sorted(settings.tls_ports)),
    )
    kinds = _refusal_kinds(base)
    entries: list[tuple[ClientMatch, Refusal]] = []
    default = config.group(config.default_group)
    for match, group in _client_sets(config):
        entries += _entries(match, group, kinds)
    if default is not None:
        entries += _entries(ANY_CLIENT, default, kinds, exempt_rest=False)
    return dataclasses.replace(base, refusals=tuple(entries))


def _refusal_kinds(spec: FirewallSpec) -> dict[str, tuple[Refusal, ...]]:
    return {
        "dot": (REFUSE_DOT, REFUSE_DOQ),
        "quic": (REFUSE_QUIC,),
        "unreadable": unreadable(spec),
    }


def _entries(
    match: ClientMatch,
    group: Group,
    kinds: dict[str, tuple[Refusal, ...]],
    exempt_rest: bool = True,
) -> list[tuple[ClientMatch, Refusal]]:
    refused = refused_outright(group)
    wanted = {"dot": refused.dot, "quic": refused.quic, "unreadable": refused.unreadable}
    out: list[tuple[ClientMatch, Refusal]] = []
    for kind, refusals in kinds.items():
        for refusal in refusals:
            if wanted[kind]:
                out.append((match, refusal))
            elif exempt_rest:
                out.append((match, dataclasses.replace(refusal, exempt=True)))
    return out


def _client_sets(config: Config) -> list[tuple[ClientMatch, Group]]:
    """Every non-default group's client sets, in the daemon's matching order."""
    interfaces: list[tuple[ClientMatch, Group]] = []
    macs: list[tuple[ClientMatch, Group]] = []
    networks: list[tuple[int, ClientMatch, Group]] = []
    for group in config.groups:
        for name in sorted(group.match.interfaces):
            interfaces.append((ClientMatch(ClientKind.INTERFACE, name), group))
        for mac in sorted(group.match.macs):
            macs.append((ClientMatch(ClientKind.MAC, mac), group))
        for network in group.match.networks:
            match = ClientMatch(ClientKind.CIDR, str(network))
            networks.append((network.prefixlen, match, group))
    ordered = sorted(networks, key=lambda item: -item[0])
    return [*interfaces, *macs, *((match, group) for _p, match, group in ordered)]
