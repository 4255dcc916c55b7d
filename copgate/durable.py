"""Files that survive a power cut: written whole, fsynced, renamed into place.

A router loses power without warning, and its flash keeps whatever reached
it. Every file copgate must find intact afterwards (a list cache, a grant,
a queued report, a release's files) is first written under a temporary name
in the same directory and fsynced (``write_new``), then given its name by
one rename and the directory fsynced too (``replace_durably``), so a reader
sees the old file or the new one, never half of one, and the rename itself
is not lost.

It decides nothing about what is written or where; errors are the caller's
to name (``OSError`` passes through).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def fsync_path(path: Path) -> None:
    """fsync a file or a directory by its path (a directory: the names in it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_new(directory: Path, data: bytes, *, prefix: str, mode: int = 0o644) -> Path:
    """A new file in ``directory`` (named ``prefix`` + random) holding ``data``, fsynced,
    with permissions ``mode``."""
    path = directory / f"{prefix}{secrets.token_hex(8)}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)  # exactly ``mode``, whatever the umask (a served tree is 0644)
        with os.fdopen(fd, "wb") as file:  # write() of a file object writes it all
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def replace_durably(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` (see the module docstring); the directory must exist."""
    temporary = write_new(path.parent, data, prefix=f".{path.name}.tmp-", mode=mode)
    try:
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_path(path.parent)
