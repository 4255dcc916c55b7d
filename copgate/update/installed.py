"""Which release is in force, checked again from what is on disk.

A stored release dir (``copgate.update.store``) is verified whole each time
it is taken as the release in force: its key set signed by a root key, its
manifest signed by a non-revoked key of that set, its cache's size and
SHA-256 as the manifest says. The built-in lists (``builtin_dir``) are the
release of last resort: release 0 unless they carry a signed manifest of
their own, and their cache's checksum is checked either way.

``select_at_boot`` picks the newest release that verifies among the RAM
store, the flash store and the built-in lists, and points the RAM store's
``current`` at it: that is the path the daemon opens.

This module reads files and may write the ``current`` link; it never fetches.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from copgate.errors import CacheError
from copgate.lists.cache import ListCache, verify_cache_file
from copgate.release.artefact import check_artefact
from copgate.release.errors import ReleaseError
from copgate.release.manifest import CACHE_ARTEFACT, KeySet, Manifest
from copgate.release.signify import PublicKey, read_public_key
from copgate.release.verify import verify_keyset, verify_manifest
from copgate.update.errors import StoreError, UpdateError
from copgate.update.model import UpdateSettings
from copgate.update.store import (
    CACHE,
    KEYSET,
    KEYSET_SIG,
    MANIFEST,
    MANIFEST_SIG,
    Store,
)

LOG = logging.getLogger("copgate")
MAX_META = 256 * 1024
"""A stored manifest, key set or signature: as small as the fetcher's cap for them."""


@dataclass(frozen=True, slots=True)
class Installed:
    """A verified release on disk."""

    release: int
    directory: Path
    created: datetime
    """The manifest's creation time (the built-in cache's build time without one):
    the clock floor, since a clock earlier than this cannot be right."""
    manifest: Manifest | None
    """None for built-in lists without a signed manifest."""
    keyset: KeySet | None

    @property
    def cache(self) -> Path:
        return self.directory / CACHE


def load_roots(settings: UpdateSettings) -> tuple[PublicKey, ...]:
    """The root keys of the config: inline base64 lines or ``.pub`` files."""
    roots: list[PublicKey] = []
    for entry in settings.root_keys:
        if entry.startswith("/"):
            try:
                text = Path(entry).read_text(encoding="ascii")
            except OSError as exc:
                raise UpdateError(f"root key {entry}: cannot be read: {exc.strerror}") from exc
            except UnicodeDecodeError:
                raise UpdateError(
                    f"root key {entry}: not a signify public key (not ASCII)"
                ) from None
            roots.append(read_public_key(text, entry))
        else:
            roots.append(read_public_key(entry, "option 'root_keys'"))
    return tuple(roots)


def read_small(path: Path) -> bytes:
    """A stored manifest, key set or signature (at most MAX_META bytes)."""
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_META + 1)
    except OSError as exc:
        raise StoreError(f"{path}: cannot be read: {exc.strerror}") from exc
    if len(data) > MAX_META:
        raise StoreError(f"{path}: larger than {MAX_META} bytes")
    return data


def verify_dir(directory: Path, roots: Sequence[PublicKey]) -> Installed:
    """The release stored in ``directory``, verified whole; ReleaseError/StoreError if not."""
    keyset = verify_keyset(
        read_small(directory / KEYSET), read_small(directory / KEYSET_SIG), roots, None
    )
    manifest = verify_manifest(
        read_small(directory / MANIFEST),
        read_small(directory / MANIFEST_SIG),
        keyset,
        installed_release=None,
        now=None,  # an installed release keeps filtering when it grows old
        clock_floor=None,
    )
    artefact = manifest.artefacts.get(CACHE_ARTEFACT)
    if artefact is None:
        raise ReleaseError(f"{directory / MANIFEST}: no artefact '{CACHE_ARTEFACT}'")
    check_artefact(directory / CACHE, artefact)
    return Installed(manifest.release, directory, manifest.created, manifest, keyset)


def verify_builtin(directory: Path, roots: Sequence[PublicKey]) -> Installed:
    """The built-in lists: a signed release when they carry a manifest, else release 0."""
    if (directory / MANIFEST).exists():
        return verify_dir(directory, roots)
    verify_cache_file(directory / CACHE)
    with ListCache.open(directory / CACHE) as cache:
        built = datetime.fromtimestamp(cache.header.build_time, UTC)
    return Installed(0, directory, built, None, None)


def in_force(settings: UpdateSettings, roots: Sequence[PublicKey]) -> Installed | None:
    """The release the RAM store's ``current`` names, verified; None if none or bad."""
    directory = Store(settings.ram_dir).current()
    if directory is None:
        return None
    try:
        if directory.resolve() == Path(settings.builtin_dir).resolve():
            return verify_builtin(directory, roots)
        return verify_dir(directory, roots)
    except (ReleaseError, UpdateError, CacheError) as exc:
        LOG.error("update: the release in force (%s) no longer verifies: %s", directory, exc)
        return None


def candidates(settings: UpdateSettings) -> list[tuple[int, Path]]:
    """Stored releases, newest first; RAM before flash for the same number."""
    found: list[tuple[int, Path]] = []
    for store in (Store(settings.ram_dir), Store(settings.flash_dir)):
        found.extend((release, store.path(release)) for release in store.releases())
    found.sort(key=lambda item: item[0], reverse=True)  # stable: RAM first
    return found


def newest_verified(settings: UpdateSettings, roots: Sequence[PublicKey]) -> Installed | None:
    """The newest release that verifies among RAM, flash and the built-in lists."""
    best: Installed | None = None
    for release, directory in candidates(settings):
        try:
            best = verify_dir(directory, roots)
            break
        except (ReleaseError, UpdateError, CacheError) as exc:
            LOG.error("update: release %d in %s is not used: %s", release, directory.parent, exc)
    builtin = Path(settings.builtin_dir)
    try:
        fallback = verify_builtin(builtin, roots)
    except (ReleaseError, UpdateError, CacheError) as exc:
        LOG.error("update: the built-in lists in %s are not used: %s", builtin, exc)
        return best
    return fallback if best is None or fallback.release > best.release else best


def select_at_boot(settings: UpdateSettings) -> Installed | None:
    """Point ``ram_dir/current`` at the newest verified release; None if there is none.

    With none, the link is left as it is, and the daemon's open of the lists
    fails with a message naming the path.
    """
    roots = load_roots(settings)
    chosen = newest_verified(settings, roots)
    if chosen is None:
        LOG.error("update: no verified release in %s, %s or %s", *_places(settings))
        return None
    ram = Store(settings.ram_dir)
    target = chosen.directory.name if chosen.directory.parent == ram.root else str(chosen.directory)
    if ram.current_link() != target:
        ram.swap(target)
    LOG.info("update: release %d in force (%s)", chosen.release, chosen.directory)
    return chosen


def _places(settings: UpdateSettings) -> tuple[str, str, str]:
    return settings.ram_dir, settings.flash_dir, settings.builtin_dir
