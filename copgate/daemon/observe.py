"""What lets an admin watch the daemon: the decision ring, the control socket, the metrics.

``Observers`` holds the three for ``copgate.daemon.run``: the ring is made
with the config's ``log_entries`` and ``log_allowed`` and reconfigured (not
replaced) by a reload, so the log survives it; the control socket and the
metrics endpoint run in threads of their own beside the packet loop. Either
failing to open is logged and the daemon filters on without it: watching
must never stop filtering.

It never judges a packet; it is handed the status to serve.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from copgate.daemon import metrics
from copgate.daemon.control import Handler, ring_handlers
from copgate.daemon.ring import DecisionRing
from copgate.edges.control import ControlServer
from copgate.edges.metrics import MetricsServer
from copgate.errors import CopgateError
from copgate.policy.model import Settings

LOG = logging.getLogger("copgate")
Status = Callable[[], dict[str, object]]


class Observers:
    """The ring, and the control socket and metrics endpoint once ``start`` opened them."""

    def __init__(
        self,
        settings: Settings,
        control_path: Path | None,
        control_uids: frozenset[int] = frozenset({0}),
    ) -> None:
        self.ring = DecisionRing(settings.log_entries, settings.log_allowed)
        self.control_path = control_path
        self.control_uids = control_uids
        """Who may use the control socket: root (tests let their own uid in)."""
        self.control: ControlServer | None = None
        self.metrics: MetricsServer | None = None
        self._metrics_listen = settings.metrics_listen

    def start(
        self, status: Status, clock: Callable[[], float], more: dict[str, Handler] | None = None
    ) -> None:
        """Open the control socket (``status``, ``log``, ``stats`` and ``more``) and the
        metrics endpoint if the config asks for one. ``clock`` is the wall clock."""
        if self.control_path is not None:
            handlers: dict[str, Handler] = {
                "status": lambda _params: status(),
                **ring_handlers(self.ring, clock),
                **(more or {}),
            }
            try:
                self.control = ControlServer(
                    self.control_path, handlers, allowed_uids=self.control_uids
                )
            except (OSError, CopgateError) as exc:
                LOG.error(
                    "control socket not opened: %s; copgate status/log/stats will not answer", exc
                )
            else:
                self.control.start()
                LOG.info("control socket %s", self.control_path)
        if self._metrics_listen is not None:
            address, port = self._metrics_listen
            try:
                self.metrics = MetricsServer(address, port, lambda: metrics.render(status()))
            except OSError as exc:
                LOG.error("metrics endpoint not opened on %s port %d: %s", address, port, exc)
            else:
                self.metrics.start()
                LOG.info("metrics on http://%s/metrics", _host_port(*self.metrics.address))

    def reconfigure(self, settings: Settings) -> None:
        """Apply a reloaded config: the ring's size and privacy now, the endpoint at restart."""
        self.ring.configure(settings.log_entries, settings.log_allowed)
        if settings.metrics_listen != self._metrics_listen:
            LOG.warning("reload: metrics_listen changes when copgate restarts")

    def section(self) -> dict[str, object]:
        """The status's ``log``, ``control`` and ``metrics`` sections."""
        ring = self.ring
        return {
            "log": {
                "entries": len(ring),
                "capacity": ring.capacity,
                "keep_allowed": ring.keep_allowed,
                "recorded": ring.recorded,
                "not_kept": ring.not_kept,
                "last_seq": ring.last_seq,
            },
            "control": {
                "socket": str(self.control_path) if self.control else None,
                "served": self.control.served if self.control else 0,
                "refused": self.control.refused if self.control else 0,
            },
            "metrics": {
                "listen": _host_port(*self.metrics.address) if self.metrics else None,
                "served": self.metrics.served if self.metrics else 0,
            },
        }

    def close(self) -> None:
        if self.control is not None:
            self.control.close()
            self.control = None
        if self.metrics is not None:
            self.metrics.close()
            self.metrics = None


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
