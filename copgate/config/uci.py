"""A direct reader of the UCI file syntax (``/etc/config/copgate``), no libuci.

It follows libuci's ``file.c`` (openwrt/uci), so a file that ``uci`` reads
reads the same here:

- Commands ``config TYPE ['NAME']``, ``option NAME ['VALUE']``,
  ``list NAME ['VALUE']``, ``package NAME``; libuci also takes the one-letter
  forms ``c``, ``o``, ``l``, ``p``. ``#`` starts a comment wherever a word
  could start or continue (``foo#bar`` is ``foo``); it is an ordinary
  character inside quotes.
- A word is a shell-like concatenation of parts: ``'single'`` (no escapes at
  all), ``"double"`` (a backslash takes the next character literally, so
  ``\\"`` is ``"`` and ``\\n`` is ``n``: libuci decodes nothing else), and
  unquoted characters (a backslash also takes the next one literally). So
  ``'a'"b"c`` is ``abc``.
- A quoted part may span lines; the newlines are part of the value. A
  backslash at the end of a line (outside single quotes) joins the next line,
  dropping the newline.
- An empty word (``''``) counts as absent, as in libuci: ``config group ''`` is
  an anonymous section and ``option ''`` lacks a name.
- Section and option names are letters, digits and ``_``; a section type is
  any printable ASCII without spaces; a package name may also hold ``-``.

Where copgate differs, on purpose:

- ``;`` outside quotes ends a command, as the syntax intends. (libuci's
  in-place tokenizer drops the command after ``;`` when the preceding value
  was unquoted; writing one command per line avoids the question.)
- Every syntax error of the file is reported, each with its line, not only
  the first; a command with an error is skipped.
- Windows line ends (CR LF) are read as LF.
- ``package`` is accepted only before the first section: one file is one
  package here, and the package name is not checked.

What libuci does when a named section or an option repeats (merge, last one
wins) is not decided here: this module returns every command in file order
and ``read_uci`` reports repeats as errors, because in a filter's config a
repeated group or option is a mistake more often than an intent.

This module parses text it is given; it never reads files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from copgate.config.document import (
    ConfigErrors,
    Document,
    Item,
    Option,
    Problem,
    Section,
)

_BLANKS = frozenset(" \t\r\f\v")
"""isspace() without the newline, which ends a command."""
_NAME = re.compile(r"[A-Za-z0-9_]+")
"""libuci uci_validate_name: section and option names."""
_TYPE = re.compile(r"[\x21-\x7e]+")
"""libuci uci_validate_type: printable ASCII, no space."""
_PACKAGE = re.compile(r"[A-Za-z0-9_-]+")
"""libuci uci_validate_package."""
_COMMANDS = {
    "config": "config",
    "c": "config",
    "option": "option",
    "o": "option",
    "list": "list",
    "l": "list",
    "package": "package",
    "p": "package",
}


@dataclass(frozen=True, slots=True)
class UciOption:
    """One ``option`` or ``list`` command."""

    name: str
    value: str
    line: int
    """The line the value starts on (the command's line when there is no value)."""
    is_list: bool


@dataclass(frozen=True, slots=True)
class UciSection:
    """One ``config`` command and the options that follow it."""

    type: str
    name: str | None
    """None for an anonymous section."""
    line: int
    options: tuple[UciOption, ...]


@dataclass(frozen=True, slots=True)
class UciFile:
    """A parsed UCI file: every section in file order, repeats kept."""

    package: str | None
    sections: tuple[UciSection, ...]


@dataclass(frozen=True, slots=True)
class _Word:
    text: str
    line: int


class _UnterminatedQuoteError(Exception):
    """A quote is still open at the end of the file."""

    def __init__(self, quote: str, line: int) -> None:
        super().__init__(quote)
        self.quote = quote
        self.line = line


class _Lexer:
    """Cuts the text into commands (lists of words), libuci's parse_str rules."""

    def __init__(self, text: str) -> None:
        self.text = text.replace("\r\n", "\n")
        self.pos = 0
        self.line = 1

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _take(self) -> str:
        char = self.text[self.pos]
        self.pos += 1
        if char == "\n":
            self.line += 1
        return char

    def command(self) -> tuple[int, list[_Word]] | None:
        """The next command's line and words; None at the end of the text."""
        words: list[_Word] = []
        line = self.line
        while True:
            char = self._peek()
            if char == "":
                return (line, words) if words else None
            if char in _BLANKS:
                self._take()
            elif char in "\n;":
                self._take()
                if words:
                    return line, words
                line = self.line
            elif char == "#":
                while self._peek() not in ("", "\n"):
                    self._take()
            else:
                if not words:
                    line = self.line
                words.append(self._word())

    def _word(self) -> _Word:
        line = self.line
        parts: list[str] = []
        while True:
            char = self._peek()
            if char == "" or char in _BLANKS or char in "\n;#":
                return _Word("".join(parts), line)
            if char == "'":
                parts.append(self._single_quoted())
            elif char == '"':
                parts.append(self._double_quoted())
            elif char == "\\":
                self._take()
                escaped = self._peek()
                if escaped == "\n":
                    self._take()  # a continuation line: the newline is dropped
                elif escaped != "":
                    parts.append(self._take())
            else:
                parts.append(self._take())

    def _single_quoted(self) -> str:
        line = self.line
        self._take()
        start = self.pos
        end = self.text.find("'", start)
        if end < 0:
            raise _UnterminatedQuoteError("'", line)
        while self.pos < end:
            self._take()
        self._take()
        return self.text[start:end]

    def _double_quoted(self) -> str:
        line = self.line
        self._take()
        parts: list[str] = []
        while True:
            char = self._peek()
            if char == "":
                raise _UnterminatedQuoteError('"', line)
            self._take()
            if char == '"':
                return "".join(parts)
            if char == "\\":
                escaped = self._peek()
                if escaped == "":
                    raise _UnterminatedQuoteError('"', line)
                self._take()
                if escaped != "\n":
                    parts.append(escaped)
            else:
                parts.append(char)


class _SyntaxError(Exception):
    """A command is malformed; the message says how."""


class _Builder:
    """Accumulates sections while commands are read."""

    def __init__(self) -> None:
        self.package: str | None = None
        self.sections: list[UciSection] = []
        self.current: tuple[str, str | None, int, list[UciOption]] | None = None
        self.broken = False
        """True after a malformed ``config`` line, until the next good one."""

    def close(self) -> None:
        if self.current is not None:
            kind, name, line, options = self.current
            self.sections.append(UciSection(kind, name, line, tuple(options)))
            self.current = None

    def apply(self, line: int, words: list[_Word]) -> None:
        command = _COMMANDS.get(words[0].text)
        if command is None:
            raise _SyntaxError(
                f"invalid command '{words[0].text}': expected config, option, list or package"
            )
        args = words[1:]
        if command == "package":
            self._package(args)
        elif command == "config":
            self.close()
            # Until this section header is read, its options belong to no section:
            # skip them rather than report each as outside a section.
            self.broken = True
            self._config(line, args)
            self.broken = False
        elif not self.broken:
            self._option(line, args, is_list=command == "list")

    def _package(self, args: list[_Word]) -> None:
        name = _argument(args, 0, "package", "a package name")
        _no_more(args, 1)
        if not _PACKAGE.fullmatch(name):
            raise _SyntaxError(f"invalid package name '{name}'")
        if self.current is not None or self.sections:
            raise _SyntaxError("'package' after a section: one file holds one package")
        self.package = name

    def _config(self, line: int, args: list[_Word]) -> None:
        kind = _argument(args, 0, "config", "a section type")
        if not _TYPE.fullmatch(kind):
            raise _SyntaxError(f"invalid section type '{kind}': printable characters, no spaces")
        name = args[1].text if len(args) > 1 else ""
        _no_more(args, 2)
        if name and not _NAME.fullmatch(name):
            raise _SyntaxError(
                f"invalid section name '{name}': uci names are letters, digits and '_'"
            )
        self.current = (kind, name or None, line, [])

    def _option(self, line: int, args: list[_Word], *, is_list: bool) -> None:
        command = "list" if is_list else "option"
        if self.current is None:
            raise _SyntaxError(f"'{command}' before the first 'config' section")
        name = _argument(args, 0, command, "an option name")
        if not _NAME.fullmatch(name):
            raise _SyntaxError(
                f"invalid option name '{name}': uci names are letters, digits and '_'"
            )
        value, value_line = (args[1].text, args[1].line) if len(args) > 1 else ("", line)
        _no_more(args, 2)
        self.current[3].append(UciOption(name, value, value_line, is_list))


def _argument(args: list[_Word], index: int, command: str, what: str) -> str:
    if len(args) <= index or args[index].text == "":
        raise _SyntaxError(f"'{command}' needs {what}")
    return args[index].text


def _no_more(args: list[_Word], count: int) -> None:
    extra = [word.text for word in args[count:] if word.text]
    if extra:
        raise _SyntaxError(
            f"too many arguments: '{extra[0]}' (quote a value that holds spaces: 'a b')"
        )


def parse_uci(text: str, file: str) -> UciFile:
    """Parse UCI text; raise ``ConfigErrors`` listing every syntax error."""
    lexer = _Lexer(text)
    builder = _Builder()
    problems: list[Problem] = []
    while True:
        try:
            command = lexer.command()
        except _UnterminatedQuoteError as exc:
            problems.append(
                Problem(file, exc.line, f"unterminated {exc.quote} quote: it is never closed")
            )
            break
        if command is None:
            break
        line, words = command
        try:
            builder.apply(line, words)
        except _SyntaxError as exc:
            problems.append(Problem(file, line, str(exc)))
    if problems:
        raise ConfigErrors(problems)
    builder.close()
    return UciFile(builder.package, tuple(builder.sections))


def read_uci(text: str, file: str) -> Document:
    """Parse UCI text into the common ``Document``.

    ``list NAME`` lines of a section gather into one option in order. An
    ``option`` given twice, or both ``option`` and ``list`` for one name, is an
    error (libuci would keep the last, or silently turn the option into a
    list). Raises ``ConfigErrors`` with every problem.
    """
    parsed = parse_uci(text, file)
    problems: list[Problem] = []
    sections = tuple(_section(section, file, problems) for section in parsed.sections)
    if problems:
        raise ConfigErrors(problems)
    return Document(file, sections)


def _section(section: UciSection, file: str, problems: list[Problem]) -> Section:
    gathered: dict[str, list[UciOption]] = {}
    for option in section.options:
        seen = gathered.setdefault(option.name, [])
        if seen and not (seen[0].is_list and option.is_list):
            first = seen[0]
            how = "set again" if not (first.is_list or option.is_list) else "both option and list"
            problems.append(
                Problem(
                    file,
                    option.line,
                    f"option '{option.name}' in {_where(section)}: {how} "
                    f"(first on line {first.line}); give it once",
                )
            )
            continue
        seen.append(option)
    options = tuple(
        Option(
            name,
            tuple(Item(option.value, option.line) for option in given),
            given[0].is_list,
            file,
            given[0].line,
        )
        for name, given in gathered.items()
    )
    return Section(section.type, section.name, options, file, section.line)


def _where(section: UciSection) -> str:
    if section.name is None:
        return f"a '{section.type}' section"
    if section.type == "group":
        return f"group '{section.name}'"
    return f"section '{section.name}'"
