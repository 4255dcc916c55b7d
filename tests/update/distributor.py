"""A test distributor: builds signed release trees in memory and serves them on 127.0.0.1.

The trees follow docs/releases.md (the release interface): keyset.json(.sig),
release.json(.sig), releases/N/lists.cache, deltas/M-N.delta. The JSON is
written here from the interface's text, not by ``copgate.release``, so that
the updater is tested against the format, not against the writer's code;
signatures and deltas come from ``copgate.release`` (its distributor side).

``Server`` serves a ``Distributor``'s files over HTTP with per-path
misbehaviour (stall, HTML, extra bytes, a cut-off body) for the attack tests.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from copgate.lists.compile import build_cache
from copgate.lists.model import ListEntry
from copgate.release.delta import make_delta
from copgate.release.signify import (
    SecretKey,
    format_public_key,
    format_signature,
    generate_key,
    public_key_line,
    sign,
)
from copgate.update.model import UpdateSettings

T0 = datetime(2026, 11, 1, tzinfo=UTC)
"""Release 1's creation time; release N is created N hours later."""
BASE_NAMES = tuple(f"site{index}.example" for index in range(400))


def key(index: int) -> SecretKey:
    """A fixed key per index: reproducible trees."""
    return generate_key(bytes([index]) * 32 + bytes([index, 1, 2, 3, 4, 5, 6, 7]))


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def created(release: int) -> datetime:
    return T0 + timedelta(hours=release)


def names_of(release: int) -> tuple[str, ...]:
    """Release N lists the base names and one extra name per release up to N."""
    return BASE_NAMES + tuple(f"new{index}.example" for index in range(1, release + 1))


def cache_of(release: int, names: Iterable[str] | None = None) -> bytes:
    entries = [ListEntry(name, frozenset({"adult"})) for name in names or names_of(release)]
    stamp = int(created(release).timestamp())
    data, _report = build_cache(entries, build_time=stamp, release=release)
    return data


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Distributor:
    """A release tree in memory: ``files`` maps paths to bytes."""

    root: SecretKey = field(default_factory=lambda: key(1))
    signer: SecretKey = field(default_factory=lambda: key(2))
    files: dict[str, bytes] = field(default_factory=dict)
    caches: dict[int, bytes] = field(default_factory=dict)
    keyset_version: int = 0

    def publish_keyset(
        self,
        version: int,
        keys: Iterable[SecretKey] | None = None,
        revoked: Iterable[SecretKey] = (),
        by: SecretKey | None = None,
    ) -> None:
        """keyset.json listing ``keys`` (default: the signer), signed by ``by`` (the root)."""
        document = {
            "format": 1,
            "version": version,
            "created": rfc3339(T0),
            "keys": [public_key_line(k.public_key) for k in (keys or [self.signer])],
            "revoked": [k.keynum.hex() for k in revoked],
        }
        data = json.dumps(document, indent=1).encode()
        self.files["keyset.json"] = data
        self.files["keyset.json.sig"] = signature(data, by or self.root)
        self.keyset_version = version

    def publish(
        self,
        release: int,
        *,
        names: Iterable[str] | None = None,
        deltas_from: Iterable[int] = (),
        expires: datetime | None = None,
        by: SecretKey | None = None,
        extra: Mapping[str, bytes] | None = None,
    ) -> bytes:
        """Release N: its cache, deltas from earlier releases, the signed manifest.

        ``extra`` maps more artefacts' names to their bytes (``provenance.json``),
        served as ``releases/N/NAME`` and listed in the manifest.
        """
        if not self.keyset_version:
            self.publish_keyset(1)
        cache = cache_of(release, names)
        self.caches[release] = cache
        path = f"releases/{release}/lists.cache"
        self.files[path] = cache
        deltas = []
        for source in deltas_from:
            delta = make_delta(self.caches[source], cache)
            delta_path = f"deltas/{source}-{release}.delta"
            self.files[delta_path] = delta
            deltas.append(
                {
                    "from": source,
                    "path": delta_path,
                    "size": len(delta),
                    "sha256": digest(delta),
                    "target": "lists.cache",
                }
            )
        document = {
            "format": 1,
            "release": release,
            "created": rfc3339(created(release)),
            "expires": rfc3339(expires or created(release) + timedelta(days=30)),
            "keyset": self.keyset_version,
            "artefacts": {
                "lists.cache": {"path": path, "size": len(cache), "sha256": digest(cache)}
            },
            "deltas": deltas,
        }
        for name, data in (extra or {}).items():
            self.files[f"releases/{release}/{name}"] = data
            document["artefacts"][name] = {  # type: ignore[index]
                "path": f"releases/{release}/{name}",
                "size": len(data),
                "sha256": digest(data),
            }
        manifest = json.dumps(document, indent=1).encode()
        self.files["release.json"] = manifest
        self.files["release.json.sig"] = signature(manifest, by or self.signer)
        return manifest

    def write_builtin(self, directory: Path, release: int = 0) -> None:
        """The package's built-in lists: an unsigned cache of ``release``'s names."""
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "lists.cache").write_bytes(cache_of(release))

    def settings(self, base: Path, url: str, **overrides: object) -> UpdateSettings:
        """Settings pointing at ``url``, with stores under ``base``, trusting ``root``."""
        values: dict[str, object] = {
            "url": url,
            "root_keys": (public_key_line(self.root.public_key),),
            "ram_dir": str(base / "ram"),
            "flash_dir": str(base / "flash"),
            "builtin_dir": str(base / "builtin"),
        }
        values.update(overrides)
        return UpdateSettings(**values)  # type: ignore[arg-type]

    def root_pub(self) -> str:
        return format_public_key(self.root.public_key)


def signature(data: bytes, by: SecretKey) -> bytes:
    return format_signature(sign(data, by)).encode()


@dataclass
class Misbehaviour:
    """How the server answers one path instead of sending the file."""

    stall: float = 0.0
    """Seconds to sleep after the headers, before the body."""
    html: bool = False
    extra: bytes = b""
    """Bytes sent after the file (and counted in Content-Length)."""
    cut: int | None = None
    """Close the connection after this many body bytes (Content-Length says the whole)."""


class Server:
    """``distributor``'s files over HTTP on 127.0.0.1, with ETag and 304 support."""

    def __init__(self, distributor: Distributor) -> None:
        self.distributor = distributor
        self.misbehave: dict[str, Misbehaviour] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.lstrip("/")
                server.requests.append((path, dict(self.headers.items())))
                data = server.distributor.files.get(path)
                odd = server.misbehave.get(path, Misbehaviour())
                if odd.html:
                    self._send(200, b"<html><body>Welcome to nginx!</body></html>", "text/html")
                    return
                if data is None:
                    self._send(404, b"not found", "text/plain")
                    return
                tag = '"' + digest(data)[:16] + '"'
                if self.headers.get("If-None-Match") == tag:
                    self.send_response(304)
                    self.send_header("ETag", tag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = data + odd.extra
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", tag)
                self.end_headers()
                if odd.stall:
                    time.sleep(odd.stall)
                if odd.cut is not None:
                    self.wfile.write(body[: odd.cut])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def _send(self, status: int, body: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


@dataclass
class Clock:
    """A settable wall clock for the updater (seconds since the epoch)."""

    now: float = (T0 + timedelta(days=1)).timestamp()

    def __call__(self) -> float:
        return self.now
