"""A release tree in a temporary directory, with the fixed keys of the release tests."""

from __future__ import annotations

from pathlib import Path

from copgate.dist.sign import edit_keyset, sign_keyset
from copgate.dist.tree import Tree
from copgate.lists.compile import EntryTable, build_cache
from copgate.release.signify import SecretKey
from tests.release.helpers import CREATED, RELEASE_KEY, ROOT


def new_tree(root: Path, keys: tuple[SecretKey, ...] = (RELEASE_KEY,)) -> Tree:
    """A tree with a root-signed key set listing ``keys``."""
    tree = Tree(root)
    keyset = edit_keyset(None, CREATED, add=[k.public_key for k in keys])
    sign_keyset(tree.keyset_path, ROOT, keyset)
    return tree


def names(count: int, prefix: str = "n") -> list[str]:
    return [f"{prefix}{i}.example{i % 13}.com" for i in range(count)]


def compiled(listed: list[str], release: int) -> bytes:
    table = EntryTable()
    table.add_names(listed, frozenset({"adult"}))
    data, _report = build_cache(table, build_time=1_767_225_600 + release, release=release)
    return data
