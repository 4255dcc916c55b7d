""" "Recently blocked on this device": the rows the block page shows, from the decision log.

The daemon's decision ring (``copgate.daemon.ring``, what ``copgate log``
reads) already holds every block with its time, client, name, rule and
category; the page asks it for the client's blocks and shows them newest
first. One visit to a blocked site is often two or three decisions (the
DNS question, then the TLS hello or HTTP request, a retry): the same name
again within ``REPEAT_WINDOW`` seconds is one row. The ring's privacy
settings apply: with ``log_entries = 0`` the page lists nothing. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable

from copgate.requests.page import Recent

REPEAT_WINDOW = 10.0
"""Seconds in which the same name blocked again is the same visit."""


def recent_rows(blocks: Iterable[Recent]) -> list[Recent]:
    """``blocks`` (oldest first) as the page's rows: newest first, one per visit."""
    rows: list[Recent] = []
    for block in blocks:
        last = rows[-1] if rows else None
        if last is not None and last.name == block.name and block.time - last.time < REPEAT_WINDOW:
            rows[-1] = block
        else:
            rows.append(block)
    rows.reverse()
    return rows
