"""``copgate demo``: copgate on a real netfilter queue, between real clients and servers.

As root, the demo builds the network-namespace lab (``copgate.lab``): four
LAN clients, a gateway and an internet with real DNS, HTTPS and HTTP/3
servers. It compiles the default lists, writes the lab's school config,
starts ``copgate run`` in the gateway, runs the probes of
``copgate.lab.demo.PROBES`` from the clients (dig, curl, an HTTP/3 client),
prints one row per probe (client, what was asked, the verdict, the reason
copgate logged), and tears everything down. Exit status 0 when every probe
behaved as planned, 1 otherwise.

- ``--keep`` leaves the lab up, writes what it built to
  ``/run/copgate-demo/ID.json`` and prints how to explore it;
  ``--teardown ID`` removes exactly that: the processes it started (by pid,
  checked against their start time), anything left inside its namespaces,
  the namespaces, their ``/etc/netns`` files and the run's directory.
- ``--capture [DIR]`` needs no root: it writes a sample capture built from
  scratch and shows what the wire core reads from it (``copgate inspect``).

Each probe's reason is read from the daemon's own log (with ``--verbose``
it logs every decision with its client, group, rule and reason), matched by
question kind, name and client address, rather than from ``copgate check``:
the log is what the daemon decided for the very packet the client sent
(the real interface, the resolved safe-search endpoints, the clock), while
``check`` would answer a question rebuilt beside it.

This module is the edge: it runs processes and reads files; what a probe is
and how a row is judged live in ``copgate.lab.demo``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, TextIO

from copgate.errors import CopgateError
from copgate.lab import clients, demo, gateway, processes
from copgate.lab.demo import Method, Probe, Row, Seen
from copgate.lab.demo_keep import KeptLab, KeptProcess, explore_guide
from copgate.lab.processes import LabError, LabProcess
from copgate.lab.topology import NETNS_ETC, Lab
from copgate.tools import inspect_cmd
from copgate.tools.samples import write_sample_capture

STATE_DIR = Path("/run/copgate-demo")
"""Where a kept lab is described; on tmpfs, gone at reboot like the namespaces."""
NETNS_RUN = Path("/run/netns")
"""Where ``ip netns`` keeps the namespaces it names."""
LAB_ID = re.compile(r"[0-9a-f]{8}")
"""A lab's id: ``topology.ID_BYTES`` random bytes in hex."""
TOOLS = ("ip", "iptables", "ip6tables", "ethtool", "dnsmasq", "nginx", "dig", "curl", "openssl")
MODULES = ("aioquic",)
"""Python packages the HTTP/3 client needs (scripts/setup.sh installs them); the
daemon's queue edge is pure Python and needs none."""
LOG_WAIT = 1.0
"""Seconds to wait for the daemon's decision line after the client is done: the
daemon logs a verdict just after giving it, so the client can be faster."""
DNS_TIMEOUT = 2.0
HTTP_TIMEOUT = 5.0
"""Seconds curl and the HTTP/3 client get: a loaded machine (two cores shared) can be slow."""
STOP_WAIT = 10.0
"""Seconds a kept copgate gets to remove its rules and exit on SIGTERM."""
LOG_TAIL = 3000
"""Characters of copgate's log shown when it died during the demo."""
STOPPED_LINE = "copgate stopped"
"""The daemon's last log line after an orderly shutdown (rules removed)."""
STAT_START = 19
"""Index of starttime (field 22 of /proc/PID/stat) among the fields after the name."""


