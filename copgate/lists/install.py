"""Install a list cache atomically: readers see the old file or the new, never half.

``install_cache`` writes bytes beside the destination, fsyncs them, verifies
the file as a reader will see it (checksum and every invariant), then
renames it over the destination and fsyncs the directory. A reader that
already mapped the old file keeps its inode until it closes it, so a swap
never shows a lookup half a file, and never needs the old and new lists in
the same process for longer than the caller chooses. This module writes
files; it never reads the clock.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from copgate.durable import fsync_path
from copgate.errors import CacheError
from copgate.lists.cache import verify_cache_file


def install_cache(data: bytes, path: str | os.PathLike[str]) -> None:
    """Write ``data`` beside ``path``, fsync, verify, rename over ``path``."""
    destination = Path(path)
    try:
        fd, temporary = tempfile.mkstemp(
            prefix=f".{destination.name}.", suffix=".tmp", dir=destination.parent
        )
    except OSError as exc:
        raise CacheError(f"{destination}: cannot create a file beside it: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        # mkstemp makes the file 0600; the daemon may run as another user.
        os.chmod(temporary, 0o644)
        install_file(temporary, destination)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def install_file(candidate: str | os.PathLike[str], path: str | os.PathLike[str]) -> None:
    """Verify ``candidate`` (written beside ``path``) and rename it over ``path``.

    The updater's entry point: it downloads beside the live file, then calls
    this. CacheError leaves ``path`` as it was.
    """
    verify_cache_file(candidate)
    destination = Path(path)
    try:
        with open(candidate, "rb") as file:
            os.fsync(file.fileno())
        os.replace(candidate, destination)
        fsync_path(destination.parent)  # the rename too: a power cut must not undo it
    except OSError as exc:
        raise CacheError(f"{destination}: cannot install the list cache: {exc.strerror}") from exc
