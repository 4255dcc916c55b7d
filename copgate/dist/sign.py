"""Sign manifests and key sets, and publish a signed release into its tree.

Signing runs on a host of its own: it needs the manifest file (or the key
set), the secret key and, to refuse a release that is not newer, the
manifest last published. It refuses what a gateway would refuse later, so a
mistake is caught where it is made: a manifest that does not parse, a
release not newer than the published one, a key the key set does not list.

``publish`` is the last step on the web host: it checks the signature with
the tree's key set and every artefact against the manifest, then swaps the
top-level ``release.json`` and its signature in. This module never reads
the clock; the command passes times in.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from copgate.dist.errors import DistError
from copgate.dist.tree import Tree, prune, read_bytes, signature_path, write_atomic
from copgate.release.artefact import check_artefact
from copgate.release.manifest import (
    Artefact,
    Delta,
    KeySet,
    Manifest,
    keyset_json,
    read_keyset,
    read_manifest,
)
from copgate.release.signify import PublicKey, SecretKey, format_signature, sign
from copgate.release.verify import verify_manifest

KEEP_RELEASES = 10
"""Releases kept in a tree after publishing: twice the deltas a manifest lists,
so the bases of every listed delta, and what a gateway fetching the previous
manifest still needs, stay."""


def sign_manifest(
    path: Path, secret: SecretKey, after: Manifest | None, keyset: KeySet | None
) -> Manifest:
    """Write ``path``.sig, the signature of the manifest at ``path`` by ``secret``.

    ``after`` is the manifest last published (its release must be passed);
    ``keyset``, when known, must list the key and not be older than the
    manifest says.
    """
    data = read_bytes(path)
    manifest = read_manifest(data, str(path))
    if after is not None and manifest.release <= after.release:
        raise DistError(
            f"{path}: release {manifest.release} is not newer than the published release "
            f"{after.release}; gateways would refuse it as a rollback"
        )
    if keyset is not None:
        _check_signer(path, manifest, secret.public_key, keyset)
    write_atomic(signature_path(path), _signature(data, secret, f"release {manifest.release}"))
    return manifest


def _check_signer(path: Path, manifest: Manifest, key: PublicKey, keyset: KeySet) -> None:
    if key not in keyset.trusted():
        raise DistError(
            f"{path}: key {key.keynum_hex} is not a release key of key set version "
            f"{keyset.version} (or is revoked); gateways would refuse the signature"
        )
    if manifest.keyset > keyset.version:
        raise DistError(
            f"{path}: built under key set version {manifest.keyset}, newer than the given "
            f"key set version {keyset.version}"
        )


def edit_keyset(
    current: KeySet | None,
    created: datetime,
    add: Sequence[PublicKey] = (),
    remove: Sequence[PublicKey] = (),
    revoke: Sequence[str] = (),
) -> KeySet:
    """The next version of ``current`` (version 1 when None) with keys added, removed, revoked.

    When nothing changes, ``current`` itself (signing it again makes no new version).

    A revoked key is removed too: it can sign nothing anyway, and the
    ``revoked`` list is what keeps an older key set that lists it from helping.
    """
    keys = list(current.keys) if current is not None else []
    revoked = set(current.revoked) if current is not None else set()
    revoked.update(revoke)
    gone = {k.keynum for k in remove}
    keys = [k for k in keys if k.keynum not in gone and k.keynum_hex not in revoked]
    for key in add:
        if key.keynum_hex in revoked:
            raise DistError(f"key {key.keynum_hex} is revoked; make a new key instead")
        if key not in keys:
            keys.append(key)
    if not keys:
        raise DistError("a key set must keep at least one release key (use --add)")
    if current is not None and (tuple(keys), frozenset(revoked)) == (current.keys, current.revoked):
        return current  # nothing changed: the same version is signed again
    version = 1 if current is None else current.version + 1
    return KeySet(version=version, created=created, keys=tuple(keys), revoked=frozenset(revoked))


def sign_keyset(path: Path, secret: SecretKey, edited: KeySet | None) -> KeySet:
    """Write ``edited`` (if given) to ``path``, then ``path``.sig signed by the root ``secret``."""
    if edited is not None:
        write_atomic(path, keyset_json(edited))
    data = read_bytes(path)
    keyset = read_keyset(data, str(path))
    write_atomic(signature_path(path), _signature(data, secret, f"key set {keyset.version}"))
    return keyset


def publish(tree: Tree, release: int | None = None, keep: int = KEEP_RELEASES) -> Manifest:
    """Make the newest signed release (or ``release``) the tree's published one.

    Then releases older than the last ``keep`` (and the deltas into them) go.
    """
    if keep < 1:
        raise DistError(f"keep {keep} releases: at least the published one must stay")
    published = tree.published()
    if release is None:
        signed = [n for n in tree.releases() if signature_path(tree.candidate(n)).exists()]
        if not signed:
            raise DistError(f"{tree.root}: no signed release to publish (run 'dist sign' first)")
        release = signed[-1]
    candidate = tree.candidate(release)
    data, sig = read_bytes(candidate), read_bytes(signature_path(candidate))
    installed = published.release if published is not None else None
    manifest = verify_manifest(data, sig, tree.keyset(), installed, None, None)
    if published is not None and manifest.release == published.release:
        raise DistError(f"{candidate}: release {manifest.release} is already published")
    items: list[Artefact | Delta] = [*manifest.artefacts.values(), *manifest.deltas]
    for item in items:
        check_artefact(tree.root / item.path, item)
    # The manifest first, then its signature: a gateway polling in between
    # sees a signature that does not verify, keeps its release and retries.
    write_atomic(tree.manifest_path, data)
    write_atomic(signature_path(tree.manifest_path), sig)
    prune(tree, manifest.release - keep + 1)
    return manifest


def _signature(data: bytes, secret: SecretKey, what: str) -> bytes:
    comment = f"verify with copgate key {secret.keynum.hex()} ({what})"
    return format_signature(sign(data, secret), comment).encode("ascii")
