"""Whether a group's time windows are active at a local wall-clock time.

A window is a weekly span of the router's local time (copgate.policy.tz turns
the UTC clock into it): the days it starts on, a start minute (inclusive) and
an end minute (exclusive). A window whose end is at or before its start runs
across midnight, and belongs to the day it STARTS on: "Friday 22:00-06:30"
covers Friday 22:00 to Saturday 06:29 and nothing on Friday morning.

Windows follow the wall clock, as the people who write them read it. On the
day clocks go forward the skipped hour never happens (a window starting at
02:30 starts at 03:00); on the day they go back the repeated hour is in a
window both times.

A router has no battery-backed clock: until its clock is plausible (not
earlier than the installed list release was built), the caller says so and
every window counts as active, which is the stricter choice.

This module never reads the clock: the local time is an argument.
"""

from __future__ import annotations

from datetime import datetime

from copgate.policy.model import TimeWindow


def minute_of_day(local: datetime) -> int:
    """Minutes after local midnight (seconds are ignored: windows are HH:MM)."""
    return local.hour * 60 + local.minute


def is_active(window: TimeWindow, local: datetime) -> bool:
    """Whether ``window`` covers the wall-clock time ``local``."""
    day = local.weekday()
    minute = minute_of_day(local)
    if not window.crosses_midnight:
        return day in window.days and window.start <= minute < window.end
    started_today = day in window.days and minute >= window.start
    started_yesterday = (day - 1) % 7 in window.days and minute < window.end
    return started_today or started_yesterday


def active_windows(
    windows: tuple[TimeWindow, ...], local: datetime, clock_plausible: bool
) -> tuple[TimeWindow, ...]:
    """The windows in force; all of them when the clock cannot be trusted."""
    if not clock_plausible:
        return windows
    return tuple(window for window in windows if is_active(window, local))
