"""``copgate run``: the daemon's event loop, in the foreground.

One process, one thread, one ``selectors`` loop over the netfilter queue's
socket, the signal wake-up socket, the block page (a listener on each
configured address, IPv4 and IPv6) and the safe-search resolver, so a
signal is handled between two packets, never in the middle of one.

- SIGHUP reloads the config and the lists. The new config is loaded and
  checked, the new lists opened, and only then swapped in; packets wait in
  the kernel's queue meanwhile (milliseconds) and none is lost. A bad config
  or a bad list leaves the running ones in force, and the errors are logged.
- SIGTERM and SIGINT shut down in this order: stop taking packets (after
  answering every packet already waiting in the queue), unbind the queue
  (with --queue-bypass the kernel passes new packets from then on), remove
  copgate's firewall rules, close everything, exit 0. The service manager
  restarts the daemon when it should run again.
- SIGUSR1 logs the counters.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import json
import logging
import selectors
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from copgate.config.load import load_config, reload_config
from copgate.daemon.engine import Action, Engine, IpAddress, PacketVerdict
from copgate.daemon.firewall_spec import firewall_spec
from copgate.edges import iptables
from copgate.edges.blockpage import BlockPageServer
from copgate.edges.inject import Injector
from copgate.edges.queue import QueueEdge
from copgate.edges.resolver import SafeResolver, upstream_from_resolv_conf
from copgate.errors import CopgateError
from copgate.firewall import render_iptables
from copgate.forge.blockpage import BLOCKPAGE_PORT
from copgate.lists.listset import ListSet
from copgate.policy.model import Config
from copgate.policy.safesearch import SAFE_ENDPOINTS

LOG = logging.getLogger("copgate")
TICK = 1.0  # seconds between housekeeping rounds (resolver, flow expiry)


@dataclass(frozen=True, slots=True)
class Options:
    """How ``copgate run`` was asked to run."""

    config: Path
    queue_num: int = 0
    firewall: bool = True
    """Apply and remove copgate's iptables rules (off when the OS package does it)."""
    templates_dir: Path | None = None
    upstream: str | None = None
    """The resolver for safe-search endpoints; default: /etc/resolv.conf's first."""
    log_decisions: bool = True


