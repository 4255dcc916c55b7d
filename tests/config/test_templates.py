"""Template files: parsed once, their texts read, their layout checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from copgate.config.document import ConfigErrors, Item
from copgate.config.templates import TemplateStore, parse_template

FIXTURES = Path(__file__).parent / "fixtures" / "templates"


def test_a_template_s_texts_options_and_windows() -> None:
    template = TemplateStore(FIXTURES).get("school")
    assert template.name == "school"
    assert template.titles["ru"] == "Школа: фильтр по категориям и безопасный поиск"
    assert set(template.descriptions) == {"en", "ru"}
    mode = template.group.option("mode")
    assert mode is not None and mode.items == (Item("filter", 10),)
    assert template.group.kind == "template"
    (window,) = template.windows
    assert window.line == 16
    assert window.option("group") is None  # a template's window belongs to its user
    assert template.problems == ()


def test_the_store_reads_each_template_once(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text('[template]\ntitle.en = "T"\ndescription.en = "D"\n[group]\nmode = "off"\n')
    store = TemplateStore(tmp_path)
    first = store.get("t")
    path.unlink()
    assert store.get("t") is first
    assert store.names() == ()


def test_absent_templates() -> None:
    assert TemplateStore(FIXTURES / "nowhere").names() == ()
    with pytest.raises(ConfigErrors) as caught:
        TemplateStore(FIXTURES).get("nothing")
    assert caught.value.lines == [f"{FIXTURES / 'nothing.toml'}: no such template file"]


def test_layout_problems_are_kept_for_the_validator() -> None:
    template = parse_template('[templat]\n[group]\nmode = "off"\n', "t.toml", "t")
    assert [str(problem) for problem in template.problems] == [
        "t.toml:1: unknown table 'templat': expected [template] and [group] "
        "(did you mean 'template'?)",
        "t.toml:1: a template needs a [template] table",
        "t.toml:1: option 'title' in [template]: expected title.en = \"...\"",
        "t.toml:1: option 'description' in [template]: expected description.en = \"...\"",
    ]
    template = parse_template('[template]\ntitle.en = "T"\ndescription.en = "D"\n', "t.toml", "t")
    assert [str(problem) for problem in template.problems] == [
        "t.toml:1: a template needs a [group] table"
    ]


def test_a_syntax_error_raises() -> None:
    with pytest.raises(ConfigErrors) as caught:
        parse_template("[template\n", "t.toml", "t")
    assert caught.value.lines[0].startswith("t.toml:1: TOML syntax: ")


SHIPPED = Path(__file__).parents[2] / "lists" / "templates"


@pytest.mark.parametrize(
    ("name", "evasion"),
    [
        ("school", "refuse"),
        ("primary-walled-garden", "refuse"),
        ("home-young-children", "refuse"),
        ("home-teenagers", "refuse"),
        ("staff", "allow"),
    ],
)
def test_every_shipped_template_states_its_evasion_treatment(name: str, evasion: str) -> None:
    template = TemplateStore(SHIPPED).get(name)
    option = template.group.option("evasion")
    assert option is not None and [item.value for item in option.items] == [evasion]
