"""``copgate requests``, ``copgate allow`` and ``copgate deny``: the admin answers the block page.

- ``copgate requests [--all] [--json]`` lists the open requests (access
  requests not yet answered, reports not yet acknowledged by the
  distributor) and the grants in force; ``--all`` lists answered ones too.
- ``copgate allow NAME --group G [--for 2h] [--request ID]`` grants NAME
  (and its subdomains) to group G, for a while or until withdrawn, without
  editing the config: it is written to ``grants.json`` in the reports
  directory, which the running daemon re-reads within a second. Open access
  requests for that name from that group are closed as granted.
- ``copgate allow NAME --group G --revoke`` withdraws a grant.
- ``copgate deny ID`` closes access request ID as denied.

The reports directory comes from ``--config`` (``reports_dir``), else
``--dir``, else the config at ``/etc/config/copgate`` or
``/etc/copgate/copgate.toml``, else ``/etc/copgate/reports``. With a
config, the group must be one of the config's.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from copgate.config.load import load_config
from copgate.config.schema import DEFAULT_REPORTS_DIR
from copgate.errors import CopgateError
from copgate.policy.grants import Grant
from copgate.requests.grantfile import GRANTS_FILE, add_grant, read_grants, write_grants
from copgate.requests.store import Entry, RecordKind, Store, StoreError
from copgate.wire.names import name_from_bytes

DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
UNITS = (86400, 3600, 60, 1)
DEFAULT_CONFIGS = (Path("/etc/config/copgate"), Path("/etc/copgate/copgate.toml"))
"""Read for ``reports_dir`` when neither --config nor --dir is given (OpenWrt, then others)."""
MAX_DURATION = 366 * 86400
"""A grant longer than a year is an allow entry: put it in the config."""


def register(subparsers: Any) -> None:
    listing = subparsers.add_parser("requests", help="list open access requests and reports")
    _where(listing)
    listing.add_argument("--all", action="store_true", help="answered ones too")
    listing.add_argument("--json", action="store_true", help="print one JSON object")
    listing.set_defaults(func=_files_named(run_requests))

    allow = subparsers.add_parser("allow", help="grant a name to a group, optionally for a while")
    allow.add_argument("name", metavar="NAME")
    allow.add_argument("--group", required=True, metavar="G")
    allow.add_argument(
        "--for", dest="duration", type=duration, metavar="TIME", help="e.g. 20s, 30m, 2h, 1d"
    )
    allow.add_argument("--request", type=int, metavar="ID", help="the request this answers")
    allow.add_argument("--revoke", action="store_true", help="withdraw the grant instead")
    _where(allow)
    allow.set_defaults(func=_files_named(run_allow))

    deny = subparsers.add_parser("deny", help="close an access request as denied")
    deny.add_argument("id", type=int, metavar="ID")
    _where(deny)
    deny.set_defaults(func=_files_named(run_deny))


def _files_named(
    command: Callable[[argparse.Namespace], int],
) -> Callable[[argparse.Namespace], int]:
    """``command``, with a file it cannot read or write (not root, read-only flash)
    reported as one line naming the file, as copgate's own errors are."""

    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except OSError as exc:
            where = exc.filename2 or exc.filename or "the reports directory"
            raise StoreError(f"{where}: {exc.strerror}") from exc

    return run


def _where(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, metavar="FILE", help="read reports_dir from it")
    parser.add_argument("--dir", type=Path, metavar="DIR", help="the reports directory")


def duration(text: str) -> float:
    """``20s``, ``30m``, ``2h``, ``1d``, ``1h30m`` -> seconds."""
    found = DURATION.fullmatch(text.strip())
    if found is None or not any(found.groups()):
        raise argparse.ArgumentTypeError(f"expected a duration such as 20s, 30m, 2h, got {text!r}")
    seconds = sum(int(n or 0) * unit for n, unit in zip(found.groups(), UNITS, strict=True))
    if not 0 < seconds <= MAX_DURATION:
        raise argparse.ArgumentTypeError(f"a duration from 1s to 366d, got {text!r}")
    return float(seconds)


class Where(NamedTuple):
    """Where the requests are, and what the config says about them."""

    directory: Path
    groups: frozenset[str] | None
    """The config's group names; None without a config."""
    forwarding: bool | None
    """Whether reports go to a distributor (``reports_url``); None without a config."""


