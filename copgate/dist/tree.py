"""The layout of a release tree on the distributor's disk, and atomic writes into it.

docs/releases.md, "The tree", is the layout. Every file is written beside its
final name, fsynced and renamed over it, so a web server serving the tree
while it changes never sends half a file. Reading the tree parses documents
(the manifest, the key set) without checking signatures: the distributor
trusts its own disk; ``publish`` is where signatures are checked. This
module never reads the clock and never signs anything.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from copgate.dist.errors import DistError
from copgate.durable import fsync_path, replace_durably, write_new
from copgate.release.manifest import CACHE_ARTEFACT, KeySet, Manifest, read_keyset, read_manifest
from copgate.release.verify import KEYSET_FILE, MANIFEST_FILE, SIGNATURE_SUFFIX

RELEASES_DIR = "releases"
DELTAS_DIR = "deltas"
DELTA_SUFFIX = ".delta"
_DELTA_NAME = re.compile(r"(\d+)-(\d+)\.delta")


@dataclass(frozen=True, slots=True)
class Tree:
    """A release tree rooted at ``root``."""

    root: Path

    @property
    def manifest_path(self) -> Path:
        """The published manifest, ``release.json``."""
        return self.root / MANIFEST_FILE

    @property
    def keyset_path(self) -> Path:
        return self.root / KEYSET_FILE

    def release_dir(self, release: int) -> Path:
        return self.root / RELEASES_DIR / str(release)

    def cache_relpath(self, release: int) -> str:
        return f"{RELEASES_DIR}/{release}/{CACHE_ARTEFACT}"

    def delta_relpath(self, source: int, release: int) -> str:
        return f"{DELTAS_DIR}/{source}-{release}{DELTA_SUFFIX}"

    def published(self) -> Manifest | None:
        """The published manifest, or None in a tree that never published."""
        if not self.manifest_path.exists():
            return None
        return read_manifest(read_bytes(self.manifest_path), str(self.manifest_path))

    def keyset(self) -> KeySet:
        """The tree's key set; DistError when there is none yet."""
        if not self.keyset_path.exists():
            raise DistError(
                f"{self.keyset_path}: no key set; make one on the root host with "
                "'copgate dist sign --keyset --key root.sec --add release.pub keyset.json' "
                "and copy keyset.json and keyset.json.sig here"
            )
        return read_keyset(read_bytes(self.keyset_path), str(self.keyset_path))

    def releases(self) -> list[int]:
        """Release numbers that have a cache in the tree, ascending."""
        directory = self.root / RELEASES_DIR
        if not directory.is_dir():
            return []
        found = [
            int(entry.name)
            for entry in directory.iterdir()
            if entry.name.isdigit() and (entry / CACHE_ARTEFACT).is_file()
        ]
        return sorted(found)

    def candidate(self, release: int) -> Path:
        """Release ``release``'s manifest as built (signed beside it, then published)."""
        return self.release_dir(release) / MANIFEST_FILE


def prune(tree: Tree, oldest_kept: int) -> list[Path]:
    """Remove release directories and deltas into releases older than ``oldest_kept``.

    A gateway that read an older manifest a moment ago may still be fetching
    what it names, so the caller keeps a margin of releases beyond the newest.
    """
    removed: list[Path] = []
    for release in tree.releases():
        if release < oldest_kept:
            shutil.rmtree(tree.release_dir(release))
            removed.append(tree.release_dir(release))
    deltas = tree.root / DELTAS_DIR
    for path in sorted(deltas.iterdir()) if deltas.is_dir() else []:
        found = _DELTA_NAME.fullmatch(path.name)
        if found is not None and int(found.group(2)) < oldest_kept:
            path.unlink()
            removed.append(path)
    return removed


def signature_path(path: Path) -> Path:
    """Where the detached signature of ``path`` lives: ``path`` + ``.sig``."""
    return path.with_name(path.name + SIGNATURE_SUFFIX)


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DistError(f"{path}: cannot be read ({exc.strerror})") from None


def write_atomic(path: Path, data: bytes, mode: int = 0o644, exclusive: bool = False) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename.

    ``exclusive`` refuses to replace an existing file (keys are never
    overwritten), checked again at the rename by linking instead of renaming.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if not exclusive:
        replace_durably(path, data, mode=mode)
        return
    if path.exists():
        raise DistError(f"{path}: exists; refusing to overwrite it")
    temporary = write_new(path.parent, data, prefix=f".{path.name}.tmp-", mode=mode)
    try:
        try:
            os.link(temporary, path)
        except FileExistsError:
            raise DistError(f"{path}: exists; refusing to overwrite it") from None
        os.unlink(temporary)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_path(path.parent)
