"""``copgate run``: the daemon's event loop, in the foreground.

One process, one ``selectors`` loop over the two netfilter queues (queue N
for fail-open groups, bound with the kernel's fail-open flag; N + 1 for
fail-closed groups, without it), the signal wake-up socket, the block page
(a listener on each configured address, IPv4 and IPv6), the safe-search
resolver and the firewall worker's pipe, so a signal is handled between two
packets, never in the middle of one.

- SIGHUP reloads the config and the lists. The new config is loaded and
  checked, the new lists opened, and only then swapped in. Any error, of
  any kind, leaves the running ones in force and is logged. The new
  firewall rules are applied by a worker thread (``copgate.daemon.reload``)
  while the loop goes on judging.
- SIGTERM and SIGINT shut down in this order: stop taking packets (after
  answering every packet already waiting), wait for a firewall apply in
  progress, unbind the queues, remove copgate's firewall rules, close
  everything, exit 0. The service manager restarts the daemon when it
  should run again.
- With an ``[update]`` section, signed list releases are polled by a thread
  (``copgate.update``); the loop looks at the release link once a second and
  swaps a new release's cache in between two packets, without a signal.
- SIGUSR1 logs the counters: the engine's (packets, verdicts, evasion...),
  flows held and blocked, both queues' kernel and user-space counts, handler
  failures, log lines left out.

No exception in a handler ends the loop: it is logged with its traceback,
counted, and the loop goes on. If the loop itself dies, the shutdown still
runs but leaves copgate's rules in place: with the queues unbound, open
groups' rules pass their traffic (queue bypass) and closed groups' rules
stop it, which is what the config says a failure should do. A restart
replaces the leftover rules.

Decisions go to the decision ring (``copgate.daemon.verdict_log``), which
a reload keeps: ``copgate log``, ``status`` and ``stats`` read it over the
control socket (``copgate.daemon.observe``). The log gets one line per
start, reload and failure (repeated failures rate-limited by
``copgate.daemon.lograte``), and every decision only at debug level.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import ipaddress
import json
import logging
import random
import selectors
import signal
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from copgate.config.load import load_config
from copgate.daemon import probes
from copgate.daemon.engine import Engine, IpAddress
from copgate.daemon.firewall_spec import firewall_spec
from copgate.daemon.observe import Observers
from copgate.daemon.reload import FirewallWorker, local_tz, prepare, unserved
from copgate.daemon.startup import open_blockpages, open_resolver
from copgate.daemon.status import Facts, Loop, status_counters, status_report
from copgate.daemon.verdict_log import VerdictLog, endpoint
from copgate.edges.blockpage import BlockPageServer
from copgate.edges.firewall import Firewall, open_firewall
from copgate.edges.inject import Injector
from copgate.edges.queue import QueueBusyError, QueueEdge
from copgate.edges.requests_edge import RequestsEdge, recent_from_ring
from copgate.edges.resolver import SafeResolver
from copgate.errors import CopgateError
from copgate.firewall import FirewallSpec
from copgate.forge.blockpage import BLOCKPAGE_PORT
from copgate.lists.listset import ListSet
from copgate.policy.model import Config

if TYPE_CHECKING:
    from copgate.update.poller import DaemonUpdates

LOG = logging.getLogger("copgate")
TICK = 1.0  # seconds between housekeeping rounds (resolver, flow expiry, block page)
QUEUES = ((0, True), (1, False))
"""(offset from --queue, fail-open flag): open groups' queue, then closed groups'."""


@dataclass(frozen=True, slots=True)
class Options:
    """How ``copgate run`` was asked to run."""

    config: Path
    queue_num: int = 0
    firewall: bool = True
    """Apply and remove copgate's firewall rules (off when the OS package does it); the
    backend (nft or iptables) is the config's ``firewall_backend``, chosen at start."""
    templates_dir: Path | None = None
    upstream: str | None = None
    """The resolver for safe-search endpoints; default: /etc/resolv.conf's first."""
    log_decisions: bool = True
    control: Path | None = None
    """The control socket (``copgate status``, ``log``, ``stats``); None: none.
    ``copgate run`` gives ``copgate.edges.control.PATH`` unless told otherwise."""


