"""The durable queue of requests and reports, on flash: one file per record.

Why files and not sqlite3: OpenWrt's python3-light has no sqlite3 module (it
is python3-sqlite3, another 1.5 MB package), the queue holds a few hundred
small records at most, and a file written to a temporary name, fsynced,
linked into place and its directory fsynced is exactly as durable as a
journal, with nothing to recover after a power cut: a record is there whole
or not at all. A temporary file a cut left behind is removed at the next
open.

Layout of the directory (``reports_dir``, default ``/etc/copgate/reports``:
flash, so it survives a reboot):

- ``<id>.json``: a record, written once and never changed;
- ``<id>.closed``: the administrator's answer to an access request
  (``granted`` or ``denied``);
- ``<id>.sent``: the distributor acknowledged the report.

Each file has one writer at a time (the daemon creates records, ``copgate
allow``/``deny`` close them, the forwarder marks them sent), so nobody
rewrites a file another process reads. Ids are small numbers (``copgate deny
7``), taken with ``os.link``, which fails when the name exists, so two
writers never take the same id. Each record also carries a random ``key``,
the idempotency key the distributor deduplicates on (``docs/reports.md``).

Bounds, so that a flood cannot fill the flash: at most ``MAX_RECORDS``
records, each at most ``MAX_RECORD_BYTES``. When full, the oldest finished
record (closed, or sent) makes room; when none is finished the new one is
refused (``QueueFullError``). The time always comes from the caller.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from copgate.durable import write_new
from copgate.errors import CopgateError

DEFAULT_DIR = Path("/etc/copgate/reports")
MAX_RECORDS = 256
"""Records kept: a family's router sees a few a week; a flood stops here."""
MAX_RECORD_BYTES = 4096
"""A record's JSON; a comment is capped well below (``MAX_COMMENT``)."""
MAX_COMMENT = 500
"""Characters of a comment: a sentence or two."""
MAX_NAME = 253  # RFC 1035 §2.3.4, as text
MAX_FIELD = 120
"""Group, category, list, reason: short words."""
SUFFIX = ".json"
TMP_PREFIX = ".tmp-"
STALE_TEMPORARY = 60.0
"""Seconds after which a temporary file is a leftover of a cut write, not one in progress."""


class StoreError(CopgateError):
    """The request queue cannot be read or written (a bad directory, a corrupt record)."""


class QueueFullError(StoreError):
    """The queue holds ``MAX_RECORDS`` unfinished records: nothing new is taken."""


class RecordKind(enum.StrEnum):
    """What the user asked for."""

    ACCESS = "access"
    """Ask for access: a request to this router's administrator."""
    MISTAKE = "mistake"
    """Report a mistake: the name should not be blocked (for the distributor)."""
    SITE = "site"
    """Report a site: a name that should be blocked (for the distributor)."""

    @property
    def forwarded(self) -> bool:
        """Reports go to the distributor; access requests stay on the router."""
        return self is not RecordKind.ACCESS


@dataclass(frozen=True, slots=True)
class Record:
    """One request or report, as stored."""

    id: int
    key: str
    """Random idempotency key (32 hex digits)."""
    kind: RecordKind
    name: str
    group: str
    client: str
    """The client's address, as the block page saw it."""
    created: float
    """Epoch seconds."""
    comment: str = ""
    category: str = ""
    list_name: str = ""
    reason: str = ""

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data["kind"] = str(self.kind)
        return data


@dataclass(frozen=True, slots=True)
class Entry:
    """A record with its state."""

    record: Record
    closed: str | None
    """``granted`` or ``denied`` (access requests), else None."""
    sent: bool
    """The distributor acknowledged it (reports)."""

    @property
    def finished(self) -> bool:
        return self.closed is not None or self.sent

    @property
    def open(self) -> bool:
        """Waiting for someone: the administrator (access) or the distributor (reports)."""
        return not self.finished


