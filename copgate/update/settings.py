"""The ``[update]`` section (TOML) / ``config update`` (UCI): where releases come from.

One table of options (``UPDATE``), read by the same ``convert`` as every other
section, so a bad value is reported as ``FILE:LINE: option 'X' in section
'update': expected ..., got '...'``. Without the section the gateway never
polls and uses the lists its config names, as before.

A root key is given inline (the base64 line of a signify public key) or as the
path of a ``.pub`` file; its form is checked here, its file is read when the
updater starts (this module never reads files).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from pathlib import PurePosixPath
from types import MappingProxyType
from urllib.parse import urlsplit

from copgate.config.convert import Run, Values, convert, get, strings
from copgate.config.document import Section
from copgate.config.schema import Spec
from copgate.config.values import BadValueError, integer, path_text
from copgate.update.model import (
    DEFAULT_BUILTIN_DIR,
    DEFAULT_FLASH_COPY_INTERVAL,
    DEFAULT_FLASH_DIR,
    DEFAULT_INTERVAL,
    DEFAULT_JITTER,
    DEFAULT_MAX_SIZE,
    DEFAULT_RAM_DIR,
    UpdateSettings,
)

MIN_INTERVAL = 10
"""Seconds: short polls are for labs and a distributor's own test gateways; a
fleet polls hours apart (the default is 6 h), each router at a jittered time."""
MAX_INTERVAL = 7 * 86400
MAX_SIZE_LIMIT = 1024 * 1024 * 1024
PUBLIC_KEY_LENGTH = 42
"""A signify public key: b"Ed" + 8-byte key number + 32-byte Ed25519 key."""
_SIZE = re.compile(r"([0-9]{1,10})([KMG]?)")
_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}


def url(value: object) -> str:
    """An http:// or https:// URL with a host: the root of a release tree."""
    expected = "an http:// or https:// URL of a release tree"
    if not isinstance(value, str):
        raise BadValueError(expected)
    parts = urlsplit(value)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or any(c.isspace() for c in value)
    ):
        raise BadValueError(expected)
    return value.rstrip("/")


def root_key(value: object) -> str:
    """A signify public key's base64 line, or the absolute path of a ``.pub`` file."""
    expected = "a signify public key (its base64 line) or the absolute path of a .pub file"
    if not isinstance(value, str) or not value:
        raise BadValueError(expected)
    if value.startswith("/"):
        return value
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError:
        raise BadValueError(expected) from None
    if len(raw) != PUBLIC_KEY_LENGTH or raw[:2] != b"Ed":
        raise BadValueError(expected)
    return value


def fraction(value: object) -> float:
    """A number from 0 to 1, as a TOML float or integer or a decimal string."""
    expected = "a fraction from 0 to 1 (e.g. 0.25)"
    if isinstance(value, bool):
        raise BadValueError(expected)
    if isinstance(value, str) and re.fullmatch(r"[0-9]*\.?[0-9]+", value):
        value = float(value)
    if not isinstance(value, int | float) or not 0 <= value <= 1:
        raise BadValueError(expected)
    return float(value)


def size(value: object) -> int:
    """Bytes, or a number with K, M or G (binary): ``8M``."""
    expected = "a size in bytes, or with K, M or G (e.g. 8M), up to 1G"
    if isinstance(value, bool):
        raise BadValueError(expected)
    if isinstance(value, int):
        value = str(value)
    found = _SIZE.fullmatch(value) if isinstance(value, str) else None
    if found is None:
        raise BadValueError(expected)
    result = int(found[1]) * _UNITS[found[2]]
    if not 1 <= result <= MAX_SIZE_LIMIT:
        raise BadValueError(expected)
    return result


def directory(value: object) -> str:
    """An absolute directory path."""
    found = path_text(value)
    if not PurePosixPath(found).is_absolute():
        raise BadValueError("an absolute directory path")
    return found


UPDATE: Mapping[str, Spec] = MappingProxyType(
    {
        "url": Spec(url),
        "root_keys": Spec(root_key, many=True),
        "interval": Spec(integer(MIN_INTERVAL, MAX_INTERVAL)),
        "jitter": Spec(fraction),
        "ram_dir": Spec(directory),
        "flash_dir": Spec(directory),
        "builtin_dir": Spec(directory),
        "flash_copy_interval": Spec(integer(0, 365 * 86400)),
        "max_size": Spec(size),
    }
)


def read_update(section: Section, run: Run) -> UpdateSettings | None:
    """The section's settings, or None when it has errors (each reported to ``run``)."""
    given: Values = convert(section, UPDATE, "section 'update'", run)
    before = len(run.problems)
    for name in ("url", "root_keys"):
        if section.option(name) is None:
            run.error(
                section.file,
                section.line,
                f"section 'update': option '{name}' is required",
            )
    if len(run.problems) > before or any(
        section.option(name) is not None and name not in given for name in UPDATE
    ):
        return None
    return UpdateSettings(
        url=get(given, "url", ""),
        root_keys=strings(get(given, "root_keys", ())),
        interval=get(given, "interval", DEFAULT_INTERVAL),
        jitter=get(given, "jitter", DEFAULT_JITTER),
        ram_dir=get(given, "ram_dir", DEFAULT_RAM_DIR),
        flash_dir=get(given, "flash_dir", DEFAULT_FLASH_DIR),
        builtin_dir=get(given, "builtin_dir", DEFAULT_BUILTIN_DIR),
        flash_copy_interval=get(given, "flash_copy_interval", DEFAULT_FLASH_COPY_INTERVAL),
        max_size=get(given, "max_size", DEFAULT_MAX_SIZE),
    )
