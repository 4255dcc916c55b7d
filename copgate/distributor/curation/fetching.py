"""Fetching upstream sources by URL on their schedule (the edge that downloads).

Each source with a URL is fetched when its schedule says (``schedule_hours``
after the last fetch; 0: only when asked) into DATA/sources/ID/, written
beside its final name and renamed over it, so a build never reads half a
file. A download is capped (``MAX_SOURCE_BYTES``) and must answer 200.
"""

from __future__ import annotations

import os
import tempfile
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction

from copgate.distributor.curation import audit
from copgate.distributor.curation.models import Source, snapshot
from copgate.errors import CopgateError

MAX_SOURCE_BYTES = 512 * 1024 * 1024
"""UT1's full archive is ~20 MB compressed; a hundred times that is a mistake."""
TIMEOUT = 60.0
CHUNK = 1 << 20
USER_AGENT = "copgate-distributor"


class FetchError(CopgateError):
    """An upstream source could not be fetched (the upstream's fault or the network's)."""


@dataclass(frozen=True, slots=True)
class Fetched:
    """One source fetched."""

    source: Source
    size: int


def is_due(source: Source, now: datetime) -> bool:
    """A source with a URL and a schedule whose time has come (or never fetched)."""
    if not source.url or not source.active:
        return False
    if source.last_fetched is None:
        return True
    if source.schedule_hours == 0:
        return False
    return source.last_fetched + timedelta(hours=source.schedule_hours) <= now


def fetch_due(who: Any, now: datetime) -> list[Fetched | FetchError]:
    """Fetch every due source; a failure is returned, not raised, so the rest go on."""
    results: list[Fetched | FetchError] = []
    for source in due_sources(Source.objects.filter(active=True).exclude(url=""), now):
        try:
            results.append(fetch(who, source, now))
        except FetchError as exc:
            results.append(exc)
    return results


def due_sources(sources: Iterable[Source], now: datetime) -> list[Source]:
    return [s for s in sources if is_due(s, now)]


def fetch(who: Any, source: Source, now: datetime) -> Fetched:
    """Download ``source.url`` into the data directory and record it."""
    relative = Path("sources") / str(source.pk) / _file_name(source.url)
    path = Path(settings.COPGATE_DATA_DIR) / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    size = _download(source.url, path)
    with transaction.atomic():
        before = snapshot(source)
        source.last_fetched = now
        source.fetched_path = str(relative)
        source.save(update_fields=["last_fetched", "fetched_path"])
        audit.record(who, "source.fetch", source, before)
    return Fetched(source, size)


def _file_name(url: str) -> str:
    name = PurePosixPath(urlsplit(url).path).name
    return name if name and not name.startswith(".") else "source"


def _download(url: str, path: Path) -> int:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".fetch-")
    try:
        size = 0
        # The administrator gave the URL; urllib follows redirects up to its own limit.
        with (
            os.fdopen(fd, "wb") as out,
            urllib.request.urlopen(request, timeout=TIMEOUT) as answer,
        ):
            if answer.status != 200:
                raise FetchError(f"{url}: HTTP {answer.status}")
            while chunk := answer.read(CHUNK):
                size += len(chunk)
                if size > MAX_SOURCE_BYTES:
                    raise FetchError(f"{url}: larger than {MAX_SOURCE_BYTES} bytes")
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except OSError as exc:  # URLError and HTTPError are OSErrors
        raise FetchError(f"{url}: {exc}") from None
    finally:
        Path(temporary).unlink(missing_ok=True)
    return size
