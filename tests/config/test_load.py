"""Loading files: the syntax is picked, unreadable files are errors, reload keeps the old
config, and the shipped examples say the same thing in UCI and TOML."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from copgate.config.document import ConfigErrors
from copgate.config.load import (
    MAX_CONFIG_BYTES,
    load,
    load_config,
    reload_config,
    syntax_of,
)
from copgate.config.templates import SOURCE_TEMPLATES, TemplateStore, default_templates_dir
from copgate.policy.model import Config, Mode

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_TOML = ROOT / "examples" / "copgate.toml"
EXAMPLE_UCI = ROOT / "examples" / "school.uci"
FIXTURE_TEMPLATES = Path(__file__).parent / "fixtures" / "templates"
GOOD_TOML = '[group.g]\ninterfaces = ["br-lan"]\n'
GOOD_UCI = "config group 'g'\n\tlist interfaces 'br-lan'\n"


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return path


@pytest.mark.parametrize(
    ("name", "text", "syntax"),
    [
        ("c.toml", "config group 'g'\n", "toml"),  # the extension wins
        ("c.uci", "[group.g]\n", "uci"),
        ("copgate", "# comment\n\n[general]\n", "toml"),
        ("copgate", "  default_group = 'g'\n", "toml"),
        ("copgate", '"quoted.key" = 1\n', "toml"),
        ("copgate", "# comment\nconfig general 'general'\n", "uci"),
        ("copgate", "package copgate\n", "uci"),
        ("copgate", "", "uci"),
    ],
)
def test_the_syntax_is_picked_by_name_then_content(name: str, text: str, syntax: str) -> None:
    assert syntax_of(Path(name), text) == syntax


def test_files_under_etc_config_are_uci() -> None:
    assert syntax_of(Path("/etc/config/copgate"), "[general]\n") == "uci"


def test_both_syntaxes_load(tmp_path: Path) -> None:
    toml = load_config(write(tmp_path / "c.toml", GOOD_TOML), templates_dir=FIXTURE_TEMPLATES)
    uci = load_config(write(tmp_path / "copgate", GOOD_UCI), templates_dir=FIXTURE_TEMPLATES)
    assert toml.source == str(tmp_path / "c.toml")
    assert dataclasses.replace(toml, source="") == dataclasses.replace(uci, source="")


def test_unreadable_files_are_config_errors(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    with pytest.raises(ConfigErrors) as caught:
        load(missing)
    assert caught.value.lines == [f"{missing}: cannot read: No such file or directory"]

    latin = write(
        tmp_path / "latin.uci",
        "config group 'g'\n\toption description 'caf\xe9'\n".encode("latin-1"),
    )
    with pytest.raises(ConfigErrors) as caught:
        load(latin)
    assert caught.value.lines == [f"{latin}:2: not UTF-8 (byte 0xe9)"]

    huge = write(tmp_path / "huge.toml", b"#" * (MAX_CONFIG_BYTES + 1))
    with pytest.raises(ConfigErrors) as caught:
        load(huge)
    assert caught.value.lines == [f"{huge}: larger than {MAX_CONFIG_BYTES} bytes: not a config"]


def test_config_errors_is_a_config_error_with_one_line_per_problem(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", '[group.g]\nmode = "x"\nmacs = ["y"]\n')
    with pytest.raises(ConfigErrors) as caught:
        load(path)
    assert str(caught.value) == "\n".join(caught.value.lines)
    assert len(caught.value.problems) == 2


def test_reload_keeps_the_previous_config_when_the_new_one_is_bad(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", GOOD_TOML)
    previous = load_config(path, templates_dir=FIXTURE_TEMPLATES)

    write(path, GOOD_TOML + 'mode = "walled"\n')
    config, lines = reload_config(path, previous, templates_dir=FIXTURE_TEMPLATES)
    assert config is previous
    assert lines == [
        f"{path}:3: option 'mode' in group 'g': expected one of filter, whitelist, off, "
        "got 'walled'"
    ]

    path.unlink()
    config, lines = reload_config(path, previous)
    assert config is previous
    assert lines == [f"{path}: cannot read: No such file or directory"]


def test_reload_returns_the_new_config_and_its_warnings(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", GOOD_TOML)
    previous = load_config(path, templates_dir=FIXTURE_TEMPLATES)
    write(path, GOOD_TOML + 'mode = "off"\n')
    config, lines = reload_config(path, previous, templates_dir=FIXTURE_TEMPLATES)
    assert config is not previous
    assert config.groups[0].mode is Mode.OFF
    assert lines == [
        f"{path}:1: warning: the default group 'g' has mode off: unknown and spoofed devices "
        "land in the default group, which should be the strictest"
    ]


def test_the_templates_are_found_beside_the_package() -> None:
    assert SOURCE_TEMPLATES == ROOT / "lists" / "templates"
    assert default_templates_dir() == SOURCE_TEMPLATES


def test_the_shipped_templates_all_load() -> None:
    store = TemplateStore(default_templates_dir())
    names = store.names()
    for required in (
        "school",
        "primary-walled-garden",
        "home-young-children",
        "home-teenagers",
        "staff",
    ):
        assert required in names
    for name in names:
        template = store.get(name)
        assert template.problems == (), name
        assert {"en", "ru"} <= set(template.titles), name


def shipped(path: Path) -> Config:
    loaded = load(path)
    assert loaded.warnings == ()
    return loaded.config


def test_the_shipped_examples_load_to_the_same_config() -> None:
    toml, uci = shipped(EXAMPLE_TOML), shipped(EXAMPLE_UCI)
    assert dataclasses.replace(toml, source="") == dataclasses.replace(uci, source="")


def test_the_shipped_example_is_the_school_of_the_issue() -> None:
    config = shipped(EXAMPLE_TOML)
    pupils, older, staff = (config.group(name) for name in ("pupils", "older", "staff"))
    assert pupils is not None and older is not None and staff is not None
    assert config.default_group == "pupils"
    assert pupils.mode is Mode.WHITELIST and pupils.match.interfaces == frozenset({"br-pupils"})
    assert older.mode is Mode.FILTER and older.safe_search and older.windows
    assert staff.mode is Mode.OFF
    # The default group is the strictest, and unknown clients land there.
    assert config.group_for("br-lan", None, "02:00:00:00:00:99") is pupils
