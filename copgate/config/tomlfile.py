"""TOML config files: parsed by the standard library, located by a small scanner.

``tomllib`` parses and reports its own syntax errors with a line, which we
keep. It gives no line numbers for the keys of a valid document, so
``locate_keys`` scans the text once more and maps each table header, each
``key =`` and each element of an array to the line it starts on. The scanner
only runs on text ``tomllib`` accepted and is good enough for messages, not a
second TOML parser: a key inside an inline table maps to its own line, a
value inside a nested array to the line of the array's element, and anything
it cannot place falls back to the line of the nearest enclosing key (or 1).

``read_toml`` maps the config layout onto the common ``Document``::

    [general]                  -> section general 'general'
    [group.NAME]               -> section group 'NAME'
    [[group.NAME.window]]      -> an anonymous section window, option group 'NAME'

This module parses text it is given; it never reads files.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass

from copgate.config.document import (
    ConfigErrors,
    Document,
    Item,
    Option,
    Problem,
    Section,
    did_you_mean,
)

KeyPath = tuple[str | int, ...]
"""Keys from the document root; an int is an index into an array."""

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_TOMLLIB_WHERE = re.compile(r"^(?P<what>.*) \(at line (?P<line>\d+), column (?P<column>\d+)\)$")
_BASIC_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\"}
_TOP_LEVEL = ("general", "group")


@dataclass(frozen=True, slots=True)
class KeyLines:
    """The line of each key path found by ``locate_keys``."""

    lines: Mapping[KeyPath, int]

    def line(self, path: KeyPath) -> int:
        """The line of ``path``, else of its nearest parent that has one, else 1."""
        while path:
            found = self.lines.get(path)
            if found is not None:
                return found
            path = path[:-1]
        return 1


class _Scanner:
    """Walks TOML text that tomllib accepted, noting where each key starts."""

    def __init__(self, text: str) -> None:
        self.text = text.replace("\r\n", "\n")
        self.pos = 0
        self.line = 1
        self.lines: dict[KeyPath, int] = {}
        self.table: KeyPath = ()
        self.array_lengths: dict[KeyPath, int] = {}

    def _peek(self, ahead: int = 0) -> str:
        index = self.pos + ahead
        return self.text[index] if index < len(self.text) else ""

    def _take(self, count: int = 1) -> None:
        for _ in range(count):
            if self.pos < len(self.text):
                if self.text[self.pos] == "\n":
                    self.line += 1
                self.pos += 1

    def _skip(self, *, newlines: bool) -> None:
        while True:
            char = self._peek()
            if char in (" ", "\t") or (newlines and char == "\n"):
                self._take()
            elif char == "#":
                while self._peek() not in ("", "\n"):
                    self._take()
            else:
                return

    def run(self) -> dict[KeyPath, int]:
        while True:
            self._skip(newlines=True)
            if self._peek() == "":
                return self.lines
            start = self.pos
            if self._peek() == "[":
                self._header()
            else:
                self._key_value(self.table)
            self._skip(newlines=False)
            while self._peek() not in ("", "\n"):  # whatever is left: move on
                self._take()
            if self.pos == start:
                self._take()

    def _header(self) -> None:
        line = self.line
        is_array = self._peek(1) == "["
        self._take(2 if is_array else 1)
        parts = self._key()
        self._take(2 if is_array else 1)
        if not parts:
            return  # not a header tomllib would accept; nothing to note
        path = self._resolve(parts[:-1] if is_array else parts)
        if is_array:
            path = (*path, parts[-1])
            index = self.array_lengths.get(path, 0)
            self.array_lengths[path] = index + 1
            self.lines.setdefault(path, line)
            path = (*path, index)
        self.lines[path] = line
        self.table = path

    def _resolve(self, parts: tuple[str, ...]) -> KeyPath:
        """A header's path, with the current index of every array of tables in it."""
        path: KeyPath = ()
        for part in parts:
            path = (*path, part)
            if path in self.array_lengths:
                path = (*path, self.array_lengths[path] - 1)
        return path

    def _key(self) -> tuple[str, ...]:
        parts: list[str] = []
        while True:
            self._skip(newlines=False)
            char = self._peek()
            if char == '"':
                parts.append(self._quoted_key(basic=True))
            elif char == "'":
                parts.append(self._quoted_key(basic=False))
            else:
                found = _BARE_KEY.match(self.text, self.pos)
                if found is None:
                    return tuple(parts)
                parts.append(found.group())
                self._take(found.end() - found.start())
            self._skip(newlines=False)
            if self._peek() != ".":
                return tuple(parts)
            self._take()

    def _quoted_key(self, *, basic: bool) -> str:
        quote = self._peek()
        self._take()
        out: list[str] = []
        while self._peek() not in ("", "\n", quote):
            char = self._peek()
            self._take()
            if basic and char == "\\":
                out.append(self._escape())
            else:
                out.append(char)
        self._take()
        return "".join(out)

    def _escape(self) -> str:
        char = self._peek()
        self._take()
        if char in ("u", "U"):
            width = 4 if char == "u" else 8
            digits = self.text[self.pos : self.pos + width]
            self._take(width)
            try:
                return chr(int(digits, 16))
            except ValueError:
                return ""
        return _BASIC_ESCAPES.get(char, char)

    def _key_value(self, table: KeyPath) -> None:
        line = self.line
        parts = self._key()
        if not parts:
            return
        path = (*table, *parts)
        for depth in range(len(table) + 1, len(path)):
            # A dotted key (title.en) makes its tables where it first appears.
            self.lines.setdefault(path[:depth], line)
        self.lines[path] = line
        self._skip(newlines=False)
        if self._peek() == "=":
            self._take()
            self._skip(newlines=False)
            self._value(path)

    def _value(self, path: KeyPath) -> None:
        char = self._peek()
        if char == "[":
            self._array(path)
        elif char == "{":
            self._inline_table(path)
        elif char in ('"', "'"):
            self._string()
        else:
            while self._peek() not in ("", ",", "]", "}", "#", "\n"):
                self._take()

    def _array(self, path: KeyPath) -> None:
        self._take()
        index = 0
        while True:
            self._skip(newlines=True)
            start = self.pos
            if self._peek() in ("]", ""):
                self._take()
                return
            self.lines[(*path, index)] = self.line
            self._value((*path, index))
            self._skip(newlines=True)
            if self._peek() == ",":
                self._take()
            index += 1
            if self.pos == start:
                self._take()

    def _inline_table(self, path: KeyPath) -> None:
        self._take()
        while True:
            self._skip(newlines=True)
            start = self.pos
            if self._peek() in ("}", ""):
                self._take()
                return
            self._key_value(path)
            self._skip(newlines=True)
            if self._peek() == ",":
                self._take()
            if self.pos == start:
                self._take()

    def _string(self) -> None:
        quote = self._peek()
        basic = quote == '"'
        triple = quote * 3
        if self.text.startswith(triple, self.pos):
            self._take(3)
            while self._peek() != "" and not self.text.startswith(triple, self.pos):
                self._take(2 if basic and self._peek() == "\\" else 1)
            self._take(3)
            # A closing delimiter may follow up to two quotes of the content (TOML 1.0).
            for _ in range(2):
                if self._peek() == quote:
                    self._take()
            return
        self._take()
        while self._peek() not in ("", "\n", quote):
            self._take(2 if basic and self._peek() == "\\" else 1)
        self._take()


