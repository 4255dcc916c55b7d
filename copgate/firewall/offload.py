"""Flow offloading and copgate: finding it, and keeping undecided flows out of it.

With flow offloading on (OpenWrt: ``firewall.@defaults[0].flow_offloading``,
LuCI's "Software flow offloading" checkbox), fw4's forward chain starts
with ``meta l4proto { tcp, udp } flow offload @ft``. The kernel adds a flow
to the flowtable at the first packet that rule sees once the flow is
established (TCP: after the handshake's last ACK; UDP: the first reply),
and from then on the flow's packets take the flowtable's path at ingress
and never reach a forward hook again, copgate's included. A TLS client's
hello comes after the handshake: it would never be queued, and nothing
would be filtered but DNS to the router.

copgate's own table cannot stop a later chain's statement: an ``accept``
in one base chain only hands the packet to the next. What does work is the
condition on fw4's own rule. ``offload_rules`` finds that rule in ``nft -a
list chain inet fw4 forward``, and ``restricted`` gives the ``replace rule``
command that puts copgate's decided bit in front of it: a flow is offloaded
once copgate has decided it, and never before. Decided flows (every allowed
page, every download) keep the fast path; DNS flows are never decided, so
they stay on the slow path, where they are judged. fw4 builds its table
anew on every reload, so the daemon does this on every apply, and the
package adds a firewall include that makes fw4 send copgate a reload
(SIGHUP) after each of its own. This is the same change other OpenWrt
packages that queue a flow's first packets make, by editing fw4's template
(``ct original packets ge 30 flow offload @ft``); a condition on copgate's
own connmark waits for copgate's decision instead of guessing a count, and
leaves fw4's files alone. Hardware offloading (``flow_offloading_hw``)
takes flows only through the same rule, so the same condition holds it
back.

Pure: text in, text out. It never runs nft or reads a file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

FW4_TABLE = "inet fw4"
FW4_FORWARD = "forward"
TRUE_WORDS = frozenset({"1", "yes", "on", "true", "enabled"})
"""UCI's booleans (``config_get_bool``)."""

_OFFLOAD = re.compile(r"\bflow (?:add|offload) @(?P<table>[A-Za-z0-9_]+)")
_HANDLE = re.compile(r"\s*# handle (?P<handle>\d+)\s*$")
_UCI_LINE = re.compile(r"""^\s*(?P<word>config|option)\s+(?P<key>\S+)(?:\s+(?P<value>.*?))?\s*$""")


@dataclass(frozen=True, slots=True)
class OffloadRule:
    """One rule of fw4's forward chain that adds flows to a flowtable."""

    handle: int
    text: str
    """The rule as ``nft`` lists it, without the handle comment."""
    flowtable: str


def offload_in_uci(text: str) -> bool:
    """True when ``/etc/config/firewall``'s defaults turn flow offloading on
    (software or hardware)."""
    section = ""
    for line in text.splitlines():
        match = _UCI_LINE.match(line)
        if match is None:
            continue
        if match["word"] == "config":
            section = match["key"]
            continue
        value = (match["value"] or "").strip().strip("'\"").lower()
        offload_key = match["key"] in ("flow_offloading", "flow_offloading_hw")
        if section == "defaults" and offload_key and value in TRUE_WORDS:
            return True
    return False


def offload_rules(listing: str) -> tuple[OffloadRule, ...]:
    """The flow-adding rules in ``nft -a list chain inet fw4 forward`` output."""
    found: list[OffloadRule] = []
    for line in listing.splitlines():
        offload = _OFFLOAD.search(line)
        handle = _HANDLE.search(line)
        if offload is None or handle is None:
            continue
        text = line[: handle.start()].strip()
        found.append(OffloadRule(int(handle["handle"]), text, offload["table"]))
    return tuple(found)


COMMENT = "copgate: offload what copgate never reads"
"""The comment of the rule copgate adds beside fw4's (how it is found again)."""


def decided_condition(decided_mark: int) -> str:
    """The match that holds a flow back until copgate has decided it."""
    return f"ct mark & {decided_mark:#010x} == {decided_mark:#010x}"


def _unread(protocol: str, ports: Sequence[int]) -> str:
    # One protocol per rule: nft types proto-dst as a port only when the
    # protocol before it is a single one (with a set it stores the same
    # bytes but cannot name their type).
    listed = ", ".join(str(port) for port in sorted(set(ports)))
    return f"meta l4proto {protocol} ct original proto-dst != {{ {listed} }}"


def hold_back(
    rules: Sequence[OffloadRule], decided_mark: int, ports: Sequence[int]
) -> tuple[str, ...]:
    """``nft`` commands (one ``nft -f`` transaction) that make fw4's offload
    rules wait for copgate's decision.

    Each fw4 rule gets the decided condition; after it, copgate adds a copy
    per protocol for flows to ports copgate never reads (``ports`` are the
    ones it reads: DNS, HTTP, TLS, QUIC), since those are never marked
    decided and would otherwise never be offloaded (a VPN or a game keeps
    the fast path). The conntrack's original destination port is the
    server's, whichever direction the packet goes. Copies from an earlier
    apply are deleted and made again, so a changed port list takes effect
    and nothing is added twice.
    """
    condition = decided_condition(decided_mark)
    where = f"{FW4_TABLE} {FW4_FORWARD}"
    commands = [f"delete rule {where} handle {r.handle}" for r in rules if COMMENT in r.text]
    for rule in rules:
        if COMMENT in rule.text:
            continue
        if rule.text.startswith(condition + " "):
            statement = rule.text.removeprefix(condition + " ")
        else:
            statement = rule.text
            commands.append(f"replace rule {where} handle {rule.handle} {condition} {statement}")
        commands += [
            f"add rule {where} position {rule.handle} {_unread(protocol, ports)} {statement}"
            f' comment "{COMMENT}"'
            for protocol in ("udp", "tcp")
        ]
    return tuple(commands)


def release(rules: Sequence[OffloadRule], decided_mark: int) -> tuple[str, ...]:
    """``nft`` commands that give fw4's offload rules back as fw4 wrote them (copgate stops)."""
    condition = decided_condition(decided_mark) + " "
    where = f"{FW4_TABLE} {FW4_FORWARD}"
    commands: list[str] = []
    for rule in rules:
        if COMMENT in rule.text:
            commands.append(f"delete rule {where} handle {rule.handle}")
        elif rule.text.startswith(condition):
            text = rule.text.removeprefix(condition)
            commands.append(f"replace rule {where} handle {rule.handle} {text}")
    return tuple(commands)


def flowtables(listing: str) -> tuple[str, ...]:
    """``family table name`` of each flowtable in ``nft list flowtables`` output."""
    names: list[str] = []
    table = ""
    for line in listing.splitlines():
        words = line.split()
        if words[:1] == ["table"] and len(words) >= 3:
            table = f"{words[1]} {words[2]}"
        elif words[:1] == ["flowtable"] and len(words) >= 2:
            names.append(f"{table} {words[1]}")
    return tuple(names)
