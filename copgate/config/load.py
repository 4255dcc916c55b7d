"""Load a config file, UCI or TOML, into the typed model; reload without losing it.

``load_config`` reads the file, picks the syntax, builds the common
``Document`` and runs the one validator. The syntax is TOML when the file
name ends in ``.toml``, UCI when it ends in ``.uci`` or lives under
``/etc/config``, and otherwise decided by the first statement: a TOML table
header (``[general]``) or ``key =`` means TOML, anything else (``config``,
``package``) UCI.

Every error is a ``ConfigError``; the file's problems all come together as
``ConfigErrors``, one ``FILE:LINE: ...`` per line. ``reload_config`` is what
the daemon calls on SIGHUP: a bad new file leaves the running config in
place and returns the error lines to log.

This module reads the config file and the templates; nothing else.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection
from pathlib import Path

from copgate.config.document import ConfigErrors, Document, Problem
from copgate.config.site_content import expand_allow, read_site_content
from copgate.config.templates import TemplateStore, default_templates_dir
from copgate.config.validate import Loaded, validate
from copgate.policy.model import Config

SITE_CONTENT = "site-content.toml"
"""Beside the templates directory: what white-listed sites load from."""
MAX_CONFIG_BYTES = 4 * 1024 * 1024
"""A config is hand-written; a multi-megabyte one is a mistake (or /dev/zero)."""
_TOML_START = re.compile(r"""\s*(\[|[A-Za-z0-9_."'-]+\s*=)""")


def load(
    path: Path,
    *,
    catalogue: Collection[str] | None = None,
    templates_dir: Path | None = None,
) -> Loaded:
    """The config in ``path`` and its warnings; ``ConfigErrors`` lists every error.

    ``catalogue``: the category names of the lists in use; when given, every
    category the config names must be one of them. ``templates_dir``: where
    ``template = NAME`` files are (default: ``default_templates_dir()``).
    """
    text = read_text(path)
    document = parse_text(text, str(path), syntax_of(path, text))
    templates = templates_dir or default_templates_dir()
    loaded = validate(document, templates=TemplateStore(templates), catalogue=catalogue)
    table = read_site_content(templates.parent / SITE_CONTENT)
    if not table:
        return loaded
    groups = tuple(
        dataclasses.replace(group, allow=expand_allow(group.allow, table))
        for group in loaded.config.groups
    )
    return dataclasses.replace(loaded, config=dataclasses.replace(loaded.config, groups=groups))


def load_config(
    path: Path,
    *,
    catalogue: Collection[str] | None = None,
    templates_dir: Path | None = None,
) -> Config:
    """The config in ``path``; ``ConfigErrors`` lists every error. Warnings are dropped."""
    return load(path, catalogue=catalogue, templates_dir=templates_dir).config


def reload_config(
    path: Path,
    previous: Config,
    *,
    catalogue: Collection[str] | None = None,
    templates_dir: Path | None = None,
) -> tuple[Config, list[str]]:
    """Load ``path`` again for a running daemon.

    Returns the new config and its warning lines, or, when the file has any
    error, ``previous`` (the very object) and the error lines: filtering goes
    on by the last good config. The caller logs every line either way and
    tells the two apart by ``result is previous``.
    """
    try:
        loaded = load(path, catalogue=catalogue, templates_dir=templates_dir)
    except ConfigErrors as exc:
        return previous, exc.lines
    return loaded.config, [str(warning) for warning in loaded.warnings]


def read_text(path: Path) -> str:
    """The file as text; ``ConfigErrors`` if it is unreadable, too big or not UTF-8."""
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigErrors([Problem(str(path), None, f"cannot read: {exc.strerror}")]) from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigErrors(
            [Problem(str(path), None, f"larger than {MAX_CONFIG_BYTES} bytes: not a config")]
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigErrors(
            [Problem(str(path), line, f"not UTF-8 (byte 0x{raw[exc.start]:02x})")]
        ) from None


def syntax_of(path: Path, text: str) -> str:
    """``toml`` or ``uci``: by the file name, else by the first statement."""
    if path.suffix == ".toml":
        return "toml"
    if path.suffix == ".uci" or path.parent == Path("/etc/config"):
        return "uci"
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return "toml" if _TOML_START.match(stripped) else "uci"
    return "uci"


def parse_text(text: str, file: str, syntax: str) -> Document:
    """Text in the given syntax (``toml`` or ``uci``) as the common ``Document``.

    Each reader is imported when its syntax is read: a daemon keeps only the
    one its config is written in (the UCI reader is about 0.3 MB resident,
    issue 10).
    """
    if syntax == "toml":
        from copgate.config.tomlfile import read_toml  # noqa: PLC0415

        return read_toml(text, file)
    from copgate.config.uci import read_uci  # noqa: PLC0415

    return read_uci(text, file)
