"""copgate survives its LAN in the lab: a hostile request, idle sockets, bad reloads, a rival.

The daemon runs as ``copgate run`` in the gateway with its own copy of the
templates and the site-content table (so the test can break the table
without touching the repository), and with ``iptables-restore`` behind a
wrapper that, while a flag file exists, takes 3 s (a loaded router):

- ``GET //[x HTTP/1.1`` to the block page once killed the daemon (and with
  it all filtering): it gets an answer, and a blocked name stays blocked;
- 70 idle connections from one client leave the page to the others;
- SIGHUP with a malformed ``site-content.toml``: the daemon lives and the
  running config filters on;
- SIGHUP while ``iptables-restore`` takes 3 s: lookups through the gateway
  go on being answered at once, and the rules are reported updated after;
- a second ``copgate run`` on the same queue exits non-zero with a message
  that says so, and the first one's rules go on filtering.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from copgate.lab import clients, plan
from copgate.lab.gateway import READY_LINE, START_TIMEOUT, compile_lab_lists, write_config
from copgate.lab.topology import Lab
from tests.lab.daemon_lab import Gateway

pytestmark = pytest.mark.lab

ROUTER = plan.LAN.router_v4
REPO_LISTS = Path(__file__).resolve().parents[2] / "lists"
PAGE_URL = f"http://{ROUTER}:8099/blocked?host=blocked.example&why=adult"
SLOW_APPLY = 3.0
"""Seconds the wrapped iptables-restore takes while the flag file exists."""
QUICK = 0.5
"""Seconds a lookup may take through a gateway that is not stalled (they take ~10 ms)."""

HOG = """
import socket, sys, time
held = []
for _ in range(70):
    s = socket.create_connection((sys.argv[1], 8099), timeout=5)
    held.append(s)
print("holding", len(held), flush=True)
time.sleep(60)
"""

RAW_REQUEST = """
import socket, sys
with socket.create_connection((sys.argv[1], 8099), timeout=5) as s:
    s.sendall(sys.argv[2].encode("latin-1"))
    answer = b""
    while chunk := s.recv(65536):
        answer += chunk
