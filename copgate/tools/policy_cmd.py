"""``copgate config check`` and ``copgate check``: is the config right, why is a site blocked.

``config check FILE`` loads a config (UCI or TOML) the way the daemon does and
prints every error (exit status 1), or its warnings and a summary of the
settings and of each group (exit status 0). When the list caches the config
names can be opened, the categories it uses are checked against theirs.

``check NAME --config FILE`` builds the question a client would ask (DNS,
TLS, QUIC or HTTP), finds the client's group, looks the name up in the
config's list caches (or ``--lists``) and prints the decision and its reason
chain; ``--json`` prints one object. When the cache's release dir holds the
distributor's ``provenance.json`` (``copgate.lists.provenance``), the entry
that decided is traced to its proposal (number, action, expert, approver,
date) or to the upstream sources of its category, and an approved removal of
the name or a parent is named. The safe-search endpoints' addresses are
not resolved here, so a TLS, QUIC or HTTP question for a search engine shows
what happens before the daemon knows them (``--server`` sets the destination).

This module is the edge: it reads the config, the caches, the local timezone
(``copgate.edges.localtz``, as the daemon does) and the clock; the work is in
``copgate.config`` and ``copgate.policy``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from ipaddress import IPv4Address, IPv6Address, ip_address
from pathlib import Path
from typing import Any

from copgate.config.document import ConfigErrors
from copgate.config.load import load
from copgate.config.summary import describe, matched_by
from copgate.config.validate import Loaded
from copgate.config.values import BadValueError, mac
from copgate.edges.localtz import read_local_tz
from copgate.errors import CacheError, ProvenanceError
from copgate.lists.cache import ListCache
from copgate.lists.listset import ListSet
from copgate.lists.provenance import Why, beside, explain, read_provenance_file, why_lines
from copgate.policy.decide import decide
from copgate.policy.decision import Decision, RuleKind
from copgate.policy.grants import Grants, granted
from copgate.policy.model import Config
from copgate.policy.tz import PosixTz
from copgate.requests.grantfile import GRANTS_FILE, read_grants
from copgate.requests.store import StoreError
from copgate.wire.names import name_from_bytes
from copgate.wire.question import ClientHello, DnsQuery, Ech, Kind, Question

QTYPES = {"A": 1, "NS": 2, "CNAME": 5, "MX": 15, "TXT": 16, "AAAA": 28, "SVCB": 64, "HTTPS": 65}
"""DNS query types by name (RFC 1035 §3.2.2, RFC 3596, RFC 9460)."""
PORTS = {Kind.DNS: 53, Kind.TLS: 443, Kind.QUIC: 443, Kind.HTTP: 80}
TRANSPORTS = {Kind.DNS: 17, Kind.TLS: 6, Kind.QUIC: 17, Kind.HTTP: 6}
"""IP protocol numbers: 6 TCP, 17 UDP."""
QUIC_V1 = 0x00000001  # RFC 9000 §15
ENTRY_KIND = {
    RuleKind.CATEGORY: "block",
    RuleKind.TIME_WINDOW: "block",
    RuleKind.BYPASS: "block",
    RuleKind.WHITE_ENTRY: "allow",
    RuleKind.NOT_LISTED: None,
    RuleKind.WHITELIST_ONLY: None,
}
"""Rules decided by a list entry, and the kind of entry that decided (None: either).
The provenance explains only these: the others come from the config, a grant
or a built-in table."""


def register(subparsers: Any) -> None:
    """Add ``config check`` and ``check``."""
    config_parser = subparsers.add_parser(
        "config", help="check a config file", description="Work with copgate's config file."
    )
    actions = config_parser.add_subparsers(dest="config_action", required=True, metavar="ACTION")
    config_check = actions.add_parser(
        "check",
        help="print every error of a config file, or a summary of its groups",
        description=(
            "Load a config file (UCI or TOML) as the daemon would. Prints every error and "
            "exits 1, or prints the warnings and a summary of the groups and exits 0."
        ),
    )
    config_check.add_argument("file", type=Path, metavar="FILE")
    _templates_option(config_check)
    config_check.set_defaults(func=run_config_check)

    check = subparsers.add_parser(
        "check",
        help="explain the decision for a name and a client",
        description="Print the decision for NAME as a client would ask it, with its reasons.",
    )
    check.add_argument("name", metavar="NAME")
    check.add_argument("--config", required=True, type=Path, metavar="FILE")
    check.add_argument("--client", type=ip_address, metavar="IP", help="the client's address")
    check.add_argument("--mac", type=_mac_argument, metavar="MAC", help="the client's MAC")
    check.add_argument("--iface", metavar="IFACE", help="the interface the client is on")
    check.add_argument(
        "--at", type=_time_argument, metavar="ISO-TIME", help="local time (default: now)"
    )
    check.add_argument("--kind", choices=[kind.value for kind in Kind], default=Kind.DNS.value)
    check.add_argument(
        "--qtype", type=_qtype_argument, default=1, help="DNS query type (A, AAAA, HTTPS, 65...)"
    )
    check.add_argument("--server", type=ip_address, metavar="IP", help="the destination address")
    check.add_argument(
        "--lists", type=Path, action="append", metavar="FILE", help="list caches (default: config)"
    )
    check.add_argument("--json", action="store_true", help="print one JSON object")
    _templates_option(check)
    check.set_defaults(func=run_check)


def _templates_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--templates",
        type=Path,
        metavar="DIR",
        help="template directory (default: lists/templates, or /usr/share/copgate/templates)",
    )


def _mac_argument(text: str) -> str:
    try:
        return mac(text)
    except BadValueError as exc:
        raise argparse.ArgumentTypeError(f"expected {exc.expected}, got '{text}'") from None


def _time_argument(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO time like 2025-03-03T10:15 (local) or with an offset, got '{text}'"
        ) from None


def _qtype_argument(text: str) -> int:
    if text.upper() in QTYPES:
        return QTYPES[text.upper()]
    if text.isdigit() and 0 < int(text) < 65536:
        return int(text)
    raise argparse.ArgumentTypeError(f"expected a DNS type ({', '.join(QTYPES)}) or a number")


def run_config_check(args: argparse.Namespace) -> int:
    """Print the errors, or the warnings and the summary."""
    loaded = _load_or_print(args.file, args.templates)
    if loaded is None:
        return 1
    catalogue, note = _catalogue(loaded.config.settings.lists)
    if catalogue is not None:
        loaded = _load_or_print(args.file, args.templates, catalogue)
        if loaded is None:
            return 1
    for warning in loaded.warnings:
        print(warning)
    groups = len(loaded.config.groups)
    warned = f", {len(loaded.warnings)} warning(s)" if loaded.warnings else ""
    print(f"{args.file}: valid, {groups} group(s){warned}")
    print(note)
    print()
    for line in describe(loaded.config):
        print(line)
    return 0


def _load_or_print(
    path: Path, templates: Path | None, catalogue: frozenset[str] | None = None
) -> Loaded | None:
    try:
        return load(path, catalogue=catalogue, templates_dir=templates)
    except ConfigErrors as exc:
        for line in exc.lines:
            print(line)
        print(f"{path}: {len(exc.problems)} error(s)")
        return None


def _catalogue(paths: Sequence[str]) -> tuple[frozenset[str] | None, str]:
    """The categories of every cache, and a line saying whether they were checked."""
    categories: set[str] = set()
    try:
        for path in paths:
            with ListCache.open(path) as cache:
                categories.update(cache.categories)
    except CacheError as exc:
        return None, f"categories not checked against the lists: {exc}"
    return frozenset(categories), f"categories checked against {len(paths)} list cache(s)"


def run_check(args: argparse.Namespace) -> int:
    """Decide for one name and print the decision with its reasons."""
    try:
        config = load(args.config, templates_dir=args.templates).config
    except ConfigErrors as exc:
        for line in exc.lines:
            print(line)
        return 1
    group = config.group_for(args.iface, args.client, args.mac)
    tz = read_local_tz(config.settings.timezone).tz
    local, timestamp = _local_time(args.at, tz)
    question = _question(args)
    # The daemon's ListSet, so that several caches merge as they do there.
    lists = ListSet.open(args.lists or config.settings.lists)
    try:
        plausible = timestamp >= lists.built
        decision = decide(question, group, lists, local, plausible, frozenset())
    finally:
        lists.close()
    decision = granted(
        decision, question.name.text if question.name else None, _grants(config), timestamp
    )
    how = matched_by(config, group, args.iface, args.client, args.mac)
    origins = _provenance(args.lists or config.settings.lists, question, decision)
    if args.json:
        document = _as_json(args, decision, how, local, plausible)
        document["provenance"] = [{"file": str(path), **why.as_dict()} for path, why in origins]
        print(json.dumps(document))
    else:
        lines = _explain(args, decision, how, local, plausible)
        traced = [f"  why: {line}" for _path, why in origins for line in why_lines(why)]
        for line in [*lines[:-1], *traced, lines[-1]]:
            print(line)
    return 0


def _provenance(
    caches: Sequence[Path | str], question: Question, decision: Decision
) -> list[tuple[Path, Why]]:
    """What the provenance beside each cache says about the entry that decided."""
    if decision.rule not in ENTRY_KIND or (
        decision.rule is RuleKind.BYPASS and decision.category is None
    ):
        return []
    name = question.name.text if question.name else None
    found: list[tuple[Path, Why]] = []
    for path in dict.fromkeys(beside(cache) for cache in caches):
        try:
            provenance = read_provenance_file(path)
        except ProvenanceError as exc:
            print(f"warning: provenance not shown: {exc}", file=sys.stderr)
            continue
        if provenance is not None:
            kind = ENTRY_KIND[decision.rule]
            found.append((path, explain(provenance, name, decision.match, decision.category, kind)))
    return found


def _grants(config: Config) -> Grants:
    """The administrator's grants (``copgate allow``), as the daemon reads them."""
    path = Path(config.settings.reports_dir) / GRANTS_FILE
    try:
        return read_grants(path)
    except StoreError as exc:
        print(f"warning: grants not applied: {exc}", file=sys.stderr)
        return Grants()


