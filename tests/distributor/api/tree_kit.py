"""A release tree ready to publish into: a root key, a release key, the signed key set."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from copgate.dist.sign import edit_keyset, sign_keyset
from copgate.dist.tree import write_atomic
from copgate.release.signify import format_public_key, format_secret_key, generate_key


@dataclass(frozen=True)
class SigningTree:
    tree: Path
    root_pub: Path
    """The root public key a gateway trusts (``[update] root_keys``)."""
    release_sec: Path
    """The release key the service signs with (COPGATE_SIGNING_KEY)."""


def signing_tree(where: Path) -> SigningTree:
    """Keys under ``where/keys`` and a tree at ``where/tree`` holding the signed key set."""
    keys = where / "keys"
    tree = where / "tree"
    keys.mkdir(parents=True)
    tree.mkdir(parents=True)
    root, release = generate_key(), generate_key()
    root_pub = keys / "root.pub"
    write_atomic(root_pub, format_public_key(root.public_key, "root public").encode())
    release_sec = keys / "release.sec"
    write_atomic(release_sec, format_secret_key(release, "release secret").encode(), 0o600)
    keyset = edit_keyset(None, datetime.now(UTC), add=[release.public_key])
    sign_keyset(tree / "keyset.json", root, keyset)
    return SigningTree(tree, root_pub, release_sec)