def locate_keys(text: str) -> KeyLines:
    """Map every table header, key and array element of ``text`` to its line."""
    return KeyLines(_Scanner(text).run())


def parse_toml(text: str, file: str) -> tuple[dict[str, object], KeyLines]:
    """Parse TOML text; a syntax error becomes ``ConfigErrors`` with tomllib's line."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigErrors([_syntax_problem(str(exc), text, file)]) from None
    return data, locate_keys(text)


def _syntax_problem(message: str, text: str, file: str) -> Problem:
    found = _TOMLLIB_WHERE.match(message)
    if found is not None:
        return Problem(
            file,
            int(found["line"]),
            f"TOML syntax: {found['what']} (column {found['column']})",
        )
    if message.endswith(" (at end of document)"):
        return Problem(
            file,
            text.count("\n") + 1,
            f"TOML syntax: {message.removesuffix(' (at end of document)')} at the end",
        )
    return Problem(file, None, f"TOML syntax: {message}")


def options_from_table(
    table: Mapping[str, object], path: KeyPath, lines: KeyLines, file: str
) -> tuple[Option, ...]:
    """The keys of a TOML table as options; an array is a list option."""
    options: list[Option] = []
    for key, value in table.items():
        key_path = (*path, key)
        line = lines.line(key_path)
        if isinstance(value, list):
            items = tuple(
                Item(element, lines.line((*key_path, index))) for index, element in enumerate(value)
            )
            options.append(Option(key, items, True, file, line))
        else:
            options.append(Option(key, (Item(value, line),), False, file, line))
    return tuple(options)


def read_toml(text: str, file: str) -> Document:
    """Parse a TOML config into the common ``Document``; raise ``ConfigErrors``."""
    data, lines = parse_toml(text, file)
    problems: list[Problem] = []
    sections: list[Section] = []
    for key, value in data.items():
        line = lines.line((key,))
        if not isinstance(value, dict):
            problems.append(
                Problem(
                    file,
                    line,
                    f"'{key}' at the top level: expected a table [general] or [group.NAME], "
                    f"got a value{did_you_mean(key, _TOP_LEVEL)}",
                )
            )
        elif key == "group":
            sections.extend(_groups(value, lines, file, problems))
        else:
            options = options_from_table(value, (key,), lines, file)
            sections.append(Section(key, key, options, file, line))
    if problems:
        raise ConfigErrors(problems)
    return Document(file, tuple(sections))


def _groups(
    groups: Mapping[str, object], lines: KeyLines, file: str, problems: list[Problem]
) -> list[Section]:
    sections: list[Section] = []
    for name, table in groups.items():
        path: KeyPath = ("group", name)
        line = lines.line(path)
        if not isinstance(table, dict):
            problems.append(
                Problem(
                    file,
                    line,
                    f"'group.{name}': expected a table [group.NAME] of a group's options, "
                    "got a value",
                )
            )
            continue
        own = {key: value for key, value in table.items() if key != "window"}
        options = options_from_table(own, path, lines, file)
        sections.append(Section("group", name, options, file, line))
        if "window" in table:
            sections.extend(
                window_sections(
                    table["window"], name, path, lines=lines, file=file, problems=problems
                )
            )
    return sections


def window_sections(
    windows: object,
    group: str,
    group_path: KeyPath,
    *,
    lines: KeyLines,
    file: str,
    problems: list[Problem],
) -> list[Section]:
    """``[[...window]]`` tables as anonymous window sections with option ``group``."""
    path = (*group_path, "window")
    if not isinstance(windows, list) or not all(isinstance(w, dict) for w in windows):
        problems.append(
            Problem(
                file,
                lines.line(path),
                f"option 'window' in group '{group}': expected [[group.{group}.window]] tables",
            )
        )
        return []
    sections: list[Section] = []
    for index, window in enumerate(windows):
        window_path = (*path, index)
        line = lines.line(window_path)
        if "group" in window:
            problems.append(
                Problem(
                    file,
                    lines.line((*window_path, "group")),
                    f"option 'group' in window of group '{group}': not used in TOML, "
                    "a window belongs to the group whose table holds it",
                )
            )
        options = options_from_table(window, window_path, lines, file)
        options += (Option("group", (Item(group, line),), False, file, line),)
        sections.append(Section("window", None, options, file, line))
    return sections
