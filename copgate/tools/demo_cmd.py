"""``copgate demo``: show copgate reading what clients ask for.

Until the gateway daemon lands, the demo writes the sample capture of
``copgate.tools.samples`` (built from scratch, so a fresh clone needs no
test data) and runs ``copgate inspect`` over it: the same wire core the
daemon runs, on DNS, TLS, QUIC and HTTP from several clients.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from copgate.tools import inspect_cmd
from copgate.tools.samples import write_sample_capture


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo", help="show copgate reading names from a sample of real-world client traffic"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument(
        "--keep", type=Path, metavar="DIR", help="write the sample capture into DIR and keep it"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        return _inspect(args.keep / "copgate-sample.pcap", args.json)
    with tempfile.TemporaryDirectory(prefix="copgate-demo-") as directory:
        return _inspect(Path(directory) / "copgate-sample.pcap", args.json)


def _inspect(path: Path, as_json: bool) -> int:
    write_sample_capture(path)
    print(f"copgate demo: a sample capture of LAN clients written to {path}\n")
    return inspect_cmd.run(argparse.Namespace(captures=[path], json=as_json))
