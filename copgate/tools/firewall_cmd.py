"""``copgate firewall --config FILE``: print the firewall rules copgate would apply.

The config is loaded as ``copgate run`` loads it and turned into the same
``FirewallSpec`` (``copgate.daemon.firewall_spec``), then printed:

- ``--backend nft`` (the default): copgate's own nftables table, what
  ``nft -f`` loads and what an OpenWrt fw4 include directory takes
  (``/usr/share/nftables.d/ruleset-post/copgate.nft``). ``--family`` limits
  it to IPv4 or IPv6; without it the table serves both.
- ``--backend iptables --family ipv4|ipv6``: input for
  ``iptables-restore --noflush`` (or ``ip6tables-restore``): copgate's
  chains in the raw and filter tables, and its jumps inserted first in raw
  OUTPUT and in FORWARD, INPUT and OUTPUT. The jumps are written for a host that has none
  of copgate's yet; ``copgate run`` instead compares them with the ones
  installed and changes only what differs.

Both texts send fail-open groups to queue N (``--queue``, with bypass) and
fail-closed groups to queue N + 1 (no bypass): the daemon binds both. What a
client sends over its rate gets its group's evasion treatment (dropped, or
passed unqueued), and servers' SYN-ACKs go to queue N with bypass.

A config error exits 2 with the loader's lines (file, line, option). This
module reads the config and the templates and writes to stdout; it never
runs nft or iptables and never reads or changes the running firewall.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from copgate.config.load import load_config
from copgate.daemon.firewall_spec import firewall_spec
from copgate.errors import ConfigError
from copgate.firewall import (
    RAW_HOOKS,
    Family,
    FirewallSpec,
    jump_changes,
    render_iptables,
    render_nft,
)

BACKENDS = ("nft", "iptables")
FAMILIES = {"ipv4": Family.IPV4, "ipv6": Family.IPV6}


def register(subparsers: Any) -> None:
    """Add the ``firewall`` subcommand."""
    parser = subparsers.add_parser(
        "firewall",
        help="print the firewall rules copgate would apply for a config",
        description=(
            "Print the rules that hand LAN clients' packets to copgate for a config: "
            "nftables text for OpenWrt fw4 (the default), or iptables-restore text "
            "for one family. Nothing is applied."
        ),
    )
    parser.add_argument("--config", required=True, type=Path, metavar="FILE")
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="nft",
        help="nft: a table for nft -f or fw4 (default); iptables: iptables-restore input",
    )
    parser.add_argument(
        "--family",
        choices=sorted(FAMILIES),
        help="IPv4 or IPv6 only (required with --backend iptables; nft default: both)",
    )
    parser.add_argument(
        "--queue",
        type=int,
        default=0,
        metavar="N",
        help="NFQUEUE number of fail-open groups; fail-closed groups use N + 1",
    )
    parser.add_argument(
        "--templates",
        type=Path,
        metavar="DIR",
        help="template directory (default: lists/templates, or /usr/share/copgate/templates)",
    )
    parser.set_defaults(func=run, parser=parser)


def run(args: argparse.Namespace) -> int:
    """Print the rules; a config error raises ``ConfigError`` (exit status 2)."""
    if args.backend == "iptables" and args.family is None:
        args.parser.error("--backend iptables needs --family ipv4 or --family ipv6")
    config = load_config(args.config, templates_dir=args.templates)
    try:
        spec = firewall_spec(config, args.queue)
    except ConfigError as exc:
        # The loader's errors name the file already; the firewall's do not.
        raise ConfigError(f"{args.config}: {exc}") from exc
    print(render(spec, args.backend, FAMILIES.get(args.family)), end="")
    return 0


def render(spec: FirewallSpec, backend: str, family: Family | None) -> str:
    """The text of ``backend`` for ``spec``, for one family or (nft only) both."""
    if backend == "nft":
        return render_nft(spec if family is None else dataclasses.replace(spec, families=(family,)))
    if family is None:
        raise ValueError("iptables text is for one family")
    plan = render_iptables(spec, family)
    return plan.restore_text(
        jump_changes((), plan.jumps), jump_changes((), plan.raw_jumps, RAW_HOOKS)
    )
