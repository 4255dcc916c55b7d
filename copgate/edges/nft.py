"""Applies and removes copgate's nftables table, and holds fw4's flow offloading back.

The edge of ``copgate.firewall.nft`` and ``copgate.firewall.offload``:
``apply`` loads the rendered table with one ``nft -f`` (the text deletes the
older copgate table first, in the same transaction, so a reload never leaves
a moment without rules); ``remove`` deletes ``table inet copgate`` and is
quiet when it is already gone. ``probe_host`` gathers what the backend
choice needs (``copgate.firewall.backend``). ``find_offload`` reads whether
flow offloading is on; ``hold_back_offload`` and ``release_offload`` put
copgate's decided-bit condition on fw4's offload rule and take it off.

Never judges a packet, never reads copgate's config.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from copgate.edges.iptables import FirewallError, checked_output, run_command
from copgate.firewall.backend import Host
from copgate.firewall.nft import NFT_TABLE
from copgate.firewall.offload import (
    FW4_FORWARD,
    FW4_TABLE,
    OffloadRule,
    flowtables,
    hold_back,
    offload_in_uci,
    offload_rules,
    release,
)

FW4 = Path("/sbin/fw4")
FIREWALL_CONFIG = Path("/etc/config/firewall")


@dataclass(frozen=True, slots=True)
class Offload:
    """What the host says about flow offloading."""

    configured: bool
    """``/etc/config/firewall`` turns it on."""
    flowtables: tuple[str, ...]
    """Flowtables in the ruleset (``inet fw4 ft``), copgate's none."""
    rules: tuple[OffloadRule, ...]
    """fw4's forward rules that add flows to a flowtable."""

    @property
    def found(self) -> bool:
        return self.configured or bool(self.flowtables) or bool(self.rules)


def probe_host() -> Host:
    """Which firewall commands this host has (``copgate.firewall.backend.choose_backend``)."""
    has = shutil.which
    return Host(
        nft=has("nft") is not None,
        iptables=has("iptables-restore") is not None and has("ip6tables-restore") is not None,
        fw4=FW4.exists(),
    )


def apply(text: str, *, netns: str | None = None) -> None:
    """Load ``text`` (``render_nft``'s: it replaces any older copgate table) atomically."""
    checked_output(["nft", "-f", "-"], netns, text)


def remove(*, netns: str | None = None) -> None:
    """Delete copgate's table; nothing to do when it is absent."""
    result = run_command(["nft", "delete", "table", "inet", NFT_TABLE], netns)
    if result.returncode != 0 and "no such file" not in result.stderr.lower():
        raise FirewallError(f"nft delete table inet {NFT_TABLE}: {result.stderr.strip()}")


def table_text(*, netns: str | None = None) -> str:
    """``nft list table inet copgate`` ("" when there is none)."""
    result = run_command(["nft", "list", "table", "inet", NFT_TABLE], netns)
    return result.stdout if result.returncode == 0 else ""


def find_offload(*, netns: str | None = None, firewall_config: Path = FIREWALL_CONFIG) -> Offload:
    """Flow offloading as the firewall config and the live ruleset show it."""
    try:
        configured = offload_in_uci(firewall_config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        configured = False  # not OpenWrt, or unreadable: the ruleset still tells
    listed = run_command(["nft", "list", "flowtables"], netns)
    tables = flowtables(listed.stdout) if listed.returncode == 0 else ()
    forward = run_command(["nft", "-a", "list", "chain", *FW4_TABLE.split(), FW4_FORWARD], netns)
    rules = offload_rules(forward.stdout) if forward.returncode == 0 else ()
    return Offload(configured, tuple(t for t in tables if t.split()[1] != NFT_TABLE), rules)


def hold_back_offload(
    offload: Offload, decided_mark: int, ports: Sequence[int], *, netns: str | None = None
) -> int:
    """Make fw4's offload rules wait for copgate's decided bit; how many commands ran."""
    commands = hold_back(offload.rules, decided_mark, ports)
    if commands:
        checked_output(["nft", "-f", "-"], netns, "\n".join(commands) + "\n")
    return len(commands)


def release_offload(decided_mark: int, *, netns: str | None = None) -> int:
    """Take copgate's condition off fw4's offload rules (copgate stops); how many."""
    forward = run_command(["nft", "-a", "list", "chain", *FW4_TABLE.split(), FW4_FORWARD], netns)
    if forward.returncode != 0:
        return 0
    commands = release(offload_rules(forward.stdout), decided_mark)
    if commands:
        checked_output(["nft", "-f", "-"], netns, "\n".join(commands) + "\n")
    return len(commands)
