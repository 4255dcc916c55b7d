"""Turn a compiled cache into release N of a tree: artefact, deltas, unsigned manifest.

The caller compiles (with ``copgate compile``'s reader and compiler, the
previous release passed in so indexes stay stable) and gives the bytes and
the time; this writes ``releases/N/lists.cache``, a delta from each of the
last few releases in the tree, and ``releases/N/release.json``. It never
touches the published ``release.json``: until the manifest is signed and
published, gateways keep seeing release N-1, whole and signed.

A delta that would not be smaller than the cache itself is not listed (a
gateway would download more for nothing).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from copgate.dist.errors import DistError
from copgate.dist.tree import Tree, read_bytes, signature_path, write_atomic
from copgate.release.delta import make_delta
from copgate.release.manifest import CACHE_ARTEFACT, Artefact, Delta, Manifest, manifest_json

DEFAULT_DELTAS = 5
"""Deltas from the last five releases: a gateway that missed four polls still gets one."""
DEFAULT_VALID_FOR = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class BuiltRelease:
    """What ``build_release`` wrote."""

    manifest: Manifest
    cache_size: int


def next_release(tree: Tree) -> int:
    """The number of the release to build: one more than the published one."""
    published = tree.published()
    return 1 if published is None else published.release + 1


def build_release(
    tree: Tree,
    release: int,
    cache: bytes,
    created: datetime,
    valid_for: timedelta = DEFAULT_VALID_FOR,
    deltas: int = DEFAULT_DELTAS,
) -> BuiltRelease:
    """Write release ``release`` (whose cache is ``cache``) into ``tree``, unsigned."""
    if valid_for <= timedelta(0):
        raise DistError(f"a release must be valid for some time, not {valid_for}")
    keyset = tree.keyset()
    directory = tree.release_dir(release)
    signature_path(tree.candidate(release)).unlink(missing_ok=True)  # of an older build of N
    cache_path = tree.cache_relpath(release)
    write_atomic(tree.root / cache_path, cache)
    sources = [m for m in tree.releases() if m < release][-deltas:] if deltas > 0 else []
    manifest = Manifest(
        release=release,
        created=created,
        expires=created + valid_for,
        keyset=keyset.version,
        artefacts={CACHE_ARTEFACT: _describe(CACHE_ARTEFACT, cache_path, cache)},
        deltas=tuple(d for m in sources if (d := _delta(tree, m, release, cache)) is not None),
    )
    write_atomic(directory / "release.json", manifest_json(manifest))
    return BuiltRelease(manifest=manifest, cache_size=len(cache))


def _delta(tree: Tree, source: int, release: int, cache: bytes) -> Delta | None:
    old = read_bytes(tree.root / tree.cache_relpath(source))
    data = make_delta(old, cache)
    path = tree.delta_relpath(source, release)
    if len(data) >= len(cache):
        (tree.root / path).unlink(missing_ok=True)
        return None
    write_atomic(tree.root / path, data)
    described = _describe(CACHE_ARTEFACT, path, data)
    return Delta(
        source=source,
        path=path,
        size=described.size,
        sha256=described.sha256,
        target=CACHE_ARTEFACT,
    )


def _describe(name: str, path: str, data: bytes) -> Artefact:
    return Artefact(name=name, path=path, size=len(data), sha256=hashlib.sha256(data).hexdigest())
