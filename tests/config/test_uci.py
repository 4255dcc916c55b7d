"""The UCI reader: libuci's quoting and command rules, line numbers, every error."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from copgate.config.document import ConfigErrors, Item
from copgate.config.uci import UciFile, UciOption, parse_uci, read_uci


def parse(text: str) -> UciFile:
    return parse_uci(text, "test.uci")


def values(text: str) -> list[str]:
    """The values of every option of a one-section file, in order."""
    return [option.value for option in parse("config s\n" + text).sections[0].options]


def errors(text: str) -> list[str]:
    with pytest.raises(ConfigErrors) as caught:
        read_uci(text, "test.uci")
    return caught.value.lines


def test_sections_options_and_lists_keep_their_lines() -> None:
    parsed = parse(
        "package copgate\n"
        "\n"
        "config general 'general'\n"
        "\toption timezone 'MSK-3'\n"
        "config group 'pupils'\n"
        "\tlist interfaces 'br-a'\n"
        "\tlist interfaces 'br-b'\n"
        "config window\n"
        "\toption group pupils\n"
    )
    assert parsed.package == "copgate"
    assert [(s.type, s.name, s.line) for s in parsed.sections] == [
        ("general", "general", 3),
        ("group", "pupils", 5),
        ("window", None, 8),
    ]
    assert parsed.sections[1].options == (
        UciOption("interfaces", "br-a", 6, True),
        UciOption("interfaces", "br-b", 7, True),
    )
    assert parsed.sections[2].options == (UciOption("group", "pupils", 9, False),)


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("'plain'", "plain"),
        ("unquoted", "unquoted"),
        ('"double"', "double"),
        # Single quotes: no escapes at all, '#' and '"' are ordinary.
        (r"'a\b#c\"d'", 'a\\b#c\\"d'),
        # Double quotes: a backslash takes the next character as it is.
        (r'"a\"b\\c\n\'"', "a\"b\\cn'"),
        ('"it\'s"', "it's"),
        # Unquoted: a backslash escapes too (a space here).
        (r"a\ b", "a b"),
        # Parts concatenate like a shell word.
        ("'a'\"b\"c", "abc"),
        ("foo'bar baz'", "foobar baz"),
        ("'it'\\''s'", "it's"),  # how `uci export` writes a quote
        # '#' ends an unquoted word and starts a comment.
        ("foo#bar", "foo"),
        ("'foo'#bar", "foo"),
        ("'#not a comment'", "#not a comment"),
        ("'x'   # a comment", "x"),
        ("''", ""),
        ("", ""),
    ],
)
def test_quoting_as_libuci_reads_it(written: str, value: str) -> None:
    assert values(f"\toption name {written}\n") == [value]


def test_a_quoted_value_spans_lines_and_keeps_its_newlines() -> None:
    parsed = parse("config s\n\toption cert 'line one\nline two'\n\toption after 'x'\n")
    assert parsed.sections[0].options == (
        UciOption("cert", "line one\nline two", 2, False),
        UciOption("after", "x", 4, False),
    )
    assert values('\toption v "a\nb"\n') == ["a\nb"]


def test_a_backslash_at_the_end_of_a_line_joins_the_next() -> None:
    assert values('\toption v "abc\\\ndef"\n') == ["abcdef"]
    assert values("\toption v abc\\\ndef\n") == ["abcdef"]
    # In single quotes a backslash is literal and the newline stays.
    assert values("\toption v 'abc\\\ndef'\n") == ["abc\\\ndef"]


def test_semicolons_separate_commands() -> None:
    parsed = parse("config group 'a'; option mode off; list interfaces 'br-a'\n")
    assert parsed.sections[0].options == (
        UciOption("mode", "off", 1, False),
        UciOption("interfaces", "br-a", 1, True),
    )
    assert values("\toption v 'a;b'\n") == ["a;b"]


def test_one_letter_commands_and_anonymous_sections() -> None:
    parsed = parse("c group 'a'\no mode off\nl interfaces br-a\nc window ''\np\n"[:-2])
    assert [(s.type, s.name) for s in parsed.sections] == [("group", "a"), ("window", None)]
    assert parsed.sections[0].options[1] == UciOption("interfaces", "br-a", 3, True)


def test_windows_line_ends_and_comments() -> None:
    parsed = parse("# header\r\nconfig group 'a'\r\n\t# note\r\n\toption mode 'off'\r\n")
    assert parsed.sections[0].options == (UciOption("mode", "off", 4, False),)


def test_an_option_without_a_value_is_empty() -> None:
    assert values("\toption description\n") == [""]


def test_read_uci_gathers_list_lines_into_one_option() -> None:
    document = read_uci(
        "config group 'a'\n\tlist macs 'x'\n\toption mode 'off'\n\tlist macs 'y'\n", "f"
    )
    macs = document.sections[0].options[0]
    assert macs.name == "macs" and macs.many
    assert macs.items == (Item("x", 2), Item("y", 4))
    assert (macs.file, macs.line) == ("f", 2)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "frobnicate x\n",
            "test.uci:1: invalid command 'frobnicate': expected config, option, list or package",
        ),
        ("option a b\n", "test.uci:1: 'option' before the first 'config' section"),
        ("config\n", "test.uci:1: 'config' needs a section type"),
        ("config ''\n", "test.uci:1: 'config' needs a section type"),
        (
            "config group 'older-pupils'\n",
            "test.uci:1: invalid section name 'older-pupils': "
            "uci names are letters, digits and '_'",
        ),
        (
            "config group a b\n",
            "test.uci:1: too many arguments: 'b' (quote a value that holds spaces: 'a b')",
        ),
        (
            "config s\n\toption mode whitelist walled\n",
            "test.uci:2: too many arguments: 'walled' (quote a value that holds spaces: 'a b')",
        ),
        (
            "config s\n\toption 'safe-search' 1\n",
            "test.uci:2: invalid option name 'safe-search': uci names are letters, digits and '_'",
        ),
        ("config s\n\tlist\n", "test.uci:2: 'list' needs an option name"),
        (
            "config s\npackage x\n",
            "test.uci:2: 'package' after a section: one file holds one package",
        ),
        ("package 'a b'\n", "test.uci:1: invalid package name 'a b'"),
        (
            "config 'a b'\n",
            "test.uci:1: invalid section type 'a b': printable characters, no spaces",
        ),
        (
            "config s\n\toption a 'open\n\n\n",
            "test.uci:2: unterminated ' quote: it is never closed",
        ),
        ('config s\n\toption a "open\\"\n', 'test.uci:2: unterminated " quote: it is never closed'),
        (
            "config s n\n\toption a 1\n\toption a 2\n",
            "test.uci:3: option 'a' in section 'n': set again (first on line 2); give it once",
        ),
        (
            "config group g\n\tlist a 1\n\toption a 2\n",
            "test.uci:3: option 'a' in group 'g': "
            "both option and list (first on line 2); give it once",
        ),
        (
            "config window\n\toption a 1\n\tlist a 2\n",
            "test.uci:3: option 'a' in a 'window' "
            "section: both option and list (first on line 2); give it once",
        ),
    ],
)
def test_each_syntax_error_names_its_line(text: str, expected: str) -> None:
    assert errors(text) == [expected]


def test_every_syntax_error_of_a_file_is_reported() -> None:
    text = "config group 'a-b'\n\toption x 1\nbogus\nconfig s\n\toption x 1 2\n"
    assert errors(text) == [
        # The options of a section whose header is wrong are not reported again.
        "test.uci:1: invalid section name 'a-b': uci names are letters, digits and '_'",
        "test.uci:3: invalid command 'bogus': expected config, option, list or package",
        "test.uci:5: too many arguments: '2' (quote a value that holds spaces: 'a b')",
    ]


def test_an_unterminated_quote_stops_the_scan_at_its_opening_line() -> None:
    assert errors("bogus\nconfig s\n\toption a 'x\n\toption b 'y'\n") == [
        "test.uci:1: invalid command 'bogus': expected config, option, list or package",
        # The quote opened on line 3 swallows "\n\toption b " and closes at 'y',
        # leaving y' which opens another quote that never closes.
        "test.uci:4: unterminated ' quote: it is never closed",
    ]


def uci_export(value: str) -> str:
    """How `uci export` (libuci uci_escape) writes a value: single quotes, ' as '\\''."""
    return "'" + value.replace("'", "'\\''") + "'"


@given(st.lists(st.text(alphabet=st.characters(blacklist_characters="\r\x00")), max_size=4))
def test_what_uci_export_writes_reads_back(values_written: list[str]) -> None:
    text = "config group 'g'\n" + "".join(
        f"\tlist v {uci_export(value)}\n" for value in values_written
    )
    assert [option.value for option in parse(text).sections[0].options] == values_written


@given(st.text(alphabet=st.sampled_from("config option list 'ab\"\\#;\n\t-_x")))
def test_any_text_parses_or_reports_config_errors(text: str) -> None:
    try:
        read_uci(text, "fuzz")
    except ConfigErrors as exc:
        assert all(line.startswith("fuzz:") for line in exc.lines)
