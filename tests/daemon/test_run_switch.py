"""``copgate run`` with ``enabled = false``: it says so and exits 0, touching no queue or rule."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from copgate.daemon import run
from copgate.lists.compile import build_cache
from copgate.lists.model import ListEntry


def test_a_switched_off_config_does_not_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    data, _ = build_cache([ListEntry("adult.example", frozenset({"adult"}))], build_time=1)
    cache = tmp_path / "lists.cgc"
    cache.write_bytes(data)
    config = tmp_path / "copgate.toml"
    config.write_text(
        f'[general]\nenabled = false\nlists = ["{cache}"]\n[group.home]\nmode = "filter"\n'
    )

    def never(_self: run.Daemon) -> None:
        raise AssertionError("a switched-off copgate must not start")

    monkeypatch.setattr(run.Daemon, "start", never)
    with caplog.at_level(logging.INFO, logger="copgate"):
        assert run.run(run.Options(config=config)) == 0
    messages = [record.getMessage() for record in caplog.records]
    assert f"copgate is switched off in {config} (option enabled): not starting" in messages
    assert messages[-1] == "copgate stopped"
