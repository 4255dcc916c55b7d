"""Fetching a release tree's files over HTTP, with every limit a router needs.

``Fetcher`` is the interface the updater uses; ``HttpFetcher`` implements it
with the standard library's ``urllib`` (OpenWrt's python3-urllib), tests may
put an in-memory one in its place. Each request has a timeout on connect and
on every read (``Limits.timeout``), an overall deadline, and a size cap: the
manifest's size for an artefact, ``SMALL_CAP`` for the manifest, the key set
and signatures. A server that sends more, stalls, answers with an error
status or with HTML is cut off with a ``DownloadError`` that says which.

Small files are read into memory; artefacts and deltas are streamed
(``Body``), never held whole. This module never verifies what it fetches.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from copgate.update.errors import DownloadError, NotAFile, TooLarge, TooSlow, Unreachable
from copgate.update.store import Step, no_step

if TYPE_CHECKING:
    from http.client import HTTPResponse

SMALL_CAP = 256 * 1024
"""The manifest, the key set and signatures: a few KiB; more is a broken or hostile server."""
CHUNK = 64 * 1024
"""Bytes read at a time: the updater's memory for a download, whatever its size."""
USER_AGENT = "copgate-update/1"


@dataclass(frozen=True, slots=True)
class Limits:
    """How long a download may take."""

    timeout: float = 20.0
    """Seconds to connect, and for each read to return something."""
    deadline: float = 600.0
    """Seconds for one file from request to last byte (a slow drip is cut off too)."""


@dataclass(frozen=True, slots=True)
class Fetched:
    """A small file, or the news that it has not changed."""

    body: bytes | None
    """None when the server answered 304 Not Modified."""
    etag: str | None = None
    last_modified: str | None = None


class Body(Protocol):
    """A streamed response body: ``read`` returns at most ``size`` bytes, b"" at the end."""

    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


class Fetcher(Protocol):
    """Where releases come from: HTTP in the gateway, memory in tests."""

    def small(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> Fetched:
        """The whole file (at most SMALL_CAP bytes), conditionally when etag/last_modified."""
        ...

    def stream(self, url: str, size: int) -> Body:
        """A body of exactly ``size`` bytes; TooLarge / DownloadError as it is read."""
        ...


class HttpFetcher:
    """``Fetcher`` over urllib."""

    def __init__(self, clock: Callable[[], float], limits: Limits = Limits()) -> None:
        """``clock``: monotonic seconds (``time.monotonic``), for the deadline."""
        self.clock = clock
        self.limits = limits

    def small(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> Fetched:
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        response = self._open(url, headers)
        if response is None:
            return Fetched(None, etag, last_modified)
        with Capped(response, url, SMALL_CAP, exact=False, deadline=self._deadline()) as body:
            data = read_all(body)
        return Fetched(data, response.headers.get("ETag"), response.headers.get("Last-Modified"))

    def stream(self, url: str, size: int) -> Capped:
        response = self._open(url, {})
        assert response is not None  # an unconditional GET never gets 304
        return Capped(response, url, size, exact=True, deadline=self._deadline())

    def _deadline(self) -> Callable[[], float]:
        end = self.clock() + self.limits.deadline
        return lambda: end - self.clock()

    def _open(self, url: str, headers: dict[str, str]) -> HTTPResponse | None:
        # urllib brings http.client and ssl (megabytes): loaded at the first
        # poll, not when the daemon starts, and never by a gateway without updates.
        import urllib.error  # noqa: PLC0415
        import urllib.request  # noqa: PLC0415
        from http.client import HTTPException, HTTPResponse  # noqa: PLC0415

        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **headers})
        try:
            response = urllib.request.urlopen(request, timeout=self.limits.timeout)
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code == 304:
                return None
            raise NotAFile(f"{url}: HTTP {exc.code} {exc.reason}") from None
        except TimeoutError as exc:
            raise Unreachable(f"{url}: no answer within {self.limits.timeout:g} s") from exc
        except urllib.error.URLError as exc:
            raise Unreachable(f"{url}: {_reason(exc.reason)}") from exc
        except (OSError, HTTPException) as exc:
            raise Unreachable(f"{url}: {exc}") from exc
        assert isinstance(response, HTTPResponse)
        kind = response.headers.get_content_type()
        if kind == "text/html":
            response.close()
            raise NotAFile(f"{url}: the server sent HTML ({kind}), not a release file")
        return response


def _reason(reason: object) -> str:
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason)


class Capped(io.RawIOBase):
    """A response body cut off at ``cap`` bytes, a per-read timeout and a deadline.

    With ``exact``, ending before ``cap`` bytes is a truncated download; a
    byte more than ``cap`` is TooLarge either way.
    """

    def __init__(
        self,
        response: HTTPResponse,
        url: str,
        cap: int,
        *,
        exact: bool,
        deadline: Callable[[], float],
    ) -> None:
        super().__init__()
        self.response = response
        self.url = url
        self.cap = cap
        self.exact = exact
        self.deadline = deadline
        self.count = 0
        length = response.headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) > cap:
            response.close()
            raise TooLarge(f"{url}: the server announces {length} bytes, more than {cap}")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def read(self, size: int = -1, /) -> bytes:
        left = self.deadline()
        if left <= 0:
            raise TooSlow(f"{self.url}: not complete within the deadline ({self.count} bytes)")
        want = CHUNK if size < 0 else min(size, CHUNK)
        # One byte past the cap is asked for, so that a server sending more is caught.
        want = min(want, self.cap - self.count + 1)
        from http.client import HTTPException  # noqa: PLC0415 (loaded by _open already)

        try:
            data = self.response.read1(want) if want > 0 else b""
        except TimeoutError as exc:
            raise TooSlow(f"{self.url}: stalled after {self.count} bytes") from exc
        except (OSError, HTTPException) as exc:
            raise DownloadError(f"{self.url}: cut after {self.count} bytes: {exc}") from exc
        self.count += len(data)
        if self.count > self.cap:
            raise TooLarge(f"{self.url}: more than {self.cap} bytes")
        if not data and self.exact and self.count < self.cap:
            raise DownloadError(f"{self.url}: truncated: {self.count} of {self.cap} bytes")
        return data

    def close(self) -> None:
        self.response.close()
        super().close()


def read_all(body: Body) -> bytes:
    """Everything ``body`` gives, until it ends (its cap applies)."""
    parts: list[bytes] = []
    while chunk := body.read(CHUNK):
        parts.append(chunk)
    return b"".join(parts)


class Hashing(io.RawIOBase):
    """A body whose ``read(n)`` gives ``n`` bytes until the end (as a file's does), hashed.

    What ``apply_delta`` reads a delta through: it asks for exact counts, a
    socket gives what has arrived. ``step`` is told ``delta-reading`` once.
    """

    def __init__(self, body: Body, step: Step = no_step) -> None:
        super().__init__()
        self.body = body
        self.hash = hashlib.sha256()
        self.step = step
        self.count = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1, /) -> bytes:
        parts: list[bytes] = []
        want = size if size >= 0 else 1 << 62
        while want > 0:
            chunk = self.body.read(min(want, CHUNK))
            if not chunk:
                break
            parts.append(chunk)
            want -= len(chunk)
        data = b"".join(parts)
        self.hash.update(data)
        if not self.count and data:
            self.step("delta-reading")
        self.count += len(data)
        return data

    def drain(self) -> None:
        """Read to the end: the body checks its own length there (truncated, too long)."""
        while self.read(CHUNK):
            pass

    def sha256(self) -> str:
        return self.hash.hexdigest()

    def close(self) -> None:
        self.body.close()
        super().close()
