"""An OpenWrt ``.ipk`` of copgate, built from the tree without the SDK.

The package is what OpenWrt's ``scripts/ipkg-build`` writes, which opkg on
23.05 and 24.10 installs:

- a gzip'd tar (GNU format, numeric owner 0:0, names sorted, one mtime) of
  ``./debian-binary`` (``2.0``), ``./data.tar.gz`` and ``./control.tar.gz``,
  in that order;
- ``data.tar.gz``: the files from ``copgate.packaging.stage``, under ``./``;
- ``control.tar.gz``: ``./control`` (the fields of
  ``include/package-ipkg.mk``: Package, Version, Depends, Source,
  SourceName, License, LicenseFiles, Section, SourceDateEpoch, Maintainer,
  Architecture, Installed-Size, Description), ``./conffiles`` (the
  recipe's, resolved to the files the package has) and the ``postinst`` and
  ``prerm`` the SDK writes, which call OpenWrt's ``default_postinst`` (it
  runs the package's uci-defaults script and enables the init script) and
  ``default_prerm`` (it stops and disables the service and runs
  ``prerm-pkg``, the recipe's own ``Package/copgate/prerm``).

The fields come from the recipe (``openwrt/copgate/Makefile``), so the SDK's
package and this one say the same. Python 3.11 is both releases', and the
package holds no compiled code: one ``all`` package serves both. OpenWrt
25.12 uses apk v3 packages, which need apk-tools to write: build those with
the SDK (see the README). Runs on a build machine.
"""

from __future__ import annotations

import gzip
import io
import re
import sys
import tarfile
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from copgate.packaging.stage import PYTHON_VERSION, StageError, stage

DEBIAN_BINARY = b"2.0\n"
POSTINST = """#!/bin/sh
[ "${IPKG_NO_SCRIPT}" = "1" ] && exit 0
[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0
. ${IPKG_INSTROOT}/lib/functions.sh
default_postinst $0 $@
"""
PRERM = """#!/bin/sh
[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0
. ${IPKG_INSTROOT}/lib/functions.sh
default_prerm $0 $@
"""
SOURCE = "feeds/copgate/copgate"
RELEASE_PREFIX = {"23.05": "", "24.10": "r"}
"""How each release writes PKG_RELEASE in a package's version."""

_ASSIGN = re.compile(r"^\s*([A-Z_]+)\s*:?=\s*(.*)$")


class RecipeError(Exception):
    """The recipe lacks a field the package needs."""


@dataclass(frozen=True, slots=True)
class Recipe:
    """What the ``.ipk`` takes from ``openwrt/copgate/Makefile``."""

    name: str
    version: str
    release: str
    license: str
    license_files: str
    maintainer: str
    section: str
    title: str
    depends: tuple[str, ...]
    """Package names, without make's ``+``."""
    architecture: str
    description: str
    conffiles: tuple[str, ...]
    prerm: str = ""
    """The package's own removal script (``define Package/copgate/prerm``),
    shipped as ``prerm-pkg``, which ``default_prerm`` runs."""

    def full_version(self, openwrt: str = "24.10") -> str:
        """23.05 writes ``0.1.0-1``; 24.10 ``0.1.0-r1`` (the form apk needs, kept for opkg)."""
        if not self.release:
            return self.version
        return f"{self.version}-{RELEASE_PREFIX[openwrt]}{self.release}"


def _block(text: str, name: str) -> list[str]:
    match = re.search(rf"^define {re.escape(name)}\n(.*?)^endef", text, re.S | re.M)
    if match is None:
        raise RecipeError(f"recipe: no 'define {name}' block")
    return match.group(1).splitlines()


def _variables(lines: Iterable[str]) -> dict[str, str]:
    joined = "\n".join(lines).replace("\\\n", " ")
    found: dict[str, str] = {}
    for line in joined.splitlines():
        match = _ASSIGN.match(line)
        if match:
            found[match.group(1)] = " ".join(match.group(2).split())
    return found


def read_recipe(text: str) -> Recipe:
    """The package's fields from the recipe's make text."""
    top = _variables(text.splitlines())
    package = _variables(_block(text, "Package/copgate"))
    description = "\n".join(line.rstrip() for line in _block(text, "Package/copgate/description"))
    conffiles = tuple(
        line.strip() for line in _block(text, "Package/copgate/conffiles") if line.strip()
    )
    try:
        # make's "$$" is one "$" in the script it writes.
        prerm = "\n".join(_block(text, "Package/copgate/prerm")).replace("$$", "$") + "\n"
    except RecipeError:
        prerm = ""
    for key in ("PKG_NAME", "PKG_VERSION", "PKG_LICENSE", "PKG_MAINTAINER"):
        if key not in top:
            raise RecipeError(f"recipe: no {key}")
    depends = tuple(word.lstrip("+") for word in package.get("DEPENDS", "").split())
    return Recipe(
        name=top["PKG_NAME"],
        version=top["PKG_VERSION"],
        release=top.get("PKG_RELEASE", ""),
        license=top["PKG_LICENSE"],
        license_files=top.get("PKG_LICENSE_FILES", ""),
        maintainer=top["PKG_MAINTAINER"],
        section=package.get("SECTION", "net"),
        title=package.get("TITLE", ""),
        depends=depends,
        architecture=package.get("PKGARCH", "all"),
        description=description.strip("\n"),
        conffiles=conffiles,
        prerm=prerm,
    )


