"""The lab: LAN clients, a gateway and an internet, in network namespaces.

``Lab`` is a context manager. Entering builds, for this run only, namespaces
named ``cg-<id>-<role>`` (a random id, so parallel or leftover runs never
clash): ``gateway``, ``internet``, one per LAN client (``pupil``, ``teen`` and
``staff`` on the gateway's bridge ``br-lan``, and ``lan2`` on its own gateway
interface ``lan2``), veth pairs with every offload off (``ethtool -K DEV tso
off gso off gro off``, so TCP arrives cut at the MSS as a router's wire
carries it), IPv4 and IPv6 from the documentation ranges (see ``plan``),
forwarding on the gateway, and MASQUERADE of both LANs to the WAN (v4 and
v6). Then it starts the servers (see ``servers``).

Leaving always tears down what this run built and nothing else, even when
the body raised or a KeyboardInterrupt arrived (a second Ctrl-C during
teardown is held until teardown ends): every process the lab started is
stopped by pid, any process still left inside one of its namespaces is
killed by pid, the namespaces and their ``/etc/netns`` files are removed.

A daemon test starts copgate inside the gateway and asks from a client::

    with Lab() as lab:
        daemon = lab.spawn(lab.gateway, ["python", "-m", "copgate", "run", ...],
                           name="copgate", env=lab.python_env())
        result = clients.dig(lab.lan, "blocked.example", server=plan.LAN.router_v4)
        lab.stop(daemon)
"""

from __future__ import annotations

import contextlib
import datetime
import os
import secrets
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from types import TracebackType
from typing import Self

from copgate.lab import plan, processes, servers
from copgate.lab.certs import TestPki, make_pki
from copgate.lab.processes import CompletedText, LabError, LabProcess, Namespace

NAME_PREFIX = "cg"
"""Every lab namespace is ``cg-<id>-<role>``."""
ID_BYTES = 4
"""Random bytes of a run id: 8 hex digits, no clash between parallel runs."""
NETNS_ETC = Path("/etc/netns")
"""``ip netns exec NS`` bind-mounts /etc/netns/NS/resolv.conf over /etc/resolv.conf."""
OFFLOADS = ("tso", "gso", "gro")
IPTABLES = ("iptables", "ip6tables")
"""The system's default iptables (the nft backend on Debian 12); both backends
queue here, see copgate/edges/iptables.py."""


@dataclass(frozen=True, slots=True)
class Client:
    """A LAN client namespace and its addresses."""

    role: str
    netns: Namespace
    v4: IPv4Address
    v6: IPv6Address
    gateway_interface: str
    """The gateway interface the client's packets arrive on (br-lan or lan2)."""
    router_v4: IPv4Address
    """The gateway's address on the client's segment: its route and resolver."""
    router_v6: IPv6Address


