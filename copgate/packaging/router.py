"""Which of copgate's modules a router runs, and what they import.

The router-side set is the closure of ``ROUTER_ENTRIES`` over copgate's own
imports, every import statement of a module counted (those inside functions
too: a lazy import is still an import the router may run). The entries are
the commands a router is used with:

- ``copgate run`` (the daemon), ``copgate firewall`` (the rules as text),
  ``copgate config check`` and ``copgate check`` (an operator checking a
  config and a name), ``copgate compile`` and ``copgate lookup`` (an
  operator's own lists, on a router with room for them), ``copgate update``
  (list releases), ``copgate status``, ``log`` and ``stats``;

and not the others: ``inspect`` and ``demo`` read captures and build the
lab (scapy, network namespaces), and ``copgate.lab`` and
``copgate.packaging`` run on build and test machines only. A module that a
command registers lazily and that the closure does not reach is not
installed, and ``copgate.cli`` skips a command whose module is absent.

Pure: reads source files, imports nothing.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ROUTER_ENTRIES = (
    "copgate.__main__",
    "copgate.cli",
    "copgate.tools.run_cmd",
    "copgate.daemon.run",
    "copgate.tools.firewall_cmd",
    "copgate.tools.policy_cmd",
    "copgate.tools.lists_cmd",
    "copgate.tools.update_cmd",
    "copgate.tools.ops_cmd",
)
"""The modules a router starts from (see the module docstring)."""
NEVER_ON_A_ROUTER = (
    *("copgate.lab", "copgate.packaging", "scapy", "django", "aioquic"),
    "copgate.distributor",  # the curation service (issue 14): a server, never a router
)
"""Prefixes no router-side module may import: the lab, the build tools, the
test and capture tools' scapy and aioquic, the distributor's web stack."""


@dataclass(frozen=True, slots=True)
class Imported:
    """One import of a router-side module."""

    module: str
    """The top-level name, or the full dotted name of a copgate module."""
    by: str
    """The importing module."""
    line: int


def module_file(root: Path, module: str) -> Path | None:
    """The source file of copgate module ``module`` under ``root`` (the checkout)."""
    path = root.joinpath(*module.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imports_of(source: str, module: str) -> list[Imported]:
    """Every module ``source`` (of ``module``) imports, relative imports resolved."""
    found: list[Imported] = []
    package = module if module.endswith("__init__") else module.rpartition(".")[0]
    package = package.removesuffix(".__init__")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [Imported(alias.name, module, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{parent}.{base}" if base else parent
            found.append(Imported(base, module, node.lineno))
            # "from copgate.edges import nft" imports copgate.edges.nft too.
            if base.startswith("copgate"):
                found += [
                    Imported(f"{base}.{alias.name}", module, node.lineno) for alias in node.names
                ]
    return found


def router_modules(root: Path, entries: Iterable[str] = ROUTER_ENTRIES) -> dict[str, Path]:
    """copgate module -> its file, for every module the entries reach (packages'
    ``__init__`` included, since importing a module runs its package's)."""
    todo = list(entries)
    seen: dict[str, Path] = {}
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        path = module_file(root, module)
        if path is None:
            continue  # "from copgate.x import name": a name, not a module
        seen[module] = path
        parts = module.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]
        for imported in imports_of(path.read_text(encoding="utf-8"), module):
            if imported.module.split(".")[0] == "copgate":
                todo.append(imported.module)
    return dict(sorted(seen.items()))


def outside_imports(root: Path, modules: dict[str, Path]) -> list[Imported]:
    """The imports of ``modules`` that are not copgate's own, by top-level name."""
    found: list[Imported] = []
    for module, path in modules.items():
        for imported in imports_of(path.read_text(encoding="utf-8"), module):
            top = imported.module.split(".")[0]
            if top and top != "copgate":
                found.append(Imported(top, imported.by, imported.line))
    return found


def is_stdlib(name: str) -> bool:
    """True for a module of the Python standard library (this interpreter's list)."""
    return name in sys.stdlib_module_names
