"""From the policy config to the firewall's model: what to queue, what to refuse.

Pure. Groups are written in the order the daemon matches clients to groups
(``Config.group_for``): interface, then MAC, then address ranges from the
longest prefix down, and the default group last, for any client. The same
order serves twice:

- the refusals: each client set gets its group's refusals, then an
  exemption for every refusal its group does not make, so that a client
  never falls through to the refusals of a group it does not belong to (a
  staff laptop must not meet the walled garden's refusal of QUIC);
- the failure modes: each client set is sent to its group's queue (fail
  open or fail closed, ``FirewallSpec.failures``), the default group's mode
  for everyone else, so the kernel fails each group the way its config says;
- the excess over a client's queue rate (``FirewallSpec.excesses``): its
  group's evasion treatment, as the engine decides evasion
  (``decide_evasion``), not its failure mode. A flood is the client's doing,
  not copgate failing; a fail-open group whose excess passed would let a
  client flood its way past the queue.

Unreadable traffic is refused except what the policy never refuses
(``EXEMPT_FROM_UNREADABLE``: NTP, ICMP, ICMPv6).
"""

from __future__ import annotations

import dataclasses

from copgate.firewall import (
    ANY_CLIENT,
    NEVER_OTHER,
    REFUSE_DOQ,
    REFUSE_DOT,
    REFUSE_QUIC,
    ClientKind,
    ClientMatch,
    Excess,
    FirewallSpec,
    Protocol,
    Refusal,
    WhenAbsent,
    unreadable,
)
from copgate.policy.decision import Verdict
from copgate.policy.model import Config, Group
from copgate.policy.outright import (
    EXEMPT_FROM_UNREADABLE,
    Service,
    decide_evasion,
    failure_decision,
    refused_outright,
)


def firewall_spec(config: Config, queue_num: int = 0) -> FirewallSpec:
    """The firewall model for ``config``."""
    settings = config.settings
    base = FirewallSpec(
        tuple(settings.lan_interfaces),
        queue_num=queue_num,
        tls_ports=tuple(sorted(settings.tls_ports)),
        queue_rate=settings.queue_rate,
        queue_burst=settings.queue_burst,
    )
    kinds = _refusal_kinds(base)
    entries: list[tuple[ClientMatch, Refusal]] = []
    failures: list[tuple[ClientMatch, WhenAbsent]] = []
    excesses: list[tuple[ClientMatch, Excess]] = []
    for match, group in _client_sets(config):
        entries += _entries(match, group, kinds)
        failures.append((match, kernel_failure(group)))
        excesses.append((match, kernel_excess(group)))
    default = config.group(config.default_group)
    when_absent, excess = WhenAbsent.PASS, Excess.DROP
    if default is not None:
        entries += _entries(ANY_CLIENT, default, kinds, exempt_rest=False)
        when_absent, excess = kernel_failure(default), kernel_excess(default)
    return dataclasses.replace(
        base,
        refusals=tuple(entries),
        failures=tuple(failures),
        when_absent=when_absent,
        excesses=tuple(excesses),
        excess=excess,
    )


def kernel_failure(group: Group) -> WhenAbsent:
    """How the kernel fails ``group``: what the engine does when it cannot decide
    (``failure_decision``): closed only for a filtering group that fails closed
    (mode off is never filtered, so it never fails closed either)."""
    allowed = failure_decision(group, "copgate not answering").verdict is Verdict.ALLOW
    return WhenAbsent.PASS if allowed else WhenAbsent.DROP


def kernel_excess(group: Group) -> Excess:
    """What the kernel does with ``group``'s packets over a client's queue rate:
    what the engine does with evasion (``decide_evasion``): dropped where it
    refuses evasion (filter groups by default, walled gardens always), passed
    unqueued where it allows it (mode off, or a filter that says so)."""
    allowed = decide_evasion(group, "over the client rate").verdict is Verdict.ALLOW
    return Excess.PASS if allowed else Excess.DROP


_PORTED = ("tcp", "udp")
_NEVER_REFUSED = frozenset(NEVER_OTHER) - frozenset(_PORTED)
"""Protocols no refusal ever covers (ICMP, ICMPv6): nothing to spare."""


def exempt_ports(services: tuple[Service, ...]) -> tuple[tuple[Protocol, int], ...]:
    """The policy's never-refused services as the firewall's (protocol, port) pairs.

    ICMP and ICMPv6 need none: the firewall's "other protocols" never cover
    them (``NEVER_OTHER``). A service the firewall cannot spare is a bug.
    """
    pairs: list[tuple[Protocol, int]] = []
    for service in services:
        if service.port is None and service.protocol in _NEVER_REFUSED:
            continue
        if service.port is None or service.protocol not in _PORTED:
            raise ValueError(f"the firewall cannot spare {service}")
        pairs.append((Protocol(service.protocol), service.port))
    return tuple(pairs)


def _refusal_kinds(spec: FirewallSpec) -> dict[str, tuple[Refusal, ...]]:
    return {
        "dot": (REFUSE_DOT, REFUSE_DOQ),
        "quic": (REFUSE_QUIC,),
        "unreadable": unreadable(spec, exempt=exempt_ports(EXEMPT_FROM_UNREADABLE)),
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
