"""The updater's settings as a value: what ``[update]`` / ``config update`` says.

Pure data, imported by the config model (``copgate.policy.model.Config``);
``copgate.update.settings`` reads and checks it. This module never reads files.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_INTERVAL = 6 * 3600
DEFAULT_JITTER = 0.25
DEFAULT_RAM_DIR = "/var/lib/copgate/releases"
"""RAM on OpenWrt (/var is a tmpfs): lost at reboot, free to write."""
DEFAULT_FLASH_DIR = "/etc/copgate/releases"
"""Kept over sysupgrade; written at most once per ``flash_copy_interval`` (flash wears)."""
DEFAULT_BUILTIN_DIR = "/usr/share/copgate"
"""The package's own lists (``lists.cache``): the release of last resort."""
DEFAULT_FLASH_COPY_INTERVAL = 86400
DEFAULT_MAX_SIZE = 8 * 1024 * 1024
"""The list cache's size budget (docs/lists-cache.md, ``--budget 8M``): a
release whose artefact is larger is refused before a byte of it is fetched."""


@dataclass(frozen=True, slots=True)
class UpdateSettings:
    """How the gateway keeps its lists current."""

    url: str
    """The release tree's root; ``release.json`` is fetched from ``url + "/release.json"``."""
    root_keys: tuple[str, ...]
    """Signify public keys (base64 lines) or paths of ``.pub`` files: who may sign key sets."""
    interval: int = DEFAULT_INTERVAL
    """Seconds between polls, before jitter."""
    jitter: float = DEFAULT_JITTER
    """Each wait is ``interval`` times a random factor in ``1 - jitter .. 1 + jitter``."""
    ram_dir: str = DEFAULT_RAM_DIR
    flash_dir: str = DEFAULT_FLASH_DIR
    builtin_dir: str = DEFAULT_BUILTIN_DIR
    flash_copy_interval: int = DEFAULT_FLASH_COPY_INTERVAL
    """Seconds between two copies to flash; 0 copies every release."""
    max_size: int = DEFAULT_MAX_SIZE
    """Largest artefact accepted, in bytes."""

    @property
    def lists_path(self) -> str:
        """The cache the daemon opens: the release in force, through the ``current`` link."""
        return f"{self.ram_dir}/current/lists.cache"