class DemoError(CopgateError):
    """The demo cannot run here (not root, a tool missing) or a kept lab is unknown."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="build a network-namespace lab, run real clients through copgate, show verdicts",
        description=(
            "As root: build a lab of network namespaces (LAN clients, a gateway running "
            "copgate with the default lists and a school config, an internet with real "
            "servers), run a dozen real probes, print what copgate decided and why, and "
            "tear it all down."
        ),
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--keep", action="store_true", help="leave the lab up and print how to explore it"
    )
    mode.add_argument(
        "--teardown", metavar="ID", help="remove a lab left up by --keep, and nothing else"
    )
    mode.add_argument(
        "--capture",
        nargs="?",
        const="",
        metavar="DIR",
        help="no root: inspect a sample capture built from scratch (kept in DIR if given)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.capture is not None:
        return _capture(Path(args.capture) if args.capture else None, args.json)
    if args.teardown is not None:
        teardown(args.teardown, sys.stdout)
        return 0
    try:
        rows = run_lab_demo(keep=args.keep, as_json=args.json)
    except KeyboardInterrupt:
        print("copgate demo: interrupted; the lab was torn down", file=sys.stderr)
        return 130
    return 0 if all(row.passed for row in rows) else 1


# -- the lab demo ----------------------------------------------------------------


def preflight() -> None:
    """DemoError unless this process can build the lab and run the daemon."""
    hint = "./demo.sh installs everything and runs the demo"
    if os.geteuid() != 0:
        raise DemoError(f"the lab needs root (network namespaces, iptables): {hint} as root")
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    missing += [name for name in MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise DemoError(f"missing {', '.join(missing)}: {hint}")


def run_lab_demo(
    *, keep: bool = False, as_json: bool = False, out: TextIO | None = None
) -> list[Row]:
    """Build the lab, run the probes, print the table; tear down unless ``keep``.

    Returns the rows. Progress goes to stderr; the table (or JSON) to ``out``.
    """
    preflight()
    sink = sys.stdout if out is None else out
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        lab, config, daemon = _build(stack)
        _progress(f"running {len(demo.PROBES)} probes")
        probed = [_probe(lab, daemon, probe) for probe in demo.PROBES]
        rows = [row for row, _excerpt in probed]
        _report(probed, time.monotonic() - started, lab.id, as_json, sink)
        if not daemon.alive():
            print(
                f"copgate demo: copgate exited during the demo ({daemon.popen.returncode}); "
                f"its log:\n{daemon.log_text()[-LOG_TAIL:]}",
                file=sys.stderr,
            )
        if keep:
            kept = _keep(lab, daemon, config)
            stack.pop_all()  # leave the lab up: --teardown removes it
            print("\n" + explore_guide(kept), end="", file=sys.stderr if as_json else sink)
        else:
            _progress(f"tearing down lab {lab.id}")
    return rows


def _build(stack: contextlib.ExitStack) -> tuple[Lab, Path, LabProcess]:
    """The lab (closed with ``stack``), copgate's config, and copgate running in it."""
    try:
        _progress("building the lab: namespaces, dnsmasq, nginx, an HTTP/3 server")
        lab = stack.enter_context(Lab())
        _progress("compiling the default lists and writing the school config")
        lists = gateway.compile_lab_lists(lab.workdir)
        config = gateway.write_config(lab.workdir, lists)
        _progress(f"starting copgate in {lab.gateway}")
        return lab, config, gateway.start_copgate(lab, config)
    except LabError as exc:
        raise DemoError(f"the lab could not be built: {exc}") from exc


def _progress(message: str) -> None:
    print(f"copgate demo: {message}", file=sys.stderr, flush=True)


def _probe(lab: Lab, daemon: LabProcess, probe: Probe) -> tuple[Row, str]:
    """Run one probe; its row, and the client's output and the log lines it caused."""
    offset = len(daemon.log_text())
    seen, detail, output = _ask(lab, probe)
    deadline = time.monotonic() + LOG_WAIT
    while True:
        logged = daemon.log_text()[offset:]
        decision = demo.find_decision(demo.parse_decisions(logged), probe)
        if decision is not None or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    excerpt = f"client output:\n{output.strip()}\ncopgate's log meanwhile:\n{logged.strip()}"
    return demo.judge(probe, seen, detail, decision), excerpt


