"""``copgate dist``: make keys, build, sign, publish and serve signed list releases.

    dist keygen [--root] -o PREFIX          PREFIX.pub and PREFIX.sec (signify format)
    dist build --tree DIR SOURCE...         releases/N/ and deltas/, manifest unsigned
    dist sign --key SEC MANIFEST            MANIFEST.sig (a separate host may run it)
    dist sign --keyset --key ROOT.sec [--add/--remove/--revoke PUB] KEYSET
    dist publish DIR                        the newest signed release goes live
    dist serve DIR                          a static server with conditional GETs
    dist migrate|createadmin|run|publish-due  the curation service (copgate.distributor.cli)

``build`` takes the sources of ``copgate compile`` and reads them with the
same code (``lists_cmd.read_sources``), and compiles with the same compiler,
passing the previous release so that category indexes stay stable and
deltas stay small. This module is the edge: it reads the clock and the
command line; the work is in ``copgate.dist`` and ``copgate.release``.
docs/releases.md is the operator's guide.
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

from copgate.dist.build import DEFAULT_DELTAS, build_release, next_release
from copgate.dist.errors import DistError
from copgate.dist.serve import TreeServer
from copgate.dist.sign import KEEP_RELEASES, edit_keyset, publish, sign_keyset, sign_manifest
from copgate.dist.tree import RELEASES_DIR, Tree, read_bytes, write_atomic
from copgate.distributor.cli import register_service
from copgate.lists.cache import ListCache, verify_cache_file
from copgate.lists.compile import build_cache, check_budget
from copgate.release.errors import ReleaseError
from copgate.release.manifest import KeySet, Manifest, read_keyset, read_manifest, read_time
from copgate.release.signify import (
    PublicKey,
    SecretKey,
    format_public_key,
    format_secret_key,
    generate_key,
    read_public_key,
    read_secret_key,
)
from copgate.tools.lists_cmd import add_source_arguments, read_sources

_DURATION = re.compile(r"(\d+)\s*([smhd]?)")
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_KEYNUM = re.compile(r"[0-9a-f]{16}")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``dist`` command and its subcommands."""
    parser = subparsers.add_parser(
        "dist",
        help="build, sign, publish and serve signed list releases",
        description="The distributor's side of signed list releases (docs/releases.md).",
    )
    commands = parser.add_subparsers(dest="dist_command", required=True, metavar="STEP")
    _register_keygen(commands)
    _register_build(commands)
    _register_sign(commands)
    publish_parser = commands.add_parser(
        "publish", help="make the newest signed release of a tree the published one"
    )
    publish_parser.add_argument("tree", type=Path, metavar="DIR")
    publish_parser.add_argument("--release", type=int, help="publish this release number")
    _keep_argument(publish_parser)
    publish_parser.set_defaults(func=run_publish)
    serve_parser = commands.add_parser("serve", help="serve a tree over HTTP (tests, small sites)")
    serve_parser.add_argument("tree", type=Path, metavar="DIR")
    serve_parser.add_argument("--bind", default="127.0.0.1", help="address (127.0.0.1)")
    serve_parser.add_argument("--port", type=int, default=8080, help="port; 0 picks one (8080)")
    serve_parser.add_argument("--log", action="store_true", help="log each request on stderr")
    serve_parser.set_defaults(func=run_serve)
    register_service(commands)  # migrate, createadmin, run, publish-due: the curation service


