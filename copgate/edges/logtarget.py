"""Where the daemon's log goes: syslog (logd on OpenWrt, journald elsewhere) or stderr.

``auto`` picks syslog when ``/dev/log`` accepts a connection and stderr is
neither a terminal nor a file: under procd or systemd stderr is a pipe or
a socket to the same log, and syslog keeps each line's level, so it is
used; someone who runs ``copgate run`` in a terminal, or sends its stderr
to a file (the lab does), reads it there. ``syslog`` and ``stderr`` choose
outright; ``syslog`` without a socket is an error.

Levels: start, stop, reload and update results are ``info``; a refused
reload, a handler failure or a lost firewall rule ``error``; what an admin
should look at but copgate survives ``warning``; per-decision lines only
at ``debug`` (``--verbose``), the rest of decisions go to the decision ring.

It configures the ``copgate`` logger's handler; it never writes a line itself.
"""

from __future__ import annotations

import enum
import logging
import os
import socket
import stat
import sys
from pathlib import Path
from typing import TextIO

SYSLOG_SOCKET = Path("/dev/log")
STDERR_FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"
"""The stderr line (``tests.lab.daemon_lab`` and ``copgate demo`` read it)."""
SYSLOG_FORMAT = "%(levelname)s %(message)s"
"""The syslog message after ``copgate[PID]: ``; the date and host are syslog's."""


class Target(enum.StrEnum):
    """Where ``copgate run --log-target`` sends the log."""

    AUTO = "auto"
    SYSLOG = "syslog"
    STDERR = "stderr"


def configure(
    target: Target,
    level: int,
    *,
    socket_path: Path = SYSLOG_SOCKET,
    stream: TextIO | None = None,
) -> Target:
    """Send the root logger's records at ``level`` and above to ``target``; the target used."""
    stream = sys.stderr if stream is None else stream
    chosen = target
    if target is Target.AUTO:
        watched = _is_terminal_or_file(stream)
        chosen = Target.SYSLOG if not watched and _accepts(socket_path) else Target.STDERR
    handler: logging.Handler
    if chosen is Target.SYSLOG:
        # Imported for syslog only: logging.handlers brings pickle and queue
        # for handlers copgate never uses, about 0.45 MB resident (issue 10).
        from logging.handlers import SysLogHandler  # noqa: PLC0415

        handler = SysLogHandler(address=str(socket_path), facility=SysLogHandler.LOG_DAEMON)
        handler.ident = f"copgate[{os.getpid()}]: "
        handler.setFormatter(logging.Formatter(SYSLOG_FORMAT))
    else:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter(STDERR_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return chosen


def _accepts(path: Path) -> bool:
    """Whether a syslog daemon listens on ``path`` (a datagram socket, as logd and journald)."""
    try:
        if not stat.S_ISSOCK(path.stat().st_mode):
            return False
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as probe:
            probe.connect(str(path))
    except OSError:
        return False
    return True


def _is_terminal_or_file(stream: TextIO) -> bool:
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return True  # not a real descriptor (a test's buffer): someone reads it
    if os.isatty(fd):
        return True
    return stat.S_ISREG(os.fstat(fd).st_mode)