def control_text(recipe: Recipe, installed_size: int, epoch: int, openwrt: str = "24.10") -> str:
    """The ``control`` file, field by field as the SDK writes it."""
    # Continuation lines of a field start with a blank (Debian control syntax).
    body = "\n".join(
        f" {line.strip()}" if line.strip() else " ." for line in recipe.description.splitlines()
    )
    fields = [
        ("Package", recipe.name),
        ("Version", recipe.full_version(openwrt)),
        ("Depends", ", ".join(["libc", *recipe.depends])),
        ("Source", SOURCE),
        ("SourceName", recipe.name),
        ("License", recipe.license),
        ("LicenseFiles", recipe.license_files),
        ("Section", recipe.section),
        ("SourceDateEpoch", str(epoch)),
        ("Maintainer", recipe.maintainer),
        ("Architecture", recipe.architecture),
        ("Installed-Size", str(installed_size)),
        ("Description", f"{recipe.title}\n{body}"),
    ]
    return "".join(f"{key}: {value}\n" for key, value in fields if value)


def _tar_gz(members: list[tuple[str, bytes | None, int]], epoch: int) -> bytes:
    """A gzip'd GNU tar of (name, content or None for a directory, mode), as given."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, content, mode in members:
            info = tarfile.TarInfo(name)
            info.mtime = epoch
            info.mode = mode
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if content is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return _gzip(raw.getvalue())


def _gzip(data: bytes) -> bytes:
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as stream:
        stream.write(data)
    return out.getvalue()


def _tree(root: Path) -> list[tuple[str, bytes | None, int]]:
    members: list[tuple[str, bytes | None, int]] = [("./", None, 0o755)]
    for path in sorted(root.rglob("*"), key=lambda p: p.relative_to(root).as_posix()):
        name = "./" + path.relative_to(root).as_posix()
        mode = path.stat().st_mode & 0o777
        if path.is_dir():
            members.append((name + "/", None, mode))
        else:
            members.append((name, path.read_bytes(), mode))
    return members


def resolved_conffiles(recipe: Recipe, root: Path) -> list[str]:
    """The recipe's conffiles that are files of the package (a directory: its files)."""
    found: set[str] = set()
    for entry in recipe.conffiles:
        path = root / entry.lstrip("/")
        if path.is_file():
            found.add("/" + path.relative_to(root).as_posix())
        elif path.is_dir():
            found |= {"/" + p.relative_to(root).as_posix() for p in path.rglob("*") if p.is_file()}
    return sorted(found)


def build_ipk(
    recipe: Recipe, root: Path, out_dir: Path, epoch: int, openwrt: str = "24.10"
) -> Path:
    """Write ``<name>_<version>_<arch>.ipk`` of the staged tree ``root`` into ``out_dir``."""
    data = _tar_gz(_tree(root), epoch)
    installed_size = len(gzip.decompress(data))
    control_files: list[tuple[str, bytes | None, int]] = [
        ("./", None, 0o755),
        (
            "./conffiles",
            "".join(f"{c}\n" for c in resolved_conffiles(recipe, root)).encode(),
            0o644,
        ),
        ("./control", control_text(recipe, installed_size, epoch, openwrt).encode(), 0o644),
        ("./postinst", POSTINST.encode(), 0o755),
        ("./prerm", PRERM.encode(), 0o755),
    ]
    if recipe.prerm:
        control_files.append(("./prerm-pkg", recipe.prerm.encode(), 0o755))
    control = _tar_gz(control_files, epoch)
    outer = _tar_gz(
        [
            ("./debian-binary", DEBIAN_BINARY, 0o644),
            ("./data.tar.gz", data, 0o644),
            ("./control.tar.gz", control, 0o644),
        ],
        epoch,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    version = recipe.full_version(openwrt)
    path = out_dir / f"{recipe.name}_{version}_{recipe.architecture}.ipk"
    path.write_bytes(outer)
    return path


def main(argv: list[str] | None = None) -> int:
    """``python -m copgate.packaging.ipk [--out DIR] [--lists-cache FILE] [--no-pyc]``."""
    import argparse  # noqa: PLC0415  (a build tool's command line, not the router's)

    source = Path(__file__).resolve().parents[2]
    parser = argparse.ArgumentParser(
        prog="python -m copgate.packaging.ipk",
        description="Build copgate's .ipk for OpenWrt 23.05 and 24.10 from this tree.",
    )
    parser.add_argument("--out", type=Path, default=source / "out", help="directory (./out)")
    parser.add_argument("--lists-cache", type=Path, help="ship this compiled cache as it is")
    parser.add_argument("--no-pyc", action="store_true", help="ship .py files, not .pyc")
    parser.add_argument("--epoch", type=int, default=0, help="file times (SOURCE_DATE_EPOCH)")
    parser.add_argument(
        "--openwrt", choices=sorted(RELEASE_PREFIX), default="24.10", help="the release (24.10)"
    )
    args = parser.parse_args(argv)
    recipe = read_recipe((source / "openwrt" / "copgate" / "Makefile").read_text("utf-8"))
    with tempfile.TemporaryDirectory(prefix="copgate-ipk-") as scratch:
        try:
            staged = stage(
                source,
                Path(scratch) / "root",
                python_version=PYTHON_VERSION,
                pyc=not args.no_pyc,
                lists_cache=args.lists_cache,
            )
        except StageError as exc:
            print(f"copgate ipk: {exc}", file=sys.stderr)
            return 2
        path = build_ipk(recipe, staged.root, args.out, args.epoch, args.openwrt)
    print(f"{path}: {path.stat().st_size} bytes, {staged.modules} modules")
    return 0


if __name__ == "__main__":
    sys.exit(main())
