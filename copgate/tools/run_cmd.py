"""``copgate run --config FILE``: the gateway daemon in the foreground."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from copgate.edges.control import PATH as CONTROL_PATH


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the gateway daemon in the foreground (needs root and NFQUEUE)",
        description=(
            "Filter LAN clients through the netfilter queues N (fail-open groups) and N+1 "
            "(fail-closed groups); refuses to start if another process holds either. SIGHUP "
            "reloads config and lists (a bad one is logged and the old stays), SIGUSR1 logs "
            "the counters, SIGTERM and SIGINT stop: answer what is queued, remove the rules, "
            "exit 0."
        ),
    )
    parser.add_argument(
        "--config",
        required=True,
        type=Path,
        metavar="FILE",
        help="the config: UCI (/etc/config/copgate) or TOML",
    )
    parser.add_argument(
        "--queue",
        type=int,
        default=0,
        metavar="N",
        help="NFQUEUE number of fail-open groups; fail-closed groups use N+1",
    )
    parser.add_argument(
        "--no-firewall",
        action="store_true",
        help="do not apply or remove iptables rules (the OS package installs nftables rules)",
    )
    parser.add_argument(
        "--templates",
        type=Path,
        metavar="DIR",
        help="template directory (default: lists/templates, or /usr/share/copgate/templates)",
    )
    parser.add_argument("--upstream", metavar="IP", help="resolver for safe-search endpoints")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every decision")
    parser.add_argument(
        "--control",
        type=Path,
        default=CONTROL_PATH,
        metavar="PATH",
        help="control socket for copgate status/log/stats (default: %(default)s)",
    )
    parser.add_argument(
        "--log-target",
        choices=("auto", "syslog", "stderr"),
        default="auto",
        help="syslog (/dev/log), stderr, or auto: syslog unless stderr is a terminal or a "
        "file (default: %(default)s)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # The daemon needs no hash from OpenSSL: CPython's own SHA-256 and BLAKE2s
    # serve the list cache and hmac falls back to them. Without this, the first
    # ``import hashlib`` maps OpenSSL's libcrypto: 3.4 MB of the daemon's
    # resident memory (issue 10). hashlib and hmac take a None entry for
    # "not built with OpenSSL"; ``cryptography`` (QUIC) carries its own.
    sys.modules.setdefault("_hashlib", None)  # type: ignore[arg-type]
    # The first QUIC Initial (or a release's signature check) imports
    # cryptography; its loading touches about 2 MB more of its binding than
    # its use does (issue 10), which copgate.edges.residency gives back right
    # after that import.
    from copgate import cryptoimport  # noqa: PLC0415
    from copgate.edges.residency import cryptography_files, released_after  # noqa: PLC0415

    cryptoimport.wrap(lambda: released_after(cryptography_files))
    # Imported here: the daemon brings the queue, injection and firewall edges,
    # which the offline tools (inspect, compile, check) never load.
    from copgate.daemon.run import Options  # noqa: PLC0415
    from copgate.daemon.run import run as run_daemon  # noqa: PLC0415
    from copgate.edges.logtarget import Target, configure  # noqa: PLC0415

    configure(Target(args.log_target), logging.DEBUG if args.verbose else logging.INFO)
    options = Options(
        config=args.config,
        queue_num=args.queue,
        firewall=not args.no_firewall,
        templates_dir=args.templates,
        upstream=args.upstream,
        control=args.control,
    )
    return run_daemon(options)
