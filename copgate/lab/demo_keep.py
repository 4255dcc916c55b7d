"""A demo lab left up by ``copgate demo --keep``: what it holds, and how to explore it.

``KeptLab`` lists everything the kept lab is made of (namespaces, the run's
directory, the processes it started with their start times), so that
``copgate demo --teardown ID`` removes exactly that; ``explore_guide`` is
the text ``--keep`` prints. Pure: the command line writes and reads the
description (``copgate.tools.demo_cmd``); nothing here touches the system.
"""

from __future__ import annotations

from dataclasses import dataclass

from copgate.lab import plan
from copgate.lab.demo import GROUPS, OUTSIDE_RESOLVER


@dataclass(frozen=True, slots=True)
class KeptProcess:
    """A lab process left running, told apart from a later one with its pid by its start."""

    name: str
    pid: int
    start: int
    """Its start time in clock ticks since boot (``/proc/PID/stat`` field 22)."""


@dataclass(frozen=True, slots=True)
class KeptLab:
    """What ``copgate demo --keep`` left up: everything ``--teardown`` removes, and only that."""

    id: str
    namespaces: dict[str, str]
    """Namespace names by role (gateway, internet, then the clients)."""
    workdir: str
    """The run's directory: config, lists, certificates, every process's log."""
    config: str
    daemon_log: str
    ca: str
    daemon: KeptProcess
    processes: tuple[KeptProcess, ...]
    """Every process the lab started, copgate among them."""
    command: str
    """How to call copgate again (for the teardown line)."""

    def as_json(self) -> dict[str, object]:
        def process(p: KeptProcess) -> dict[str, object]:
            return {"name": p.name, "pid": p.pid, "start": p.start}

        return {
            "id": self.id,
            "namespaces": self.namespaces,
            "workdir": self.workdir,
            "config": self.config,
            "daemon_log": self.daemon_log,
            "ca": self.ca,
            "daemon": process(self.daemon),
            "processes": [process(p) for p in self.processes],
            "command": self.command,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> KeptLab:
        """Read back ``as_json``; KeyError, TypeError or ValueError if it is not one."""

        def process(item: object) -> KeptProcess:
            if not isinstance(item, dict):
                raise TypeError("a kept process is an object")
            return KeptProcess(str(item["name"]), int(item["pid"]), int(item["start"]))

        namespaces = data["namespaces"]
        listed = data["processes"]
        if not isinstance(namespaces, dict) or not isinstance(listed, list):
            raise TypeError("namespaces is an object and processes a list")
        return cls(
            str(data["id"]),
            {str(role): str(name) for role, name in namespaces.items()},
            str(data["workdir"]),
            str(data["config"]),
            str(data["daemon_log"]),
            str(data["ca"]),
            process(data["daemon"]),
            tuple(process(item) for item in listed),
            str(data["command"]),
        )


def _who(role: str) -> str:
    if role == "gateway":
        return "the router: copgate, dnsmasq (the LANs' resolver), the iptables rules"
    if role == "internet":
        return f"DNS {OUTSIDE_RESOLVER}, nginx (HTTP, HTTPS) and HTTP/3 on 198.51.100.80 and up"
    client = plan.client(role)
    group, description = GROUPS[role]
    return f"{client.v4}, {client.v6}: group {group}, {description}"


def explore_guide(kept: KeptLab) -> str:
    """What ``--keep`` prints: the namespaces, commands to try, how to stop and tear down."""
    ns = kept.namespaces
    width = max(len(name) for name in ns.values())
    lines = [f"The lab is up (id {kept.id}). Its namespaces:", ""]
    lines += [f"  {name.ljust(width)}  {_who(role)}" for role, name in ns.items()]
    blocked = plan.host("blocked.example").v4
    tries = [
        (f"{ns['teen']} dig blocked.example", "a forged NXDOMAIN with EDE 15"),
        (f"{ns['teen']} dig www.google.com", "the safe-search CNAME"),
        (f"{ns['pupil']} dig games.example", "not in the walled garden"),
        (f"{ns['staff']} dig games.example", "staff are not filtered"),
        (f"{ns['teen']} curl --cacert {kept.ca} https://allowed.example/", "the page"),
        (
            f"{ns['teen']} curl --cacert {kept.ca} --resolve blocked.example:443:{blocked}"
            " https://blocked.example/",
            "reset by SNI",
        ),
        (
            f"{ns['teen']} curl -si --resolve blocked.example:80:{blocked} http://blocked.example/",
            "302 to the block page",
        ),
        (f"{ns['gateway']} iptables-save", "copgate's rules"),
    ]
    lines += ["", "Try (as root):", ""]
    lines += [f"  ip netns exec {command}\n      # {why}" for command, why in tries]
    pid = kept.daemon.pid
    lines += [
        "",
        f"copgate's config: {kept.config}  (edit, then reload: kill -HUP {pid})",
        f"copgate's log:    {kept.daemon_log}  (every decision and its reason: tail -f)",
        f"Stop copgate only: kill {pid}  (it removes its rules; the lab stays up)",
        f"Tear it all down: {kept.command} demo --teardown {kept.id}",
    ]
    return "\n".join(lines) + "\n"
