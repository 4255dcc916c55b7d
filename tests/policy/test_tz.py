"""POSIX TZ strings: parsing, errors, and DST edges in both hemispheres."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from copgate.errors import ConfigError
from copgate.policy.tz import UTC_TZ, DateForm, PosixTz, Rule, parse_tz


def _ts(text: str) -> float:
    """A UTC ISO time as a timestamp."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def _wall(tz: PosixTz, utc: str) -> tuple[str, str]:
    local = tz.local(_ts(utc))
    return local.strftime("%Y-%m-%d %H:%M:%S"), local.tzname() or ""


def test_fixed_offsets_as_openwrt_writes_them() -> None:
    msk = parse_tz("MSK-3")
    assert (msk.std_name, msk.std_offset, msk.dst_name) == ("MSK", 3 * 3600, None)
    quoted = parse_tz("<+05>-5")
    assert (quoted.std_name, quoted.std_offset) == ("+05", 5 * 3600)
    assert parse_tz("<-0330>3:30").std_offset == -(3 * 3600 + 30 * 60)
    assert _wall(msk, "2024-06-01T21:30:00") == ("2024-06-02 00:30:00", "MSK")


def test_empty_string_is_utc() -> None:
    assert parse_tz("") is UTC_TZ
    assert _wall(UTC_TZ, "2024-01-01T00:00:00") == ("2024-01-01 00:00:00", "UTC")


def test_rules_parse() -> None:
    cet = parse_tz("CET-1CEST,M3.5.0,M10.5.0/3")
    assert (cet.std_offset, cet.dst_name, cet.dst_offset) == (3600, "CEST", 7200)
    assert cet.start == Rule(DateForm.MONTH_WEEK_DAY, 0, 3, 5, 2 * 3600)
    assert cet.end == Rule(DateForm.MONTH_WEEK_DAY, 0, 10, 5, 3 * 3600)
    explicit = parse_tz("<+1030>-10:30<+11>-11,M10.1.0,M4.1.0")
    assert (explicit.std_offset, explicit.dst_offset) == (37800, 39600)


# (TZ, UTC instant, local wall time, abbreviation): one second either side of
# each change. Northern zones change in spring and autumn; southern zones are
# in DST across New Year.
DST_EDGES = [
    ("CET-1CEST,M3.5.0,M10.5.0/3", "2024-03-31T00:59:59", "2024-03-31 01:59:59", "CET"),
    ("CET-1CEST,M3.5.0,M10.5.0/3", "2024-03-31T01:00:00", "2024-03-31 03:00:00", "CEST"),
    ("CET-1CEST,M3.5.0,M10.5.0/3", "2024-10-27T00:59:59", "2024-10-27 02:59:59", "CEST"),
    ("CET-1CEST,M3.5.0,M10.5.0/3", "2024-10-27T01:00:00", "2024-10-27 02:00:00", "CET"),
    ("EST5EDT,M3.2.0,M11.1.0", "2024-03-10T06:59:59", "2024-03-10 01:59:59", "EST"),
    ("EST5EDT,M3.2.0,M11.1.0", "2024-03-10T07:00:00", "2024-03-10 03:00:00", "EDT"),
    ("EST5EDT,M3.2.0,M11.1.0", "2024-11-03T05:59:59", "2024-11-03 01:59:59", "EDT"),
    ("EST5EDT,M3.2.0,M11.1.0", "2024-11-03T06:00:00", "2024-11-03 01:00:00", "EST"),
    # No rules: the US rules, as glibc applies them.
    ("EST5EDT", "2024-03-10T07:00:00", "2024-03-10 03:00:00", "EDT"),
    # Sydney: DST ends on the first Sunday of April, starts on the first of October.
    ("AEST-10AEDT,M10.1.0,M4.1.0/3", "2024-04-06T15:59:59", "2024-04-07 02:59:59", "AEDT"),
    ("AEST-10AEDT,M10.1.0,M4.1.0/3", "2024-04-06T16:00:00", "2024-04-07 02:00:00", "AEST"),
    ("AEST-10AEDT,M10.1.0,M4.1.0/3", "2024-10-05T15:59:59", "2024-10-06 01:59:59", "AEST"),
    ("AEST-10AEDT,M10.1.0,M4.1.0/3", "2024-10-05T16:00:00", "2024-10-06 03:00:00", "AEDT"),
    ("AEST-10AEDT,M10.1.0,M4.1.0/3", "2024-12-31T13:00:00", "2025-01-01 00:00:00", "AEDT"),
    ("AEST-10AEDT,M10.1.0,M4.1.0/3", "2024-06-30T14:00:00", "2024-07-01 00:00:00", "AEST"),
    # Chile: transitions at 24:00 local, written /24.
    ("<-04>4<-03>,M9.1.6/24,M4.1.6/24", "2024-09-08T03:59:59", "2024-09-07 23:59:59", "-04"),
    ("<-04>4<-03>,M9.1.6/24,M4.1.6/24", "2024-09-08T04:00:00", "2024-09-08 01:00:00", "-03"),
    # Greenland: negative rule times (RFC 8536 §3.3.1).
    ("<-02>2<-01>,M3.5.0/-1,M10.5.0/0", "2024-03-31T00:59:59", "2024-03-30 22:59:59", "-02"),
    ("<-02>2<-01>,M3.5.0/-1,M10.5.0/0", "2024-03-31T01:00:00", "2024-03-31 00:00:00", "-01"),
    # Ireland writes winter as the negative "DST".
    ("IST-1GMT0,M10.5.0,M3.5.0/1", "2024-01-15T12:00:00", "2024-01-15 12:00:00", "GMT"),
    ("IST-1GMT0,M10.5.0,M3.5.0/1", "2024-07-15T12:00:00", "2024-07-15 13:00:00", "IST"),
    # DST all year (RFC 8536 §3.3.1's own example).
    ("EST5EDT4,0/0,J365/25", "2024-12-31T23:30:00", "2024-12-31 19:30:00", "EDT"),
    ("EST5EDT4,0/0,J365/25", "2025-01-01T04:30:00", "2025-01-01 00:30:00", "EDT"),
    ("EST5EDT4,0/0,J365/25", "2025-07-01T04:00:00", "2025-07-01 00:00:00", "EDT"),
]