class Store:
    """The queue in one directory (created if missing)."""

    def __init__(self, directory: Path, now: float | None = None) -> None:
        """Open (creating) ``directory``; with ``now``, remove what a cut write left there."""
        self.directory = directory
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise StoreError(f"{directory}: cannot create the request queue: {exc}") from exc
        if now is not None:
            self._clean_temporaries(now)

    def add(
        self,
        kind: RecordKind,
        name: str,
        group: str,
        client: str,
        now: float,
        *,
        comment: str = "",
        category: str = "",
        list_name: str = "",
        reason: str = "",
    ) -> Record:
        """Store a new record durably; QueueFullError if there is no room."""
        self._make_room()
        record = Record(
            0,
            secrets.token_hex(16),
            kind,
            name[:MAX_NAME],
            group[:MAX_FIELD],
            client[:64],
            now,
            comment[:MAX_COMMENT],
            category[:MAX_FIELD],
            list_name[:MAX_FIELD],
            reason[:MAX_FIELD],
        )
        for number in self._free_ids():
            record = _with_id(record, number)
            data = json.dumps(record.to_json(), ensure_ascii=False).encode("utf-8")
            if len(data) > MAX_RECORD_BYTES:
                raise StoreError(f"a record of {len(data)} bytes is over {MAX_RECORD_BYTES}")
            if self._create(f"{number}{SUFFIX}", data):
                return record
        raise StoreError(f"{self.directory}: no free record id")  # pragma: no cover

    def entries(self) -> list[Entry]:
        """Every record with its state, oldest first; unreadable files are skipped."""
        names = set(self._names())
        entries: list[Entry] = []
        for number in sorted(_ids(names)):
            record = self._read(number)
            if record is None:
                continue
            closed = self._marker(f"{number}.closed") if f"{number}.closed" in names else None
            entries.append(Entry(record, closed, f"{number}.sent" in names))
        return entries

    def get(self, number: int) -> Entry | None:
        return next((e for e in self.entries() if e.record.id == number), None)

    def close(self, number: int, answer: str) -> Entry:
        """Mark an access request ``granted`` or ``denied``; StoreError if there is none."""
        entry = self.get(number)
        if entry is None:
            raise StoreError(f"no request {number} in {self.directory}")
        self._replace(f"{number}.closed", answer.encode("ascii"))
        return Entry(entry.record, answer, entry.sent)

    def mark_sent(self, number: int, note: str = "") -> None:
        """The distributor answered record ``number`` for good (acknowledged it, or
        refused it as malformed, which ``note`` says): never send it again."""
        self._replace(f"{number}.sent", note.encode("ascii", "replace"))

    # -- files ---------------------------------------------------------------------------

    def _names(self) -> Iterator[str]:
        try:
            yield from os.listdir(self.directory)
        except OSError as exc:
            raise StoreError(f"{self.directory}: cannot list the request queue: {exc}") from exc

    def _free_ids(self) -> Iterator[int]:
        used = _ids(set(self._names()))
        number = max(used, default=0) + 1
        while True:
            yield number
            number += 1

    def _make_room(self) -> None:
        entries = self.entries()
        if len(entries) < MAX_RECORDS:
            return
        finished = [e for e in entries if e.finished]
        if not finished:
            raise QueueFullError(f"{self.directory}: {MAX_RECORDS} requests wait already")
        for entry in finished[: len(entries) - MAX_RECORDS + 1]:
            for suffix in (SUFFIX, ".closed", ".sent"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.directory / f"{entry.record.id}{suffix}")

    def _read(self, number: int) -> Record | None:
        try:
            data = (self.directory / f"{number}{SUFFIX}").read_bytes()
            if len(data) > MAX_RECORD_BYTES:
                return None
            return _record(json.loads(data))
        except (OSError, ValueError, TypeError, KeyError):
            return None  # a file someone put there by hand: not ours to crash on

    def _marker(self, name: str) -> str | None:
        try:
            return (self.directory / name).read_text("ascii").strip() or None
        except (OSError, ValueError):
            return None

    def _write_temporary(self, data: bytes) -> Path:
        return write_new(self.directory, data, prefix=TMP_PREFIX, mode=0o600)

    def _create(self, name: str, data: bytes) -> bool:
        """Write ``name`` whole, durably, if it does not exist yet; False if it does."""
        temporary = self._write_temporary(data)
        try:
            os.link(temporary, self.directory / name)
        except FileExistsError:
            return False
        finally:
            os.unlink(temporary)
        self._sync_directory()
        return True

    def _replace(self, name: str, data: bytes) -> None:
        temporary = self._write_temporary(data)
        try:
            os.replace(temporary, self.directory / name)
        except OSError:
            temporary.unlink(missing_ok=True)
            raise
        self._sync_directory()

    def _sync_directory(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _clean_temporaries(self, now: float) -> None:
        """Remove temporaries older than ``STALE_TEMPORARY``: another process may be
        writing a fresh one right now."""
        for name in self._names():
            if name.startswith(TMP_PREFIX):
                path = self.directory / name
                with contextlib.suppress(OSError):
                    if path.stat().st_mtime < now - STALE_TEMPORARY:
                        path.unlink()


def _ids(names: set[str]) -> list[int]:
    return [int(n[: -len(SUFFIX)]) for n in names if n.endswith(SUFFIX) and n[:-5].isdigit()]


def _with_id(record: Record, number: int) -> Record:
    return dataclasses.replace(record, id=number)


def _record(data: object) -> Record:
    if not isinstance(data, dict):
        raise ValueError("a record is a JSON object")
    return Record(
        id=int(data["id"]),
        key=str(data["key"]),
        kind=RecordKind(data["kind"]),
        name=str(data["name"]),
        group=str(data["group"]),
        client=str(data["client"]),
        created=float(data["created"]),
        comment=str(data.get("comment", "")),
        category=str(data.get("category", "")),
        list_name=str(data.get("list_name", "")),
        reason=str(data.get("reason", "")),
    )
