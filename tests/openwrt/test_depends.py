"""The recipe's DEPENDS is exactly what copgate's router-side code imports.

Every module of the router-side set (``copgate.packaging.router``: the
closure of the router's commands over copgate's imports) is read as source;
each import outside copgate is mapped to the OpenWrt package that provides
it (``copgate.packaging.openwrt``, from OpenWrt's python3 split). The test
fails when DEPENDS misses one of those packages or names one nothing needs,
and when router-side code imports the lab, the build tools, scapy, aioquic
or the distributor's web stack.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from copgate.packaging import openwrt
from copgate.packaging.ipk import read_recipe
from copgate.packaging.router import (
    NEVER_ON_A_ROUTER,
    ROUTER_ENTRIES,
    imports_of,
    is_stdlib,
    outside_imports,
    router_modules,
)

ROOT = Path(__file__).resolve().parents[2]
RECIPE = read_recipe((ROOT / "openwrt" / "copgate" / "Makefile").read_text(encoding="utf-8"))
MODULES = router_modules(ROOT)


def needed_packages() -> frozenset[str]:
    imported = {(i.module, is_stdlib(i.module)) for i in outside_imports(ROOT, MODULES)}
    packages = set(openwrt.python_depends(imported))
    if any('"idna"' in path.read_text(encoding="utf-8") for path in MODULES.values()):
        packages.add(openwrt.IDNA_CODEC)
    return frozenset(packages)


def test_the_router_set_is_the_daemon_and_the_operators_commands() -> None:
    assert set(ROUTER_ENTRIES) <= MODULES.keys()
    for module in ("copgate.edges.nft", "copgate.wire.quic_keys", "copgate.config.uci"):
        assert module in MODULES
    for module in MODULES:
        assert not module.startswith(("copgate.lab", "copgate.packaging"))
    assert "copgate.tools.inspect_cmd" not in MODULES
    assert "copgate.tools.demo_cmd" not in MODULES


def test_router_code_imports_no_lab_no_scapy_no_distributor_stack() -> None:
    offending = [
        f"{i.by}:{i.line} imports {i.module}"
        for path_module, path in MODULES.items()
        for i in imports_of(path.read_text(encoding="utf-8"), path_module)
        if i.module.startswith(NEVER_ON_A_ROUTER)
    ]
    assert offending == []


def test_depends_lists_exactly_the_python_packages_router_code_needs() -> None:
    declared = {name for name in RECIPE.depends if name.startswith("python3-")}
    needed = needed_packages()
    assert sorted(needed - declared) == [], "DEPENDS misses these"
    assert sorted(declared - needed) == [], "DEPENDS names these, which nothing imports"


def test_depends_has_the_kernels_nftables_queue() -> None:
    assert set(openwrt.KERNEL) <= set(RECIPE.depends)


def test_every_outside_import_is_mapped_to_a_package() -> None:
    for imported in outside_imports(ROOT, MODULES):
        package = openwrt.package_of(imported.module, stdlib=is_stdlib(imported.module))
        assert package.startswith("python3-"), imported


@pytest.mark.parametrize(
    ("module", "stdlib", "package"),
    [
        ("logging", True, "python3-logging"),
        ("urllib", True, "python3-urllib"),
        ("unicodedata", True, "python3-codecs"),
        ("ssl", True, "python3-openssl"),
        ("json", True, "python3-light"),
        ("cryptography", False, "python3-cryptography"),
    ],
)
def test_the_split_table(module: str, stdlib: bool, package: str) -> None:
    assert openwrt.package_of(module, stdlib=stdlib) == package


@pytest.mark.parametrize(("module", "stdlib"), [("scapy", False), ("tkinter", True)])
def test_a_module_no_package_provides_is_an_error(module: str, stdlib: bool) -> None:
    with pytest.raises(openwrt.UnknownModuleError, match=module):
        openwrt.package_of(module, stdlib=stdlib)


def test_a_new_import_of_a_split_module_would_be_caught(tmp_path: Path) -> None:
    # The same walk over a copy of one router module that also imports
    # sqlite3: the mapping asks for python3-sqlite3, which DEPENDS lacks.
    source = "import sqlite3\nfrom copgate.errors import CopgateError\n"
    found = {(i.module, is_stdlib(i.module)) for i in imports_of(source, "copgate.fake")}
    extra = openwrt.python_depends(i for i in found if not i[0].startswith("copgate"))
    assert "python3-sqlite3" in extra and "python3-sqlite3" not in RECIPE.depends
