"""Which firewall backend applies copgate's rules: nftables or iptables.

Pure: the facts about the host (``Host``, gathered by
``copgate.edges.nft.probe_host``) and the config's ``firewall_backend`` in,
a ``Backend`` out. It never runs a command or reads a file.

The choice, for ``firewall_backend = "auto"`` (the default):

- **nft** where fw4 runs the firewall (``/sbin/fw4`` exists: OpenWrt 23.05
  and later), or where ``nft`` exists and no ``iptables`` does. Stock
  OpenWrt ships no iptables at all; with the ``iptables-nft`` compatibility
  package installed, fw4 still owns the firewall and copgate's own table
  beside ``inet fw4`` is the one fw4 leaves alone on every reload.
- **iptables** everywhere else that has it: Debian, Raspberry Pi OS and the
  other Linux gateways, whose firewall tools (ufw, firewalld, Docker's
  rules, a hand-made ``iptables-restore``) mostly still speak iptables; on
  Debian 12 that is iptables-nft, so both end up in the same kernel
  tables, but in the places those tools expect.
- neither: a ``FirewallError`` at start, naming both commands.

``nft`` and ``iptables`` force a backend (and fail at start when its
command is missing).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum

from copgate.errors import CopgateError


class BackendChoice(StrEnum):
    """The config's ``firewall_backend`` option."""

    AUTO = "auto"
    NFT = "nft"
    IPTABLES = "iptables"


class Backend(Enum):
    """What applies the rules."""

    NFT = "nft"
    IPTABLES = "iptables"


@dataclass(frozen=True, slots=True)
class Host:
    """What the host has, as far as the choice is concerned."""

    nft: bool
    """The ``nft`` command is on the PATH."""
    iptables: bool
    """Both ``iptables-restore`` and ``ip6tables-restore`` are on the PATH."""
    fw4: bool
    """``/sbin/fw4`` exists: OpenWrt's nftables firewall manages the ruleset."""


class NoBackendError(CopgateError):
    """No firewall command copgate can use (or not the one the config asks for)."""


def choose_backend(choice: BackendChoice, host: Host) -> Backend:
    """The backend for ``choice`` on ``host``; NoBackendError when it has none."""
    if choice is BackendChoice.NFT or (choice is BackendChoice.AUTO and host.fw4):
        if not host.nft:
            why = "fw4 runs the firewall" if choice is BackendChoice.AUTO else "the config asks"
            raise NoBackendError(f"firewall backend nft ({why}) but no 'nft' command is found")
        return Backend.NFT
    if choice is BackendChoice.IPTABLES:
        if not host.iptables:
            raise NoBackendError(
                "firewall backend iptables (the config asks) but no "
                "'iptables-restore'/'ip6tables-restore' is found"
            )
        return Backend.IPTABLES
    if host.iptables:
        return Backend.IPTABLES
    if host.nft:
        return Backend.NFT
    raise NoBackendError(
        "no firewall command found: copgate needs 'nft' (OpenWrt: package nftables) "
        "or 'iptables-restore' and 'ip6tables-restore'"
    )
