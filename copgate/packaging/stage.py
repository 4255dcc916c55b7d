"""The files of copgate's OpenWrt package, laid out as they land on the router.

``stage`` writes, under a directory:

- ``/usr/lib/python3.11/site-packages/copgate/``: the router-side modules
  only (``copgate.packaging.router``), as sourceless ``.pyc`` files (what
  OpenWrt's python packages ship: smaller, and nothing compiled into the
  overlay at the first start) or as ``.py``;
- ``/usr/bin/copgate``: the command;
- ``/usr/share/copgate/``: the built-in lists compiled (``lists.cache``:
  the name ``copgate.update`` gives a release's cache, so the updater
  takes this directory as its release of last resort), the policy
  templates, ``site-content.toml`` and the lists' licences;
- ``openwrt/copgate/files/`` as it stands: the UCI config, the procd init
  script, the uci-defaults script, the keep.d entry, the fw4 include and
  the capabilities file.

The SDK recipe (``openwrt/copgate/Makefile``) and the SDK-less ``.ipk``
builder (``copgate.packaging.ipk``) both call it, so both packages hold the
same files. Runs on a build machine; never imported on a router.
"""

from __future__ import annotations

import os
import py_compile
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from copgate.packaging.router import router_modules

PYTHON_VERSION = "3.11"
"""OpenWrt 23.05's and 24.10's python3."""
SHARE = Path("usr/share/copgate")
LAUNCHER = """#!/usr/bin/python3
# copgate's command (installed by the copgate package).
import sys

from copgate.cli import main

sys.exit(main())
"""


class StageError(Exception):
    """The package's files could not be laid out."""


@dataclass(frozen=True, slots=True)
class Staged:
    """What ``stage`` wrote."""

    root: Path
    modules: int
    lists_cache: Path


def site_packages(python_version: str = PYTHON_VERSION) -> Path:
    return Path(f"usr/lib/python{python_version}/site-packages")


def stage(
    source: Path,
    dest: Path,
    *,
    python_version: str = PYTHON_VERSION,
    pyc: bool = True,
    lists_cache: Path | None = None,
) -> Staged:
    """Lay the package out under ``dest`` (created; must not exist) from checkout ``source``."""
    if dest.exists():
        raise StageError(f"{dest}: already exists; give a new directory")
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    if pyc and here != python_version:
        raise StageError(
            f".pyc files for Python {python_version} need that Python to build them "
            f"(this is {here}); build with it, or without .pyc"
        )
    modules = router_modules(source)
    target = dest / site_packages(python_version)
    for path in modules.values():
        relative = path.relative_to(source)
        out = target / relative
        out.parent.mkdir(parents=True, exist_ok=True)
        if pyc:
            installed = Path("/") / site_packages(python_version) / relative
            py_compile.compile(
                str(path),
                cfile=str(out.with_suffix(".pyc")),
                dfile=str(installed),
                doraise=True,
                invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
            )
        else:
            shutil.copyfile(path, out)
    for data in package_data(source, modules.values()):
        out = target / data.relative_to(source)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(data, out)
    launcher = dest / "usr" / "bin" / "copgate"
    launcher.parent.mkdir(parents=True)
    launcher.write_text(LAUNCHER, encoding="utf-8")
    launcher.chmod(0o755)
    share = dest / SHARE
    shutil.copytree(source / "lists" / "templates", share / "templates")
    shutil.copyfile(source / "lists" / "site-content.toml", share / "site-content.toml")
    for licence in sorted((source / "lists").glob("LICENSE*")):
        (share / "licenses").mkdir(exist_ok=True)
        shutil.copyfile(licence, share / "licenses" / licence.name)
    cache = share / "lists.cache"
    if lists_cache is not None:
        shutil.copyfile(lists_cache, cache)
    else:
        compile_lists(source, cache)
    overlay = source / "openwrt" / "copgate" / "files"
    shutil.copytree(overlay, dest, dirs_exist_ok=True)
    return Staged(dest, len(modules), cache)


def package_data(source: Path, modules: Iterable[Path]) -> list[Path]:
    """The data files (``[tool.setuptools.package-data]`` of ``pyproject.toml``,
    the wheel's own list) of the packages that hold router modules, e.g. the
    block page's message catalogues. ``copgate.data`` (the lists) is not one:
    the package ships its lists compiled, in ``/usr/share/copgate``."""
    table = tomllib.loads((source / "pyproject.toml").read_text(encoding="utf-8"))
    wanted = table["tool"]["setuptools"]["package-data"]
    routed = {path.parent for path in modules}
    found: list[Path] = []
    for package, patterns in wanted.items():
        directory = source.joinpath(*package.split("."))
        if directory in routed:
            found.extend(sorted(p for pattern in patterns for p in directory.glob(pattern)))
    return found


def compile_lists(source: Path, out: Path) -> None:
    """``copgate compile lists/manifest.toml -o out`` with the checkout's code."""
    env = {**os.environ, "PYTHONPATH": str(source)}
    argv = [sys.executable, "-m", "copgate", "compile", str(source / "lists" / "manifest.toml")]
    result = subprocess.run(
        [*argv, "--output", str(out)], capture_output=True, text=True, env=env, check=False
    )
    if result.returncode != 0:
        raise StageError(f"compiling the built-in lists failed: {result.stderr.strip()}")


def main(argv: list[str] | None = None) -> int:
    """``python -m copgate.packaging.stage [--python 3.11] [--no-pyc] DEST`` (the SDK recipe's)."""
    import argparse  # noqa: PLC0415  (a build tool's command line, not the router's)

    parser = argparse.ArgumentParser(prog="python -m copgate.packaging.stage")
    parser.add_argument("dest", type=Path)
    parser.add_argument("--python", default=PYTHON_VERSION, help="the target's Python (3.11)")
    parser.add_argument("--no-pyc", action="store_true", help="ship .py files, not .pyc")
    parser.add_argument("--lists-cache", type=Path, help="a compiled cache to ship as it is")
    parser.add_argument("--source", type=Path, default=Path(__file__).resolve().parents[2])
    args = parser.parse_args(argv)
    try:
        staged = stage(
            args.source,
            args.dest,
            python_version=args.python,
            pyc=not args.no_pyc,
            lists_cache=args.lists_cache,
        )
    except StageError as exc:
        print(f"copgate stage: {exc}", file=sys.stderr)
        return 2
    print(f"{staged.root}: {staged.modules} modules, lists {staged.lists_cache}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
