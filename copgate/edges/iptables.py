"""Applies and removes copgate's iptables/ip6tables rules: the edge of ``copgate.firewall``.

``apply`` is idempotent: copgate's chains are replaced, and its jumps from
FORWARD, INPUT and OUTPUT (filter table) and OUTPUT (raw table) put first in their
hooks in the plan's order where they are not already so, in one
``iptables-restore --noflush`` run, one transaction per table (so a reload
never leaves a moment without rules, nor a hook whose jumps are half
changed). ``remove`` always runs to the end: it deletes every jump to
copgate's chains it finds in both tables (whatever config made it, a
``kill -9``'s leftovers included), flushes and deletes the chains, and only
then reports what failed.

Which iptables: the system's ``iptables`` (the nft backend on Debian 12 and
most current distributions) by default; ``LEGACY`` and ``NFT`` name the
backends explicitly. Both queue on a kernel with the xtables NFQUEUE target
(checked in the lab); mixing them on one host puts rules in two places.
Never judges a packet, never reads the config.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from copgate.errors import CopgateError
from copgate.firewall import (
    CHAIN,
    FILTER_CHAINS,
    FORWARD_CHAIN,
    HOOKS,
    OTHER_CHAIN,
    OTHER_PASS_CHAIN,
    RAW_CHAIN,
    RAW_HOOKS,
    REFUSE_CHAIN,
    REPLY_CHAIN,
    Family,
    IptablesPlan,
    jump_changes,
)

JUMP_TARGETS = (FORWARD_CHAIN, CHAIN, REPLY_CHAIN, REFUSE_CHAIN)
"""The chains jumped to from the filter table's FORWARD, INPUT and OUTPUT
(``REFUSE_CHAIN``: by copgate before 2026-12-06; such jumps are replaced)."""
TABLE_HOOKS = {"filter": HOOKS, "raw": RAW_HOOKS}
"""The hooks copgate's jumps stand in, per table."""

COMMAND_TIMEOUT = 30.0
"""Seconds one iptables command may take (it waits for the xtables lock)."""


class FirewallError(CopgateError):
    """copgate's firewall rules could not be applied or removed."""


@dataclass(frozen=True, slots=True)
class Tools:
    """The iptables and ip6tables commands of one backend."""

    iptables: str = "iptables"
    ip6tables: str = "ip6tables"

    def command(self, family: Family) -> str:
        return self.iptables if family is Family.IPV4 else self.ip6tables


DEFAULT = Tools()
LEGACY = Tools("iptables-legacy", "ip6tables-legacy")
NFT = Tools("iptables-nft", "ip6tables-nft")


def run_command(
    argv: Sequence[str], netns: str | None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a firewall tool (in ``netns`` when given) with a timeout; the nft edge uses it too."""
    command = ["ip", "netns", "exec", netns, *argv] if netns else list(argv)
    try:
        return subprocess.run(
            command,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FirewallError(f"{shlex.join(command)}: {exc}") from exc


def checked_output(argv: Sequence[str], netns: str | None, stdin: str | None = None) -> str:
    """``run_command``'s output; a non-zero exit is a ``FirewallError`` with its stderr."""
    result = run_command(argv, netns, stdin)
    if result.returncode != 0:
        raise FirewallError(f"{shlex.join(argv)} failed: {result.stderr.strip()}")
    return result.stdout


def jumps_present(
    family: Family,
    *,
    netns: str | None = None,
    tools: Tools = DEFAULT,
    chains: Sequence[str] = JUMP_TARGETS,
    table: str = "filter",
) -> list[tuple[str, ...]]:
    """Every rule of ``table``'s hooks (filter: FORWARD, INPUT, OUTPUT; raw: OUTPUT)
    that jumps to one of ``chains``, as ``(HOOK, args...)``, in the order they
    stand in their hook."""
    command = tools.command(family)
    found: list[tuple[str, ...]] = []
    for hook in TABLE_HOOKS[table]:
        for line in checked_output([command, "-w", "-t", table, "-S", hook], netns).splitlines():
            words = shlex.split(line)
            if words[:2] == ["-A", hook] and words[-2] == "-j" and words[-1] in chains:
                found.append(tuple(words[1:]))
    return found


def apply(plan: IptablesPlan, *, netns: str | None = None, tools: Tools = DEFAULT) -> None:
    """Install ``plan``: chains and jumps in one atomic transaction."""
    command = tools.command(plan.family)
    present = jumps_present(plan.family, netns=netns, tools=tools)
    changes = jump_changes(present, plan.jumps)
    raw_present = jumps_present(
        plan.family, netns=netns, tools=tools, chains=(RAW_CHAIN,), table="raw"
    )
    raw_changes = jump_changes(raw_present, plan.raw_jumps, RAW_HOOKS)
    text = plan.restore_text(changes, raw_changes)
    checked_output([f"{command}-restore", "-w", "--noflush"], netns, text)


def remove(
    families: Sequence[Family] = (Family.IPV4, Family.IPV6),
    *,
    netns: str | None = None,
    tools: Tools = DEFAULT,
    chains: Sequence[str] = (*FILTER_CHAINS, OTHER_CHAIN, OTHER_PASS_CHAIN),
) -> None:
    """Remove every jump to copgate's chains and the chains, in the filter
    table and the raw table; FirewallError after trying all."""
    problems: list[str] = []
    for family in families:
        for table, owned in (("filter", tuple(chains)), ("raw", (RAW_CHAIN,))):
            problems += _remove_table(family, table, owned, netns, tools)
    if problems:
        raise FirewallError("; ".join(problems))


def _remove_table(
    family: Family, table: str, chains: tuple[str, ...], netns: str | None, tools: Tools
) -> list[str]:
    """Remove the jumps to ``chains`` and the chains from one table; the problems met."""
    command = tools.command(family)
    problems: list[str] = []
    try:
        present = jumps_present(family, netns=netns, tools=tools, chains=chains, table=table)
        for jump in present:
            checked_output([command, "-w", "-t", table, "-D", *jump], netns)
    except FirewallError as exc:
        problems.append(str(exc))
    # Flush all first: the main chain jumps to the others, and a chain
    # still referenced cannot be deleted.
    for verb in ("-F", "-X"):
        for chain in chains:
            result = run_command([command, "-w", "-t", table, verb, chain], netns)
            if result.returncode != 0 and not _absent(result.stderr):
                problems.append(f"{command} -t {table} {verb} {chain}: {result.stderr.strip()}")
    return problems


def _absent(stderr: str) -> bool:
    # iptables-legacy: "No chain/target/match by that name."; the nft
    # backend: "No such file or directory" or "chain ... does not exist".
    text = stderr.lower()
    return any(words in text for words in ("no chain", "no such file", "does not exist"))
