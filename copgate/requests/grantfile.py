"""The administrator's grants on disk: ``grants.json`` in the reports directory.

``copgate allow`` writes it (to a temporary file, fsynced, renamed over the
old one, so a reader sees the old grants or the new, never half); the
daemon looks at its modification time and size once a second and reads it
again when they change (``GrantWatch``), so a grant takes effect without a
restart or a signal. Expired grants are dropped whenever the file is
written; until then ``Grant.active`` ignores them. A file that cannot be
read is an error naming the file; the daemon keeps the grants it had.

Format: ``{"grants": [{"name": "example.com", "group": "kids", "until":
1765000000.0 or null, "request": 7 or null}]}``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from copgate.durable import replace_durably
from copgate.policy.grants import Grant, Grants
from copgate.requests.store import StoreError

GRANTS_FILE = "grants.json"
MAX_GRANTS = 1024
"""Grants kept: each is a name an administrator typed."""
MAX_FILE_BYTES = 256 * 1024


def read_grants(path: Path) -> Grants:
    """The grants in ``path`` (none if it does not exist); StoreError if it is bad."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return Grants()
    except OSError as exc:
        raise StoreError(f"{path}: cannot read the grants: {exc}") from exc
    if len(data) > MAX_FILE_BYTES:
        raise StoreError(f"{path}: {len(data)} bytes, over {MAX_FILE_BYTES}")
    try:
        items = json.loads(data)["grants"]
        return Grants(_grant(item) for item in items[:MAX_GRANTS])
    except (ValueError, TypeError, KeyError) as exc:
        raise StoreError(f"{path}: not a grants file: {exc}") from exc


def write_grants(path: Path, grants: Iterable[Grant], now: float) -> None:
    """Replace ``path`` with ``grants`` (expired ones dropped), durably."""
    kept = [g for g in grants if g.active(now)][-MAX_GRANTS:]
    data = json.dumps({"grants": [_item(g) for g in kept]}, indent=1).encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    replace_durably(path, data, mode=0o600)


def add_grant(path: Path, grant: Grant, now: float) -> None:
    """Add ``grant``, replacing one for the same group and name."""
    others = [g for g in read_grants(path) if (g.group, g.name) != (grant.group, grant.name)]
    write_grants(path, [*others, grant], now)


class GrantWatch:
    """Re-reads the grants file when its modification time or size changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int] | None = None

    def changed(self) -> Grants | None:
        """The new grants if the file changed since the last call, else None.

        StoreError if it changed into something unreadable (the caller keeps
        the grants it had and is told again only after the next change).
        """
        try:
            stat = self.path.stat()
            seen = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            seen = (0, -1)
        if seen == self._seen:
            return None
        self._seen = seen
        return read_grants(self.path)


def _grant(item: object) -> Grant:
    if not isinstance(item, dict):
        raise TypeError("a grant is a JSON object")
    until = item.get("until")
    request = item.get("request")
    return Grant(
        name=str(item["name"]),
        group=str(item["group"]),
        until=None if until is None else float(until),
        request=None if request is None else str(request),
    )


def _item(grant: Grant) -> dict[str, object]:
    return {
        "name": grant.name,
        "group": grant.group,
        "until": grant.until,
        "request": grant.request,
    }
