"""A config told back in words: what ``copgate config check`` prints when it is valid.

``describe`` lists the settings and, for each group, its mode, how clients
match it, its categories, own entries, safe search, windows, failure mode,
the treatments of unreadable traffic, invalid names and evasion, and bypass
switches: what an administrator needs to see to know the file says what they
meant. ``matched_by`` says why a client landed in its group.

This module is pure: it formats values it is given.
"""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Address, IPv6Address

from copgate.config.schema import BYPASS_SWITCHES
from copgate.policy.model import DAYS, Config, Group, Mode, TimeWindow
from copgate.update.model import UpdateSettings


def describe(config: Config) -> list[str]:
    """The config as lines of text, settings first, then each group."""
    settings = config.settings
    blockpage = ", ".join(
        str(address)
        for address in (settings.blockpage_ipv4, settings.blockpage_ipv6)
        if address is not None
    )
    lines = [
        f"lists: {_join(settings.lists)}",
        f"timezone: {settings.timezone or '(from /etc/TZ, else UTC)'}",
        f"DNS block answer: {settings.dns_block}"
        + (f" ({blockpage})" if blockpage else "")
        + f", TTL {settings.block_ttl} s",
        f"TLS ports: {_join(str(port) for port in sorted(settings.tls_ports))}",
        f"LAN interfaces: {_join(settings.lan_interfaces)}",
        f"default group: {config.default_group}",
    ]
    if config.update is not None:
        lines.append(f"updates: {describe_update(config.update)}")
    for group in config.groups:
        lines.append("")
        lines.extend(describe_group(group, default=group.name == config.default_group))
    return lines


def describe_group(group: Group, *, default: bool = False) -> list[str]:
    """One group as lines of text."""
    title = f"group {group.name}" + (" (default)" if default else "") + f": mode {group.mode}"
    lines = [title + (f" - {group.description}" if group.description else "")]
    lines.append(f"  clients: {_clients(group, default=default)}")
    if group.mode is Mode.FILTER:
        lines.append(f"  blocked categories: {_join(sorted(group.block_categories))}")
    elif group.mode is Mode.WHITELIST:
        opened = ["infrastructure", "starter_whitelist", *sorted(group.allow_categories)]
        lines.append(f"  open categories (white entries): {_join(opened)}")
    if group.allow or group.block:
        lines.append(f"  own entries: allow {_join(group.allow)}; block {_join(group.block)}")
    lines.append(f"  safe search: {'on' if group.safe_search else 'off'}; YouTube: {group.youtube}")
    lines.append(f"  time windows: {_join(window_text(w) for w in group.windows)}")
    lines.append(
        f"  when undecided: {group.failure}; unreadable traffic: {group.unreadable}; "
        f"invalid names: {group.invalid_names}; evasion: {group.evasion}"
    )
    switched_on = [name for name in BYPASS_SWITCHES if getattr(group.bypass, name)]
    lines.append(f"  bypass countermeasures: {_join(switched_on)}")
    return lines


def window_text(window: TimeWindow) -> str:
    """``mon-fri 08:30-15:00 blocks audio-video, chat``."""
    what = "blocks everything" if window.block_all else f"blocks {_join(sorted(window.categories))}"
    return f"{days_text(window.days)} {_clock(window.start)}-{_clock(window.end)} {what}"


def days_text(days: frozenset[int]) -> str:
    """Days as names, with runs of three or more as ranges: ``mon-fri,sun``."""
    if days == frozenset(range(7)):
        return "daily"
    parts: list[str] = []
    ordered = sorted(days)
    run = [ordered[0]] if ordered else []
    for day in ordered[1:]:
        if day == run[-1] + 1:
            run.append(day)
            continue
        parts.append(_run_text(run))
        run = [day]
    if run:
        parts.append(_run_text(run))
    return ",".join(parts)


def _run_text(run: list[int]) -> str:
    if len(run) >= 3:
        return f"{DAYS[run[0]]}-{DAYS[run[-1]]}"
    return ",".join(DAYS[day] for day in run)


def matched_by(
    config: Config,
    group: Group,
    iface: str | None,
    ip: IPv4Address | IPv6Address | None,
    mac: str | None,
) -> str:
    """Why a client is in ``group`` (the first row of the precedence that matched)."""
    if iface is not None and iface in group.match.interfaces:
        return f"interface {iface}"
    if mac is not None and mac.lower() in group.match.macs:
        return f"MAC address {mac.lower()}"
    if ip is not None:
        if isinstance(ip, IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        networks = [n for n in group.match.networks if n.version == ip.version and ip in n]
        if networks:
            return f"address in {max(networks, key=lambda n: n.prefixlen)}"
    if group.name == config.default_group:
        return "no other group matches: the default group"
    return "unknown"  # group_for never gives this; kept total for callers


def _clients(group: Group, *, default: bool) -> str:
    match = group.match
    parts = []
    if match.interfaces:
        parts.append(f"interfaces {_join(sorted(match.interfaces))}")
    if match.macs:
        parts.append(f"MACs {_join(sorted(match.macs))}")
    if match.networks:
        parts.append(f"addresses {_join(str(n) for n in match.networks)}")
    if default:
        parts.append("every client no other group matches")
    return "; ".join(parts) or "none"


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _join(items: Iterable[str]) -> str:
    return ", ".join(items) or "none"


def describe_update(update: UpdateSettings) -> str:
    """The ``[update]`` section in one line."""
    return (
        f"signed releases from {update.url}, every {update.interval} s "
        f"(+-{update.jitter:.0%}), {len(update.root_keys)} root key(s), "
        f"RAM {update.ram_dir}, flash {update.flash_dir} (a copy at most every "
        f"{update.flash_copy_interval} s), built-in {update.builtin_dir}, "
        f"at most {update.max_size} bytes"
    )
