"""Policy templates: ``lists/templates/<name>.toml``, a group's starting point.

A template file::

    [template]
    name = "school"                      # optional; must match the file name
    title.en = "School: category filter with safe search"
    title.ru = "Школа: фильтр по категориям и безопасный поиск"
    description.en = "..."
    description.ru = "..."

    [group]                              # any group option except interfaces,
    mode = "filter"                      # addresses, macs and template
    block_categories = ["adult", "gambling"]

    [[group.window]]                     # optional time windows
    days = ["mon-fri"]
    start = "21:00"
    end = "06:30"
    block = "all"

A group that names a template gets the template's options; any option the
group sets itself replaces the template's (a list replaces the list: it is
not merged). Windows go together: a group with windows of its own gets none
of the template's.

Where the templates are (``default_templates_dir``): ``lists/templates`` beside
the package in a source checkout (``Path(copgate.__file__).parent.parent``),
else ``copgate/data/templates`` in an installed wheel, else
``/usr/share/copgate/templates`` where the OpenWrt package installs them.
``copgate config check`` and the loaders take another directory as
``templates_dir``.

This module reads template files; it never reads the config file itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import copgate
from copgate.config.document import ConfigErrors, Problem, Section, did_you_mean
from copgate.config.tomlfile import KeyLines, options_from_table, parse_toml, window_sections

INSTALLED_TEMPLATES = Path("/usr/share/copgate/templates")
"""Where the router and Debian packages install lists/templates."""
SOURCE_TEMPLATES = Path(copgate.__file__).resolve().parent.parent / "lists" / "templates"
"""lists/templates of a source checkout."""
_TEMPLATE_KEYS = ("name", "title", "description")


WHEEL_TEMPLATES = Path(copgate.__file__).resolve().parent / "data" / "templates"
"""copgate.data's templates in an installed wheel (``lists/`` packaged, see setup.py);
a plain path, since importlib.resources of an unzipped wheel is this directory."""


def default_templates_dir() -> Path:
    """The source checkout's lists/templates if present, else a wheel's, else the
    installed ones (the OpenWrt and Debian packages' /usr/share/copgate)."""
    for candidate in (SOURCE_TEMPLATES, WHEEL_TEMPLATES):
        if candidate.is_dir():
            return candidate
    return INSTALLED_TEMPLATES


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed template: its texts and its group options, not yet validated."""

    name: str
    file: str
    titles: Mapping[str, str]
    """Title by language code (``en``, ``ru``)."""
    descriptions: Mapping[str, str]
    group: Section
    """The ``[group]`` options, kind ``template``; the validator checks them."""
    windows: tuple[Section, ...]
    """``[[group.window]]`` tables as window sections (with no option ``group``)."""
    problems: tuple[Problem, ...] = ()
    """What is wrong outside the group options (texts, layout), for the validator
    to report beside the problems of the options themselves."""


@dataclass(slots=True)
class TemplateStore:
    """The templates of one directory, each read at most once per config load."""

    directory: Path
    _loaded: dict[str, Template | ConfigErrors] = field(default_factory=dict)

    def names(self) -> tuple[str, ...]:
        """The names of the template files there, sorted."""
        if not self.directory.is_dir():
            return ()
        return tuple(sorted(path.stem for path in self.directory.glob("*.toml")))

    def get(self, name: str) -> Template:
        """The template called ``name``; ``ConfigErrors`` if it is absent or broken."""
        if name not in self._loaded:
            try:
                self._loaded[name] = self._load(name)
            except ConfigErrors as exc:
                self._loaded[name] = exc
        found = self._loaded[name]
        if isinstance(found, ConfigErrors):
            raise found
        return found

    def _load(self, name: str) -> Template:
        path = self.directory / f"{name}.toml"
        if not path.is_file():
            raise ConfigErrors([Problem(str(path), None, "no such template file")])
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigErrors([Problem(str(path), None, f"cannot read: {exc}")]) from None
        return parse_template(text, str(path), name)


def parse_template(text: str, file: str, name: str) -> Template:
    """Parse a template's text; ``name`` is what the config calls it (the file stem).

    Only a TOML syntax error raises (``ConfigErrors``); other problems are kept
    in ``Template.problems`` so that one load reports them all.
    """
    data, lines = parse_toml(text, file)
    problems: list[Problem] = []
    for key in data:
        if key not in ("template", "group"):
            problems.append(
                Problem(
                    file,
                    lines.line((key,)),
                    f"unknown table '{key}': expected [template] and [group]"
                    f"{did_you_mean(key, ('template', 'group'))}",
                )
            )
    meta = _table(data, "template", lines, file, problems)
    group = _table(data, "group", lines, file, problems)
    titles = _texts(meta, "title", lines, file, problems)
    descriptions = _texts(meta, "description", lines, file, problems)
    _check_meta(meta, name, lines, file, problems)
    own = {key: value for key, value in group.items() if key != "window"}
    section = Section(
        "template",
        name,
        options_from_table(own, ("group",), lines, file),
        file,
        lines.line(("group",)),
    )
    windows: list[Section] = []
    if "window" in group:
        windows = [
            # A template's window belongs to whichever group uses the template.
            Section(
                w.kind, w.name, tuple(o for o in w.options if o.name != "group"), w.file, w.line
            )
            for w in window_sections(
                group["window"], name, ("group",), lines=lines, file=file, problems=problems
            )
        ]
    return Template(
        name,
        file,
        MappingProxyType(titles),
        MappingProxyType(descriptions),
        section,
        tuple(windows),
        tuple(problems),
    )


def _table(
    data: Mapping[str, object], key: str, lines: KeyLines, file: str, problems: list[Problem]
) -> dict[str, object]:
    value = data.get(key)
    if isinstance(value, dict):
        return value
    problems.append(Problem(file, lines.line((key,)), f"a template needs a [{key}] table"))
    return {}


def _texts(
    meta: Mapping[str, object], key: str, lines: KeyLines, file: str, problems: list[Problem]
) -> dict[str, str]:
    value = meta.get(key)
    line = lines.line(("template", key))
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        problems.append(
            Problem(file, line, f"option '{key}' in [template]: expected {key}.en = \"...\"")
        )
        return {}
    if "en" not in value:
        problems.append(
            Problem(file, line, f"option '{key}' in [template]: expected an English {key}.en")
        )
    return dict(value)


def _check_meta(
    meta: Mapping[str, object], name: str, lines: KeyLines, file: str, problems: list[Problem]
) -> None:
    for key in meta:
        if key not in _TEMPLATE_KEYS:
            problems.append(
                Problem(
                    file,
                    lines.line(("template", key)),
                    f"option '{key}' in [template]: unknown{did_you_mean(key, _TEMPLATE_KEYS)}",
                )
            )
    given = meta.get("name", name)
    if given != name:
        problems.append(
            Problem(
                file,
                lines.line(("template", "name")),
                f"option 'name' in [template]: expected '{name}' (the file name), got '{given}'",
            )
        )