class Daemon:
    """Everything ``copgate run`` holds, and the loop that serves it."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.config = load_config(options.config, templates_dir=options.templates_dir)
        self.updates = _updates(self.config)  # before the lists: it picks the release in force
        self.lists = ListSet.open(self.config.settings.lists)
        local = local_tz(self.config)
        LOG.info("timezone %s (from %s)", local.tz.text, local.source)
        self.engine = Engine(
            self.config, self.lists, lists_built=float(self.lists.built), tz=local.tz
        )
        self.selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._signals: list[int] = []
        self.queues: list[QueueEdge] = []
        self.blockpages: list[BlockPageServer] = []
        self.resolver: SafeResolver | None = None
        self.firewall: FirewallWorker | None = None
        self.rules: Firewall | None = None
        """The backend that applies the rules; chosen at start, kept until shutdown."""
        self._firewall_applied = False
        self.started = time.time()
        self._started_monotonic = time.monotonic()
        self.observers = Observers(self.config.settings, options.control)
        self.verdict_log = VerdictLog(time.time, ring=self.observers.ring)
        # Its failures' lines go through the same rate as the handlers': a flood
        # of blocked queries whose answers cannot leave is one line and a count.
        self.injector = Injector(rate=self.verdict_log.rate)
        self.requests = RequestsEdge(
            self.config, self._group_name, local.tz, recent_from_ring(self.observers.ring)
        )
        """The block page's forms, "recently blocked" (from the ring), grants, reports."""
        self.failures = 0
        """Exceptions caught in handlers, reloads and housekeeping."""
        self.running = False

    # -- start -----------------------------------------------------------------------

    def start(self) -> None:
        """Bind both queues, open the edges, apply the rules (in that order).

        The queues come first: if another process holds one, QueueBusyError
        stops the start before any rule is touched, so the other daemon's
        rules stay as they are.
        """
        self._install_signals()
        for offset, fail_open in QUEUES:
            self._bind_queue(self.options.queue_num + offset, fail_open)
        self._start_blockpages()
        self._start_resolver()
        self.observers.start(self.status, time.time)
        if self.options.firewall:
            self.rules = open_firewall(self.config.settings.firewall_backend)
            self._apply_firewall(self.config)
            self.firewall = FirewallWorker(self._apply_spec)
            self.selector.register(self.firewall, selectors.EVENT_READ, self._on_firewall_done)
        # What start-up built (config, lists, imports) lives as long as the
        # daemon: out of the collector's sight, a full collection walks only
        # what packets made, so a burst of new flows meets shorter pauses.
        gc.collect()
        gc.freeze()
        if self.updates is not None:
            self.updates.start()
        self.running = True
        LOG.info(
            "copgate running: queues %d (fail open) and %d (fail closed), %d groups, lists %s",
            self.options.queue_num,
            self.options.queue_num + 1,
            len(self.config.groups),
            ", ".join(self.config.settings.lists),
        )

    def _bind_queue(self, queue_num: int, fail_open: bool) -> None:
        try:
            queue = QueueEdge(
                queue_num,
                self.engine.judge,
                self.injector,
                on_verdict=self.verdict_log if self.options.log_decisions else None,
                fail_open=fail_open,
                rate=self.verdict_log.rate,
            )
        except QueueBusyError as exc:
            raise QueueBusyError(
                f"queue {queue_num} is bound by another process (is copgate already running?); "
                f"not starting, and its firewall rules are left alone ({exc})",
                exc.errno,
            ) from exc
        self.queues.append(queue)
        self.selector.register(queue, selectors.EVENT_READ, queue.drain)

    def _group_name(self, client: str) -> str | None:
        """The group the config puts a block-page client in (by address: the page has no MAC)."""
        try:
            return self.config.group_for(None, ipaddress.ip_address(client), None).name
        except ValueError:
            return None

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
        """Listen on the block-page addresses (``copgate.daemon.startup``), in the loop."""
        served: list[IpAddress] = []
        listen = functools.partial(BlockPageServer, on_close=self._forget, app=self.requests)
        for address, server in open_blockpages(self.config.settings, BLOCKPAGE_PORT, listen):
            self.blockpages.append(server)
            served.append(address)
            self.selector.register(
                server.listener, selectors.EVENT_READ, functools.partial(self._on_blockpage, server)
            )
        # Nobody is redirected to an address that is not served: its family's
        # clients get the page in the server's place instead (see the engine).
        self.engine.blockpage_served = frozenset(served)
        self.engine.page_name = self.config.settings.page_name if served else None

    def _start_resolver(self) -> None:
        self.resolver = open_resolver(self.options.upstream)
        if self.resolver is not None:
            self.selector.register(self.resolver, selectors.EVENT_READ, self._on_resolver)
            self.resolver.tick(time.time())

    def _apply_firewall(self, config: Config) -> None:
        """Apply the rules for ``config`` in the loop's thread (at start, before any packet)."""
        # Set first: if IPv6 fails after IPv4 went in, shutdown still removes IPv4's.
        self._firewall_applied = True
        self._apply_spec(firewall_spec(config, self.options.queue_num))

    def _apply_spec(self, spec: FirewallSpec) -> None:
        assert self.rules is not None
        self.rules.apply(spec)

    # -- the loop ------------------------------------------------------------------------

    def serve(self) -> int:
        """Serve until SIGTERM or SIGINT; returns the exit status. Always shuts down."""
        clean = False
        try:
            next_tick = time.monotonic() + TICK
            while self.running:
                timeout = max(0.0, next_tick - time.monotonic())
                for key, _events in self.selector.select(timeout):
                    self._guarded(key.data)
                if time.monotonic() >= next_tick:
                    self._guarded(self._housekeeping)
                    next_tick = time.monotonic() + TICK
            clean = True
        finally:
            status = self.shutdown(remove_rules=clean)
        return status

    def _guarded(self, handler: Callable[[], None]) -> None:
        """Run one handler; an exception is logged with its traceback, counted, and survived."""
        try:
            handler()
        except Exception as exc:
            self.failures += 1
            name = _name(handler)
            rate = self.verdict_log.rate
            write, summary = rate.admit(("failure", name, type(exc).__name__), time.time())
            if summary is not None:
                LOG.error("handler %s failed: %s", name, summary.text())
            if write:
                LOG.exception("handler %s failed; serving on", name)

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
                conn, selectors.EVENT_READ, functools.partial(server.readable, conn)
            )

    def _forget(self, fileobj: socket.socket | int) -> None:
        """Unregister a socket or descriptor about to close (a block-page connection, a queue)."""
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(fileobj)

    def _on_firewall_done(self) -> None:
        assert self.firewall is not None
        for applied in self.firewall.collect():
            if applied.error is None:
                LOG.info("reload: firewall rules updated")
            elif isinstance(applied.error, CopgateError):
                LOG.error("reload: firewall rules not updated: %s", applied.error)
            else:
                self.failures += 1
                LOG.error("reload: firewall rules not updated", exc_info=applied.error)

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
        for server in self.blockpages:
            server.expire()
        grants = self.requests.tick()
        if grants is not None:
            self.engine.grants = grants or None
        self.verdict_log.flush(now)
        if self.updates is not None and self.updates.changed():
            self._take_release()

    # -- reload, status, shutdown ----------------------------------------------------

    def reload(self) -> bool:
        """Reload config and lists; on any error at all keep the running ones. True if swapped."""
        try:
            return self._reload()
        except Exception:
            self.failures += 1
            LOG.exception("reload failed: the running config and lists stay in force")
            return False

    def _reload(self) -> bool:
        options = self.options
        prepared = prepare(
            options.config,
            self.config,
            templates_dir=options.templates_dir,
            queue_num=options.queue_num if self.firewall else None,
        )
        if prepared is None:
            return False
        old = self.lists
        config, lists = prepared.config, prepared.lists
        if config.update != self.config.update:
            LOG.warning("reload: [update] changes take effect when copgate restarts")
        self.engine.reconfigure(config, lists, float(lists.built), tz=prepared.tz)
        self.config, self.lists = config, lists
        old.close()
        if self.engine.page_name is not None:
            self.engine.page_name = config.settings.page_name
        self.requests.reconfigure(config)
        if prepared.spec is not None and self.firewall is not None:
            self.firewall.submit(prepared.spec)  # beside the loop; _on_firewall_done logs it
        self._warn_unserved_blockpage(config)
        self.observers.reconfigure(config.settings)
        # The old config may sit in the frozen generation (see start): let a
        # collection see it once, then freeze what the new one is made of.
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        LOG.info("reloaded: %d groups, lists built %d", len(config.groups), lists.built)
        return True

    def _take_release(self) -> None:
        """The updater swapped in a release: open it, swap the engine's lists between packets.

        The config is unchanged; its list paths go through the store's
        ``current`` link, which now names the new release. A cache that does
        not open leaves the running lists in force (logged by ``_guarded``).
        """
        lists = ListSet.open(self.config.settings.lists)
        old = self.lists
        self.engine.reconfigure(self.config, lists, float(lists.built), tz=self.engine.tz)
        self.lists = lists
        old.close()
        LOG.info("lists: new release in force (built %d)", lists.built)

    def _warn_unserved_blockpage(self, config: Config) -> None:
        """Listeners are bound once, at start: a block-page address new in a reload is not."""
        for address in unserved(config, self.engine.blockpage_served or frozenset()):
            LOG.warning(
                "reload: block page not served on %s until copgate restarts; "
                "blocked HTTP over IPv%d gets the page in the server's place",
                endpoint(address.packed, BLOCKPAGE_PORT),
                address.version,
            )

    def log_counters(self) -> None:
        LOG.info("counters %s", json.dumps(self.counters()))

    def counters(self) -> dict[str, object]:
        """What SIGUSR1 logs (see ``copgate.daemon.status``), and the block page's forms."""
        counters = status_counters(
            self.engine.counters,
            len(self.engine.tracker),
            len(self.engine.blocked),
            self.injector,
            self.queues,
            self.blockpages,
            Loop(self.failures, self.verdict_log.rate.suppressed),
            self.resolver,
        )
        return {**counters, "requests": self.requests.counters()}

    def status(self) -> dict[str, object]:
        """What ``copgate status`` shows (``copgate.daemon.status.status_report``).

        Called from the control socket's thread: it only reads what the loop writes.
        """
        facts = Facts(
            now=time.time(),
            started=self.started,
            uptime=time.monotonic() - self._started_monotonic,
            config=self.config,
            config_file=str(self.options.config),
            lists=self.lists,
            update=probes.last_update(),
            offload=probes.flow_offload(),
            extra=self.observers.section(),
        )
        return status_report(facts, self.counters())

    def shutdown(self, *, remove_rules: bool = True) -> int:
        """Answer what is held, unbind, remove the rules (unless told not to), close. Returns 0.

        Each step runs whatever the one before did; ``remove_rules=False`` (the
        loop died) leaves the rules, so every group fails the way it is configured.
        """
        for queue in self.queues:
            with _logged(f"draining queue {queue.queue_num}"):
                queue.drain()
        if self.updates is not None:
            self.updates.stop()
            self.updates = None
        if self.firewall is not None:
            if not self.firewall.close():
                LOG.error("shutdown: a firewall apply is still running")
            self.firewall = None
        for queue in self.queues:
            with _logged(f"unbinding queue {queue.queue_num}"):
                self._forget(queue.fileno())
                queue.close()
        self.queues = []
        if self._firewall_applied and not remove_rules:
            LOG.error(
                "copgate's rules are left in place: fail-open groups pass unjudged, "
                "fail-closed groups are stopped until copgate runs again"
            )
        elif self._firewall_applied and self.rules is not None:
            with _logged("removing the firewall rules"):
                self.rules.remove()
            self._firewall_applied = False
        self.observers.close()
        for server in self.blockpages:
            server.close()
        self.blockpages = []
        with _logged("stopping the report forwarder"):
            self.requests.close()
        if self.resolver is not None:
            self.resolver.close()
            self.resolver = None
        self.injector.close()
        self.lists.close()
        signal.set_wakeup_fd(-1)
        self._wake_r.close()
        self._wake_w.close()
        self.selector.close()
        with _logged("logging the counters"):
            self.log_counters()
        LOG.info("copgate stopped")
        return 0


