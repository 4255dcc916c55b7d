"""`copgate check` names why a listed site is blocked: the proposal, or the upstream source.

The release's ``provenance.json`` sits beside its cache (the updater puts it
there); ``check`` reads it only for the entry that decided.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from copgate.cli import main
from copgate.lists.compile import build_cache
from copgate.lists.model import ListEntry
from tests.lists.provenance_sample import sample_bytes

BUILT = 1_700_000_000


@pytest.fixture
def config(tmp_path: Path) -> Path:
    release = tmp_path / "release"
    release.mkdir()
    data, _ = build_cache(
        [
            ListEntry("casino.example", frozenset({"gambling"})),
            ListEntry("poker.example", frozenset({"gambling"})),
            ListEntry("school.example", frozenset({"starter_whitelist"}), white=True),
        ],
        build_time=BUILT,
    )
    (release / "lists.cache").write_bytes(data)
    (release / "provenance.json").write_bytes(sample_bytes())
    path = tmp_path / "copgate.toml"
    path.write_text(
        f"""
[general]
lists = ["{release / "lists.cache"}"]
timezone = "UTC0"

[group.everyone]
block_categories = ["gambling"]
""",
        encoding="utf-8",
    )
    return path


def check(capsys: pytest.CaptureFixture[str], config: Path, *argv: str) -> tuple[int, str, str]:
    status = main(["check", *argv, "--config", str(config), "--at", "2026-12-06T10:00"])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_a_curated_block_names_its_proposal(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    status, out, err = check(capsys, config, "www.casino.example")
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert lines[-2:] == [
        "  why: release 7: listed by proposal #12 (add, by erin, approved by ada on "
        "2026-12-05T09:30:00+00:00; list default)",
        "verdict: block",
    ]
    assert "  match: casino.example" in lines


def test_an_upstream_block_names_the_source(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    _status, out, _err = check(capsys, config, "poker.example")
    assert [line for line in out.splitlines() if line.startswith("  why:")] == [
        "  why: release 7: from upstream source ut1 (ut1, https://dsi.ut-capitole.fr/"
        "blacklists/download/blacklists.tar.gz, sha256 5f5f5f5f5f5f5f5f, "
        "fetched 2026-12-05T03:00:00+00:00)"
    ]


def test_a_name_removed_from_upstream_says_so(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    _status, out, _err = check(capsys, config, "www.wrongly.example")
    lines = out.splitlines()
    assert lines[-1] == "verdict: allow"
    assert lines[-2] == (
        "  why: release 7: wrongly.example removed from the upstream lists by proposal #13 "
        "(remove, by erin, approved by ada on 2026-12-05T09:30:00+00:00; list default)"
    )


def test_json_carries_the_proposal(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    _status, out, _err = check(capsys, config, "casino.example", "--json")
    answer = json.loads(out)
    assert answer["verdict"] == "block"
    [origin] = answer["provenance"]
    assert origin["file"] == str(config.parent / "release" / "provenance.json")
    assert origin["release"] == 7
    assert [(e["proposal"], e["expert"], e["approver"]) for e in origin["entries"]] == [
        (12, "erin", "ada")
    ]
    assert origin["sources"] == [] and origin["removed"] == []


def test_a_decision_not_made_by_a_list_entry_has_no_provenance(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    _status, out, _err = check(capsys, config, "casino.example", "--qtype", "HTTPS", "--json")
    answer = json.loads(out)
    assert (answer["rule"], answer["provenance"]) == ("bypass", [])


def test_without_the_file_nothing_is_added(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    (config.parent / "release" / "provenance.json").unlink()
    status, out, err = check(capsys, config, "casino.example")
    assert (status, err) == (0, "")
    assert not any(line.startswith("  why:") for line in out.splitlines())


def test_a_malformed_file_is_a_warning_naming_it(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    path = config.parent / "release" / "provenance.json"
    path.write_bytes(b'{"format": 1, "release": 7}')
    status, out, err = check(capsys, config, "casino.example")
    assert status == 0
    assert out.splitlines()[-1] == "verdict: block"
    assert err == f"warning: provenance not shown: {path}: missing field 'sources'\n"
