"""``copgate update --now`` and ``copgate update --status``: the updater by hand.

``--now`` runs one check at once, with the same code and stores as the
daemon's poller (a file lock keeps the two from updating at once; the
daemon picks up what this installs within a second), and prints what it
did. ``--status`` prints the release in force, its age, the last check and
its result, and the next check the daemon planned.

``COPGATE_UPDATE_KILL_AT=STEP`` makes ``--now`` kill itself with SIGKILL at
that step of an update (tests of interrupted updates use it).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from copgate.update.model import UpdateSettings
from copgate.update.store import Step

KILL_AT = "COPGATE_UPDATE_KILL_AT"
DEFAULT_CONFIG = Path("/etc/config/copgate")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "update",
        help="check for a signed list release now, or show the updater's status",
        description=(
            "Signed list releases ([update] in the config). --now checks the distributor at "
            "once and prints what it did: no news, installed release N via delta or full "
            "download, or refused/unreachable and the release kept. --status shows the release "
            "in force, its age, the last check and the next."
        ),
    )
    parser.add_argument(
        "--config", type=Path, default=DEFAULT_CONFIG, metavar="FILE", help="the config"
    )
    parser.add_argument("--templates", type=Path, metavar="DIR", help="template directory")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--now", action="store_true", help="check for a new release at once")
    what.add_argument("--status", action="store_true", help="show the updater's state")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from copgate.config.load import load_config  # noqa: PLC0415
    from copgate.errors import ConfigError  # noqa: PLC0415

    config = load_config(args.config, templates_dir=args.templates)
    if config.update is None:
        raise ConfigError(f"{args.config}: no [update] section (config update): nothing to do")
    if args.now:
        return check_now(config.update)
    print(status_text(config.update, time.time()))
    return 0


def check_now(settings: UpdateSettings) -> int:
    from copgate.update.fetch import HttpFetcher  # noqa: PLC0415
    from copgate.update.updater import Result, Updater  # noqa: PLC0415

    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(message)s")
    updater = Updater(settings, HttpFetcher(time.monotonic), time.time, _step_hook())
    outcome = updater.check()
    print(outcome.line)
    return 0 if outcome.result in (Result.INSTALLED, Result.NO_NEWS) else 1


def _step_hook() -> Step:
    target = os.environ.get(KILL_AT)

    def step(name: str) -> None:
        if name == target:
            os.kill(os.getpid(), signal.SIGKILL)

    return step


def status_text(settings: UpdateSettings, now: float) -> str:
    """The lines ``--status`` prints."""
    from copgate.update.installed import in_force, load_roots  # noqa: PLC0415
    from copgate.update.state import age_text, read_state  # noqa: PLC0415

    installed = in_force(settings, load_roots(settings))
    state = read_state(Path(settings.ram_dir))
    lines = [f"distributor: {settings.url}"]
    if installed is None:
        lines.append("release in force: none verified (the daemon selects one when it starts)")
    else:
        created = installed.created.timestamp()
        lines.append(
            f"release in force: {installed.release} ({installed.directory}), built "
            f"{_when(created)}, {age_text(now - created)} ago"
        )
    if state.last_check is None:
        lines.append("last check: never")
    else:
        lines.append(
            f"last check: {_when(state.last_check)} ({age_text(now - state.last_check)} ago): "
            f"{state.result}"
        )
    if state.next_check is None:
        lines.append("next check: not planned (is the daemon running?)")
    else:
        lines.append(
            f"next check: {_when(state.next_check)} (in {age_text(state.next_check - now)})"
        )
    return "\n".join(lines)


def _when(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
