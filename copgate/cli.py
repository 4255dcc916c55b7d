"""The ``copgate`` command: a thin dispatcher over the subcommand modules.

Each subcommand lives in its own module under ``copgate.tools`` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to a
function taking the parsed arguments and returning the exit status. Errors
copgate raises on purpose (``CopgateError``) are printed as one line on
stderr with exit status 2; anything else is a bug and shows its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from copgate.errors import CopgateError

# Modules that are absent in a build (a subcommand not yet written, or an
# extra not installed) are skipped, so the router package can drop tools.
_COMMAND_MODULES = (
    "copgate.tools.inspect_cmd",
    "copgate.tools.lists_cmd",
    "copgate.tools.policy_cmd",
    "copgate.tools.demo_cmd",
    "copgate.tools.run_cmd",
    "copgate.tools.firewall_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="copgate",
        description="Child-online-protection gateway: filter DNS, TLS/QUIC SNI and HTTP Host.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
