"""POSIX TZ strings, as OpenWrt writes them, and UTC-to-local conversion.

OpenWrt carries no tz database: the router's zone is a POSIX TZ string in
``/etc/TZ`` (UCI ``system.@system[0].timezone``), such as ``MSK-3``,
``<+05>-5``, ``CET-1CEST,M3.5.0,M10.5.0/3`` or ``EST5EDT,M3.2.0,M11.1.0``.
The grammar is IEEE Std 1003.1-2017 §8.3 (``TZ``)::

    std offset [dst [offset] [,start[/time],end[/time]]]

with the extensions of RFC 8536 §3.3.1 that glibc and musl accept: a rule
time may be negative or up to 167 hours, which is how "DST all year" is
written (``EST5EDT4,0/0,J365/25``).

This module is pure: it parses a string and converts a timestamp it is
given. It never reads ``/etc/TZ``, the environment or the clock.
"""

from __future__ import annotations

import enum
import functools
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

from copgate.errors import ConfigError

HOUR = 3600
MAX_OFFSET_HOURS = 24  # IEEE 1003.1 §8.3: the hour of an offset is 0..24
MAX_RULE_HOURS = 167  # RFC 8536 §3.3.1: a rule time is -167..167 hours
DEFAULT_RULE_TIME = 2 * HOUR  # IEEE 1003.1 §8.3: "the default, if time is not given, is 02:00:00"
MAX_JULIAN = 365  # Jn: 1..365; n: 0..365

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()

_NAME = r"(?:[A-Za-z]{3,}|<[A-Za-z0-9+-]{3,}>)"
_TIME = r"[+-]?\d{1,3}(?::\d{1,2}(?::\d{1,2})?)?"
_DATE = r"(?:J\d{1,3}|\d{1,3}|M\d{1,2}\.\d\.\d)"
_RULE = rf"{_DATE}(?:/{_TIME})?"
_TZ = re.compile(
    rf"(?P<std>{_NAME})(?P<stdoff>{_TIME})"
    rf"(?:(?P<dst>{_NAME})(?P<dstoff>{_TIME})?"
    rf"(?:,(?P<start>{_RULE}),(?P<end>{_RULE}))?)?"
)
_US_RULES = ("M3.2.0", "M11.1.0")
"""A DST zone without rules follows these, as glibc does without a posixrules file."""


class DateForm(enum.Enum):
    """The three ways §8.3 writes the day of a DST transition."""

    JULIAN_NO_LEAP = "Jn"
    """1..365; February 29 is never counted, so J60 is always March 1."""
    ZERO_BASED = "n"
    """0..365; February 29 is counted in leap years."""
    MONTH_WEEK_DAY = "Mm.w.d"
    """Day d (0=Sunday) of week w (1..5, 5=last) of month m."""


@dataclass(frozen=True, slots=True)
class Rule:
    """The local day and time of one DST transition, for any year."""

    form: DateForm
    day: int
    """Jn or n: the day number. Mm.w.d: the weekday d (0=Sunday .. 6=Saturday)."""
    month: int
    """Mm.w.d only (1..12); 0 otherwise."""
    week: int
    """Mm.w.d only (1..5, 5 = the last such weekday); 0 otherwise."""
    time: int
    """Seconds after local midnight (of the clock in force before the change)."""

    def day_ordinal(self, year: int) -> int:
        """The proleptic Gregorian ordinal of the transition's day in ``year``."""
        jan1 = date(year, 1, 1).toordinal()
        if self.form is DateForm.ZERO_BASED:
            return jan1 + self.day
        if self.form is DateForm.JULIAN_NO_LEAP:
            leap_shift = 1 if _is_leap(year) and self.day >= 60 else 0
            return jan1 + self.day - 1 + leap_shift
        return _nth_weekday(year, self.month, self.week, self.day)


@dataclass(frozen=True, slots=True)
class PosixTz:
    """A parsed POSIX TZ string: standard time and, optionally, DST and its rules."""

    text: str
    """The string as given, for messages."""
    std_name: str
    std_offset: int
    """Seconds EAST of UTC (``MSK-3`` gives +10800: §8.3 counts west as positive)."""
    dst_name: str | None = None
    dst_offset: int = 0
    """Seconds east of UTC while DST is in force; unused without ``dst_name``."""
    start: Rule | None = None
    """When DST starts (given in standard local time)."""
    end: Rule | None = None
    """When DST ends (given in DST local time)."""

    def utcoffset_at(self, timestamp: float) -> tuple[int, str]:
        """Seconds east of UTC, and the zone's abbreviation, at a UTC timestamp."""
        if self.dst_name is None or self.start is None or self.end is None:
            return self.std_offset, self.std_name
        year = _utc_from_timestamp(timestamp + self.std_offset).year
        in_dst = _in_dst(self, year, timestamp)
        if in_dst:
            return self.dst_offset, self.dst_name
        return self.std_offset, self.std_name

    def local(self, timestamp: float) -> datetime:
        """The local wall time at a UTC timestamp, as an aware ``datetime``.

        Its ``tzinfo`` is a fixed offset named after the abbreviation in force
        (``CEST``), so ``weekday()``, ``hour`` and ``minute`` are wall-clock
        values and ``isoformat()`` shows the offset.
        """
        offset, name = self.utcoffset_at(timestamp)
        zone = timezone(timedelta(seconds=offset), name)
        return _utc_from_timestamp(timestamp).astimezone(zone)


