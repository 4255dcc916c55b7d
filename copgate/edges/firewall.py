"""The daemon's firewall: one backend, chosen at start, that applies and removes copgate's rules.

``open_firewall`` picks the backend (``copgate.firewall.backend``: nft where
fw4 runs the firewall, iptables on other Linux gateways) and returns an
object with ``apply(spec)`` and ``remove()``, which the daemon calls at
start, on SIGHUP (in its firewall worker thread) and at shutdown. The nft
backend also looks for flow offloading at every apply, logs what it found
once, tells ``copgate status`` (``copgate.daemon.probes``), and holds fw4's
offload rule back until copgate has decided a flow (``copgate.firewall.offload``
says why); the iptables backend has no fw4 to hold back.

Never judges a packet; the config reaches it only as a ``FirewallSpec``.
"""

from __future__ import annotations

import logging
from typing import Protocol

from copgate.daemon import probes
from copgate.edges import iptables, nft
from copgate.firewall import DECIDED_MARK, FirewallSpec, render_iptables, render_nft
from copgate.firewall.backend import Backend, BackendChoice, Host, choose_backend

LOG = logging.getLogger("copgate")

OFFLOAD_WARNING = (
    "flow offloading is on: offloaded flows skip every netfilter hook, copgate's "
    "included, so a connection's first bytes after its handshake are never judged; "
    "turn it off (uci set firewall.@defaults[0].flow_offloading=0; uci commit firewall; "
    "fw4 reload)"
)


class Firewall(Protocol):
    """What the daemon needs of a backend."""

    backend: Backend

    def apply(self, spec: FirewallSpec) -> None: ...

    def remove(self) -> None: ...


class IptablesFirewall:
    """iptables-restore and ip6tables-restore (Debian, Raspberry Pi OS, the lab)."""

    backend = Backend.IPTABLES

    def __init__(self, *, netns: str | None = None, tools: iptables.Tools = iptables.DEFAULT):
        self._netns = netns
        self._tools = tools

    def apply(self, spec: FirewallSpec) -> None:
        for family in spec.families:
            iptables.apply(render_iptables(spec, family), netns=self._netns, tools=self._tools)

    def remove(self) -> None:
        iptables.remove(netns=self._netns, tools=self._tools)


class NftFirewall:
    """copgate's own ``table inet copgate`` beside fw4's (OpenWrt 23.05 and later)."""

    backend = Backend.NFT

    def __init__(self, *, netns: str | None = None) -> None:
        self._netns = netns
        self._decided = DECIDED_MARK
        self._told: bool | None = None
        """What the log last said about offloading (None: nothing yet)."""

    def apply(self, spec: FirewallSpec) -> None:
        nft.apply(render_nft(spec), netns=self._netns)
        self._decided = spec.decided_mark
        offload = nft.find_offload(netns=self._netns)
        ports = (*spec.dns_ports, *spec.tls_ports, *spec.quic_ports, *spec.http_ports)
        held = nft.hold_back_offload(offload, spec.decided_mark, ports, netns=self._netns)
        if offload.found and self._told is not True:
            where = ", ".join(offload.flowtables) or "the firewall config"
            if offload.rules:
                LOG.warning(
                    "flow offloading is on (%s): fw4's offload rule now waits for copgate's "
                    "decision (%d nft command(s)), so undecided flows stay where copgate "
                    "sees them; decided flows and ports copgate never reads are still offloaded",
                    where,
                    held,
                )
            else:
                LOG.warning("%s (found in %s)", OFFLOAD_WARNING, where)
        self._told = offload.found
        probes.report_offload(offload.found)

    def remove(self) -> None:
        try:
            nft.release_offload(self._decided, netns=self._netns)
        finally:
            nft.remove(netns=self._netns)


def open_firewall(
    choice: BackendChoice, *, host: Host | None = None, netns: str | None = None
) -> Firewall:
    """The backend for ``choice`` on this host (``NoBackendError`` when it has none)."""
    backend = choose_backend(choice, host if host is not None else nft.probe_host())
    LOG.info("firewall backend: %s (firewall_backend %s)", backend.value, choice.value)
    if backend is Backend.NFT:
        return NftFirewall(netns=netns)
    return IptablesFirewall(netns=netns)
