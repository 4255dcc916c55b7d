"""``copgate status``, ``copgate log`` and ``copgate stats``: ask the running daemon.

Each asks the daemon over its control socket (``copgate.edges.control``,
root only) and prints the answer for a person, or as JSON with ``--json``
(``log --json`` writes one object per line, so ``--follow`` can stream).
``log --follow`` asks again every ``FOLLOW_POLL`` seconds for the entries
after the last one shown, until interrupted.

Nothing here reads counters or the ring itself: the daemon holds them.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TextIO

from copgate.edges.control import PATH, ask
from copgate.errors import ControlProtocolError
from copgate.timetext import two_units

FOLLOW_POLL = 1.0
"""Seconds between two asks of ``copgate log --follow``."""
INITIAL_LIMIT = 50
"""Entries ``copgate log`` shows unless asked for more (``--limit``)."""


def register(subparsers: Any) -> None:
    status = subparsers.add_parser(
        "status",
        help="what the running daemon is doing: uptime, config, lists, queues, counters",
        description="Ask the running daemon (root only) for its status.",
    )
    _common(status)
    status.set_defaults(func=run_status)

    log = subparsers.add_parser(
        "log",
        help="recent decisions of the running daemon (from its in-memory log)",
        description=(
            "Recent decisions, oldest first: time, client, group, kind, verdict, name, category, "
            "list and reason. NAME patterns: a plain name matches itself and its subdomains, "
            "*, ? and [..] are shell wildcards over the whole name."
        ),
    )
    _common(log)
    log.add_argument("-f", "--follow", action="store_true", help="keep showing new decisions")
    log.add_argument("--client", type=_client, metavar="IP", help="only this client's")
    log.add_argument("--name", metavar="PATTERN", help="only names that match")
    log.add_argument("--verdict", metavar="WORD", help="only this verdict (allow, block, ...)")
    log.add_argument("--group", metavar="GROUP", help="only this group's")
    log.add_argument(
        "-n",
        "--limit",
        type=int,
        default=INITIAL_LIMIT,
        metavar="N",
        help="show the last N that match (default: %(default)s; 0: all held)",
    )
    log.set_defaults(func=run_log)

    stats = subparsers.add_parser(
        "stats",
        help="top blocked names and categories, per group and client; queries per minute",
        description="Statistics over the running daemon's in-memory log.",
    )
    _common(stats)
    stats.add_argument("--top", type=int, default=10, metavar="N", help="entries per top list")
    stats.set_defaults(func=run_stats)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument(
        "--socket",
        type=Path,
        default=PATH,
        metavar="PATH",
        help="the daemon's control socket (default: %(default)s)",
    )


def _client(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an IP address: {text!r}") from None


# -- status -------------------------------------------------------------------------------


def run_status(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    status = _mapping(ask(args.socket, "status"), "status")
    if args.json:
        print(json.dumps(status, indent=2, sort_keys=True), file=out)
        return 0
    for line in status_lines(status, time.time()):
        print(line, file=out)
    return 0


def status_lines(status: Mapping[str, Any], now: float) -> list[str]:
    """The status for a person, one fact a line."""
    config = status.get("config", {})
    queue = status.get("queue", {})
    lines = [
        f"copgate {status.get('version', '')} running (pid {status.get('pid')}), "
        f"up {duration(status.get('uptime', 0))}",
        f"config: {config.get('file')}; groups: {', '.join(config.get('groups', []))} "
        f"(default {config.get('default_group')})",
    ]
    for held in status.get("lists", []):
        built = held.get("built", 0)
        lines.append(
            f"lists: {held.get('name')} release {held.get('release')}, built {_when(built)} "
            f"({duration(now - built)} ago)"
        )
    update = status.get("update")
    lines.append(f"last update: {_flat(update) if isinstance(update, dict) else update}")
    lines.append(f"flow offloading: {status.get('offload')}")
    overflows = queue.get("overflows", {})
    lines.append(
        f"queue: {queue.get('packets', 0):,} packets; failures {queue.get('failures', 0)} "
        f"(fail-open {queue.get('fail_open', 0)}, fail-closed {queue.get('fail_closed', 0)}); "
        f"overflows: {_flat(overflows)}"
    )
    for kind, actions in sorted(queue.get("verdicts", {}).items()):
        lines.append(f"  {kind}: {_flat(actions)}")
    log = status.get("log", {})
    if log:
        kept = "kept" if log.get("keep_allowed") else "not kept"
        lines.append(
            f"log: {log.get('entries')} of {log.get('capacity')} decisions held "
            f"({log.get('recorded')} since start); allowed names {kept}"
        )
    metrics = status.get("metrics", {})
    if metrics.get("listen"):
        lines.append(f"metrics: http://{metrics['listen']}/metrics")
    return lines


# -- log ------------------------------------------------------------------------------------


def run_log(
    args: argparse.Namespace,
    out: TextIO | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rounds: int | None = None,
) -> int:
    """Show the entries asked for; with ``--follow`` keep asking (``rounds`` bounds it in tests)."""
    out = out or sys.stdout
    if args.limit < 0:
        raise ControlProtocolError("--limit must be 0 or more")
    params: dict[str, object] = {
        key: value
        for key, value in (
            ("client", args.client),
            ("name", args.name),
            ("verdict", args.verdict),
            ("group", args.group),
            ("limit", args.limit or None),
        )
        if value is not None
    }
    since = 0
    done = 0
    try:
        while True:
            reply = _mapping(ask(args.socket, "log", {**params, "since": since}), "log")
            if int(reply.get("last_seq", 0)) < since:  # the daemon restarted: its log did too
                print("copgate log: the daemon restarted; its log starts again", file=sys.stderr)
                since = 0
                continue
            for entry in reply.get("entries", []):
                print(json.dumps(entry) if args.json else log_line(entry), file=out, flush=True)
            since = max(since, int(reply.get("last_seq", since)))
            done += 1
            if not args.follow or (rounds is not None and done >= rounds):
                return 0
            params.pop("limit", None)  # following: every new entry, however many
            sleep(FOLLOW_POLL)
    except KeyboardInterrupt:
        return 0


def log_line(entry: Mapping[str, Any]) -> str:
    """``2026-12-06 00:10:03  192.0.2.10  pupils  dns  block  casino.example  gambling  ...``."""
    category = entry.get("category") or "-"
    source = entry.get("source") or "-"
    return (
        f"{_when(entry.get('time', 0))}  {entry.get('client')}  {entry.get('group')}  "
        f"{entry.get('kind')}  {entry.get('verdict')}  {entry.get('name')}  "
        f"{category}  {source}  {entry.get('reason')}"
    )


# -- stats ------------------------------------------------------------------------------------


def run_stats(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    if not 1 <= args.top <= 1000:
        raise ControlProtocolError("--top must be from 1 to 1000")
    stats = _mapping(ask(args.socket, "stats", {"top": args.top}), "stats")
    if args.json:
        print(json.dumps(stats, indent=2, sort_keys=True), file=out)
        return 0
    for line in stats_lines(stats):
        print(line, file=out)
    return 0


def stats_lines(stats: Mapping[str, Any]) -> list[str]:
    """The statistics for a person: overall, then each group and each client."""
    rate = stats.get("queries_per_minute", {})
    kept = "" if stats.get("keep_allowed", True) else " (allowed names not kept)"
    lines = [
        f"{stats.get('decisions', 0)} decisions held{kept}, {stats.get('blocked', 0)} blocked",
        f"queries per minute: {rate.get('average', 0)} on average over {rate.get('minutes', 0)} "
        f"min, {rate.get('last', 0)} this minute",
    ]
    lines += _top_lines(stats, "")
    for title, key in (("group", "groups"), ("client", "clients")):
        for name, part in stats.get(key, {}).items():
            lines.append(
                f"{title} {name}: {part.get('decisions', 0)} decisions, "
                f"{part.get('blocked', 0)} blocked"
            )
            lines += _top_lines(part, "  ")
    return lines


def _top_lines(part: Mapping[str, Any], indent: str) -> list[str]:
    lines = []
    for title, key, field in (
        ("top blocked names", "top_blocked_names", "name"),
        ("top blocked categories", "top_blocked_categories", "category"),
    ):
        ranked = part.get(key, [])
        if ranked:
            shown = ", ".join(f"{row[field]} ({row['count']})" for row in ranked)
            lines.append(f"{indent}{title}: {shown}")
    return lines


# -- helpers ----------------------------------------------------------------------------------


def duration(seconds: float) -> str:
    """``3d 4h``, ``2h 05m``, ``4m 10s``, ``12s``: the two largest units."""
    return two_units(seconds, padded=True)


def _when(stamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))


def _flat(counts: Mapping[str, Any]) -> str:
    return ", ".join(f"{key} {value}" for key, value in counts.items()) or "none"


def _mapping(result: object, command: str) -> Mapping[str, Any]:
    if not isinstance(result, dict):
        raise ControlProtocolError(f"the daemon's {command} reply is not an object")
    return result
