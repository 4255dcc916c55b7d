"""copgate's signals in the lab: SIGHUP reloads under traffic, SIGTERM stops cleanly.

- SIGHUP, three times while dnsperf sends 500 queries a second to the
  router, each time with a config that adds or drops an own block entry of
  the teens: no query is lost or answered late, and each config is in force
  from its reload on (the log's decisions, in order, say so).
- A broken config, or one naming a list that does not exist, is refused on
  SIGHUP: the log says so and the running config goes on filtering.
- SIGTERM: exit status 0, copgate's iptables chains gone, traffic flows.
- SIGKILL (a crash): the rules stay, the kernel's queue bypass lets traffic
  through unfiltered, and a restarted copgate takes over the rules left
  behind (each jump once) and filters again.
"""

from __future__ import annotations

import re
import signal
import threading
from collections.abc import Iterator

import pytest

from copgate.edges import iptables
from copgate.firewall import Family
from copgate.lab import clients, plan
from copgate.lab.gateway import start_copgate
from copgate.lab.topology import Lab
from tests.lab.daemon_lab import Gateway, decisions, running_copgate

pytestmark = pytest.mark.lab

ROUTER = plan.LAN.router_v4
QPS = 250
"""Under the per-client queue rate (300 packets/s by default), whose excess a
filtering group refuses as evasion: the load is one client's, and must all be judged."""
SECONDS = 4
QUERY_TIMEOUT = 1.0
"""Seconds after which dnsperf counts a query lost: a stall would show."""
QUERIES = (
    "allowed.example A",
    "blocked.example A",
    "games.example A",
    "white.example AAAA",
    "social.example AAAA",
)
TEEN_BLOCKS_GAMES = {"teens": ["games.example"]}
LANS = (plan.BRIDGE, plan.LAN2_INTERFACE)
JUMPS_PER_LAN = 4
"""FORWARD to the refusals then the queue (one jump), INPUT to the queue, and
FORWARD and OUTPUT towards the LAN to the reply chain (servers' SYN-ACKs)."""
_DNSPERF = {
    "sent": re.compile(r"Queries sent:\s+(\d+)"),
    "completed": re.compile(r"Queries completed:\s+(\d+)"),
    "lost": re.compile(r"Queries lost:\s+(\d+)"),
    "max_latency": re.compile(r"Average Latency \(s\):\s+\S+ \(min \S+, max ([0-9.]+)\)"),
}


@pytest.fixture(scope="module")
def gateway(lab: Lab) -> Iterator[Gateway]:
    with running_copgate(lab) as running:
        yield running


def _dnsperf(lab: Lab) -> dict[str, float]:
    """dnsperf from the teen to the router; its figures (KeyError if it printed none)."""
    data = lab.workdir / "queries.txt"
    data.write_text("\n".join(QUERIES) + "\n")
    argv = ["dnsperf", "-s", str(ROUTER), "-d", str(data), "-l", str(SECONDS)]
    argv += ["-Q", str(QPS), "-t", str(QUERY_TIMEOUT), "-c", "4"]
    result = lab.run(lab.clients["teen"], argv, timeout=SECONDS + 10)
    figures: dict[str, float] = {}
    for key, pattern in _DNSPERF.items():
        found = pattern.search(result.stdout)
        assert found, result.stdout + result.stderr
        figures[key] = float(found.group(1))
    return figures


def _games_verdicts(text: str) -> list[str]:
    return [d.verdict for d in decisions(text) if d.name == "games.example" and d.kind == "dns"]


def test_sighup_under_load_loses_no_query_and_each_config_applies(gateway: Gateway) -> None:
    lab = gateway.lab
    figures: dict[str, dict[str, float]] = {}
    load = threading.Thread(target=lambda: figures.setdefault("run", _dnsperf(lab)))
    stop = threading.Event()
    start = gateway.mark()
    load.start()
    marks = []
    try:
        for number in range(3):
            # Half a second of queries under each config: block, allow, block.
            stop.wait(0.6)
            marks.append(gateway.mark())
            gateway.reload(block=TEEN_BLOCKS_GAMES if number % 2 == 0 else None)
    finally:
        load.join()
    run = figures["run"]
    assert run["sent"] >= QPS * SECONDS * 0.9, run
    assert run["lost"] == 0 and run["completed"] == run["sent"], run
    assert run["max_latency"] < QUERY_TIMEOUT, run
    # The log, cut at each reload: games.example allowed, then blocked by
    # the teens' own entry, allowed again, blocked again.
    text = gateway.log(start)
    cuts = [text.find("reloaded: ", m - start) for m in marks]
    assert all(cut > 0 for cut in cuts), text[-2000:]
    phases = [text[: cuts[0]], text[cuts[0] : cuts[1]], text[cuts[1] : cuts[2]], text[cuts[2] :]]
    seen = [set(_games_verdicts(phase)) for phase in phases]
    assert seen == [{"allow"}, {"block"}, {"allow"}, {"block"}], seen
    assert text.count("reloaded: ") == 3


