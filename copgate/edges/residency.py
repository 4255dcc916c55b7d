"""Give back the pages a library's loading touched and its use will not (issue 10).

The daemon imports ``cryptography`` at its first QUIC Initial
(``copgate.wire.quic_keys``) or signature check (``copgate.release.signify``),
inside ``copgate.cryptoimport.importing()``. The wheel's Rust binding is
one 14 MB shared object with OpenSSL inside, and its initialisation (a
Python type for each of its classes, OpenSSL's providers) touches pages
all over it; the kernel's fault-around maps 64 KiB per fault, so the
import alone leaves about 5.6 MB of it resident, of which deriving keys
and opening Initials afterwards uses a part. ``released_after`` wraps such an import: it notes
the files mapped before, and afterwards unmaps the clean pages of the
mappings the import added (``madvise(MADV_DONTNEED)``). The pages stay in
the page cache; those the daemon uses come back at their first touch (a
minor fault, no I/O), during the same first Initial that paid for the
import. Measured after the daemon's imports: the first derivation adds
5.7 MB instead of 7.9 MB, and further Initials add nothing either way.

Only mappings that can hold nothing of the process's own are released:
file-backed, neither writable nor holding any anonymous (copied-on-write)
page, i.e. only the file's own bytes, which madvise(2) says are read
again from the file. A relocated or written page disqualifies its whole
mapping. Without ``/proc`` or cffi's backend (``_cffi_backend``, which
``cryptography`` itself loads) nothing is released and nothing fails: the
memory saving is all that is lost.

Reads ``/proc/self/maps`` and ``/proc/self/smaps``, calls madvise; never
writes memory, never raises.
"""

from __future__ import annotations

import contextlib
import logging
import mmap
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass

LOG = logging.getLogger("copgate")
MAPS = "/proc/self/maps"
SMAPS = "/proc/self/smaps"
MAX_MAPS_BYTES = 16 * 1024 * 1024
"""A process's smaps is some 1.5 KB a mapping; the daemon has a few hundred."""


@dataclass(frozen=True, slots=True)
class Mapping:
    """One mapping of ``/proc/self/maps`` (or a header line of ``smaps``) and its fields."""

    start: int
    end: int
    perms: str
    """``r-xp`` and the like: read, write, execute, private or shared."""
    path: str
    """The file mapped; "" for anonymous memory, ``[heap]`` and the like for the kernel's."""
    anonymous_kb: int | None = None
    """smaps' ``Anonymous``: pages of the process's own (copied on write); None from maps."""

    @property
    def releasable(self) -> bool:
        """Holds only the file's own bytes: file-backed, not writable, no anonymous page."""
        return (
            self.path.startswith("/")
            and "w" not in self.perms
            and self.anonymous_kb == 0
            and self.end > self.start
        )


def read_maps(lines: Iterable[str]) -> list[Mapping]:
    """The mappings of ``maps`` or ``smaps`` lines, with smaps' ``Anonymous`` when given.

    A header is ``START-END PERMS OFFSET DEV INODE [PATH]`` (proc(5)); the
    lines after it in smaps are ``Field: value [kB]``. A line that is
    neither ends the read with ValueError: the kernel wrote something this
    parser does not know, and releasing pages on a guess is not safe.
    """
    mappings: list[Mapping] = []
    for line in lines:
        head, _, rest = line.rstrip("\n").partition(" ")
        if "-" in head and not head.endswith(":"):
            low, high = head.split("-")
            fields = rest.split(maxsplit=4)
            if len(fields) < 4:
                raise ValueError(f"not a mapping line: {line!r}")
            path = fields[4] if len(fields) == 5 else ""
            mappings.append(Mapping(int(low, 16), int(high, 16), fields[0], path))
        elif head == "Anonymous:":
            if not mappings:
                raise ValueError("smaps field before any mapping")
            last = mappings[-1]
            mappings[-1] = Mapping(
                last.start, last.end, last.perms, last.path, int(rest.split()[0])
            )
        elif not head.endswith(":"):
            raise ValueError(f"not a maps or smaps line: {line!r}")
    return mappings


Owned = Callable[[str], bool]
"""Whether a mapped file is one the wrapped block alone can have loaded."""


def any_file(_path: str) -> bool:
    """Every file: for a process with no other thread loading libraries (the tests)."""
    return True


def cryptography_files(path: str) -> bool:
    """The files only an import of ``cryptography`` loads: its package's own (the
    Rust binding) and cffi's backend. Another thread may be loading a library of
    its own at that moment (the updater's first ``ssl``), whose mappings are half
    made (the whole file read-only, its data segment not yet mapped over it):
    advising those away would lose its relocated data, so they are never touched."""
    return (
        "/cryptography/" in path
        or "/cryptography.libs/" in path
        or (path.rpartition("/")[2].startswith("_cffi_backend"))
    )


def to_release(
    mappings: Collection[Mapping], before: Collection[str], owned: Owned = any_file
) -> list[Mapping]:
    """The releasable mappings of ``owned`` files that ``before`` (the files mapped then) lacks."""
    return [m for m in mappings if m.releasable and m.path not in before and owned(m.path)]


@contextlib.contextmanager
def released_after(owned: Owned = any_file) -> Iterator[None]:
    """Run the block (an import); then release the clean pages of the ``owned`` files it mapped.

    A block that mapped no new file (the modules were loaded already) costs
    two reads of ``/proc/self/maps``, well under a millisecond each.
    """
    before = _mapped_files()
    yield
    after = _mapped_files()
    if before is not None and after is not None and not after <= before:
        released = release(before, owned)
        LOG.debug("released %d kB of pages mapped by a library's loading", released // 1024)


def release(before: Collection[str], owned: Owned = any_file) -> int:
    """MADV_DONTNEED on the releasable mappings of ``owned`` files not in ``before``;
    bytes advised."""
    try:
        from copgate.edges._madvise_ffi import ffi  # noqa: PLC0415 - with cryptography only

        libc = ffi.dlopen(None)
        mappings = to_release(read_maps(_lines(SMAPS)), before, owned)
    except (ImportError, OSError, ValueError, AttributeError) as exc:
        LOG.debug("no pages released: %s", exc)
        return 0
    advised = 0
    for mapping in mappings:
        size = mapping.end - mapping.start
        if libc.madvise(ffi.cast("void *", mapping.start), size, mmap.MADV_DONTNEED) == 0:
            advised += size
    return advised


def _mapped_files() -> frozenset[str] | None:
    """The files mapped now; None when /proc cannot say (then nothing is released)."""
    try:
        return frozenset(m.path for m in read_maps(_lines(MAPS)) if m.path.startswith("/"))
    except (OSError, ValueError) as exc:
        LOG.debug("no pages will be released: %s", exc)
        return None


def _lines(path: str) -> Iterator[str]:
    """The lines of a /proc file, one at a time; ValueError past ``MAX_MAPS_BYTES``.

    Line by line, not the whole text: the process whose memory this module
    saves should not grow by a copy of its smaps, or by one read of the
    bound (glibc, once such a block is freed, raises its mmap threshold and
    serves later large blocks from a heap it never trims).
    """
    size = 0
    with open(path, "rb") as file:
        for raw in file:
            size += len(raw)
            if size > MAX_MAPS_BYTES:
                raise ValueError(f"{path}: more than {MAX_MAPS_BYTES} bytes")
            yield raw.decode("utf-8", errors="replace")
