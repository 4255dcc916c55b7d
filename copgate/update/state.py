"""What the updater remembers between checks: validators, last result, flash copy time.

``state.json`` in the RAM store: the ETag and Last-Modified of the last
manifest that was acted on (so the next poll is conditional), the last
check's time and one-line result (``copgate update --status``), the time of
the next check the daemon's poller planned, and when a release was last
copied to flash. It is a convenience: a missing or unreadable state file
means a full, unconditional check, never a wrong release.

The ``lock`` keeps the daemon's poller and ``copgate update --now`` from
updating the same stores at once. This module reads and writes those two
files only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from copgate.timetext import two_units
from copgate.update.errors import Busy
from copgate.update.store import storing

STATE = "state.json"
LOCK = ".lock"
MAX_STATE = 64 * 1024


@dataclass(frozen=True, slots=True)
class State:
    """The updater's memory (all times in seconds since the epoch)."""

    etag: str | None = None
    last_modified: str | None = None
    last_check: float | None = None
    result: str = ""
    """The last check's log line."""
    next_check: float | None = None
    flash_copied: float | None = None
    """When a release was last written to flash (None: never, by this boot's RAM store)."""


def read_state(directory: Path) -> State:
    """The stored state, or a blank one if there is none or it is unreadable."""
    try:
        with open(directory / STATE, "rb") as file:
            raw = json.loads(file.read(MAX_STATE))
        fields = {field.name for field in dataclasses.fields(State)}
        return State(**{key: value for key, value in raw.items() if key in fields})
    except (OSError, ValueError, TypeError, AttributeError):
        return State()


def write_state(directory: Path, state: State) -> None:
    """Replace the state file (temp + rename); StoreError if storage refuses."""
    temporary = directory / f".{STATE}.tmp"
    with storing(directory):
        directory.mkdir(parents=True, exist_ok=True)
        temporary.write_text(json.dumps(dataclasses.asdict(state), indent=1) + "\n")
        os.replace(temporary, directory / STATE)


@contextlib.contextmanager
def lock(directory: Path) -> Iterator[None]:
    """Hold the updater's lock on ``directory``; Busy at once if another process has it."""
    with storing(directory):
        directory.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(directory / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:  # read-only storage: the lock still works on a file that exists
            fd = os.open(directory / LOCK, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Busy(f"{directory}: another update is running") from None
        yield
    finally:
        os.close(fd)


def age_text(seconds: float) -> str:
    """``3d 4h``, ``2h 5m``, ``42s``: how old a release is, for log lines and --status."""
    return two_units(seconds)