def _directory(args: argparse.Namespace) -> Where:
    """The reports directory from --config, --dir, or the router's own config."""
    path = args.config
    if path is None and args.dir is None:
        path = next((p for p in DEFAULT_CONFIGS if p.is_file()), None)
    if path is not None:
        config = load_config(path)
        groups = frozenset(group.name for group in config.groups)
        settings = config.settings
        return Where(Path(settings.reports_dir), groups, settings.reports_url is not None)
    return Where(args.dir or Path(DEFAULT_REPORTS_DIR), None, None)


def run_requests(args: argparse.Namespace) -> int:
    directory, _, forwarding = _directory(args)
    now = time.time()
    entries = [e for e in Store(directory).entries() if args.all or e.open]
    grants = [g for g in read_grants(directory / GRANTS_FILE) if g.active(now)]
    if args.json:
        print(
            json.dumps(
                {
                    "requests": [_entry_json(e, forwarding) for e in entries],
                    "grants": [
                        {"name": g.name, "group": g.group, "until": g.until, "request": g.request}
                        for g in grants
                    ],
                }
            )
        )
        return 0
    if not entries:
        print("no open requests" if not args.all else "no requests")
    for entry in entries:
        print(_entry_line(entry, now, forwarding))
    for grant in grants:
        until = "until withdrawn" if grant.until is None else f"{grant.until - now:.0f}s left"
        print(f"grant {grant.name} for group {grant.group} ({until})")
    return 0


def run_allow(args: argparse.Namespace) -> int:
    directory, groups, _ = _directory(args)
    name = _name(args.name)
    if groups is not None and args.group not in groups:
        raise CopgateError(
            f"no group {args.group!r} in {args.config} ({', '.join(sorted(groups))})"
        )
    now = time.time()
    path = directory / GRANTS_FILE
    if args.revoke:
        kept = [g for g in read_grants(path) if (g.group, g.name) != (args.group, name)]
        write_grants(path, kept, now)
        print(f"revoked: {name} for group {args.group}")
        return 0
    store = Store(directory, now)
    request = str(args.request) if args.request is not None else None
    if args.request is not None and store.get(args.request) is None:
        raise StoreError(f"no request {args.request} in {directory}")
    until = None if args.duration is None else now + args.duration
    add_grant(path, Grant(name, args.group, until, request), now)
    for entry in store.entries():
        record = entry.record
        answered = record.id == args.request or (record.name, record.group) == (name, args.group)
        if answered and record.kind is RecordKind.ACCESS and entry.closed is None:
            store.close(record.id, "granted")
    span = "until withdrawn" if args.duration is None else f"for {args.duration:.0f}s"
    print(f"granted: {name} for group {args.group} {span}")
    return 0


def run_deny(args: argparse.Namespace) -> int:
    directory, _, _ = _directory(args)
    store = Store(directory, time.time())
    entry = store.get(args.id)
    if entry is None or entry.record.kind is not RecordKind.ACCESS:
        raise StoreError(f"no access request {args.id} in {directory}")
    store.close(args.id, "denied")
    print(f"denied: request {args.id} ({entry.record.name} for group {entry.record.group})")
    return 0


def _name(text: str) -> str:
    name = name_from_bytes(text.strip().encode("utf-8", "surrogateescape"))
    if not name.valid or not name.text:
        raise CopgateError(f"not a host name: {text!r} ({name.reason})")
    return name.text


def _state(entry: Entry, forwarding: bool | None) -> str:
    if entry.closed is not None:
        return entry.closed
    if not entry.record.kind.forwarded:
        return "open"
    if entry.sent:
        return "forwarded"
    return "kept here (no reports_url)" if forwarding is False else "waiting to be forwarded"


def _entry_line(entry: Entry, now: float, forwarding: bool | None) -> str:
    record = entry.record
    age = max(0, int(now - record.created))
    comment = f" comment={record.comment!r}" if record.comment else ""
    return (
        f"{record.id:>4} {record.kind:<8} {record.name} group={record.group} "
        f"client={record.client} age={age}s state={_state(entry, forwarding)}{comment}"
    )


def _entry_json(entry: Entry, forwarding: bool | None) -> dict[str, object]:
    return {**entry.record.to_json(), "state": _state(entry, forwarding)}
