"""Time windows: edges, across midnight, the day a window starts on, DST days."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from copgate.policy.model import TimeWindow
from copgate.policy.timewindows import active_windows, is_active
from copgate.policy.tz import PosixTz, parse_tz
from tests.policy.helpers import window

WEEKDAYS = range(5)
NIGHT = window(WEEKDAYS, "22:00", "06:30")  # Mon-Fri nights, into the next morning
LESSONS = window(WEEKDAYS, "08:00", "15:00", categories=["games"])
ALL_DAY_SUNDAY = window([6], "00:00", "24:00")
FULL_TURN = window([2], "12:00", "12:00")  # Wednesday noon to Thursday noon

# 2024-06-03 is a Monday.
CASES = [
    (LESSONS, "2024-06-03 07:59", False),
    (LESSONS, "2024-06-03 08:00", True),  # start inclusive
    (LESSONS, "2024-06-03 14:59", True),
    (LESSONS, "2024-06-03 15:00", False),  # end exclusive
    (LESSONS, "2024-06-08 10:00", False),  # Saturday
    (NIGHT, "2024-06-03 21:59", False),
    (NIGHT, "2024-06-03 22:00", True),
    (NIGHT, "2024-06-03 23:59", True),
    (NIGHT, "2024-06-04 00:00", True),  # Monday's window, on Tuesday
    (NIGHT, "2024-06-04 06:29", True),
    (NIGHT, "2024-06-04 06:30", False),
    (NIGHT, "2024-06-03 02:00", False),  # Monday morning: Sunday has no window
    (NIGHT, "2024-06-08 02:00", True),  # Saturday morning: Friday's window
    (NIGHT, "2024-06-08 22:00", False),  # Saturday evening: no window starts
    (NIGHT, "2024-06-09 23:00", False),  # Sunday evening
    (ALL_DAY_SUNDAY, "2024-06-09 00:00", True),
    (ALL_DAY_SUNDAY, "2024-06-09 23:59", True),
    (ALL_DAY_SUNDAY, "2024-06-10 00:00", False),
    (FULL_TURN, "2024-06-05 11:59", False),
    (FULL_TURN, "2024-06-05 12:00", True),
    (FULL_TURN, "2024-06-06 11:59", True),
    (FULL_TURN, "2024-06-06 12:00", False),
]


@pytest.mark.parametrize(("win", "local", "expected"), CASES)
def test_edges(win: TimeWindow, local: str, expected: bool) -> None:
    assert is_active(win, datetime.fromisoformat(local)) is expected


def test_seconds_do_not_move_an_edge() -> None:
    assert not is_active(LESSONS, datetime(2024, 6, 3, 7, 59, 59))
    assert is_active(LESSONS, datetime(2024, 6, 3, 14, 59, 59))


def test_active_windows() -> None:
    monday_night = datetime(2024, 6, 3, 23, 0)
    assert active_windows((NIGHT, LESSONS), monday_night, True) == (NIGHT,)
    assert active_windows((NIGHT, LESSONS), datetime(2024, 6, 3, 12, 0), True) == (LESSONS,)
    assert active_windows((), monday_night, False) == ()


def test_an_implausible_clock_activates_every_window() -> None:
    saturday_noon = datetime(2024, 6, 8, 12, 0)
    assert active_windows((NIGHT, LESSONS), saturday_noon, True) == ()
    assert active_windows((NIGHT, LESSONS), saturday_noon, False) == (NIGHT, LESSONS)


CET = parse_tz("CET-1CEST,M3.5.0,M10.5.0/3")
AEST = parse_tz("AEST-10AEDT,M10.1.0,M4.1.0/3")
# Sunday 02:30-04:00 straddles the hour the clocks skip or repeat.
SUNDAY_SMALL_HOURS = window([6], "02:30", "04:00")


def _active_at(tz: PosixTz, utc: str) -> bool:
    instant = datetime.fromisoformat(utc).replace(tzinfo=UTC).timestamp()
    return is_active(SUNDAY_SMALL_HOURS, tz.local(instant))


# (zone, UTC instant, active): windows follow the wall clock on DST days.
DST_DAY_CASES = [
    # CET spring forward, 2024-03-31: 01:59:59 CET is followed by 03:00 CEST,
    # so the window opens at 03:00 and closes at 04:00 after one real hour.
    (CET, "2024-03-31T00:59:00", False),
    (CET, "2024-03-31T01:00:00", True),
    (CET, "2024-03-31T01:59:00", True),
    (CET, "2024-03-31T02:00:00", False),
    # CET fall back, 2024-10-27: 02:30-03:00 happens twice and both are in the
    # window, which then runs 2.5 real hours (00:30 to 03:00 UTC).
    (CET, "2024-10-27T00:29:00", False),
    (CET, "2024-10-27T00:30:00", True),
    (CET, "2024-10-27T00:59:00", True),
    (CET, "2024-10-27T01:00:00", False),  # 02:00 CET, the repeat starts
    (CET, "2024-10-27T01:30:00", True),  # 02:30 CET again
    (CET, "2024-10-27T02:59:00", True),
    (CET, "2024-10-27T03:00:00", False),
    # Sydney fall back, 2024-04-07: 02:00-03:00 AEST repeats after AEDT.
    (AEST, "2024-04-06T15:30:00", True),  # 02:30 AEDT
    (AEST, "2024-04-06T16:00:00", False),  # 02:00 AEST
    (AEST, "2024-04-06T16:30:00", True),  # 02:30 AEST
    (AEST, "2024-04-06T17:59:00", True),  # 03:59 AEST
    (AEST, "2024-04-06T18:00:00", False),
    # Sydney spring forward, 2024-10-06: 02:00 AEST jumps to 03:00 AEDT.
    (AEST, "2024-10-05T15:59:00", False),  # 01:59 AEST
    (AEST, "2024-10-05T16:00:00", True),  # 03:00 AEDT
    (AEST, "2024-10-05T17:00:00", False),  # 04:00 AEDT
]


@pytest.mark.parametrize(("tz", "utc", "expected"), DST_DAY_CASES)
def test_dst_days(tz: PosixTz, utc: str, expected: bool) -> None:
    assert _active_at(tz, utc) is expected


def test_a_window_across_midnight_on_the_night_clocks_change() -> None:
    night = window([5], "22:00", "06:30")  # Saturday night into Sunday
    spring = CET.local(datetime(2024, 3, 31, 4, 29, tzinfo=UTC).timestamp())
    assert spring.strftime("%a %H:%M") == "Sun 06:29"
    assert is_active(night, spring)
    after = CET.local(datetime(2024, 3, 31, 4, 30, tzinfo=UTC).timestamp())
    assert not is_active(night, after)