print(answer.split(b"\\r\\n", 1)[0].decode("latin-1"))
"""


def _slow_bin(workdir: Path) -> Path:
    """A directory whose iptables-restore tools sleep while ``workdir/slow`` exists."""
    slow = workdir / "slowbin"
    slow.mkdir(exist_ok=True)
    for tool in ("iptables-restore", "ip6tables-restore"):
        real = shutil.which(tool)
        assert real is not None, tool
        wrapper = slow / tool
        flag = workdir / "slow"
        wrapper.write_text(f'#!/bin/sh\n[ -e "{flag}" ] && sleep {SLOW_APPLY}\nexec {real} "$@"\n')
        wrapper.chmod(0o755)
    return slow


def _argv(config: Path, templates: Path) -> list[str]:
    return [
        sys.executable, "-m", "copgate", "run", "--config", str(config),
        "--templates", str(templates), "--verbose",
    ]  # fmt: skip


@pytest.fixture(scope="module")
def gateway(lab: Lab) -> Iterator[Gateway]:
    workdir = lab.workdir
    shutil.copytree(REPO_LISTS / "templates", workdir / "templates")
    shutil.copy(REPO_LISTS / "site-content.toml", workdir / "site-content.toml")
    lists = compile_lab_lists(workdir)
    config = write_config(workdir, lists)
    env = lab.python_env()
    env["PATH"] = f"{_slow_bin(workdir)}:{env.get('PATH', '/usr/sbin:/usr/bin')}"
    daemon = lab.spawn(
        lab.gateway, _argv(config, workdir / "templates"), name="copgate-survival", env=env
    )
    lab.wait_ready(daemon, lambda: READY_LINE in daemon.log_text(), START_TIMEOUT)
    try:
        yield Gateway(lab, daemon, lists, config)
    finally:
        if daemon.alive():
            status = lab.stop(daemon)
            assert status == 0, daemon.log_text()[-3000:]


def _still_filtering(gateway: Gateway) -> None:
    assert gateway.daemon.alive(), gateway.log()[-3000:]
    teen = gateway.lab.clients["teen"]
    assert clients.dig(teen, "blocked.example", server=ROUTER).status == "NXDOMAIN"
    assert clients.dig(teen, "allowed.example", server=ROUTER).status == "NOERROR"


def test_the_request_that_killed_the_daemon_is_answered_and_filtering_goes_on(
    gateway: Gateway,
) -> None:
    lab = gateway.lab
    request = f"GET //[x HTTP/1.1\r\nHost: {ROUTER}\r\n\r\n"
    result = lab.run(lab.clients["teen"], [sys.executable, "-c", RAW_REQUEST, str(ROUTER), request])
    # An answer, whichever: the page (403), a refusal (400), or, since the page
    # has routes (issue 13), "no such page" (404).
    answered = {"HTTP/1.1 403 Forbidden", "HTTP/1.1 400 Bad Request", "HTTP/1.1 404 Not Found"}
    assert result.stdout.strip() in answered, result
    _still_filtering(gateway)


def test_a_malformed_request_gets_400_and_filtering_goes_on(gateway: Gateway) -> None:
    lab = gateway.lab
    request = f"GET / HTTP/1.1\r\nHost: {ROUTER}\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"
    result = lab.run(lab.clients["teen"], [sys.executable, "-c", RAW_REQUEST, str(ROUTER), request])
    assert result.stdout.strip() == "HTTP/1.1 400 Bad Request", result
    _still_filtering(gateway)


def test_idle_connections_from_one_client_leave_the_page_to_the_others(gateway: Gateway) -> None:
    lab = gateway.lab
    teen = lab.clients["teen"]
    process = lab.spawn(teen.netns, [sys.executable, "-c", HOG, str(ROUTER)], name="blockpage-hog")
    try:
        lab.wait_ready(process, lambda: "holding 70" in process.log_text(), 10.0)
        page = clients.curl(lab.clients["pupil"], PAGE_URL)
        assert page.status == 403, page
        assert "<strong>blocked.example</strong>" in page.body
    finally:
        lab.stop(process)
    counters = gateway.counters()
    assert counters["blockpage"]["evicted"] >= 70 - 8, counters


def test_a_malformed_site_content_table_on_sighup_keeps_the_old_config(gateway: Gateway) -> None:
    table = gateway.lab.workdir / "site-content.toml"
    good = table.read_text()
    try:
        table.write_text("[sites\nthis is not TOML\n")
        logged = gateway.sighup(expect="reload refused")
    finally:
        table.write_text(good)
    assert "site-content.toml" in logged and "reloaded: " not in logged
    _still_filtering(gateway)


def test_a_slow_firewall_apply_does_not_stall_lookups(gateway: Gateway) -> None:
    lab = gateway.lab
    flag = lab.workdir / "slow"
    flag.touch()
    try:
        since = gateway.mark()
        gateway.write_config(block={"teens": ["games.example"]})
        gateway.sighup(expect="reloaded: ")
        # iptables-restore now sleeps for SLOW_APPLY s in the worker thread.
        started = time.monotonic()
        timings: list[float] = []
        while time.monotonic() - started < SLOW_APPLY - 1.0:
            before = time.monotonic()
            answer = clients.dig(lab.clients["teen"], "games.example", server=ROUTER)
            timings.append(time.monotonic() - before)
            assert answer.status == "NXDOMAIN", answer.output  # the new config, at once
        assert "firewall rules updated" not in gateway.log(since), "the apply was not slow"
        gateway.wait_log("reload: firewall rules updated", since, timeout=2 * SLOW_APPLY + 5)
    finally:
        flag.unlink(missing_ok=True)
    assert len(timings) >= 5 and max(timings) < QUICK, timings
    gateway.write_config()
    gateway.sighup(expect="reload: firewall rules updated")


def test_a_second_daemon_on_the_same_queue_exits_and_leaves_the_first_s_rules(
    gateway: Gateway,
) -> None:
    lab = gateway.lab
    env = lab.python_env()
    argv = ["env", f"PYTHONPATH={env['PYTHONPATH']}"]
    argv += _argv(gateway.config, lab.workdir / "templates")
    second = lab.run(lab.gateway, argv, timeout=30.0)
    assert second.returncode != 0
    assert "copgate run: queue 0 is bound by another process" in second.stderr, second.stderr
    saved = lab.run(lab.gateway, ["iptables-save"], check=True).stdout
    assert "COPGATE" in saved
    _still_filtering(gateway)
    assert gateway.daemon.alive()


def test_no_handler_failed(gateway: Gateway) -> None:
    counters = gateway.counters()
    assert counters["handler_failures"] == 0, counters
    assert set(counters["queues"]) == {"0", "1"}, counters
    assert gateway.daemon.alive()