def test_the_last_reload_is_in_force(gateway: Gateway) -> None:
    since = gateway.mark()
    result = clients.dig(gateway.lab.clients["teen"], "games.example", server=ROUTER)
    assert result.status == "NXDOMAIN", result.output
    (decision,) = gateway.decisions(since)
    assert (decision.verdict, decision.rule) == ("block", "own_entry")


@pytest.mark.parametrize(
    "broken",
    [
        pytest.param("[general\nthis is not TOML\n", id="syntax"),
        pytest.param(None, id="missing-list"),
    ],
)
def test_a_broken_config_is_refused_and_the_running_one_stays(
    gateway: Gateway, broken: str | None
) -> None:
    good = gateway.config.read_text()
    if broken is None:
        missing = gateway.lab.workdir / "no-such-list.cgc"
        broken = good.replace(str(gateway.lists[1]), str(missing))
        assert broken != good
    try:
        gateway.config.write_text(broken)
        logged = gateway.sighup(expect="reload refused")
    finally:
        gateway.config.write_text(good)
    assert "reloaded: " not in logged
    assert gateway.daemon.alive()
    teen = gateway.lab.clients["teen"]
    # The running config goes on: its own block entry and its categories.
    for name, status in (
        ("games.example", "NXDOMAIN"),
        ("blocked.example", "NXDOMAIN"),
        ("allowed.example", "NOERROR"),
    ):
        assert clients.dig(teen, name, server=ROUTER).status == status, name


def test_counters_after_the_reloads(gateway: Gateway) -> None:
    counters = gateway.counters()
    assert counters["failures"] == 0 and counters["malformed"] == 0
    assert counters["inject_failed"] == 0
    assert counters["verdicts"]["dns:block"] > 0


def _saved(lab: Lab) -> str:
    return "".join(
        lab.run(lab.gateway, [f"{tool}-save"], check=True).stdout for tool in lab.iptables
    )


def _traffic_flows_unfiltered(lab: Lab) -> None:
    teen = lab.clients["teen"]
    blocked = plan.host("blocked.example")
    answer = clients.dig(teen, "blocked.example", server=ROUTER)
    assert answer.addresses == (str(blocked.v4),), answer.output
    page = clients.curl(teen, "https://blocked.example/", resolve=blocked.v6, cacert=lab.ca)
    assert page.status == 200, page


def test_sigterm_exits_0_removes_the_rules_and_traffic_flows(gateway: Gateway) -> None:
    lab = gateway.lab
    assert "COPGATE" in _saved(lab)
    status = lab.stop(gateway.daemon, signal.SIGTERM)
    assert status == 0, gateway.log()[-3000:]
    log = gateway.log()
    assert log.index("signal SIGTERM: shutting down") < log.index("copgate stopped")
    assert "COPGATE" not in _saved(lab)
    assert "MASQUERADE" in _saved(lab)  # the router's own rules are untouched
    _traffic_flows_unfiltered(lab)


def _restart(lab: Lab, gateway: Gateway) -> Gateway:
    daemon = start_copgate(lab, gateway.config)
    return Gateway(lab, daemon, gateway.lists, gateway.config)


def test_a_crash_leaves_traffic_flowing_and_a_restart_takes_over(gateway: Gateway) -> None:
    lab = gateway.lab
    crashed = _restart(lab, gateway)
    assert lab.stop(crashed.daemon, signal.SIGKILL) == -signal.SIGKILL
    try:
        assert "COPGATE" in _saved(lab)  # nobody removed them
        # No daemon on the queue: --queue-bypass passes what would be queued.
        _traffic_flows_unfiltered(lab)
        restarted = _restart(lab, gateway)
        for family in Family:
            jumps = iptables.jumps_present(family, netns=lab.gateway.name)
            assert len(jumps) == len(set(jumps)) == JUMPS_PER_LAN * len(LANS), jumps
        result = clients.dig(lab.clients["teen"], "blocked.example", server=ROUTER)
        assert result.status == "NXDOMAIN", result.output
        assert lab.stop(restarted.daemon) == 0
        assert "COPGATE" not in _saved(lab)
    finally:
        iptables.remove(netns=lab.gateway.name)
