"""The report forwarder's I/O: an HTTP POST with urllib, and the thread that runs it.

``http_post`` is the ``Poster`` of ``copgate.requests.forward``: it returns
the status of any answer (an error status is an answer) and raises OSError
when there is none. ``ForwardWorker`` runs ``Forwarder.run_once`` beside the
daemon's loop (a slow distributor must never hold a packet), waking when a
report is stored (``poke``) or when the next retry is due. It never judges
anything and never reads the queue but through the ``Forwarder``.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping

from copgate.errors import CopgateError
from copgate.requests.forward import POST_TIMEOUT, Forwarder

LOG = logging.getLogger("copgate.reports")
IDLE_WAIT = 300.0
"""Seconds between looks at the queue when nothing is due (a report made by hand)."""


def http_post(url: str, headers: Mapping[str, str], body: bytes) -> int:
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=POST_TIMEOUT) as response:
            response.read(65536)
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except urllib.error.URLError as exc:
        raise OSError(str(exc.reason)) from exc


class ForwardWorker:
    """A daemon thread that forwards reports until ``close``."""

    def __init__(self, forwarder: Forwarder) -> None:
        self.forwarder = forwarder
        self._wake = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="copgate-reports", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        """A report was stored: look now."""
        self._wake.set()

    def close(self, timeout: float = POST_TIMEOUT + 1) -> bool:
        """Stop; False if a post was still running after ``timeout`` seconds."""
        self._stop = True
        self._wake.set()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop:
            wait = IDLE_WAIT
            try:
                self.forwarder.run_once(time.time())
                due = self.forwarder.next_due(time.time())
                if due is not None:
                    wait = max(0.0, min(IDLE_WAIT, due - time.time()))
            except (CopgateError, OSError, ValueError) as exc:
                LOG.error("report forwarding failed: %s", exc)
            except Exception:
                LOG.exception("report forwarding failed")
            self._wake.wait(wait)
            self._wake.clear()
