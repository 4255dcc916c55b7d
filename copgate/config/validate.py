"""The one validator: a ``Document`` from UCI or TOML becomes the typed ``Config``.

Both syntaxes meet here, so they accept the same settings and report the same
errors. Every problem of the file is collected before anything is refused
(``ConfigErrors``), each as ``FILE:LINE: option 'NAME' in group 'X': expected
..., got '...'``. Beside errors there are warnings: a config that works but
probably not as meant (the default group unfiltered, a group matched by MAC
only). Warnings never stop a load.

Here: sections of known kinds, no group or general section twice, group
names UCI can write, templates that exist and are valid (a group's own options
over its template's), windows that name an existing group and say what they
block, ``dns_block = blockpage`` with an address, a walled garden that does
not allow evasion. Single values are checked in
``copgate.config.convert`` by the tables of ``copgate.config.schema``; checks
across groups in ``copgate.config.checks``.

This module never reads files except the templates, through ``TemplateStore``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from copgate.config import schema
from copgate.config.checks import BuiltGroup, check_groups, default_group, group_names, names
from copgate.config.convert import (
    Converted,
    Run,
    Values,
    convert,
    day_sets,
    failed,
    get,
    ints,
    optional,
    strings,
    tuple_of,
)
from copgate.config.document import (
    ConfigErrors,
    Document,
    Problem,
    Section,
    did_you_mean,
)
from copgate.config.templates import TemplateStore
from copgate.config.values import BadValueError, group_name
from copgate.firewall.backend import BackendChoice
from copgate.policy.model import (
    MODE_DEFAULTS,
    Bypass,
    ClientMatch,
    Config,
    DnsBlockAnswer,
    Group,
    Mode,
    Settings,
    TimeWindow,
    Treatment,
)
from copgate.update.model import UpdateSettings
from copgate.update.settings import read_update

_KINDS = ("general", "group", "window", "update")


@dataclass(frozen=True, slots=True)
class Loaded:
    """A valid config and the warnings found while loading it."""

    config: Config
    warnings: tuple[Problem, ...]
    """Each a ``Problem`` whose message starts with ``warning:``."""


def validate(
    document: Document,
    *,
    templates: TemplateStore,
    catalogue: Collection[str] | None = None,
) -> Loaded:
    """Build the ``Config`` of ``document``; raise ``ConfigErrors`` with every problem."""
    run = Run(document.file, catalogue, templates)
    general, group_sections, window_sections = _sort_sections(document, run)
    settings_values = convert(general, schema.GENERAL, "section 'general'", run)
    settings = _settings(settings_values, run)
    update = _update(document, run)
    if update is not None and "lists" not in settings_values:
        # The release in force is the list set unless the config names others.
        settings = dataclasses.replace(settings, lists=(update.lists_path,))
    windows = _windows_by_group(window_sections, run)
    groups: list[BuiltGroup] = []
    for section in group_sections:
        group, merged = _group(section, windows.pop(section.name or "", []), run)
        groups.append((group, section, merged))
    for name, orphans in windows.items():
        for window_section, _ in orphans:
            group_option = window_section.option("group")
            run.error(
                run.file,
                group_option.line if group_option else window_section.line,
                f"option 'group' in window: expected the name of a group "
                f"({names(groups)}), got '{name}'{did_you_mean(name, group_names(groups))}",
            )
    written = any(section.kind == "group" for section in document.sections)
    default = default_group(general, settings_values, groups, run, written=written)
    check_groups(groups, default, settings, run)
    if run.problems:
        # In file order, the config's own file first, then the templates'.
        raise ConfigErrors(
            sorted(run.problems, key=lambda p: (p.file != run.file, p.file, p.line or 0))
        )
    config = Config(
        settings, tuple(group for group, _, _ in groups), default, document.file, update
    )
    return Loaded(config, tuple(run.warnings))


def _sort_sections(
    document: Document, run: Run
) -> tuple[Section | None, list[Section], list[Section]]:
    general: Section | None = None
    groups: dict[str, Section] = {}
    windows: list[Section] = []
    for section in document.sections:
        if section.kind == "general":
            if general is not None:
                run.error(
                    section.file,
                    section.line,
                    f"section 'general' is given twice (first on line {general.line})",
                )
            else:
                general = section
        elif section.kind == "group":
            _add_group(section, groups, run)
        elif section.kind == "window":
            windows.append(section)
        elif section.kind == "update":
            pass  # read by _update
        else:
            run.error(
                section.file,
                section.line,
                f"unknown section type '{section.kind}': expected general, group, window or update"
                f"{did_you_mean(section.kind, _KINDS)}",
            )
    return general, list(groups.values()), windows


def _add_group(section: Section, groups: dict[str, Section], run: Run) -> None:
    if section.name is None:
        run.error(section.file, section.line, "a group needs a name: config group 'NAME'")
        return
    try:
        group_name(section.name)
    except BadValueError as exc:
        run.error(
            section.file,
            section.line,
            f"group '{section.name}': expected {exc.expected}, got '{section.name}'",
        )
        return
    first = groups.get(section.name)
    if first is not None:
        run.error(
            section.file,
            section.line,
            f"group '{section.name}' is defined twice (first on line {first.line})",
        )
        return
    groups[section.name] = section


def _settings(given: Values, run: Run) -> Settings:
    dns_block = get(given, "dns_block", DnsBlockAnswer.NXDOMAIN)
    ipv4 = optional(given, "blockpage_ipv4", IPv4Address)
    ipv6 = optional(given, "blockpage_ipv6", IPv6Address)
    if dns_block is DnsBlockAnswer.BLOCKPAGE and ipv4 is None and ipv6 is None:
        option = given["dns_block"].option
        run.error(
            option.file,
            option.line,
            "option 'dns_block' in section 'general': 'blockpage' needs blockpage_ipv4 "
            "or blockpage_ipv6, got neither",
        )
    tls_ports = ints(get(given, "tls_ports", schema.DEFAULT_TLS_PORTS))
    if not tls_ports and "tls_ports" in given:
        option = given["tls_ports"].option
        run.error(
            option.file,
            option.line,
            "option 'tls_ports' in section 'general': expected at least one port, got none",
        )
    return Settings(
        lists=strings(get(given, "lists", schema.DEFAULT_LISTS)),
        timezone=get(given, "timezone", ""),
        dns_block=dns_block,
        blockpage_ipv4=ipv4,
        blockpage_ipv6=ipv6,
        block_ttl=get(given, "block_ttl", schema.DEFAULT_BLOCK_TTL),
        tls_ports=frozenset(tls_ports),
        lan_interfaces=strings(get(given, "lan_interfaces", schema.DEFAULT_LAN_INTERFACES)),
        queue_rate=get(given, "queue_rate", schema.DEFAULT_QUEUE_RATE),
        queue_burst=get(given, "queue_burst", schema.DEFAULT_QUEUE_BURST),
        page_name=get(given, "page_name", schema.DEFAULT_PAGE_NAME),
        reports_dir=get(given, "reports_dir", schema.DEFAULT_REPORTS_DIR),
        reports_url=optional(given, "reports_url", str),
        reports_token=optional(given, "reports_token", str),
        log_entries=get(given, "log_entries", schema.DEFAULT_LOG_ENTRIES),
        log_allowed=get(given, "log_allowed", True),
        metrics_listen=optional(given, "metrics_listen", tuple),
        enabled=get(given, "enabled", True),
        firewall_backend=get(given, "firewall_backend", BackendChoice.AUTO),
    )


def _windows_by_group(
    sections: list[Section], run: Run
) -> dict[str, list[tuple[Section, TimeWindow | None]]]:
    """Window sections by the group they name, each converted (None if invalid)."""
    by_group: dict[str, list[tuple[Section, TimeWindow | None]]] = {}
    for section in sections:
        group = section.option("group")
        raw = group.items[0].value if group is not None and group.items else None
        where = f"window of group '{raw}'" if isinstance(raw, str) else "window"
        window = _window(section, where, run, needs_group=True)
        if isinstance(raw, str) and group_name_or_none(raw) is not None:
            by_group.setdefault(raw, []).append((section, window))
    return by_group


def group_name_or_none(value: object) -> str | None:
    """``value`` if it is a well-formed group name, else None (reported elsewhere)."""
    try:
        return group_name(value)
    except BadValueError:
        return None


def _window(section: Section, where: str, run: Run, *, needs_group: bool) -> TimeWindow | None:
    """One window section as a ``TimeWindow``; None after reporting its problems."""
    before = len(run.problems)
    given = convert(section, schema.WINDOW, where, run)
    for name in ("group", "start", "end") if needs_group else ("start", "end"):
        if name not in given and section.option(name) is None:
            expected = "a time HH:MM" if name != "group" else "the name of a group"
            run.error(
                section.file,
                section.line,
                f"option '{name}' in {where}: expected {expected}, got nothing",
            )
    block_all = "block" in given
    categories = strings(given["categories"].value) if "categories" in given else ()
    if block_all and "categories" in given:
        option = given["block"].option
        run.error(
            option.file,
            option.line,
            f"option 'block' in {where}: expected either block 'all' or a list of "
            "categories, got both",
        )
    elif not (block_all or categories or failed(section, given, "block", "categories")):
        run.error(
            section.file,
            section.line,
            f"option 'block' in {where}: expected 'all' or a list of 'categories', got nothing",
        )
    days = given["days"].value if "days" in given else (frozenset(range(7)),)
    if not days:
        option = given["days"].option
        run.error(option.file, option.line, f"option 'days' in {where}: expected a day, got none")
    if len(run.problems) > before:
        return None
    return TimeWindow(
        days=frozenset().union(*day_sets(days)),
        start=get(given, "start", 0),
        end=get(given, "end", 0),
        block_all=block_all,
        categories=frozenset(categories) if not block_all else frozenset(),
    )


def _group(
    section: Section,
    windows: list[tuple[Section, TimeWindow | None]],
    run: Run,
) -> tuple[Group, Values]:
    """A group from its own options over its template's; the merged values too."""
    name = section.name or ""
    own = convert(section, schema.GROUP, f"group '{name}'", run)
    merged: Values = {}
    own_windows = tuple(window for _, window in windows if window is not None)
    group_windows = own_windows
    if "template" in own:
        template = _template(own["template"], name, run)
        if template is not None:
            merged.update(template[0])
            if not windows:
                group_windows = template[1]
    merged.update(own)
    mode = get(merged, "mode", Mode.FILTER)
    for unused in schema.UNUSED_BY_MODE[mode]:
        if unused in own:
            option = own[unused].option
            run.warn(
                option.file,
                option.line,
                f"option '{unused}' in group '{name}' has no effect in mode {mode}",
            )
    _check_evasion(name, mode, merged, run)
    return _build_group(name, mode, merged, group_windows), merged


