"""The ``copgate`` command: a thin dispatcher over the subcommand modules.

Each subcommand lives in its own module under ``copgate.tools`` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to a
function taking the parsed arguments and returning the exit status. Errors
copgate raises on purpose (``CopgateError``) are printed as one line on
stderr with exit status 2; anything else is a bug and shows its traceback.

Only the module of the command asked for is imported: ``copgate run`` on a
router must not load the lab, X.509, scapy or the other tools (memory and
start-up time). ``copgate --help`` or an unknown command imports them all,
to list them.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from copgate.errors import CopgateError

COMMANDS = {
    "inspect": "copgate.tools.inspect_cmd",
    "compile": "copgate.tools.lists_cmd",
    "lookup": "copgate.tools.lists_cmd",
    "config": "copgate.tools.policy_cmd",
    "check": "copgate.tools.policy_cmd",
    "demo": "copgate.tools.demo_cmd",
    "run": "copgate.tools.run_cmd",
    "firewall": "copgate.tools.firewall_cmd",
    "update": "copgate.tools.update_cmd",
    "requests": "copgate.tools.requests_cmd",
    "allow": "copgate.tools.requests_cmd",
    "deny": "copgate.tools.requests_cmd",
    "status": "copgate.tools.ops_cmd",
    "log": "copgate.tools.ops_cmd",
    "stats": "copgate.tools.ops_cmd",
    "dist": "copgate.tools.dist_cmd",
}
"""Command name -> the module that registers it (a module may register several)."""


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; with ``argv``, only the module of the command it names is loaded."""
    parser = argparse.ArgumentParser(
        prog="copgate",
        description="Child-online-protection gateway: filter DNS, TLS/QUIC SNI and HTTP Host.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    wanted = _command(argv)
    modules = [COMMANDS[wanted]] if wanted else list(dict.fromkeys(COMMANDS.values()))
    for module_name in modules:
        # A module absent from a build (an extra not installed, a tool the
        # router package drops) is skipped.
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.register(subparsers)
    return parser


def _command(argv: Sequence[str] | None) -> str | None:
    """The known command ``argv`` names (its first word that is not an option), or None."""
    if argv is None:
        return None
    first = next((word for word in argv if not word.startswith("-")), None)
    return first if first in COMMANDS else None


def main(argv: Sequence[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(words)
    args = parser.parse_args(words)
    try:
        status: int = args.func(args)
    except CopgateError as exc:
        print(f"copgate {args.command}: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    return status


if __name__ == "__main__":
    sys.exit(main())
