"""The SDK-less .ipk: opkg's layout, the recipe's control fields, and files that run.

The package is built once per module from this tree (with a small compiled
cache in place of the built-in lists, to keep it quick), then read back as
opkg reads it; its Python files are then run from the unpacked tree (as
sourceless .pyc, which is how the router gets them) for ``copgate config
check``, ``copgate check`` and ``copgate firewall`` with the shipped config.
"""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from copgate.lists.compile import build_cache
from copgate.lists.model import ListEntry
from copgate.packaging.ipk import build_ipk, control_text, read_recipe
from copgate.packaging.router import router_modules
from copgate.packaging.stage import SHARE, site_packages, stage

ROOT = Path(__file__).resolve().parents[2]
RECIPE = read_recipe((ROOT / "openwrt" / "copgate" / "Makefile").read_text(encoding="utf-8"))
EPOCH = 1_700_000_000


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the .ipk for 23.05, the staged tree it was made from)."""
    base = tmp_path_factory.mktemp("ipk")
    data, _ = build_cache(
        [
            ListEntry("adult.example", frozenset({"adult"})),
            ListEntry("phish.example", frozenset({"phishing"})),
            ListEntry("bad.example", frozenset({"malware"})),
        ],
        build_time=EPOCH,
    )
    cache = base / "small.cgc"
    cache.write_bytes(data)
    staged = stage(ROOT, base / "root", lists_cache=cache)
    return build_ipk(RECIPE, staged.root, base / "out", EPOCH, "23.05"), staged.root


def _members(blob: bytes) -> dict[str, tuple[tarfile.TarInfo, bytes | None]]:
    found: dict[str, tuple[tarfile.TarInfo, bytes | None]] = {}
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        for info in tar.getmembers():
            content = tar.extractfile(info) if info.isfile() else None
            found[info.name] = (info, content.read() if content else None)
    return found


def _control(ipk: Path) -> dict[str, str]:
    outer = _members(ipk.read_bytes())
    control = _members(outer["./control.tar.gz"][1] or b"")
    fields: dict[str, str] = {}
    for line in (control["./control"][1] or b"").decode().splitlines():
        if not line.startswith(" "):
            key, _, value = line.partition(": ")
            fields[key] = value
    return fields


def test_the_outer_layer_is_opkgs_gzipped_tar_of_three_members(built: tuple[Path, Path]) -> None:
    ipk, _ = built
    assert ipk.name == "copgate_0.1.0-1_all.ipk"
    raw = ipk.read_bytes()
    assert raw[:2] == b"\x1f\x8b"  # gzip, not ar: what ipkg-build writes
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:gz") as tar:
        infos = tar.getmembers()
        assert [i.name for i in infos] == ["./debian-binary", "./data.tar.gz", "./control.tar.gz"]
        assert all(i.uid == 0 and i.gid == 0 and i.mtime == EPOCH for i in infos)
        member = tar.extractfile("./debian-binary")
        assert member is not None and member.read() == b"2.0\n"


def test_control_fields_come_from_the_recipe(built: tuple[Path, Path]) -> None:
    ipk, _ = built
    fields = _control(ipk)
    assert fields["Package"] == "copgate"
    assert fields["Version"] == "0.1.0-1"
    assert fields["Architecture"] == "all"
    assert fields["Depends"].split(", ") == ["libc", *RECIPE.depends]
    assert "python3-codecs" in fields["Depends"] and "kmod-nft-queue" in fields["Depends"]
    assert fields["License"] == "GPL-2.0-or-later"
    assert fields["Section"] == "net"
    assert fields["SourceDateEpoch"] == str(EPOCH)
    data = _members(ipk.read_bytes())["./data.tar.gz"][1] or b""
    assert fields["Installed-Size"] == str(len(gzip.decompress(data)))


def test_24_10_writes_the_release_with_an_r() -> None:
    assert RECIPE.full_version("24.10") == "0.1.0-r1"
    assert "Version: 0.1.0-r1\n" in control_text(RECIPE, 1, EPOCH, "24.10")


def test_control_archive_has_conffiles_and_the_sdks_scripts(built: tuple[Path, Path]) -> None:
    ipk, _ = built
    control = _members(_members(ipk.read_bytes())["./control.tar.gz"][1] or b"")
    assert sorted(control) == [
        ".",
        "./conffiles",
        "./control",
        "./postinst",
        "./prerm",
        "./prerm-pkg",
    ]
    removal = (control["./prerm-pkg"][1] or b"").decode()
    assert "uci -q delete firewall.copgate" in removal
    assert '[ -n "${IPKG_INSTROOT}" ] && exit 0' in removal  # make's $$ is one $
    subprocess.run(["dash", "-n"], input=removal, text=True, check=True)
    assert control["./conffiles"][1] == b"/etc/config/copgate\n"
    assert b"default_postinst $0 $@" in (control["./postinst"][1] or b"")
    assert control["./postinst"][0].mode == 0o755


def test_data_holds_the_router_modules_the_lists_and_the_service(built: tuple[Path, Path]) -> None:
    ipk, _ = built
    data = _members(_members(ipk.read_bytes())["./data.tar.gz"][1] or b"")
    site = f"./{site_packages().as_posix()}/"
    pyc = {name.removeprefix(site) for name in data if name.endswith(".pyc")}
    expected = {
        path.relative_to(ROOT).with_suffix(".pyc").as_posix()
        for path in router_modules(ROOT).values()
    }
    assert pyc == expected
    assert not any(name.endswith(".py") for name in data)
    for language in ("en", "ru"):  # the block page's catalogues ride with its modules
        assert f"{site}copgate/requests/messages/{language}.toml" in data
    assert not any("/lab/" in name or "/packaging/" in name for name in data)
    for name, mode in [
        ("./etc/init.d/copgate", 0o755),
        ("./etc/uci-defaults/90-copgate", 0o755),
        ("./usr/bin/copgate", 0o755),
        ("./etc/config/copgate", 0o644),
        ("./lib/upgrade/keep.d/copgate", 0o644),
        (f"./{SHARE.as_posix()}/lists.cache", 0o644),
        (f"./{SHARE.as_posix()}/templates/school.toml", 0o644),
        (f"./{SHARE.as_posix()}/site-content.toml", 0o644),
    ]:
        assert data[name][0].mode == mode, name
    assert all(info.uid == 0 and info.gid == 0 for info, _ in data.values())
    assert data["./lib/upgrade/keep.d/copgate"][1] == b"/etc/config/copgate\n/etc/copgate/\n"


def _copgate(staged: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    # The unpacked package's modules only: no checkout on the path.
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(staged / site_packages())}
    return subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            "import sys; sys.path.insert(0, sys.argv.pop(1)); "
            "from copgate.cli import main; sys.exit(main(sys.argv[1:]))",
            str(staged / site_packages()),
            *argv,
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        cwd=staged,
    )


def test_the_packaged_modules_run_the_routers_commands(
    built: tuple[Path, Path], tmp_path: Path
) -> None:
    _, staged = built
    share = staged / SHARE
    config = tmp_path / "copgate"
    shipped = (staged / "etc" / "config" / "copgate").read_text()
    config.write_text(shipped.replace("/usr/share/copgate/lists.cache", str(share / "lists.cache")))
    templates = ("--templates", str(share / "templates"))
    checked = _copgate(staged, "config", "check", str(config), *templates)
    assert checked.returncode == 0, checked.stderr
    assert "valid, 1 group(s)" in checked.stdout
    blocked = _copgate(staged, "check", "www.adult.example", "--config", str(config), *templates)
    assert blocked.returncode == 0, blocked.stderr
    assert "block" in blocked.stdout.lower()
    requests = _copgate(staged, "requests", "--dir", str(tmp_path / "reports"))
    assert requests.returncode == 0, requests.stderr
    rules = _copgate(staged, "firewall", "--config", str(config), *templates)
    assert rules.returncode == 0, rules.stderr
    assert "table inet copgate {" in rules.stdout
