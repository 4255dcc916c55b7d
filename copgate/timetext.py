"""How long something took or has been, as a person would say it: the two largest units.

``copgate status`` (uptime, list age) and the updater's log lines and
``copgate update --status`` (a release's age, the next check) say durations
the same way; this is the one place that writes them. Pure.
"""

from __future__ import annotations


def two_units(seconds: float, *, padded: bool = False) -> str:
    """``3d 4h``, ``2h 5m``, ``4m 10s``, ``12s``; negative is ``0s``.

    ``padded`` writes the smaller unit with two digits (``2h 05m``,
    ``1m 01s``), for columns that line up in ``copgate status``.
    """
    whole = max(0, int(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    small = "{:02d}" if padded else "{}"
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {small.format(minutes)}m"
    if minutes:
        return f"{minutes}m {small.format(secs)}s"
    return f"{secs}s"
