"""Rate-limited log lines: a storm of repeats must not become a flood of log lines.

Decisions go to the decision ring, not the log; what can still repeat at
packet rate is a failure (a handler that raises on every packet of a
hostile client). ``LogRate`` lets the first line of each kind pass and
counts the repeats: a line is keyed by a tuple such as ``("failure",
handler, exception)``, the first of a key in a window is written, the rest
of that window are counted, and when the window ends one summary says how
many were left out ("... and 4,096 more like it in 10 s").

Invariants:
- a key is in ``_windows`` from its first admitted line until the first
  ``flush`` after its window ended; its count is the lines it swallowed;
- at most ``max_keys`` keys are held: lines of further keys in that time are
  counted in ``_overflow`` (a flood of spoofed clients is one summary, not a
  table that grows without bound).

Pure: the clock is passed in. It never writes a line itself: the daemon
asks ``admit`` before logging and writes what ``flush`` returns.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

WINDOW = 10.0
"""Seconds in which repeats of one key are summarised, not written."""
MAX_KEYS = 1024
"""Keys held at once: a few hundred LAN clients, each with a few kinds of line."""


@dataclass(frozen=True, slots=True)
class Summary:
    """What a window left out: ``count`` lines of ``key`` in ``seconds``."""

    key: Hashable | None
    """The key summarised; None for lines left out because the table was full."""
    count: int
    seconds: float

    def text(self) -> str:
        """``and 4,096 more like it in 10 s``, for the end of a log line."""
        return f"and {self.count:,} more like it in {self.seconds:.0f} s"


@dataclass(slots=True)
class _Window:
    start: float
    suppressed: int = 0


class LogRate:
    """Admits the first line of a key per window and counts the rest."""

    def __init__(self, window: float = WINDOW, max_keys: int = MAX_KEYS) -> None:
        self.window = window
        self.max_keys = max_keys
        self._windows: dict[Hashable, _Window] = {}
        self._overflow: _Window | None = None
        self.suppressed = 0
        """Lines left out since start, for the status line."""

    def admit(self, key: Hashable, now: float) -> tuple[bool, Summary | None]:
        """Whether to write the line for ``key`` now, and a summary to write before it.

        The summary is that of the key's previous window, when it ended with
        lines left out and no ``flush`` has reported it yet.
        """
        held = self._windows.get(key)
        if held is not None and now - held.start < self.window:
            held.suppressed += 1
            self.suppressed += 1
            return False, None
        if held is None and len(self._windows) >= self.max_keys:
            if self._overflow is None:
                self._overflow = _Window(now)
            self._overflow.suppressed += 1
            self.suppressed += 1
            return False, None
        self._windows[key] = _Window(now)
        if held is not None and held.suppressed:
            return True, Summary(key, held.suppressed, self.window)
        return True, None

    def flush(self, now: float) -> list[Summary]:
        """Summaries of the windows that have ended; forgets their keys."""
        out: list[Summary] = []
        for key, held in list(self._windows.items()):
            if now - held.start >= self.window:
                del self._windows[key]
                if held.suppressed:
                    out.append(Summary(key, held.suppressed, self.window))
        if self._overflow is not None and now - self._overflow.start >= self.window:
            out.append(Summary(None, self._overflow.suppressed, self.window))
            self._overflow = None
        return out
