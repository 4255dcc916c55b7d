"""Processes the lab starts inside its namespaces: spawn, wait ready, stop by pid.

Every long-running process is started as ``ip netns exec NS argv`` in a
session of its own (so its process group id is its pid and its own children,
nginx's workers or dnsmasq's TCP helpers, go with it), logs to a file of the
run's directory, and is stopped by that pid only: SIGTERM, a grace period,
then SIGKILL. Nothing here ever signals a process the lab did not start.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

STOP_GRACE = 5.0
"""Seconds a process gets between SIGTERM and SIGKILL."""
READY_POLL = 0.02
"""Seconds between two readiness checks."""
LOG_TAIL = 2000
"""Characters of a failed process's log quoted in the error."""


CompletedText = subprocess.CompletedProcess[str]
"""A finished short command, its output as text."""


class LabError(RuntimeError):
    """The lab could not be built or a lab process failed: a test-bench fault."""


class LabTimeout(LabError):
    """A short command did not finish in time (and was killed)."""


@dataclass(frozen=True, slots=True)
class Namespace:
    """A network namespace the lab created, by its name under /run/netns."""

    name: str

    def argv(self, command: Sequence[str]) -> list[str]:
        """``command`` run inside this namespace."""
        return ["ip", "netns", "exec", self.name, *command]

    def __str__(self) -> str:
        return self.name


@dataclass(slots=True)
class LabProcess:
    """A process the lab started and owns."""

    name: str
    netns: Namespace
    popen: subprocess.Popen[bytes]
    log: Path
    argv: tuple[str, ...] = field(default=())

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_text(self) -> str:
        """What the process wrote so far (stdout and stderr together)."""
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""


def _clock() -> float:
    # The lab waits for real processes on the real clock; the pure core's
    # rule (time is an argument) is for what is judged, not for a test bench.
    return time.monotonic()


def python_env() -> dict[str, str]:
    """This environment, with the copgate source importable by ``python -m``."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parent.parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


def spawn(
    netns: Namespace,
    argv: Sequence[str],
    *,
    name: str,
    log_dir: Path,
    env: dict[str, str] | None = None,
) -> LabProcess:
    """Start ``argv`` in ``netns``, in a new session, logging to ``log_dir/name.log``."""
    log = log_dir / f"{name}.log"
    with log.open("ab") as sink:
        popen = subprocess.Popen(
            netns.argv(argv),
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
    return LabProcess(name, netns, popen, log, tuple(argv))


def wait_ready(process: LabProcess, ready: Callable[[], bool], timeout: float) -> None:
    """Poll ``ready`` until it holds; LabError if the process dies or time runs out."""
    deadline = _clock() + timeout
    while True:
        if not process.alive():
            raise LabError(
                f"{process.name} exited with {process.popen.returncode} before it was ready:\n"
                + process.log_text()[-LOG_TAIL:]
            )
        if ready():
            return
        if _clock() > deadline:
            raise LabError(
                f"{process.name} not ready after {timeout:.1f} s:\n"
                + process.log_text()[-LOG_TAIL:]
            )
        time.sleep(READY_POLL)


def stop(process: LabProcess, sig: int = signal.SIGTERM, grace: float = STOP_GRACE) -> int:
    """Signal the process's group, wait, SIGKILL after ``grace``; its exit status."""
    pid = process.pid
    if process.popen.returncode is None:
        _signal_group(pid, sig)
        if not _exited_unreaped(pid, grace):
            _signal_group(pid, signal.SIGKILL)
            _exited_unreaped(pid, grace)
        # The leader is a zombie now, so its pid (the group id) cannot have
        # been reused: whatever is left in the group (an nginx worker, a
        # dnsmasq TCP helper) is ours, and goes.
        _signal_group(pid, signal.SIGKILL)
    return process.popen.wait()


def _exited_unreaped(pid: int, timeout: float) -> bool:
    """Wait for ``pid`` to exit without reaping it; whether it did in time."""
    deadline = _clock() + timeout
    while True:
        try:
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return True
        except ChildProcessError:
            return True  # already reaped
        if _clock() > deadline:
            return False
        time.sleep(READY_POLL)


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie awaiting its reaper is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    # The state follows the command name, which is in parentheses and may
    # itself hold spaces or parentheses.
    return stat.rpartition(")")[2].split()[0] not in {"Z", "X"}


def wait_gone(pids: list[int], timeout: float = STOP_GRACE) -> list[int]:
    """Wait until none of ``pids`` runs; the ones still running at the deadline."""
    deadline = _clock() + timeout
    left = [pid for pid in pids if running(pid)]
    while left and _clock() < deadline:
        time.sleep(READY_POLL)
        left = [pid for pid in left if running(pid)]
    return left


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def run(
    netns: Namespace | None,
    argv: Sequence[str],
    *,
    timeout: float = 10.0,
    stdin: str | None = None,
    check: bool = False,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a short command (in ``netns`` if given) and return its output as text."""
    command = netns.argv(argv) if netns is not None else list(argv)
    try:
        result = subprocess.run(
            command,
            input=stdin,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            env=env,
            # A timed-out command is killed with its whole session, so a
            # client stuck on a dropped packet never outlives its test.
            start_new_session=True,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise LabTimeout(f"{' '.join(command)} timed out after {timeout} s") from exc
    if check and result.returncode != 0:
        raise LabError(f"{' '.join(command)} failed ({result.returncode}): {result.stderr.strip()}")
    return result
