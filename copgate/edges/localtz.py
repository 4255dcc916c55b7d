"""The gateway's local timezone, read the one way both the daemon and ``copgate check`` use.

Time windows ("school hours", "bedtime") are local wall time, so the daemon
and ``copgate check`` must agree on the zone, or a window shifts by the UTC
offset. In order:

1. the config's ``timezone``, when set (a POSIX TZ string);
2. ``/etc/TZ``, where OpenWrt keeps the POSIX TZ string;
3. the POSIX TZ string in the footer of ``/etc/localtime`` (TZif version 2
   or later, RFC 8536 §3.3), as on Debian;
4. UTC.

A source that is absent or unreadable falls through to the next; one that
holds an invalid string does too, and ``LocalTz.problems`` says why, for
the caller to log. ``read_tzif_footer`` is the pure part; the rest reads
two small files. This module never writes anything.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from copgate.errors import ConfigError
from copgate.policy.tz import UTC_TZ, PosixTz, parse_tz

ETC_TZ = Path("/etc/TZ")
LOCALTIME = Path("/etc/localtime")
MAX_TZ_FILE = 1 << 20
"""Bytes read of either file: real TZif files are under 4 KiB; more is not a zone."""

TZIF_MAGIC = b"TZif"  # RFC 8536 §3.1
TZIF_HEADER = struct.Struct(">4sc15x6L")
"""magic, version, unused[15], isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt."""
TZIF_TYPE = 6  # RFC 8536 §3.2: a local time type record is 4 + 1 + 1 octets


@dataclass(frozen=True, slots=True)
class LocalTz:
    """The zone in force, where it came from, and why earlier sources were passed over."""

    tz: PosixTz
    source: str
    """``config``, ``/etc/TZ``, ``/etc/localtime`` or ``default``."""
    problems: tuple[str, ...] = ()


def read_local_tz(
    configured: str = "", *, etc_tz: Path | None = None, localtime: Path | None = None
) -> LocalTz:
    """The local zone: the config's string, else /etc/TZ, else /etc/localtime's footer, else UTC.

    ``etc_tz`` and ``localtime`` default to the module's ``ETC_TZ`` and
    ``LOCALTIME``, looked up at the call (tests point both at a directory).
    """
    etc_tz = ETC_TZ if etc_tz is None else etc_tz
    localtime = LOCALTIME if localtime is None else localtime
    problems: list[str] = []
    candidates: tuple[tuple[str, Callable[[], str]], ...] = (
        ("config", lambda: configured),
        (str(etc_tz), lambda: _read(etc_tz).decode("ascii").strip()),
        (str(localtime), lambda: read_tzif_footer(_read(localtime))),
    )
    for source, read in candidates:
        try:
            text = read()
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            if not isinstance(exc, FileNotFoundError):
                problems.append(f"{source}: {exc}")
            continue
        if not text:
            continue
        try:
            return LocalTz(parse_tz(text), source, tuple(problems))
        except ConfigError as exc:
            problems.append(f"{source}: {exc}")
    return LocalTz(UTC_TZ, "default", tuple(problems))


def read_tzif_footer(data: bytes) -> str:
    """The POSIX TZ string of a TZif file's footer ("" if it has none).

    RFC 8536 §3: a version 1 header and data block, then (version 2 and
    later) a second header and data block with 64-bit times, then the
    footer: a newline, the TZ string, a newline. The blocks' sizes come from
    their headers, so the footer is found where it must be, not by a search
    that a newline byte inside the data could fool. ValueError if the file
    is not TZif or is cut short.
    """
    if len(data) < TZIF_HEADER.size or data[:4] != TZIF_MAGIC:
        raise ValueError("not a TZif file")
    version = data[4:5]
    if version == b"\x00":
        return ""  # version 1 has no footer
    offset = TZIF_HEADER.size + _block_size(data, 0, time_size=4)
    footer_at = offset + TZIF_HEADER.size + _block_size(data, offset, time_size=8)
    footer = data[footer_at:]
    if len(footer) < 2 or footer[:1] != b"\n" or footer[-1:] != b"\n":
        raise ValueError("TZif footer missing or cut short")
    text = footer[1:-1]
    if b"\n" in text:
        raise ValueError("TZif footer holds more than one line")
    return text.decode("ascii")


def _block_size(data: bytes, header_at: int, *, time_size: int) -> int:
    """Bytes of the data block after the header at ``header_at`` (RFC 8536 §3.2)."""
    if len(data) < header_at + TZIF_HEADER.size:
        raise ValueError("TZif header cut short")
    fields: tuple[bytes, bytes, int, int, int, int, int, int] = TZIF_HEADER.unpack_from(
        data, header_at
    )
    magic, _version, isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt = fields
    if magic != TZIF_MAGIC:
        raise ValueError("TZif second header missing")
    return (
        timecnt * time_size
        + timecnt
        + typecnt * TZIF_TYPE
        + charcnt
        + leapcnt * (time_size + 4)
        + isstdcnt
        + isutcnt
    )


def _read(path: Path) -> bytes:
    with path.open("rb") as stream:
        return stream.read(MAX_TZ_FILE)