def _ask(lab: Lab, probe: Probe) -> tuple[Seen, str, str]:
    """Ask the probe's question from its client: what it saw, in a few words, its output."""
    client = lab.clients[probe.role]
    if probe.method in (Method.DNS, Method.DNS_TCP):
        answer = clients.dig(
            client,
            probe.name,
            server=probe.server,
            qtype=probe.qtype,
            tcp=probe.method is Method.DNS_TCP,
            timeout=DNS_TIMEOUT,
        )
        seen, detail = demo.seen_in_dns(answer)
        return seen, detail, answer.output
    if probe.method is Method.HTTP3:
        result = clients.h3_get(
            client, probe.server, probe.name, cafile=lab.ca, timeout=HTTP_TIMEOUT
        )
    else:
        result = clients.curl(
            client,
            probe.asked,
            resolve=probe.server,
            cacert=lab.ca,
            family=probe.family,
            timeout=HTTP_TIMEOUT,
        )
    seen, detail = demo.seen_in_http(result, probe.name)
    return seen, detail, f"{result.body}\n{result.error or ''}"


def _report(
    probed: list[tuple[Row, str]], seconds: float, lab_id: str, as_json: bool, sink: TextIO
) -> None:
    """The table (or JSON lines) to ``sink``; each failed probe's evidence to stderr."""
    rows = [row for row, _excerpt in probed]
    if as_json:
        for row in rows:
            print(json.dumps(row.as_json()), file=sink)
    else:
        width = shutil.get_terminal_size().columns if sink.isatty() else None
        print(f"\n{demo.intro(lab_id)}", file=sink)
        print(demo.render_table(rows, width), file=sink)
        print(demo.summary(rows, seconds), file=sink)
    sink.flush()
    for row, excerpt in probed:
        if not row.passed:
            probe = row.probe
            print(
                f"\nFAILED: {probe.role} {probe.method.value} {probe.asked}: {row.problem}\n"
                f"{excerpt}",
                file=sys.stderr,
            )


# -- --keep and --teardown -----------------------------------------------------------


def _start_time(pid: int) -> int | None:
    """The start time of ``pid`` in clock ticks since boot, None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The fields after the command name, which is in parentheses and may
    # itself hold spaces or parentheses.
    return int(stat.rpartition(")")[2].split()[STAT_START])


def _copgate_command() -> str:
    """How this copgate was called, for the lines it prints."""
    if Path(sys.argv[0]).name == "copgate":
        return os.path.abspath(sys.argv[0])
    return f"{sys.executable} -m copgate"


def _keep(lab: Lab, daemon: LabProcess, config: Path) -> KeptLab:
    """Write what the lab built to the state file; the KeptLab."""

    def kept(process: LabProcess) -> KeptProcess:
        return KeptProcess(process.name, process.pid, _start_time(process.pid) or 0)

    roles = {"gateway": lab.gateway, "internet": lab.internet}
    roles.update({role: client.netns for role, client in lab.clients.items()})
    state = KeptLab(
        lab.id,
        {role: netns.name for role, netns in roles.items()},
        str(lab.workdir),
        str(config),
        str(daemon.log),
        str(lab.ca),
        kept(daemon),
        tuple(kept(process) for process in lab.processes),
        _copgate_command(),
    )
    STATE_DIR.mkdir(mode=0o700, exist_ok=True)
    (STATE_DIR / f"{lab.id}.json").write_text(json.dumps(state.as_json(), indent=1) + "\n")
    return state


def read_kept_lab(lab_id: str, state_dir: Path = STATE_DIR) -> KeptLab:
    """What ``--keep`` left up as ``lab_id``; DemoError if unknown or not that lab's."""
    path = state_dir / f"{lab_id}.json"
    if not LAB_ID.fullmatch(lab_id) or not path.exists():
        known = sorted(p.stem for p in state_dir.glob("*.json")) if state_dir.is_dir() else []
        listed = ", ".join(known) if known else "none"
        raise DemoError(f"no lab {lab_id!r} left up by --keep (labs left up: {listed})")
    try:
        state = KeptLab.from_json(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError) as exc:
        raise DemoError(f"{path}: not a kept lab's description: {exc}") from exc
    # Remove only what carries this lab's own names, whatever the file says.
    prefix = f"cg-{lab_id}-"
    if state.id != lab_id or not all(n.startswith(prefix) for n in state.namespaces.values()):
        raise DemoError(f"{path}: names namespaces that are not lab {lab_id}'s")
    if not Path(state.workdir).name.startswith(f"copgate-lab-{lab_id}-"):
        raise DemoError(f"{path}: names a directory that is not lab {lab_id}'s")
    return state