def _register_keygen(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keygen = commands.add_parser("keygen", help="make a signify key pair")
    keygen.add_argument("--root", action="store_true", help="a root key (signs key sets)")
    keygen.add_argument("--output", "-o", required=True, type=Path, metavar="PREFIX")
    keygen.set_defaults(func=run_keygen)


def _register_build(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    build = commands.add_parser(
        "build",
        help="compile sources into the next release of a tree (unsigned)",
        description="Takes the sources of 'copgate compile' (see 'copgate compile --help').",
    )
    add_source_arguments(build)
    build.add_argument("--tree", required=True, type=Path, metavar="DIR")
    build.add_argument(
        "--valid-for", type=parse_duration, default=timedelta(days=7), help="expiry span (7d)"
    )
    build.add_argument(
        "--deltas", type=int, default=DEFAULT_DELTAS, help="deltas from this many releases (5)"
    )
    build.add_argument("--created", type=_time_argument, help="creation time (RFC 3339; now)")
    build.set_defaults(func=run_build)


def _register_sign(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sign = commands.add_parser(
        "sign",
        help="sign a release manifest, or (--keyset) edit and sign a key set",
        description=(
            "Write FILE.sig. A manifest (release.json) is refused unless it parses, its "
            "release is newer than the published one (--after, or the tree's release.json "
            "when FILE is in DIR/releases/N/) and the key is in the key set (--with-keyset, "
            "or the tree's keyset.json). With --keyset, FILE is keyset.json: --add, --remove "
            "and --revoke make its next version first."
        ),
    )
    sign.add_argument("file", type=Path, metavar="FILE")
    sign.add_argument("--key", required=True, type=Path, metavar="SEC", help="secret key")
    sign.add_argument("--keyset", action="store_true", help="FILE is a key set (root key)")
    sign.add_argument("--after", type=Path, metavar="JSON", help="the published release.json")
    sign.add_argument("--with-keyset", type=Path, metavar="JSON", help="the key set in force")
    sign.add_argument("--publish", action="store_true", help="then publish it into its tree")
    _keep_argument(sign)
    for option, what in (("add", "add"), ("remove", "remove"), ("revoke", "revoke")):
        sign.add_argument(
            f"--{option}", action="append", default=[], metavar="PUB", help=f"{what} a key"
        )
    sign.add_argument("--created", type=_time_argument, help="key set time (RFC 3339; now)")
    sign.set_defaults(func=run_sign)


def _keep_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--keep",
        type=int,
        default=KEEP_RELEASES,
        help=f"releases kept in the tree when publishing ({KEEP_RELEASES})",
    )


def parse_duration(text: str) -> timedelta:
    """``3600``, ``90m``, ``12h``, ``7d``."""
    found = _DURATION.fullmatch(text.strip())
    if found is None:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (try 7d, 12h or 3600)")
    return timedelta(seconds=int(found.group(1)) * _DURATION_UNITS[found.group(2)])


def _time_argument(text: str) -> datetime:
    try:
        return read_time(text, "time")
    except ReleaseError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _now(args: argparse.Namespace) -> datetime:
    given: datetime | None = args.created
    return given if given is not None else datetime.fromtimestamp(int(time.time()), UTC)


def run_keygen(args: argparse.Namespace) -> int:
    """Write PREFIX.pub and PREFIX.sec (0600); never overwrite a key."""
    role = "root" if args.root else "release"
    prefix: Path = args.output
    public, secret = prefix.with_name(prefix.name + ".pub"), prefix.with_name(prefix.name + ".sec")
    for path in (public, secret):
        if path.exists():
            raise DistError(f"{path}: exists; refusing to overwrite a key")
    key = generate_key()
    comment = f"copgate {role} key {key.keynum.hex()}"
    write_atomic(secret, format_secret_key(key, f"{comment} secret").encode(), 0o600, True)
    write_atomic(public, format_public_key(key.public_key, f"{comment} public").encode(), 0o644)
    where = "keep it offline; it signs key sets" if args.root else "keep it off the web host"
    print(f"{role} key {key.keynum.hex()}: {public} and {secret} ({where})")
    return 0


def run_build(args: argparse.Namespace) -> int:
    """Compile the sources as release N = published + 1 and write it into the tree."""
    started = time.perf_counter()
    tree = Tree(args.tree)
    tree.keyset()  # refuse before compiling, not after
    release = next_release(tree)
    created = _now(args)
    table, catalogue = read_sources(args)
    published = tree.published()
    previous_path = tree.root / tree.cache_relpath(published.release) if published else None
    if previous_path is not None and previous_path.is_file():
        with ListCache.open(previous_path) as previous:
            data, report = build_cache(
                table,
                catalogue,
                build_time=int(created.timestamp()),
                release=release,
                previous=previous,
            )
    else:
        data, report = build_cache(
            table, catalogue, build_time=int(created.timestamp()), release=release
        )
    check_budget(report, args.budget, tree.root / tree.cache_relpath(release))
    built = build_release(tree, release, data, created, args.valid_for, args.deltas)
    # As 'copgate compile' installs nothing unverified, nothing unverified is released.
    verify_cache_file(tree.root / tree.cache_relpath(release))
    print(
        f"release {release}: {report.names} names, {built.cache_size} bytes "
        f"({tree.cache_relpath(release)})"
    )
    for delta in built.manifest.deltas:
        share = 100 * delta.size / built.cache_size
        print(f"  delta from {delta.source}: {delta.size} bytes ({share:.2f}% of the cache)")
    print(
        f"{tree.candidate(release)}: unsigned manifest, expires "
        f"{built.manifest.expires.isoformat()}; sign it with 'copgate dist sign' "
        f"({time.perf_counter() - started:.2f} s)"
    )
    return 0


def run_sign(args: argparse.Namespace) -> int:
    """Sign a manifest, or edit and sign a key set."""
    secret = read_secret_key(read_bytes(args.key).decode("ascii", "replace"), str(args.key))
    if args.keyset:
        return _sign_keyset(args, secret)
    tree = _tree_of(args.file)
    after = _optional_manifest(args.after) or (tree.published() if tree else None)
    keyset = _optional_keyset(args.with_keyset) or (
        tree.keyset() if tree and tree.keyset_path.exists() else None
    )
    if after is None and tree is None:
        print(
            f"{args.file}: no published release.json given (--after): "
            "not checked against a rollback",
            file=sys.stderr,
        )
    manifest = sign_manifest(args.file, secret, after, keyset)
    print(f"{args.file}.sig: release {manifest.release} signed by key {secret.keynum.hex()}")
    if args.publish:
        if tree is None:
            raise DistError(f"{args.file}: not in DIR/{RELEASES_DIR}/N/; cannot publish it")
        _report_published(publish(tree, manifest.release, args.keep))
    return 0


def _sign_keyset(args: argparse.Namespace, secret: SecretKey) -> int:
    path: Path = args.file
    current = read_keyset(read_bytes(path), str(path)) if path.exists() else None
    edited: KeySet | None = None
    if args.add or args.remove or args.revoke or current is None:
        edited = edit_keyset(
            current,
            _now(args),
            add=[_public_key(p) for p in args.add],
            remove=[_public_key(p) for p in args.remove],
            revoke=[_keynum(text) for text in args.revoke],
        )
    keyset = sign_keyset(path, secret, edited)
    print(
        f"{path}: key set version {keyset.version} ({len(keyset.keys)} keys, "
        f"{len(keyset.revoked)} revoked) signed by root key {secret.keynum.hex()}"
    )
    return 0


def run_publish(args: argparse.Namespace) -> int:
    _report_published(publish(Tree(args.tree), args.release, args.keep))
    return 0


def _report_published(manifest: Manifest) -> None:
    print(f"published release {manifest.release} (expires {manifest.expires.isoformat()})")


def run_serve(args: argparse.Namespace) -> int:
    """Serve the tree until SIGINT or SIGTERM."""
    if not args.tree.is_dir():
        raise DistError(f"{args.tree}: not a directory")
    server = TreeServer((args.bind, args.port), args.tree, quiet=not args.log)
    host, port = server.server_address[:2]
    print(f"serving {args.tree} at http://{host!s}:{port}/", flush=True)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _tree_of(manifest: Path) -> Tree | None:
    """The tree of DIR/releases/N/release.json, or None for a file elsewhere."""
    parent = manifest.resolve().parent
    if parent.name.isdigit() and parent.parent.name == RELEASES_DIR:
        return Tree(parent.parent.parent)
    return None


def _optional_manifest(path: Path | None) -> Manifest | None:
    return None if path is None else read_manifest(read_bytes(path), str(path))


def _optional_keyset(path: Path | None) -> KeySet | None:
    return None if path is None else read_keyset(read_bytes(path), str(path))


def _public_key(path: str) -> PublicKey:
    return read_public_key(read_bytes(Path(path)).decode("ascii", "replace"), path)


def _keynum(text: str) -> str:
    """A keynum given as 16 hex digits, or as the .pub file of the key."""
    return text if _KEYNUM.fullmatch(text) else _public_key(text).keynum_hex