def _name(handler: Callable[[], object]) -> str:
    """A handler's name for a log line; a partial is named after its function."""
    function = handler.func if isinstance(handler, functools.partial) else handler
    return getattr(function, "__qualname__", None) or repr(function)


@contextlib.contextmanager
def _logged(step: str) -> Iterator[None]:
    """Run one shutdown step; a failure is logged and the next step still runs."""
    try:
        yield
    except Exception:
        LOG.exception("shutdown: %s failed", step)


def _updates(config: Config) -> DaemonUpdates | None:
    """The updater when the config has an ``[update]`` section (see ``copgate.update``)."""
    if config.update is None:
        return None
    # Imported here: a gateway without updates never loads the updater.
    from copgate.update.fetch import HttpFetcher  # noqa: PLC0415
    from copgate.update.poller import DaemonUpdates  # noqa: PLC0415

    return DaemonUpdates(config.update, HttpFetcher(time.monotonic), time.time, random.random)


def run(options: Options) -> int:
    """Start and serve; a start that fails closes what it opened and raises.

    Rules a failed start applied stay, as when the loop dies: each group
    then fails the way its config says, and the next start replaces them.
    A start refused because a queue is bound elsewhere never touched them.
    """
    daemon = Daemon(options)
    if not daemon.config.settings.enabled:
        # The init script does not start a disabled copgate; this is for a
        # manual start or a service manager that ignores the switch.
        LOG.warning("copgate is switched off in %s (option enabled): not starting", options.config)
        return daemon.shutdown(remove_rules=False)
    try:
        daemon.start()
    except BaseException:
        daemon.shutdown(remove_rules=False)
        raise
    return daemon.serve()