def _check_evasion(name: str, mode: Mode, merged: Values, run: Run) -> None:
    """A walled garden refuses evasion: saying otherwise is an error, not a silent override.

    A flow that ended without a name read was never judged against the white
    list, so allowing it would open the garden to anyone who can split a hello.
    """
    if mode is not Mode.WHITELIST or get(merged, "evasion", Treatment.REFUSE) is Treatment.REFUSE:
        return
    option = merged["evasion"].option
    run.error(
        option.file,
        option.line,
        f"option 'evasion' in group '{name}': a walled garden (mode whitelist) always "
        "refuses evasion, got 'allow'",
    )


def _build_group(name: str, mode: Mode, merged: Values, windows: tuple[TimeWindow, ...]) -> Group:
    defaults = MODE_DEFAULTS[mode]
    safe_search, youtube = schema.SAFE_DEFAULTS[mode]
    bypass = Bypass(
        *(
            get(merged, switch, getattr(defaults.bypass, switch))
            for switch in schema.BYPASS_SWITCHES
        )
    )
    networks = merged["addresses"].value if "addresses" in merged else ()
    return Group(
        name=name,
        description=get(merged, "description", ""),
        match=ClientMatch(
            interfaces=frozenset(strings(get(merged, "interfaces", ()))),
            networks=tuple(
                net for net in tuple_of(networks) if isinstance(net, IPv4Network | IPv6Network)
            ),
            macs=frozenset(strings(get(merged, "macs", ()))),
        ),
        mode=mode,
        block_categories=frozenset(strings(get(merged, "block_categories", ()))),
        allow_categories=frozenset(strings(get(merged, "allow_categories", ()))),
        allow=tuple(dict.fromkeys(strings(get(merged, "allow", ())))),
        block=tuple(dict.fromkeys(strings(get(merged, "block", ())))),
        safe_search=get(merged, "safe_search", safe_search),
        youtube=get(merged, "youtube", youtube),
        windows=windows,
        failure=get(merged, "failure", defaults.failure),
        unreadable=get(merged, "unreadable", defaults.unreadable),
        invalid_names=get(merged, "invalid_names", defaults.invalid_names),
        bypass=bypass,
        evasion=get(merged, "evasion", defaults.evasion),
    )


