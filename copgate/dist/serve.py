"""A small static server for a release tree: tests, demos and small sites.

Real deployments point nginx or a CDN at the tree; this is for when there is
none. It serves regular files under one root and nothing else: no directory
listings, no dot files (the temporary files of atomic writes), no path that
leaves the root by ``..`` or by a symbolic link. It answers GET and HEAD, with
an ETag and Last-Modified on every file and 304 Not Modified to a matching
``If-None-Match`` or a not-older ``If-Modified-Since`` (RFC 9110 §13.1.2,
§13.1.3): the updater polls with conditional GETs. The documents a poll
reads are ``no-cache`` (revalidate every time); release artefacts and deltas
never change under their names, so they are cacheable for a year.
"""

from __future__ import annotations

import email.utils
import os
import re
import shutil
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from copgate.dist.tree import DELTAS_DIR, RELEASES_DIR

_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
"""A path segment the server will map to a file: no dot files, no '..'."""
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
_TYPES = {".json": "application/json", ".sig": "text/plain; charset=us-ascii"}
COPY_CHUNK = 64 * 1024


class TreeServer(ThreadingHTTPServer):
    """A threading HTTP server that knows the root of the tree it serves."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], root: Path, quiet: bool = True) -> None:
        self.root = root.resolve()
        self.quiet = quiet
        super().__init__(address, TreeHandler)


class TreeHandler(BaseHTTPRequestHandler):
    """GET and HEAD of the files of one tree, with conditional requests."""

    server_version = "copgate-dist"
    server: TreeServer

    def do_GET(self) -> None:
        self._serve(body=True)

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def log_message(self, format: str, *args: object) -> None:
        if not self.server.quiet:
            super().log_message(format, *args)

    def _serve(self, body: bool) -> None:
        path = self._resolve()
        try:
            if path is None:
                raise FileNotFoundError
            file = path.open("rb")
        except OSError:  # absent, or pruned since it was resolved
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        with file:
            # The open file's own size and time: a rename over the path since
            # is the next request's business, never a wrong Content-Length.
            self._send(path, os.fstat(file.fileno()), file, body)

    def _send(self, path: Path, stat: os.stat_result, file: BinaryIO, body: bool) -> None:
        etag = f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"'
        status = HTTPStatus.NOT_MODIFIED if self._fresh(etag, stat.st_mtime) else HTTPStatus.OK
        self.send_response(status)
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", email.utils.formatdate(stat.st_mtime, usegmt=True))
        top = path.relative_to(self.server.root).parts[0]
        self.send_header("Cache-Control", IMMUTABLE if top in _IMMUTABLE_DIRS else REVALIDATE)
        if status == HTTPStatus.NOT_MODIFIED:
            self.end_headers()
            return
        self.send_header("Content-Type", _TYPES.get(path.suffix, "application/octet-stream"))
        self.send_header("Content-Length", str(stat.st_size))
        self.end_headers()
        if body:
            shutil.copyfileobj(file, self.wfile, COPY_CHUNK)

    def _resolve(self) -> Path | None:
        """The file the request names, or None (404) for anything else."""
        segments = unquote(urlsplit(self.path).path).split("/")
        if segments[0] != "" or not all(_SEGMENT.fullmatch(s) for s in segments[1:]):
            return None
        path = self.server.root.joinpath(*segments[1:]).resolve()
        if not path.is_relative_to(self.server.root) or not path.is_file():
            return None
        return path

    def _fresh(self, etag: str, mtime: float) -> bool:
        """Whether the client's copy is current (RFC 9110 §13.2.2 order)."""
        none_match = self.headers.get("If-None-Match")
        if none_match is not None:
            tags = {t.strip().removeprefix("W/") for t in none_match.split(",")}
            return "*" in tags or etag in tags
        since = self.headers.get("If-Modified-Since")
        if since is None:
            return False
        try:
            date = email.utils.parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False  # an unparsable date is ignored (§13.1.3)
        return date.tzinfo is not None and int(mtime) <= date.timestamp()


_IMMUTABLE_DIRS = frozenset({RELEASES_DIR, DELTAS_DIR})
