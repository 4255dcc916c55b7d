"""Helpers of the distributor's tests: a release tree with its keys, a starting catalogue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from copgate.dist.sign import edit_keyset, sign_keyset
from copgate.dist.tree import Tree, write_atomic
from copgate.distributor.curation.models import Category
from copgate.release.signify import PublicKey, format_secret_key, generate_key

NOW = datetime(2026, 12, 6, 0, 30, tzinfo=UTC)


@dataclass(frozen=True)
class SigningSetup:
    """A tree with a signed key set, and the release key's files."""

    tree: Tree
    secret_path: Path
    root_public: PublicKey


def make_tree(directory: Path) -> SigningSetup:
    """A tree whose keyset.json (signed by a fresh root key) lists one release key."""
    root_key, release_key = generate_key(), generate_key()
    tree = Tree(directory / "tree")
    tree.root.mkdir(parents=True)
    keyset = edit_keyset(None, NOW, add=[release_key.public_key])
    sign_keyset(tree.keyset_path, root_key, keyset)
    secret_path = directory / "release.sec"
    write_atomic(secret_path, format_secret_key(release_key).encode(), 0o600)
    return SigningSetup(tree, secret_path, root_key.public_key)


def make_categories() -> dict[str, Category]:
    """A small multilingual catalogue."""
    rows = [
        Category(
            slug="games",
            names={"en": "Games", "ru": "Игры"},
            descriptions={"en": "Online games", "ru": "Онлайн-игры"},
        ),
        Category(slug="gambling", names={"en": "Gambling", "ru": "Азартные игры"}),
        Category(slug="child", names={"en": "For children"}, default_use="allow"),
    ]
    for row in rows:
        row.save()
    return {row.slug: row for row in rows}