class Daemon:
    """Everything ``copgate run`` holds, and the loop that serves it."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.config = load_config(options.config, templates_dir=options.templates_dir)
        self.lists = ListSet.open(self.config.settings.lists)
        self.engine = Engine(self.config, self.lists, lists_built=float(self.lists.built))
        self.selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._signals: list[int] = []
        self.injector = Injector()
        self.queue: QueueEdge | None = None
        self.blockpages: list[BlockPageServer] = []
        self.resolver: SafeResolver | None = None
        self._firewall_applied = False
        self.running = False

    # -- start -----------------------------------------------------------------------

    def start(self) -> None:
        """Bind the queue, open the edges, apply the rules (in that order)."""
        self._install_signals()
        self.queue = QueueEdge(
            self.options.queue_num,
            self.engine.judge,
            self.injector,
            on_verdict=self._log_verdict if self.options.log_decisions else None,
        )
        self.selector.register(self.queue, selectors.EVENT_READ, self._on_queue)
        self._start_blockpages()
        self._start_resolver()
        if self.options.firewall:
            self._apply_firewall(self.config)
        self.running = True
        LOG.info(
            "copgate running: queue %d, %d groups, lists %s",
            self.options.queue_num,
            len(self.config.groups),
            ", ".join(self.config.settings.lists),
        )

    def _install_signals(self) -> None:
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        signal.set_wakeup_fd(self._wake_w.fileno(), warn_on_full_buffer=False)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1):
            signal.signal(signum, self._note_signal)
        self.selector.register(self._wake_r, selectors.EVENT_READ, self._on_signal)

    def _note_signal(self, signum: int, _frame: object) -> None:
        self._signals.append(signum)

    def _start_blockpages(self) -> None:
        """A listener on each configured block-page address; one that fails leaves the rest."""
        settings = self.config.settings
        served: list[IpAddress] = []
        for address in (settings.blockpage_ipv4, settings.blockpage_ipv6):
            if address is None:
                continue
            where = _endpoint(address.packed, BLOCKPAGE_PORT)
            try:
                server = BlockPageServer(str(address), BLOCKPAGE_PORT)
            except OSError as exc:
                LOG.warning("block page not served on %s: %s", where, exc)
                continue
            if server.address_pending:
                LOG.warning(
                    "block page address %s is not on this host (yet): listening for it anyway",
                    address,
                )
            self.blockpages.append(server)
            served.append(address)
            self.selector.register(
                server.listener, selectors.EVENT_READ, functools.partial(self._on_blockpage, server)
            )
            LOG.info("block page served on %s", where)
        # Nobody is redirected to an address that is not served: its family's
        # clients get the page in the server's place instead (see the engine).
        self.engine.blockpage_served = frozenset(served)

    def _start_resolver(self) -> None:
        upstream = self.options.upstream
        if upstream is None:
            try:
                upstream = upstream_from_resolv_conf(Path("/etc/resolv.conf").read_text())
            except OSError:
                upstream = None
        if upstream is None:
            LOG.warning("no upstream resolver: safe-search endpoints stay unresolved")
            return
        self.resolver = SafeResolver(upstream, SAFE_ENDPOINTS)
        self.selector.register(self.resolver, selectors.EVENT_READ, self._on_resolver)
        self.resolver.tick(time.time())

    def _apply_firewall(self, config: Config) -> None:
        spec = firewall_spec(config, self.options.queue_num)
        # Set first: if IPv6 fails after IPv4 went in, shutdown still removes IPv4's.
        self._firewall_applied = True
        for family in spec.families:
            iptables.apply(render_iptables(spec, family))

    # -- the loop ------------------------------------------------------------------------

    def serve(self) -> int:
        """Serve until SIGTERM or SIGINT; returns the exit status."""
        next_tick = time.monotonic() + TICK
        while self.running:
            timeout = max(0.0, next_tick - time.monotonic())
            for key, _events in self.selector.select(timeout):
                handler: Callable[[], None] = key.data
                handler()
            if time.monotonic() >= next_tick:
                self._housekeeping()
                next_tick = time.monotonic() + TICK
        return self.shutdown()

    def _on_queue(self) -> None:
        assert self.queue is not None
        self.queue.drain()

    def _on_signal(self) -> None:
        try:
            while self._wake_r.recv(64):
                pass
        except BlockingIOError:
            pass
        signals, self._signals = self._signals, []
        for signum in signals:
            if signum in (signal.SIGTERM, signal.SIGINT):
                LOG.info("signal %s: shutting down", signal.Signals(signum).name)
                self.running = False
            elif signum == signal.SIGHUP:
                self.reload()
            elif signum == signal.SIGUSR1:
                self.log_counters()

    def _on_blockpage(self, server: BlockPageServer) -> None:
        conn = server.accept()
        if conn is not None:
            self.selector.register(
                conn, selectors.EVENT_READ, functools.partial(self._on_client, server, conn)
            )

    def _on_client(self, server: BlockPageServer, conn: socket.socket) -> None:
        fd = conn.fileno()
        if server.readable(conn):
            self._unregister_fd(fd)

    def _unregister_fd(self, fd: int) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(fd)

    def _on_resolver(self) -> None:
        assert self.resolver is not None
        self.resolver.readable(time.time())
        if self.resolver.changed:
            self.resolver.changed = False
            self.engine.safe_addresses = self.resolver.addresses()
            self.engine.safe_targets = self.resolver.targets()
            LOG.debug(
                "safe-search endpoints: %d of %d answered, %d addresses",
                len(self.resolver.answers),
                2 * len(self.resolver.names),
                len(self.engine.safe_addresses),
            )

    def _housekeeping(self) -> None:
        now = time.time()
        self.engine.tracker.expire(now)
        if self.resolver is not None:
            self.resolver.tick(now)

    # -- reload, status, shutdown ----------------------------------------------------

    def reload(self) -> bool:
        """Reload config and lists; on any error keep the running ones. True if swapped."""
        config, lines = reload_config(
            self.options.config, self.config, templates_dir=self.options.templates_dir
        )
        for line in lines:
            LOG.warning("reload: %s", line)
        if config is self.config:  # reload_config's way of saying the file has errors
            LOG.error("reload refused: the running config stays in force")
            return False
        try:
            lists = ListSet.open(config.settings.lists)
        except CopgateError as exc:
            LOG.error("reload refused: %s; the running lists stay in force", exc)
            return False
        old = self.lists
        self.engine.reconfigure(config, lists, float(lists.built))
        self.config, self.lists = config, lists
        old.close()
        if self.options.firewall:
            try:
                self._apply_firewall(config)
            except CopgateError as exc:
                LOG.error("reload: firewall rules not updated: %s", exc)
        self._warn_unserved_blockpage(config)
        LOG.info("reloaded: %d groups, lists built %d", len(config.groups), lists.built)
        return True

    def _warn_unserved_blockpage(self, config: Config) -> None:
        """Listeners are bound once, at start: a block-page address new in a reload is not."""
        served = self.engine.blockpage_served or frozenset()
        settings = config.settings
        for address in (settings.blockpage_ipv4, settings.blockpage_ipv6):
            if address is not None and address not in served:
                LOG.warning(
                    "reload: block page not served on %s until copgate restarts; "
                    "blocked HTTP over IPv%d gets the page in the server's place",
                    _endpoint(address.packed, BLOCKPAGE_PORT),
                    address.version,
                )

    def log_counters(self) -> None:
        counters = self.engine.counters
        LOG.info(
            "counters %s",
            json.dumps(
                {
                    "packets": counters.packets,
                    "failures": counters.failures,
                    "malformed": counters.malformed,
                    "pending": counters.pending,
                    "verdicts": counters.by_kind,
                    "injected": self.injector.sent,
                    "inject_failed": self.injector.failed,
                    "flows_held": len(self.engine.tracker),
                }
            ),
        )

    def shutdown(self) -> int:
        """Answer what is held, unbind, remove the rules, close. Returns 0."""
        if self.queue is not None:
            try:
                self.queue.drain()
            finally:
                self._unregister_fd(self.queue.fileno())
                self.queue.close()
                self.queue = None
        if self._firewall_applied:
            try:
                iptables.remove()
            except CopgateError as exc:
                LOG.error("shutdown: %s", exc)
            self._firewall_applied = False
        for server in self.blockpages:
            server.close()
        self.blockpages = []
        if self.resolver is not None:
            self.resolver.close()
        self.injector.close()
        self.lists.close()
        signal.set_wakeup_fd(-1)
        self._wake_r.close()
        self._wake_w.close()
        self.selector.close()
        self.log_counters()
        LOG.info("copgate stopped")
        return 0

    def _log_verdict(self, verdict: PacketVerdict) -> None:
        question, decision = verdict.question, verdict.decision
        if question is None or decision is None:
            if verdict.action is Action.DROP:
                LOG.info("drop: %s", verdict.note)
            elif verdict.packet is not None and LOG.isEnabledFor(logging.DEBUG):
                packet = verdict.packet
                LOG.debug(
                    "pending %s > %s: %s",
                    _endpoint(packet.src, packet.sport),
                    _endpoint(packet.dst, packet.dport),
                    verdict.note,
                )
            return
        if verdict.action is not Action.DROP and not LOG.isEnabledFor(logging.DEBUG):
            return
        name = question.name.text if question.name else "(no name)"
        LOG.info(
            "%s %s %s client=%s group=%s rule=%s list=%s category=%s match=%s: %s",
            decision.verdict.value,
            question.kind.value,
            name,
            _endpoint(*question.client),
            decision.group,
            decision.rule.value,
            decision.list_name,
            decision.category,
            decision.match,
            decision.reason,
        )


def _endpoint(packed: bytes, port: int) -> str:
    """``192.0.2.10:5353`` or ``[2001:db8::10]:5353`` for a log line."""
    try:
        address = ipaddress.ip_address(packed)
    except ValueError:
        return f"?:{port}"
    return f"[{address}]:{port}" if address.version == 6 else f"{address}:{port}"


def run(options: Options) -> int:
    daemon = Daemon(options)
    try:
        daemon.start()
    except BaseException:
        daemon.shutdown()
        raise
    return daemon.serve()