def teardown(lab_id: str, out: TextIO) -> None:
    """Remove the lab ``--keep`` left up as ``lab_id``: exactly what it built."""
    if os.geteuid() != 0:
        raise DemoError("tearing down the lab needs root")
    state = read_kept_lab(lab_id)
    # copgate first, alone: on SIGTERM it answers what it holds, removes its
    # rules and logs its counters, as it does on a real router.
    if _signal_if_same(state.daemon, signal.SIGTERM, group=False):
        processes.wait_gone([state.daemon.pid], STOP_WAIT)
    others = [p for p in state.processes if p.pid != state.daemon.pid]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = [p for p in [state.daemon, *others] if _signal_if_same(p, sig, group=True)]
        if not processes.wait_gone([p.pid for p in alive]):
            break
    for name in state.namespaces.values():
        # Whatever still runs inside the lab's own namespaces is the lab's (a
        # shell opened to explore it included); nothing outside is touched.
        found = processes.run(None, ["ip", "netns", "pids", name]).stdout.split()
        pids = [int(word) for word in found if word.isdigit()]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        processes.wait_gone(pids)
        processes.run(None, ["ip", "netns", "delete", name])
        shutil.rmtree(NETNS_ETC / name, ignore_errors=True)
    left = [name for name in state.namespaces.values() if (NETNS_RUN / name).exists()]
    if left:
        raise DemoError(f"lab {lab_id}: namespaces {', '.join(left)} could not be removed")
    try:
        clean = STOPPED_LINE in Path(state.daemon_log).read_text(errors="replace")
    except OSError:
        clean = False
    shutil.rmtree(state.workdir, ignore_errors=True)
    (STATE_DIR / f"{lab_id}.json").unlink(missing_ok=True)
    how = "stopped in order, its rules removed" if clean else "not stopped in order (killed)"
    print(
        f"lab {lab_id} torn down: copgate {how}; the lab's {len(state.processes)} processes "
        f"stopped; namespaces {', '.join(state.namespaces.values())} and {state.workdir} "
        "removed",
        file=out,
    )


def _signal_if_same(process: KeptProcess, sig: int, *, group: bool) -> bool:
    """Signal a kept process (its group) if that pid is still the one the lab started."""
    start = _start_time(process.pid)
    if start is None or start != process.start:
        return False  # gone, or the pid now names another process: never touch it
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if group:
            os.killpg(process.pid, sig)
        else:
            os.kill(process.pid, sig)
    return True


# -- --capture -----------------------------------------------------------------------


def _capture(directory: Path | None, as_json: bool) -> int:
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
        return _inspect(directory / "copgate-sample.pcap", as_json)
    with tempfile.TemporaryDirectory(prefix="copgate-demo-") as temporary:
        return _inspect(Path(temporary) / "copgate-sample.pcap", as_json)


def _inspect(path: Path, as_json: bool) -> int:
    write_sample_capture(path)
    print(f"copgate demo: a sample capture of LAN clients written to {path}\n")
    return inspect_cmd.run(argparse.Namespace(captures=[path], json=as_json))
