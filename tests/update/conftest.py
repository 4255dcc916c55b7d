"""Fixtures of the updater tests: a distributor, its server on 127.0.0.1, an updater."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from copgate.release.signify import public_key_line
from copgate.update.fetch import HttpFetcher, Limits
from copgate.update.model import UpdateSettings
from copgate.update.store import Store
from copgate.update.updater import Outcome, Updater
from tests.update.distributor import Clock, Distributor, Server

LIMITS = Limits(timeout=1.0, deadline=3.0)
"""Short: a stalled server is cut off within the test's second or three."""


@dataclass
class World:
    """A distributor serving release trees and a gateway's stores under one tmp dir."""

    base: Path
    distributor: Distributor
    server: Server
    clock: Clock
    settings: UpdateSettings

    def updater(self, **overrides: object) -> Updater:
        url = str(overrides.pop("url", self.server.url))
        settings = self.distributor.settings(self.base, url, **overrides)
        return Updater(settings, HttpFetcher(time.monotonic, LIMITS), self.clock)

    def check(self, **overrides: object) -> Outcome:
        return self.updater(**overrides).check()

    @property
    def ram(self) -> Store:
        return Store(self.settings.ram_dir)

    @property
    def flash(self) -> Store:
        return Store(self.settings.flash_dir)

    def config_file(self, **options: int) -> Path:
        """A TOML config with this world's [update] section (and ``options`` in it)."""
        settings = self.settings
        extra = "".join(f"{name} = {value}\n" for name, value in options.items())
        path = self.base / "copgate.toml"
        path.write_text(
            f"""[update]
url = "{self.server.url}"
root_keys = ["{public_key_line(self.distributor.root.public_key)}"]
ram_dir = "{settings.ram_dir}"
flash_dir = "{settings.flash_dir}"
builtin_dir = "{settings.builtin_dir}"
{extra}
[general]
timezone = "UTC0"

[group.everyone]
mode = "filter"
block_categories = ["adult"]
"""
        )
        return path

    def requested(self) -> list[str]:
        """Paths requested since the last call."""
        paths = [path for path, _headers in self.server.requests]
        self.server.requests.clear()
        return paths


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    distributor = Distributor()
    distributor.write_builtin(tmp_path / "builtin")
    with Server(distributor) as server:
        settings = distributor.settings(tmp_path, server.url)
        yield World(tmp_path, distributor, server, Clock(), settings)
