"""Check a downloaded artefact against its manifest entry; rebuild one from a delta.

Mix-and-match is refused here: an artefact of another release, a truncated
download or one padded with extra bytes differs from the signed manifest's
size or SHA-256. The size is compared first (a stat, no read), then the
hash is computed a chunk at a time, so a 50 MB file costs 64 KiB of memory.
These functions read files the caller already wrote; they never fetch,
never rename and never decide what to install.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import BinaryIO

from copgate.release import delta_apply
from copgate.release.delta_format import CHUNK
from copgate.release.errors import ArtefactMismatch, BadDelta
from copgate.release.manifest import Artefact, Delta


def check_artefact(path: Path, artefact: Artefact | Delta) -> None:
    """Raise ArtefactMismatch unless ``path`` has the size and SHA-256 the manifest says."""
    what = artefact.name if isinstance(artefact, Artefact) else f"delta from {artefact.source}"
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ArtefactMismatch(f"{path}: {what} cannot be read ({exc.strerror})") from None
    if size != artefact.size:
        raise ArtefactMismatch(
            f"{path}: {what} has {size} bytes, the manifest says {artefact.size} ({artefact.path})"
        )
    digest = file_sha256(path)
    if digest != artefact.sha256:
        raise ArtefactMismatch(
            f"{path}: {what} has SHA-256 {digest}, the manifest says {artefact.sha256} "
            f"({artefact.path})"
        )


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read a chunk at a time, as lower-case hex."""
    running = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            running.update(chunk)
    return running.hexdigest()


def apply_delta(old: Path, delta: BinaryIO, out: BinaryIO, max_size: int) -> None:
    """Write into ``out`` the file ``delta`` builds from ``old``, streaming.

    Memory is O(chunk): ``old`` is read by offset, never loaded (the daemon
    may have it mapped), ``delta`` is decompressed a chunk at a time and the
    result written as produced. Raises BadDelta when the delta is malformed,
    was made for another base file, or would build more than ``max_size``
    bytes or a file other than the one its header names. ``out`` may hold
    partial output after an error: the caller writes to a temporary file.
    """
    where = getattr(delta, "name", "delta")
    try:
        fd = os.open(old, os.O_RDONLY)
    except OSError as exc:
        raise BadDelta(f"{where}: the base file {old} cannot be read ({exc.strerror})") from None
    try:
        delta_apply.apply(fd, delta, out, max_size, str(where))
    finally:
        os.close(fd)
