"""Checks across groups: the default group, and no client claimed twice.

A client must land in exactly one group, so no interface, MAC or network may
be listed by two groups (nested networks are fine: the most specific wins),
and every group except the default must match some client. Warnings, not
errors: the default group with mode off (it should be the strictest, since
unknown and spoofed devices land there), a group matched by MAC only (MACs
are spoofable and randomised), an interface outside ``lan_interfaces``.

This module never reads files.
"""

from __future__ import annotations

from copgate.config.convert import Run, Values
from copgate.config.document import Section, did_you_mean
from copgate.policy.model import Group, Mode, Settings

BuiltGroup = tuple[Group, Section, Values]
"""A group, the section it came from and its merged option values."""


def default_group(
    general: Section | None,
    given: Values,
    groups: list[BuiltGroup],
    run: Run,
    *,
    written: bool,
) -> str:
    """The default group's name ("" after reporting a problem).

    Without ``default_group``, a config with a single group uses it. ``written``
    tells whether any group section was written (even one that was refused).
    """
    known = group_names(groups)
    if not groups:
        if written:
            return ""  # groups were written but each was refused: reported already
        run.error(
            run.file,
            general.line if general else 1,
            "no group defined: expected at least one group ([group.NAME] in TOML, "
            "config group 'NAME' in UCI)",
        )
        return ""
    if "default_group" not in given:
        if len(groups) == 1:
            return known[0]
        if general is not None and general.option("default_group") is not None:
            return ""  # given but invalid: already reported
        run.error(
            run.file,
            general.line if general else 1,
            f"option 'default_group' in section 'general': expected the name of a group "
            f"({names(groups)}), got nothing",
        )
        return ""
    chosen = given["default_group"]
    name = str(chosen.value)
    if name not in known:
        run.error(
            chosen.option.file,
            chosen.option.line,
            f"option 'default_group' in section 'general': expected the name of a group "
            f"({names(groups)}), got '{name}'{did_you_mean(name, known)}",
        )
    return name


def group_names(groups: list[BuiltGroup]) -> list[str]:
    return [group.name for group, _, _ in groups]


def names(groups: list[BuiltGroup]) -> str:
    return ", ".join(group_names(groups)) or "none defined"


def check_groups(
    groups: list[BuiltGroup],
    default: str,
    settings: Settings,
    run: Run,
) -> None:
    owners: dict[tuple[str, object], tuple[str, int]] = {}
    for group, section, merged in groups:
        match = group.match
        written = any(section.option(key) for key in ("interfaces", "addresses", "macs"))
        if not (match.interfaces or match.networks or match.macs):
            # A match option written but refused is reported already; say no more.
            if group.name != default and default and not written:
                run.error(
                    section.file,
                    section.line,
                    f"group '{group.name}' matches no client: expected interfaces, addresses "
                    "or macs (only the default_group may have none)",
                )
        elif match.macs and not (match.interfaces or match.networks):
            run.warn(
                section.file,
                section.line,
                f"group '{group.name}' is matched by MAC address only: a MAC is easy to "
                "spoof and phones randomise it per network; prefer an interface",
            )
        _check_owners(group, merged, owners, run)
        _check_lan(group, merged, settings, run)
        if group.name == default and group.mode is Mode.OFF:
            run.warn(
                section.file,
                section.line,
                f"the default group '{group.name}' has mode off: unknown and spoofed devices "
                "land in the default group, which should be the strictest",
            )


def _check_owners(
    group: Group, merged: Values, owners: dict[tuple[str, object], tuple[str, int]], run: Run
) -> None:
    """No interface, MAC or network in two groups: a client would match both."""
    for key in ("interfaces", "macs", "addresses"):
        if key not in merged:
            continue
        option = merged[key].option
        value = merged[key].value
        for item in value if isinstance(value, tuple) else ():
            first = owners.setdefault((key, item), (group.name, option.line))
            if first[0] != group.name:
                run.error(
                    option.file,
                    option.line,
                    f"option '{key}' in group '{group.name}': '{item}' is already in group "
                    f"'{first[0]}' (line {first[1]}); a client would match both",
                )


def _check_lan(group: Group, merged: Values, settings: Settings, run: Run) -> None:
    for interface in sorted(group.match.interfaces - set(settings.lan_interfaces)):
        option = merged["interfaces"].option
        run.warn(
            option.file,
            option.line,
            f"option 'interfaces' in group '{group.name}': '{interface}' is not in "
            "lan_interfaces, so its clients are not filtered",
        )