@pytest.mark.parametrize(("tz", "utc", "wall", "abbreviation"), DST_EDGES)
def test_dst_edges(tz: str, utc: str, wall: str, abbreviation: str) -> None:
    assert _wall(parse_tz(tz), utc) == (wall, abbreviation)


def test_local_time_is_aware_with_the_offset() -> None:
    local = parse_tz("CET-1CEST,M3.5.0,M10.5.0/3").local(_ts("2024-07-01T10:00:00"))
    assert local.isoformat() == "2024-07-01T12:00:00+02:00"
    assert local.weekday() == 0


@pytest.mark.parametrize(
    ("rule", "year", "expected"),
    [
        ("J60", 2024, "2024-03-01"),  # Jn never counts February 29
        ("J60", 2023, "2023-03-01"),
        ("59", 2024, "2024-02-29"),  # n does
        ("0", 2023, "2023-01-01"),
        ("M2.5.0", 2024, "2024-02-25"),  # week 5 = the last Sunday
        ("M3.5.0", 2024, "2024-03-31"),
        ("M9.1.6", 2024, "2024-09-07"),
        ("M10.1.0", 2024, "2024-10-06"),
    ],
)
def test_rule_days(rule: str, year: int, expected: str) -> None:
    parsed = parse_tz(f"XXX3YYY,{rule},M11.1.0")
    assert parsed.start is not None
    day = datetime.fromordinal(parsed.start.day_ordinal(year)).date()
    assert day.isoformat() == expected


@pytest.mark.parametrize(
    "text",
    [
        "CET",  # no offset
        "C-1",  # name too short
        "CET-25",  # hour over 24
        "CET-1:60",
        "<+05-5",  # unclosed quote
        "CET-1CEST,M3.5.0",  # one rule only
        "CET-1CEST,M13.5.0,M10.5.0",
        "CET-1CEST,M3.6.0,M10.5.0",
        "CET-1CEST,M3.5.7,M10.5.0",
        "CET-1CEST,J0,J365",
        "CET-1CEST,366,1",
        "EST5EDT,M3.2.0/168,M11.1.0",  # over 167 hours
        ":Europe/Paris",
        "Europe/Moscow",
        "CET-1 ",
    ],
)
def test_bad_strings_are_config_errors_naming_them(text: str) -> None:
    with pytest.raises(ConfigError, match="invalid POSIX TZ string") as caught:
        parse_tz(text)
    assert repr(text) in str(caught.value)


# The C library is an independent oracle for every instant.
ORACLE_ZONES = [
    "MSK-3",
    "<+05>-5",
    "CET-1CEST,M3.5.0,M10.5.0/3",
    "EST5EDT,M3.2.0,M11.1.0",
    "AEST-10AEDT,M10.1.0,M4.1.0/3",
    "NZST-12NZDT,M9.5.0,M4.1.0/3",
    "<-04>4<-03>,M9.1.6/24,M4.1.6/24",
    "<-02>2<-01>,M3.5.0/-1,M10.5.0/0",
    "IST-1GMT0,M10.5.0,M3.5.0/1",
    "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0",
    "XXX3YYY,J60/1,300/5",
]


@pytest.fixture(scope="module")
def libc_tz() -> Iterator[None]:
    if not hasattr(time, "tzset"):
        pytest.skip("no time.tzset on this platform")
    saved = os.environ.get("TZ")
    yield
    if saved is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = saved
    time.tzset()


@pytest.mark.parametrize("zone", ORACLE_ZONES)
@settings(max_examples=300, deadline=None)
@given(timestamp=st.integers(min_value=63_072_000, max_value=4_102_444_800))
def test_agrees_with_the_c_library(libc_tz: None, zone: str, timestamp: int) -> None:
    os.environ["TZ"] = zone
    time.tzset()
    expected = time.localtime(timestamp)
    local = parse_tz(zone).local(timestamp)
    assert local.timetuple()[:6] == tuple(expected)[:6]
    assert local.tzname() == expected.tm_zone