class Lab:
    """The lab's namespaces, servers and processes, for one run."""

    def __init__(
        self,
        workdir: Path | None = None,
        *,
        start_servers: bool = True,
        iptables: Sequence[str] = IPTABLES,
    ) -> None:
        self.id = secrets.token_hex(ID_BYTES)
        self._own_workdir = workdir is None
        self.workdir = (
            Path(tempfile.mkdtemp(prefix=f"copgate-lab-{self.id}-")) if workdir is None else workdir
        )
        """Configs, certificates and every process's log."""
        self._start_servers = start_servers
        self.iptables = tuple(iptables)
        """iptables and ip6tables commands the lab and its tests use."""
        self.gateway = self._namespace("gateway")
        self.internet = self._namespace("internet")
        self.clients = {
            spec.role: Client(
                spec.role,
                self._namespace(spec.role),
                spec.v4,
                spec.v6,
                spec.segment.interface,
                spec.segment.router_v4,
                spec.segment.router_v6,
            )
            for spec in plan.CLIENTS
        }
        self.pki: TestPki | None = None
        self._created: list[Namespace] = []
        self._processes: list[LabProcess] = []

    def _namespace(self, role: str) -> Namespace:
        return Namespace(f"{NAME_PREFIX}-{self.id}-{role}")

    @property
    def lan(self) -> Client:
        """The default client: the pupil on br-lan."""
        return self.clients["pupil"]

    @property
    def lan2(self) -> Client:
        """The client behind the gateway's second LAN interface."""
        return self.clients["lan2"]

    @property
    def namespaces(self) -> tuple[Namespace, ...]:
        return (self.gateway, self.internet, *(c.netns for c in self.clients.values()))

    @property
    def processes(self) -> tuple[LabProcess, ...]:
        """The processes the lab runs now (servers first, then what tests spawned)."""
        return tuple(self._processes)

    @property
    def ca(self) -> Path:
        """The test CA clients must trust; LabError before the servers exist."""
        if self.pki is None:
            raise LabError("the lab was built without servers: no CA")
        return self.pki.ca_cert

    # -- context manager ---------------------------------------------------

    def __enter__(self) -> Self:
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- processes ---------------------------------------------------------

    def python_env(self) -> dict[str, str]:
        """The environment for ``python -m copgate...`` inside a namespace."""
        return processes.python_env()

    def spawn(
        self,
        netns: Namespace,
        argv: Sequence[str],
        *,
        name: str,
        env: dict[str, str] | None = None,
        ready: Callable[[], bool] | None = None,
        timeout: float = servers.READY_TIMEOUT,
    ) -> LabProcess:
        """Start a long-running process in ``netns``; the lab stops it at teardown."""
        process = processes.spawn(netns, argv, name=name, log_dir=self.workdir, env=env)
        self._processes.append(process)
        if ready is not None:
            self.wait_ready(process, ready, timeout)
        return process

    def wait_ready(self, process: LabProcess, ready: Callable[[], bool], timeout: float) -> None:
        processes.wait_ready(process, ready, timeout)

    def stop(self, process: LabProcess, sig: int = signal.SIGTERM) -> int:
        """Stop a lab process by its pid; its exit status (negative: killed by a signal)."""
        status = processes.stop(process, sig)
        if process in self._processes:
            self._processes.remove(process)
        return status

    def run(
        self,
        netns: Namespace | Client,
        argv: Sequence[str],
        *,
        timeout: float = 10.0,
        check: bool = False,
        stdin: str | None = None,
    ) -> CompletedText:
        """Run a short command inside a namespace (or a client's namespace)."""
        target = netns.netns if isinstance(netns, Client) else netns
        return processes.run(target, argv, timeout=timeout, check=check, stdin=stdin)

    def iptables_save(self, netns: Namespace, family: int = 4) -> str:
        """The ruleset of ``netns`` as iptables-save prints it, for assertions."""
        tool = self.iptables[0] if family == 4 else self.iptables[1]
        return self.run(netns, [f"{tool}-save"], check=True).stdout

    # -- build -------------------------------------------------------------

    def _build(self) -> None:
        for netns in self.namespaces:
            self._add_namespace(netns)
        self._wire()
        if self._start_servers:
            names = [host.name for host in plan.HOSTS]
            addresses: list[IPv4Address | IPv6Address] = []
            for number in plan.WEB_NUMBERS:
                addresses += [plan.Host("", number).v4, plan.Host("", number).v6]
            now = datetime.datetime.now(datetime.UTC)
            self.pki = make_pki(self.workdir, names, addresses, now)
            servers.start_all(self, self.pki)

    def _ip(self, netns: Namespace, *argv: str) -> None:
        processes.run(None, ["ip", "-n", netns.name, *argv], check=True)

    def _in(self, netns: Namespace, *argv: str) -> None:
        processes.run(netns, argv, check=True)

    def _add_namespace(self, netns: Namespace) -> None:
        processes.run(None, ["ip", "netns", "add", netns.name], check=True)
        self._created.append(netns)
        etc = NETNS_ETC / netns.name
        etc.mkdir(parents=True, exist_ok=True)
        # Names resolve inside the lab only: clients ask their router, the
        # gateway (and a copgate inside it) asks the internet DNS server.
        clients = {c.netns: c for c in self.clients.values()}
        resolver = clients[netns].router_v4 if netns in clients else plan.host("ns.example").v4
        (etc / "resolv.conf").write_text(f"nameserver {resolver}\n")
        (etc / "hosts").write_text("127.0.0.1 localhost\n::1 localhost\n")
        # Addresses are usable at once: no duplicate address detection, and
        # no router advertisements to wait for (routes are set by hand).
        self._in(
            netns,
            "sysctl",
            "-qw",
            "net.ipv6.conf.default.accept_dad=0",
            "net.ipv6.conf.all.accept_dad=0",
            "net.ipv6.conf.default.accept_ra=0",
        )
        self._ip(netns, "link", "set", "lo", "up")

    def _veth(self, left: Namespace, left_name: str, right: Namespace, right_name: str) -> None:
        self._ip(
            left,
            "link",
            "add",
            left_name,
            "type",
            "veth",
            "peer",
            "name",
            right_name,
            "netns",
            right.name,
        )
        for netns, device in ((left, left_name), (right, right_name)):
            self._offloads_off(netns, device)
            self._ip(netns, "link", "set", device, "up")

    def _offloads_off(self, netns: Namespace, device: str) -> None:
        argv = ["ethtool", "-K", device]
        for feature in OFFLOADS:
            argv += [feature, "off"]
        self._in(netns, *argv)

    def _address(self, netns: Namespace, device: str, address: str, prefix: int) -> None:
        family = "-6" if ":" in address else "-4"
        argv = [family, "addr", "add", f"{address}/{prefix}", "dev", device]
        if family == "-6":
            argv.append("nodad")
        self._ip(netns, *argv)

    def _wire(self) -> None:
        gw, inet = self.gateway, self.internet
        # WAN: the gateway's wan <-> the internet's eth0, which carries every
        # server address of the plan.
        self._veth(gw, plan.WAN_INTERFACE, inet, plan.CLIENT_INTERFACE)
        self._segment_addresses(gw, plan.WAN)
        for number in plan.WEB_NUMBERS:
            self._address(inet, plan.CLIENT_INTERFACE, str(plan.Host("", number).v4), 24)
            self._address(inet, plan.CLIENT_INTERFACE, str(plan.Host("", number).v6), 64)
        # LAN: a bridge named as OpenWrt names it, one port per client.
        self._ip(gw, "link", "add", plan.BRIDGE, "type", "bridge")
        self._ip(gw, "link", "set", plan.BRIDGE, "up")
        for client in self.clients.values():
            if client.gateway_interface == plan.BRIDGE:
                port = f"vp-{client.role}"
                self._veth(gw, port, client.netns, plan.CLIENT_INTERFACE)
                self._ip(gw, "link", "set", port, "master", plan.BRIDGE)
            else:
                self._veth(gw, client.gateway_interface, client.netns, plan.CLIENT_INTERFACE)
            self._address(client.netns, plan.CLIENT_INTERFACE, str(client.v4), 24)
            self._address(client.netns, plan.CLIENT_INTERFACE, str(client.v6), 64)
            self._ip(client.netns, "route", "add", "default", "via", str(client.router_v4))
            self._ip(client.netns, "-6", "route", "add", "default", "via", str(client.router_v6))
        self._segment_addresses(gw, plan.LAN)
        self._segment_addresses(gw, plan.LAN2)
        self._offloads_off(gw, plan.BRIDGE)
        self._in(gw, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1")
        # A home router: the LANs leave with the gateway's WAN address, and
        # the internet side has no route back to them.
        for tool in self.iptables:
            self._in(
                gw,
                tool,
                "-w",
                "-t",
                "nat",
                "-A",
                "POSTROUTING",
                "-o",
                plan.WAN_INTERFACE,
                "-j",
                "MASQUERADE",
            )

    def _segment_addresses(self, netns: Namespace, segment: plan.Segment) -> None:
        self._address(netns, segment.interface, str(segment.router_v4), segment.v4.prefixlen)
        self._address(netns, segment.interface, str(segment.router_v6), segment.v6.prefixlen)

    # -- teardown ----------------------------------------------------------

    def close(self) -> None:
        """Tear down what this run built; safe to call twice and after a failed build."""
        with _sigint_deferred():
            for process in reversed(self._processes):
                with contextlib.suppress(Exception):
                    processes.stop(process)
            self._processes.clear()
            for netns in reversed(self._created):
                with contextlib.suppress(Exception):
                    self._kill_leftovers(netns)
                with contextlib.suppress(Exception):
                    processes.run(None, ["ip", "netns", "delete", netns.name])
                shutil.rmtree(NETNS_ETC / netns.name, ignore_errors=True)
            self._created.clear()
            if self._own_workdir:
                shutil.rmtree(self.workdir, ignore_errors=True)

    def _kill_leftovers(self, netns: Namespace) -> None:
        # Only what runs inside this run's own namespace: a client a test
        # left hanging, a daemon a test forgot. Never anything else.
        result = processes.run(None, ["ip", "netns", "pids", netns.name])
        pids = [int(word) for word in result.stdout.split() if word.isdigit()]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        processes.wait_gone(pids)


@contextlib.contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Hold a Ctrl-C that arrives during teardown and raise it once teardown is done."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt
