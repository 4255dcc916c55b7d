"""The service's deployment settings, read from the environment (pure: a mapping in).

``settings.py`` is Django's view of these; this module parses and checks them
so that a wrong value is one clear error at start-up, not a failure later.
It never reads the clock; ``secret_key`` reads the key file, which
``make_secret_key_file`` (run by ``copgate dist migrate``) makes.

    COPGATE_DATA_DIR        data directory: SQLite database, uploads, tree, secret key
    COPGATE_DATABASE_URL    postgresql://USER:PASSWORD@HOST:PORT/NAME (?host=/socket/dir)
                            or sqlite:///PATH; SQLite in the data directory by default
    COPGATE_SECRET_KEY      Django's secret key, or COPGATE_SECRET_KEY_FILE: a file holding it
    COPGATE_ALLOWED_HOSTS   comma-separated host names (127.0.0.1,localhost,[::1])
    COPGATE_BEHIND_PROXY    1: trust X-Forwarded-Proto/Host from the reverse proxy, secure cookies
    COPGATE_CSRF_ORIGINS    comma-separated trusted origins (https://lists.example.org)
    COPGATE_TREE_DIR        the release tree the service builds (DATA/tree)
    COPGATE_SIGNING_KEY     a release secret key (.sec): sign on this host; else leave it unsigned
    COPGATE_DEBUG           1: Django's debug pages (never in production)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from copgate.errors import ConfigError

DEFAULT_HOSTS = ("127.0.0.1", "localhost", "[::1]")
MIN_SECRET_KEY = 32
"""Characters; Django's own check asks for 50 with 5 distinct, ours are 96 hex digits."""
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})
_POSTGRES_SCHEMES = frozenset({"postgres", "postgresql"})


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """The deployment settings of one service instance."""

    data_dir: Path
    database: dict[str, Any]
    """Django's ``DATABASES["default"]``."""
    secret_key: str | None
    """Given inline; else ``secret_key_file`` (given, or DATA/secret_key made on first use)."""
    secret_key_file: Path
    allowed_hosts: tuple[str, ...]
    behind_proxy: bool
    csrf_origins: tuple[str, ...]
    tree_dir: Path
    signing_key: Path | None
    debug: bool


def default_data_dir(environ: Mapping[str, str]) -> Path:
    """``$XDG_DATA_HOME/copgate-distributor``, else ``~/.local/share/copgate-distributor``."""
    base = environ.get("XDG_DATA_HOME") or str(Path(environ.get("HOME", "/")) / ".local/share")
    return Path(base) / "copgate-distributor"


def read_config(environ: Mapping[str, str]) -> ServiceConfig:
    """The settings in ``environ``; ``ConfigError`` names the variable that is wrong."""
    data_dir = Path(environ.get("COPGATE_DATA_DIR") or default_data_dir(environ))
    key_file = environ.get("COPGATE_SECRET_KEY_FILE")
    tree = environ.get("COPGATE_TREE_DIR")
    signing = environ.get("COPGATE_SIGNING_KEY")
    return ServiceConfig(
        data_dir=data_dir,
        database=read_database_url(environ.get("COPGATE_DATABASE_URL", ""), data_dir),
        secret_key=environ.get("COPGATE_SECRET_KEY") or None,
        secret_key_file=Path(key_file) if key_file else data_dir / "secret_key",
        allowed_hosts=_read_list(environ, "COPGATE_ALLOWED_HOSTS") or DEFAULT_HOSTS,
        behind_proxy=_read_flag(environ, "COPGATE_BEHIND_PROXY"),
        csrf_origins=_read_list(environ, "COPGATE_CSRF_ORIGINS"),
        tree_dir=Path(tree) if tree else data_dir / "tree",
        signing_key=Path(signing) if signing else None,
        debug=_read_flag(environ, "COPGATE_DEBUG"),
    )


def read_database_url(url: str, data_dir: Path) -> dict[str, Any]:
    """Django's database settings from ``COPGATE_DATABASE_URL`` (empty: SQLite in DATA)."""
    if not url:
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(data_dir / "db.sqlite3")}
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = unquote(parts.path)
        if not path or path == "/":
            raise ConfigError(f"COPGATE_DATABASE_URL: {url!r} names no file (sqlite:///PATH)")
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": path}
    if parts.scheme not in _POSTGRES_SCHEMES:
        raise ConfigError(
            f"COPGATE_DATABASE_URL: scheme {parts.scheme!r} unknown (postgresql:// or sqlite:///)"
        )
    name = unquote(parts.path.lstrip("/"))
    if not name:
        raise ConfigError(f"COPGATE_DATABASE_URL: {url!r} names no database")
    query = parse_qs(parts.query)
    host = query.get("host", [unquote(parts.hostname or "")])[0]
    try:
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"COPGATE_DATABASE_URL: {exc}") from None
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": host,
        "PORT": str(port or ""),
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
    }


def secret_key(config: ServiceConfig) -> str | None:
    """The inline key, else the key file's; None when there is no key file yet."""
    if config.secret_key:
        return config.secret_key
    path = config.secret_key_file
    if not path.exists():
        return None
    try:
        key = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"COPGATE_SECRET_KEY_FILE: {path}: {exc}") from None
    if len(key) < MIN_SECRET_KEY:
        raise ConfigError(f"{path}: a secret key needs at least {MIN_SECRET_KEY} characters")
    return key


def make_secret_key_file(config: ServiceConfig) -> bool:
    """Make DATA/secret_key (0600, random) unless a key is configured; True if made."""
    if config.secret_key or config.secret_key_file.exists():
        return False
    path = config.secret_key_file
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another instance made it first
        return False
    with os.fdopen(fd, "w") as file:
        file.write(os.urandom(48).hex())
    return True


def _read_list(environ: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in environ.get(name, "").split(",") if item.strip())


def _read_flag(environ: Mapping[str, str], name: str) -> bool:
    value = environ.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name}: {value!r} is not a yes/no value (1 or 0)")
