"""A directory of releases: numbered release dirs and a ``current`` link swapped atomically.

Layout of a store (``ram_dir`` or ``flash_dir``)::

    <root>/<N>/lists.cache          the compiled cache of release N
    <root>/<N>/release.json(.sig)   its manifest and signature
    <root>/<N>/keyset.json(.sig)    the key set the manifest was verified under
    <root>/<N>/provenance.json      why each entry is listed, when the release has it
                                    (read by ``copgate check`` only, never the daemon)
    <root>/current -> N             the release in force (relative, or an absolute
                                    path into another store or the built-in dir)
    <root>/.staging-N.<pid>/        a release being written (never in force)

Invariants, whatever step a kill -9, a full disk or read-only storage stops:
- ``current`` is absent or names a complete release: a release dir gets its
  number only by ``rename`` of a staging dir whose files were fsynced, and
  ``current`` changes only by ``rename`` of a new link over it;
- the release ``current`` named before a swap is kept (``prune`` keeps it),
  so the previous release survives one more update;
- leftovers (staging dirs, temporary links) are removed by the next ``prune``.

This module writes and removes files; it never verifies them (``copgate.update.installed``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from copgate.durable import fsync_path
from copgate.lists.provenance import PROVENANCE
from copgate.update.errors import StoreError

CURRENT = "current"
CACHE = "lists.cache"
MANIFEST = "release.json"
MANIFEST_SIG = "release.json.sig"
KEYSET = "keyset.json"
KEYSET_SIG = "keyset.json.sig"
RELEASE_FILES = (CACHE, PROVENANCE, MANIFEST, MANIFEST_SIG, KEYSET, KEYSET_SIG)
STAGING = ".staging-"
_TEMPORARY_LINK = ".current.tmp"
_REASONS = {
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "quota exceeded",
    errno.EROFS: "read-only storage",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ENOENT: "missing directory",
}

Step = Callable[[str], None]
"""Told the name of each step of an update as it is reached (tests kill the process there)."""


def no_step(_name: str) -> None:
    """The ``Step`` of a real run: nothing."""


def reason(exc: OSError) -> str:
    """What an OSError means to an administrator: ``disk full``, ``read-only storage``..."""
    return _REASONS.get(exc.errno or 0, exc.strerror or str(exc))


@contextlib.contextmanager
def storing(where: Path | str) -> Iterator[None]:
    """Turn an OSError into a StoreError naming ``where`` and the reason."""
    try:
        yield
    except OSError as exc:
        raise StoreError(f"{where}: {reason(exc)}") from exc


class Store:
    """One store directory (see the module docstring for its layout and invariants)."""

    def __init__(self, root: Path | str, label: str = "store") -> None:
        self.root = Path(root)
        self.label = label
        """Names the store in step names (``ram:swap-linked``)."""

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    # -- reading ---------------------------------------------------------------------

    def current_link(self) -> str | None:
        """What ``current`` points to, as written (``7``, ``/etc/copgate/releases/7``), or None."""
        try:
            return os.readlink(self.root / CURRENT)
        except OSError:
            return None

    def current(self) -> Path | None:
        """The directory of the release in force, or None."""
        link = self.current_link()
        return None if link is None else self.root / link  # an absolute link stays absolute

    def releases(self) -> list[int]:
        """The numbers of the complete release dirs here, newest first."""
        try:
            names = os.listdir(self.root)
        except OSError:
            return []
        return sorted((int(name) for name in names if name.isdigit()), reverse=True)

    def path(self, release: int) -> Path:
        return self.root / str(release)

    # -- writing ---------------------------------------------------------------------

    def stage(self, release: int) -> Path:
        """A new, empty staging dir for ``release`` (a leftover of the same name is removed)."""
        staging = self.root / f"{STAGING}{release}.{os.getpid()}"
        with storing(self.root):
            self.root.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir()
        return staging

    def commit(self, staging: Path, release: int, step: Step = no_step) -> Path:
        """fsync every file of ``staging``, then give it its number by one rename."""
        final = self.path(release)
        with storing(staging):
            for name in os.listdir(staging):
                fsync_path(staging / name)
            fsync_path(staging)
            step(f"{self.label}:commit-fsynced")
            if final.exists():
                # Left by a run killed between this rename and the swap; it is not
                # in force (the caller never commits the release in force).
                shutil.rmtree(final)
            os.rename(staging, final)
            fsync_path(self.root)
        return final

    def swap(self, target: str, step: Step = no_step) -> None:
        """Point ``current`` at ``target`` by renaming a new link over it."""
        temporary = self.root / _TEMPORARY_LINK
        with storing(self.root):
            self.root.mkdir(parents=True, exist_ok=True)  # RAM is empty after a reboot
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
            os.symlink(target, temporary)
            step(f"{self.label}:swap-linked")
            os.rename(temporary, self.root / CURRENT)
            fsync_path(self.root)

    def prune(self, keep: set[str]) -> list[str]:
        """Remove release dirs not named in ``keep``, and leftovers; returns what went.

        The release in force is always kept, whatever ``keep`` says. Errors
        are ignored: pruning frees space, it never decides what is in force.
        """
        keep = keep | {self.current_link() or ""}
        removed: list[str] = []
        try:
            names = os.listdir(self.root)
        except OSError:
            return removed
        for name in names:
            stale = name.startswith(STAGING) or name == _TEMPORARY_LINK
            if (name.isdigit() and name not in keep) or stale:
                path = self.root / name
                if path.is_symlink() or not path.is_dir():
                    with contextlib.suppress(OSError):
                        path.unlink()
                else:
                    shutil.rmtree(path, ignore_errors=True)
                removed.append(name)
        return removed

    def copy_from(self, source: Path, release: int, step: Step = no_step) -> Path:
        """Copy a verified release dir here (staged, committed), e.g. RAM to flash."""
        staging = self.stage(release)
        try:
            with storing(staging):
                for name in RELEASE_FILES:
                    if (source / name).exists():
                        shutil.copyfile(source / name, staging / name)
                        step(f"{self.label}:copy-{name}")
            return self.commit(staging, release, step)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (a file of a staging dir); StoreError on failure."""
    with storing(path), open(path, "wb") as file:
        file.write(data)
