"""The form both config syntaxes are read into, and the errors found on the way.

A UCI file and a TOML file become the same ``Document``: sections (``general``,
``group``, ``window``) of options, each value with the file and line it came
from. One validator (``copgate.config.validate``) turns a ``Document`` into the
typed model, so both syntaxes are checked by the same code and their errors
read the same. A ``Problem`` is one error line, ``FILE:LINE: message``;
``ConfigErrors`` carries every problem of a file, so an administrator fixes them
all in one pass instead of one per reload.

This module holds values only; it never reads files.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from copgate.errors import ConfigError

Value = object
"""A value as the syntax gave it: always ``str`` from UCI; any TOML value from TOML
(``str``, ``int``, ``bool``, ``float``, dates, lists, tables)."""


@dataclass(frozen=True, slots=True)
class Item:
    """One value of an option (an ``option`` has one, a ``list`` one per line)."""

    value: Value
    line: int
    """The line the value starts on (1-based)."""


@dataclass(frozen=True, slots=True)
class Option:
    """A named option of a section, with every value given for it."""

    name: str
    items: tuple[Item, ...]
    many: bool
    """True when written as a list (UCI ``list``, a TOML array)."""
    file: str
    line: int
    """The line of the option's first value (its key in TOML)."""


@dataclass(frozen=True, slots=True)
class Section:
    """A section: UCI ``config TYPE ['NAME']``, a TOML table."""

    kind: str
    """``general``, ``group``, ``window`` (anything else is reported as unknown)."""
    name: str | None
    """The section name; None for a UCI anonymous section or a TOML window."""
    options: tuple[Option, ...]
    file: str
    line: int
    """The line of ``config`` or of the TOML table header."""

    def option(self, name: str) -> Option | None:
        """The option called ``name``, or None."""
        for option in self.options:
            if option.name == name:
                return option
        return None


@dataclass(frozen=True, slots=True)
class Document:
    """A whole config file, in file order."""

    file: str
    sections: tuple[Section, ...]


@dataclass(frozen=True, slots=True)
class Problem:
    """One error (or warning) line: where it is and what is wrong."""

    file: str
    line: int | None
    """None when the problem has no line (a file that cannot be read)."""
    message: str

    def __str__(self) -> str:
        if self.line is None:
            return f"{self.file}: {self.message}"
        return f"{self.file}:{self.line}: {self.message}"


class ConfigErrors(ConfigError):
    """A configuration file has one or more errors; ``str`` gives one per line."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))

    @property
    def lines(self) -> list[str]:
        """Each problem as ``FILE:LINE: message``."""
        return [str(problem) for problem in self.problems]


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices``, or "".

    difflib is imported here, on a config error: a daemon whose config loads
    never needs it (about 0.15 MB resident, issue 10).
    """
    import difflib  # noqa: PLC0415 - lazy, see the docstring

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