def _template(
    chosen: Converted, group: str, run: Run
) -> tuple[Values, tuple[TimeWindow, ...]] | None:
    """A template's converted options and windows; None (reported) when unusable."""
    name = str(chosen.value)
    known = run.templates.names()
    if name not in known:
        option = chosen.option
        run.error(
            option.file,
            option.line,
            f"option 'template' in group '{group}': expected one of the templates in "
            f"{run.templates.directory} ({', '.join(known) or 'none there'}), got '{name}'"
            f"{did_you_mean(name, known)}",
        )
        return None
    if name in run.converted_templates:
        return run.converted_templates[name]
    result: tuple[Values, tuple[TimeWindow, ...]] | None = None
    try:
        template = run.templates.get(name)
    except ConfigErrors as exc:
        run.problems.extend(exc.problems)
    else:
        run.problems.extend(template.problems)
        before = len(run.problems) - len(template.problems)
        where = f"template '{name}'"
        values = convert(template.group, schema.GROUP, where, run, in_template=True)
        windows = [
            _window(section, f"window of {where}", run, needs_group=False)
            for section in template.windows
        ]
        if len(run.problems) == before:
            result = values, tuple(window for window in windows if window is not None)
    run.converted_templates[name] = result
    return result


def _update(document: Document, run: Run) -> UpdateSettings | None:
    """The ``update`` section's settings (``copgate.update.settings``); one at most."""
    sections = [section for section in document.sections if section.kind == "update"]
    for extra in sections[1:]:
        run.error(
            extra.file,
            extra.line,
            f"section 'update' is given twice (first on line {sections[0].line})",
        )
    return read_update(sections[0], run) if sections else None
