"""copgate.lab.gateway: the lab's school config as the daemon loads it (no root needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from copgate.config.load import load_config
from copgate.lab.gateway import write_config

LISTS = (Path("/nonexistent/default-lists.cgc"), Path("/nonexistent/lab-lists.cgc"))


def test_the_lab_config_loads_with_its_four_groups(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, LISTS))
    assert [group.name for group in config.groups] == ["pupils", "teens", "staff", "lab2"]
    assert config.default_group == "pupils"
    assert config.settings.lists == tuple(str(path) for path in LISTS)


def test_own_block_entries_go_into_their_group(tmp_path: Path) -> None:
    path = write_config(tmp_path, LISTS, block={"teens": ["games.example", "x.example"]})
    groups = {group.name: group for group in load_config(path).groups}
    assert groups["teens"].block == ("games.example", "x.example")
    assert groups["pupils"].block == ()


def test_extra_text_adds_a_window(tmp_path: Path) -> None:
    extra = (
        '[[group.teens.window]]\ndays = ["daily"]\nstart = "08:00"\nend = "09:00"\nblock = "all"\n'
    )
    groups = {
        group.name: group for group in load_config(write_config(tmp_path, LISTS, extra)).groups
    }
    (window,) = groups["teens"].windows
    assert window.block_all


def test_an_unknown_group_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyError):
        write_config(tmp_path, LISTS, block={"nobody": ["x.example"]})
