"""Option values converted by the schema, with every problem of a load collected.

``Run`` is the state of one validation: the problems and warnings found so far,
the catalogue and the templates. ``convert`` reads a section's options by a
table of ``schema.Spec``: an unknown option, a list where one value belongs or
a value its converter refuses becomes a problem naming the file, line, option
and section, and the good values are kept so that the other checks still run.
A category alias (``porn``) becomes its category (``adult``), with a warning
saying so.

This module never reads files.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from copgate.config import schema
from copgate.config.document import Option, Problem, Section, did_you_mean
from copgate.config.templates import TemplateStore
from copgate.config.values import BadValueError, show
from copgate.policy.model import TimeWindow

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Converted:
    """A converted option value and the option it came from (for later messages)."""

    value: object
    option: Option


Values = dict[str, Converted]
"""Converted values by option name."""


@dataclass(slots=True)
class Run:
    """What one validation accumulates: problems, warnings, converted templates."""

    file: str
    catalogue: Collection[str] | None
    templates: TemplateStore
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    converted_templates: dict[str, tuple[Values, tuple[TimeWindow, ...]] | None] = field(
        default_factory=dict
    )

    def error(self, file: str, line: int | None, message: str) -> None:
        self.problems.append(Problem(file, line, message))

    def warn(self, file: str, line: int | None, message: str) -> None:
        self.warnings.append(Problem(file, line, f"warning: {message}"))


def convert(
    section: Section | None,
    specs: Mapping[str, schema.Spec],
    where: str,
    run: Run,
    *,
    in_template: bool = False,
) -> Values:
    """Convert a section's options by ``specs``; report each bad value, keep the good."""
    converted: Values = {}
    for option in section.options if section is not None else ():
        spec = specs.get(option.name)
        prefix = f"option '{option.name}' in {where}"
        if spec is None:
            run.error(
                option.file,
                option.line,
                f"{prefix}: unknown option{did_you_mean(option.name, specs)}",
            )
        elif in_template and not spec.in_template:
            run.error(
                option.file,
                option.line,
                f"{prefix}: not allowed in a template (a template says what a group gets, "
                "not who is in it)",
            )
        elif option.many and not spec.many:
            run.error(option.file, option.line, f"{prefix}: expected a single value, got a list")
        else:
            result = _convert_option(option, spec, prefix, run)
            if result is not None:
                converted[option.name] = Converted(result, option)
    return converted


def _convert_option(option: Option, spec: schema.Spec, prefix: str, run: Run) -> object | None:
    results: list[object] = []
    good = True
    for item in option.items:
        try:
            value = spec.convert(item.value)
        except BadValueError as exc:
            hint = exc.hint
            if spec.many and not hint and isinstance(item.value, str) and " " in item.value:
                hint = " (give one value per 'list' line or array element)"
            run.error(
                option.file,
                item.line,
                f"{prefix}: expected {exc.expected}, got '{show(item.value)}'{hint}",
            )
            good = False
            continue
        category = schema.CATEGORY_ALIASES.get(str(value)) if spec.category else None
        if category is not None:
            run.warn(
                option.file,
                item.line,
                f"{prefix}: {value} is an alias of {category}; read as {category}",
            )
            value = category
        if spec.category and run.catalogue is not None and value not in run.catalogue:
            run.error(
                option.file,
                item.line,
                f"{prefix}: expected a category of the list catalogue, got '{value}'"
                f"{did_you_mean(str(value), run.catalogue)}",
            )
            good = False
        results.append(value)
    if not good:
        return None
    return tuple(results) if spec.many else results[0]


def get(given: Values, key: str, default: T) -> T:
    """The converted value of ``key`` if it has the default's type, else the default."""
    value = given[key].value if key in given else default
    return value if isinstance(value, type(default)) else default


def optional(given: Values, key: str, kind: type[T]) -> T | None:
    """The converted value of ``key`` if it is a ``kind``, else None."""
    value = given[key].value if key in given else None
    return value if isinstance(value, kind) else None


def tuple_of(value: object) -> tuple[object, ...]:
    return value if isinstance(value, tuple) else ()


def strings(value: object) -> tuple[str, ...]:
    return tuple(item for item in tuple_of(value) if isinstance(item, str))


def ints(value: object) -> tuple[int, ...]:
    return tuple(item for item in tuple_of(value) if isinstance(item, int))


def failed(section: Section, given: Values, *names: str) -> bool:
    """True when one of ``names`` was written but did not convert (already reported)."""
    return any(section.option(name) is not None and name not in given for name in names)


def day_sets(value: object) -> list[frozenset[int]]:
    if not isinstance(value, tuple):
        return []
    return [item for item in value if isinstance(item, frozenset)]
