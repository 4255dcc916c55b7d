"""TOML configs: tomllib's syntax errors keep their line; keys are located by line."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from copgate.config.document import ConfigErrors, Item
from copgate.config.tomlfile import locate_keys, read_toml

LOCATED = '''\
# a comment with key = "value" and [a.header]
[general]
timezone = "MSK-3"   # trailing [comment]
lists = [
  "/a",   # first
  # between
  "/b",
]
note = """
fake = "not a key"
[not.a.header]
"""
literal = \'\'\'
other = 1
\'\'\'
"quoted key" = 1
dotted.inner = 2
inline = { a = 1, b = [1, 2] }

[group.pupils]
mode = "whitelist"

[[group.pupils.window]]
start = "22:00"

[[group.pupils.window]]
start = "06:00"
[group.'staff']
mode = "off"
'''


def test_locate_keys_maps_headers_keys_and_array_elements() -> None:
    lines = locate_keys(LOCATED)
    expected = {
        ("general",): 2,
        ("general", "timezone"): 3,
        ("general", "lists"): 4,
        ("general", "lists", 0): 5,
        ("general", "lists", 1): 7,
        ("general", "note"): 9,
        ("general", "literal"): 13,
        ("general", "quoted key"): 16,
        ("general", "dotted", "inner"): 17,
        ("general", "inline"): 18,
        ("general", "inline", "a"): 18,
        ("general", "inline", "b", 1): 18,
        ("group", "pupils"): 20,
        ("group", "pupils", "mode"): 21,
        ("group", "pupils", "window"): 23,
        ("group", "pupils", "window", 0): 23,
        ("group", "pupils", "window", 0, "start"): 24,
        ("group", "pupils", "window", 1): 26,
        ("group", "pupils", "window", 1, "start"): 27,
        ("group", "staff"): 28,
        ("group", "staff", "mode"): 29,
    }
    assert {path: lines.line(path) for path in expected} == expected
    # Text inside multi-line strings is never taken for keys or headers.
    assert ("general", "fake") not in lines.lines
    assert ("not", "a", "header") not in lines.lines
    assert ("general", "other") not in lines.lines


def test_an_unknown_path_falls_back_to_its_nearest_parent() -> None:
    lines = locate_keys(LOCATED)
    assert lines.line(("group", "pupils", "nothing", 3)) == 20
    assert lines.line(("nowhere",)) == 1


def test_multi_line_string_ending_in_quotes_and_escapes() -> None:
    text = 'a = """x""""\nb = "q\\"uote = 1"\nc = \'\'\'y\'\'\'\'\'\nd = 4\n'
    lines = locate_keys(text)
    assert [lines.line((key,)) for key in "abcd"] == [1, 2, 3, 4]


def test_nested_arrays_of_tables_are_indexed_under_their_parent() -> None:
    text = "[[a]]\nx = 1\n[[a.b]]\ny = 2\n[[a]]\n[[a.b]]\ny = 3\n"
    lines = locate_keys(text)
    assert lines.line(("a", 0, "b", 0, "y")) == 4
    assert lines.line(("a", 1, "b", 0, "y")) == 7


def test_read_toml_maps_the_layout_onto_sections() -> None:
    document = read_toml(LOCATED.replace("[group.'staff']", "[group.staff]"), "c.toml")
    kinds = [(s.kind, s.name, s.line) for s in document.sections]
    assert kinds == [
        ("general", "general", 2),
        ("group", "pupils", 20),
        ("window", None, 23),
        ("window", None, 26),
        ("group", "staff", 28),
    ]
    lists = document.sections[0].option("lists")
    assert lists is not None and lists.many
    assert lists.items == (Item("/a", 5), Item("/b", 7))
    window = document.sections[3]
    group = window.option("group")
    assert group is not None and group.items == (Item("pupils", 26),)


def errors(text: str) -> list[str]:
    with pytest.raises(ConfigErrors) as caught:
        read_toml(text, "c.toml")
    return caught.value.lines


def test_a_syntax_error_keeps_tomllib_s_line() -> None:
    assert errors('[general]\ntimezone = "MSK-3"\nlists = [\n  "/a"\n  "/b"\n]\n') == [
        "c.toml:5: TOML syntax: Unclosed array (column 3)"
    ]
    assert errors("[general]\n[general]\n") == [
        "c.toml:2: TOML syntax: Cannot declare ('general',) twice (column 9)"
    ]


def test_layout_errors() -> None:
    assert errors('mode = "off"\n[group]\nmode = "off"\n[group.a]\nwindow = 3\n') == [
        "c.toml:1: 'mode' at the top level: expected a table [general] or [group.NAME], "
        "got a value",
        "c.toml:3: 'group.mode': expected a table [group.NAME] of a group's options, got a value",
        "c.toml:5: option 'window' in group 'a': expected [[group.a.window]] tables",
    ]
    assert errors('[[group.a.window]]\ngroup = "b"\n') == [
        "c.toml:2: option 'group' in window of group 'a': not used in TOML, a window belongs "
        "to the group whose table holds it"
    ]
    assert errors("genral = 1\n") == [
        "c.toml:1: 'genral' at the top level: expected a table [general] or [group.NAME], "
        "got a value (did you mean 'general'?)"
    ]


@given(st.text(alphabet=st.sampled_from("ab=[]{}.,\"'#\n \\x1")))
def test_the_scanner_ends_on_any_text(text: str) -> None:
    lines = locate_keys(text)
    assert all(1 <= line <= text.count("\n") + 1 for line in lines.lines.values())
