"""A listening socket answered one connection at a time by its own thread, until closed.

The control socket and the metrics endpoint both serve short requests beside
the packet loop: a daemon thread accepts, hands each connection to
``handle`` with a timeout set, and looks at its stop flag every
``ACCEPT_POLL`` seconds; ``close`` wakes it at once (``wake`` connects to
the socket) and waits for it. A client that fails, stalls or leaves loses
only its own connection.

It moves no bytes itself: what a request means is the subclass's.
"""

from __future__ import annotations

import logging
import socket
import threading

LOG = logging.getLogger("copgate")
ACCEPT_POLL = 0.5
"""Seconds between the thread's looks at its stop flag while no client connects."""


class OneAtATime:
    """Serves ``listener`` with ``handle`` in a thread named ``name``; see the module docstring."""

    def __init__(self, listener: socket.socket, name: str, timeout: float) -> None:
        self.timeout = timeout
        """Seconds a connection has to send its request and take its reply."""
        self._listener = listener
        self._name = name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start answering, in a daemon thread."""
        self._thread = threading.Thread(
            target=self._serve, name=f"copgate-{self._name}", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Stop answering and close the listening socket."""
        self._stop.set()
        self.wake()
        if self._thread is not None:
            self._thread.join(ACCEPT_POLL + self.timeout * 2)
        self._listener.close()

    def wake(self) -> None:
        """Connect to the listener, so that a waiting accept returns and sees the stop flag."""
        raise NotImplementedError

    def handle(self, conn: socket.socket) -> None:
        """Answer one connection (its timeout is set)."""
        raise NotImplementedError

    def _serve(self) -> None:
        self._listener.settimeout(ACCEPT_POLL)
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                LOG.exception("%s: accept failed", self._name)
                self._stop.wait(ACCEPT_POLL)
                continue
            if self._stop.is_set():
                conn.close()
                return
            with conn:
                try:
                    conn.settimeout(self.timeout)
                    self.handle(conn)
                except OSError as exc:  # the client left or stalled: its loss only
                    LOG.debug("%s: connection dropped: %s", self._name, exc)