UTC_TZ = PosixTz("UTC0", "UTC", 0)


def parse_tz(text: str) -> PosixTz:
    """Parse a POSIX TZ string; "" is UTC. Raises ``ConfigError`` naming the string."""
    if text == "":
        return UTC_TZ
    if text.startswith(":"):
        raise _bad(text, "':' names a tz database file, which OpenWrt does not carry")
    found = _TZ.fullmatch(text)
    if found is None:
        raise _bad(text, "expected std offset [dst [offset] [,start[/time],end[/time]]]")
    std_offset = -_parse_time(text, found["stdoff"], MAX_OFFSET_HOURS)
    if found["dst"] is None:
        return PosixTz(text, _unquote(found["std"]), std_offset)
    dst_offset = std_offset + HOUR
    if found["dstoff"] is not None:
        dst_offset = -_parse_time(text, found["dstoff"], MAX_OFFSET_HOURS)
    start_text, end_text = found["start"] or _US_RULES[0], found["end"] or _US_RULES[1]
    return PosixTz(
        text,
        _unquote(found["std"]),
        std_offset,
        _unquote(found["dst"]),
        dst_offset,
        _parse_rule(text, start_text),
        _parse_rule(text, end_text),
    )


def _bad(text: str, why: str) -> ConfigError:
    return ConfigError(f"invalid POSIX TZ string {text!r}: {why}")


def _unquote(name: str) -> str:
    return name[1:-1] if name.startswith("<") else name


def _parse_time(text: str, field: str, max_hours: int) -> int:
    """``[+-]hh[:mm[:ss]]`` as signed seconds."""
    sign = -1 if field.startswith("-") else 1
    parts = [int(part) for part in field.lstrip("+-").split(":")]
    hours, minutes, seconds = [*parts, 0, 0][:3]
    if hours > max_hours or minutes > 59 or seconds > 59:
        raise _bad(text, f"time {field!r} is out of range (hours up to {max_hours})")
    return sign * (hours * HOUR + minutes * 60 + seconds)


def _parse_rule(text: str, field: str) -> Rule:
    day_part, _, time_part = field.partition("/")
    time = DEFAULT_RULE_TIME
    if time_part:
        time = _parse_time(text, time_part, MAX_RULE_HOURS)
    if day_part.startswith("M"):
        month, week, weekday = (int(part) for part in day_part[1:].split("."))
        if not (1 <= month <= 12 and 1 <= week <= 5 and 0 <= weekday <= 6):
            raise _bad(text, f"rule {field!r}: expected Mm.w.d with m 1-12, w 1-5, d 0-6")
        return Rule(DateForm.MONTH_WEEK_DAY, weekday, month, week, time)
    if day_part.startswith("J"):
        number = int(day_part[1:])
        if not 1 <= number <= MAX_JULIAN:
            raise _bad(text, f"rule {field!r}: Jn needs n in 1-365")
        return Rule(DateForm.JULIAN_NO_LEAP, number, 0, 0, time)
    number = int(day_part)
    if not 0 <= number <= MAX_JULIAN:
        raise _bad(text, f"rule {field!r}: n needs 0-365")
    return Rule(DateForm.ZERO_BASED, number, 0, 0, time)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _nth_weekday(year: int, month: int, week: int, weekday: int) -> int:
    """Ordinal of weekday (0=Sunday) number ``week`` (5 = last) of the month."""
    first = date(year, month, 1)
    # date.weekday() counts from Monday; §8.3 counts from Sunday.
    first_sunday_based = (first.weekday() + 1) % 7
    day = 1 + (weekday - first_sunday_based) % 7 + 7 * (week - 1)
    month_days = (date(year + month // 12, month % 12 + 1, 1) - first).days
    while day > month_days:
        day -= 7
    return first.toordinal() + day - 1


def _utc_from_timestamp(timestamp: float) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=timestamp)


@functools.lru_cache(maxsize=64)
def _transitions(tz: PosixTz, year: int) -> tuple[tuple[int, int, bool], ...]:
    """The DST changes around ``year``: (UTC seconds, order, DST after) sorted.

    Three years are computed so that a rule time of up to 167 hours, or a
    southern-hemisphere zone whose DST spans New Year, is always covered.
    """
    if tz.start is None or tz.end is None:
        return ()
    changes: list[tuple[int, int, bool]] = []
    for order, each in enumerate(range(max(year - 1, 2), min(year + 2, 9999))):
        start_local = (tz.start.day_ordinal(each) - _EPOCH_ORDINAL) * 86400 + tz.start.time
        end_local = (tz.end.day_ordinal(each) - _EPOCH_ORDINAL) * 86400 + tz.end.time
        changes.append((start_local - tz.std_offset, 2 * order, True))
        changes.append((end_local - tz.dst_offset, 2 * order + 1, False))
    return tuple(sorted(changes))


def _in_dst(tz: PosixTz, year: int, timestamp: float) -> bool:
    """Whether DST is in force: the last change at or before ``timestamp`` says."""
    in_dst = False
    changes = _transitions(tz, year)
    # Before the first change of the window, the state is the opposite of it.
    if changes:
        in_dst = not changes[0][2]
    for when, _order, dst_after in changes:
        if when > timestamp:
            break
        in_dst = dst_after
    return in_dst
