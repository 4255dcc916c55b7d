"""The daemon's side of the block page's requests: the app, the grants, the forwarder.

Built once at start from the config: the request queue in ``reports_dir``
(a directory that cannot be opened is logged and the forms answer 503; the
page itself still works), "recently blocked" read from the daemon's
decision ring (``recent_from_ring``), the grants file watched once a second
(``tick``), and the forwarder thread when ``reports_url`` is set (it and
``copgate.requests.forward`` are imported only then: OpenWrt splits urllib
into its own package, and a router that forwards nothing need not carry
it). ``copgate.daemon.run`` holds one and calls it; it never judges a packet.

The app (``copgate.requests.app``: the page, the message catalogue, the
per-process CSRF secret) is built at the block page's first request
(``handle``), not at start: a gateway whose page nobody asks for never
loads it, about 0.2 MB resident (issue 10). Its counters are zero until then.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from copgate.daemon.ring import DecisionRing
from copgate.forge.blockpage import BLOCKPAGE_PORT
from copgate.policy.grants import Grants
from copgate.policy.model import Config, Settings
from copgate.policy.tz import PosixTz
from copgate.requests.basics import AppStats
from copgate.requests.grantfile import GRANTS_FILE, GrantWatch
from copgate.requests.store import Store, StoreError

if TYPE_CHECKING:
    from copgate.edges.report_post import ForwardWorker
    from copgate.http1.request import Request
    from copgate.requests.app import BlockPageApp, RecentSource
    from copgate.requests.page import Recent

LOG = logging.getLogger("copgate")


class RequestsEdge:
    """Everything the block page's forms need beside the loop."""

    def __init__(
        self,
        config: Config,
        group_of: Callable[[str], str | None],
        tz: PosixTz,
        recent: RecentSource | None = None,
    ) -> None:
        settings = self.settings = config.settings
        directory = Path(settings.reports_dir)
        self.store: Store | None
        try:
            self.store = Store(directory, time.time())
        except StoreError as exc:
            LOG.error("requests and reports not taken: %s", exc)
            self.store = None
        self.watch = GrantWatch(directory / GRANTS_FILE)
        self.worker = _forwarder(settings, self.store)
        self._page = settings
        """The settings the page's name and addresses come from (a reload changes them)."""
        self._group_of = group_of
        self._tz = tz
        self._recent = recent
        self._app: BlockPageApp | None = None

    @property
    def app(self) -> BlockPageApp:
        """The block page's app, built at the first use (see the module docstring)."""
        if self._app is None:
            from copgate.requests.app import BlockPageApp  # noqa: PLC0415
            from copgate.requests.i18n import Catalogue  # noqa: PLC0415

            tz = self._tz
            self._app = BlockPageApp(
                Catalogue.load(),
                self.store,
                page_url=page_url(self._page),
                recent=self._recent,
                group_of=self._group_of,
                clock=lambda epoch: tz.local(epoch).strftime("%Y-%m-%d %H:%M:%S"),
                on_stored=self.worker.poke if self.worker is not None else None,
                hosts=page_hosts(self._page),
            )
        return self._app

    def handle(self, request: Request, body: bytes, client: str, now: float) -> bytes:
        """Answer one block-page request (``copgate.edges.blockpage.PageApp``)."""
        return self.app.handle(request, body, client, now)

    def reconfigure(self, config: Config) -> None:
        """A reload: the page's name and addresses follow it; where requests go is set
        at start, and a new config that moves it is told so."""
        new = self._page = config.settings
        if self._app is not None:
            self._app.hosts = page_hosts(new)
            self._app.page_url = page_url(new)
        for option in ("reports_dir", "reports_url", "reports_token"):
            if getattr(new, option) != getattr(self.settings, option):
                LOG.warning("reload: %s changed; it takes effect when copgate restarts", option)

    def counters(self) -> dict[str, int]:
        """What the forms and the forwarder did since start (in memory: no file is read)."""
        forwarded = self.worker.forwarder.stats if self.worker is not None else None
        stats = self._app.stats if self._app is not None else AppStats()
        return {
            **dataclasses.asdict(stats),
            "forwarded": forwarded.sent if forwarded else 0,
            "forward_refused": forwarded.refused if forwarded else 0,
            "forward_failed": forwarded.failed if forwarded else 0,
        }

    def tick(self) -> Grants | None:
        """New grants if the grants file changed; a bad file is logged and None."""
        try:
            grants = self.watch.changed()
        except StoreError as exc:
            LOG.error("grants not reloaded, the old ones stay: %s", exc)
            return None
        if grants is not None:
            LOG.info("grants loaded: %d", sum(1 for _ in grants))
        return grants

    def close(self) -> None:
        if self.worker is not None and not self.worker.close():
            LOG.warning("shutdown: a report was still being posted")
        self.worker = None


def _forwarder(settings: Settings, store: Store | None) -> ForwardWorker | None:
    """The forwarding thread, when reports go somewhere and can be read."""
    if not settings.reports_url or store is None:
        return None
    try:
        from copgate.edges.report_post import ForwardWorker, http_post  # noqa: PLC0415
        from copgate.requests.forward import Forwarder  # noqa: PLC0415
    except ImportError as exc:  # OpenWrt: python3-urllib is not installed
        LOG.error("reports not forwarded (%s): they stay in %s", exc, store.directory)
        return None
    forwarder = Forwarder(store, settings.reports_url, settings.reports_token, http_post)
    LOG.info("reports forwarded to %s", settings.reports_url)
    return ForwardWorker(forwarder)


def page_url(settings: Settings) -> str:
    """Where "recently blocked" is: the page's own name, on the page's port."""
    return f"http://{settings.page_name}:{BLOCKPAGE_PORT}/recent"


def page_hosts(settings: Settings) -> frozenset[str]:
    """The Host values the page answers to: its name and its addresses."""
    addresses = (settings.blockpage_ipv4, settings.blockpage_ipv6)
    return frozenset({settings.page_name, *(str(a) for a in addresses if a is not None)})


BLOCK = "block"
"""The ring's verdict word of a block (``copgate.policy.decision.Verdict.BLOCK``)."""


def recent_from_ring(ring: DecisionRing) -> RecentSource:
    """The block page's "recently blocked" for a client, read from the decision ring."""

    def recent(client: str) -> list[Recent]:
        # Imported with the app, at the page's first request (see the module docstring).
        from copgate.requests.app import MAX_RECENT  # noqa: PLC0415
        from copgate.requests.page import Recent  # noqa: PLC0415
        from copgate.requests.recent import recent_rows  # noqa: PLC0415

        entries = ring.entries(client=client, verdict=BLOCK, limit=4 * MAX_RECENT)
        blocks = (Recent(e.time, e.name, e.rule or "", e.category or "") for e in entries)
        return recent_rows(blocks)[:MAX_RECENT]

    return recent