def _local_time(at: datetime | None, tz: PosixTz) -> tuple[datetime, float]:
    """The local wall time to judge at, and its UTC timestamp."""
    if at is None:
        now = time.time()
        return tz.local(now), now
    if at.tzinfo is not None:
        return tz.local(at.timestamp()), at.timestamp()
    # A naive time is the router's wall clock; its offset is the one in force
    # then (off by the DST shift for an hour a year, which only moves the
    # clock-plausibility check).
    naive_utc = at.replace(tzinfo=UTC).timestamp()
    offset, _ = tz.utcoffset_at(naive_utc)
    return at, naive_utc - offset


def _question(args: argparse.Namespace) -> Question:
    kind = Kind(args.kind)
    name = name_from_bytes(args.name.encode("utf-8", "surrogateescape"))
    client: IPv4Address | IPv6Address = args.client or IPv4Address("192.0.2.1")
    server: IPv4Address | IPv6Address = args.server or (
        IPv4Address("0.0.0.0") if client.version == 4 else IPv6Address("::")
    )
    hello = ClientHello(name, (), Ech.NONE) if kind in (Kind.TLS, Kind.QUIC) else None
    dns = DnsQuery(name, args.qtype, 1, 0, False, None) if kind is Kind.DNS else None
    return Question(
        kind=kind,
        name=name,
        client=(client.packed, 0),
        server=(server.packed, PORTS[kind]),
        hello=hello,
        dns=dns,
        quic_version=QUIC_V1 if kind is Kind.QUIC else None,
        transport=TRANSPORTS[kind],
    )


