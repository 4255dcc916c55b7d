""" "Recently blocked on this device": the last blocks per client, in memory.

A bounded ring per client address (``MAX_PER_CLIENT`` blocks, ``MAX_CLIENTS``
clients, the client idle longest dropped first), fed with each block the
daemon makes and read by the block page for the client asking. Only blocks
are kept, never allowed names. A restart empties it; it is what a child
looks at a minute after a block, not a log (``copgate log`` is the log).
Pure: the time comes in with each block.
"""

from __future__ import annotations

from collections import deque

from copgate.requests.page import Recent

MAX_PER_CLIENT = 50
MAX_CLIENTS = 512
REPEAT_WINDOW = 10.0
"""Seconds in which the same name blocked again (a browser's retries, its DNS and
its TLS) is one row, not five."""


class RecentBlocks:
    """Client address -> its last blocks, newest last."""

    def __init__(self) -> None:
        self._clients: dict[str, deque[Recent]] = {}

    def note(self, client: str, block: Recent) -> None:
        rows = self._clients.pop(client, None)
        if rows is None:
            if len(self._clients) >= MAX_CLIENTS:
                del self._clients[next(iter(self._clients))]
            rows = deque(maxlen=MAX_PER_CLIENT)
        last = rows[-1] if rows else None
        if last is not None and last.name == block.name and block.time - last.time < REPEAT_WINDOW:
            rows[-1] = block
        else:
            rows.append(block)
        self._clients[client] = rows

    def __call__(self, client: str) -> list[Recent]:
        """This client's blocks, newest first."""
        return list(reversed(self._clients.get(client, ())))
