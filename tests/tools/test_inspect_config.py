"""``copgate inspect --config``: each flow's name judged as the daemon would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from copgate.cli import main
from copgate.lists.compile import EntryTable, build_cache
from copgate.lists.install import install_cache
from copgate.tools.samples import write_sample_capture

CONFIG = """
[general]
lists = ["{lists}"]
timezone = "UTC0"
lan_interfaces = ["br-lan"]
default_group = "kids"

[group.kids]
mode = "filter"
addresses = ["192.0.2.0/24", "2001:db8:1::/64"]
block_categories = ["gambling", "games"]
"""


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path]:
    table = EntryTable()
    table.add_names(["casino.example"], frozenset({"gambling"}))
    table.add_names(["games.example"], frozenset({"games"}))
    data, _report = build_cache(table, build_time=1_700_000_000)
    install_cache(data, tmp_path / "lists.cgc")
    config = tmp_path / "copgate.toml"
    config.write_text(CONFIG.format(lists=tmp_path / "lists.cgc"))
    capture = tmp_path / "sample.pcap"
    write_sample_capture(capture)
    return capture, config


def test_each_row_gets_the_verdict_and_reason(
    setup: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    capture, config = setup
    assert main(["inspect", str(capture), "--config", str(config), "--json"]) == 0
    rows = {row["name"]: row for row in map(json.loads, capsys.readouterr().out.splitlines())}
    assert rows["casino.example"]["verdict"] == "block"
    assert rows["casino.example"]["category"] == "gambling"
    assert rows["casino.example"]["list"] == "lists"  # lists.cgc
    assert rows["casino.example"]["match"] == "casino.example"
    assert rows["casino.example"]["group"] == "kids"
    assert rows["games.example"]["verdict"] == "block"  # plain HTTP, by Host
    assert rows["www.wikipedia.org"]["verdict"] == "allow"
    assert rows["www.wikipedia.org"]["list"] is None  # in no list
    assert rows["use-application-dns.net"]["rule"] == "bypass"  # Firefox's canary
    assert rows["bad\\x07name.example"]["rule"] == "invalid_name"
    assert all(row["reason"] for row in rows.values())


def test_without_config_there_is_no_verdict(
    setup: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    capture, _config = setup
    assert main(["inspect", str(capture), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows and not any("verdict" in row for row in rows)


def test_a_bad_config_is_an_error_naming_the_file(
    setup: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture, _config = setup
    bad = tmp_path / "bad.toml"
    bad.write_text("[group.kids]\nmode = 'sometimes'\n")
    assert main(["inspect", str(capture), "--config", str(bad)]) == 2
    assert str(bad) in capsys.readouterr().err