def _explain(
    args: argparse.Namespace, decision: Decision, how: str, local: datetime, plausible: bool
) -> list[str]:
    client = f"client {args.client}" if args.client else "a client"
    extras = [
        f"MAC {args.mac}" if args.mac else "",
        f"on {args.iface}" if args.iface else "",
    ]
    who = " ".join(part for part in (client, *extras) if part)
    lines = [
        f"{args.name} ({args.kind}) for {who}",
        f"  group: {decision.group} ({how})",
        f"  local time: {local.isoformat(timespec='minutes')}"
        + ("" if plausible else " (before the lists were built: windows count as active)"),
        f"  rule: {decision.rule}",
        f"  reason: {decision.reason}",
    ]
    for label, value in (
        ("list", decision.list_name),
        ("category", decision.category),
        ("match", decision.match),
        ("safe endpoint", decision.safe_target),
    ):
        if value is not None:
            lines.append(f"  {label}: {value}")
    if decision.dns_nodata:
        lines.append("  DNS answer: no data")
    lines.append(f"verdict: {decision.verdict}")
    return lines


def _as_json(
    args: argparse.Namespace, decision: Decision, how: str, local: datetime, plausible: bool
) -> dict[str, object]:
    return {
        "name": args.name,
        "kind": args.kind,
        "client": str(args.client) if args.client else None,
        "mac": args.mac,
        "iface": args.iface,
        "time": local.isoformat(timespec="minutes"),
        "clock_plausible": plausible,
        "matched_by": how,
        **decision.as_dict(),
    }
