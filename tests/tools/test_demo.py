"""``copgate demo``: the probe plan, reading clients and the daemon's log, the table, the lab run.

The pure tests build client results and log lines by hand (the log lines are
copied from a real run of the daemon) and expect each probe to be judged and
printed as planned, a failure shown as FAIL. The lab tests run the demo for
real, as root: every probe must pass, and nothing the demo built may remain
after it (or after ``--teardown`` of a lab kept with ``--keep``).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tempfile
import time
import tomllib
from ipaddress import ip_address, ip_network
from pathlib import Path

import pytest

from copgate.cli import main
from copgate.lab import gateway, plan
from copgate.lab.clients import DnsResult, HttpResult, Record
from copgate.lab.demo import (
    GROUPS,
    PROBES,
    LoggedDecision,
    Method,
    Probe,
    Row,
    Seen,
    find_decision,
    judge,
    parse_decisions,
    render_table,
    seen_in_dns,
    seen_in_http,
    summary,
)
from copgate.lab.demo_keep import KeptLab, KeptProcess, explore_guide
from copgate.tools import demo_cmd
from tests.lab.conftest import require_lab

# Real decision lines of `copgate run --verbose` in the lab, and a line that is not one.
LOG = """\
2026-11-22 08:23:58,281 copgate INFO copgate running: queue 0, 4 groups, lists a.cgc, b.cgc
2026-11-22 08:23:58,326 copgate INFO block dns blocked.example client=192.0.2.10:51937 \
group=pupils rule=whitelist_only list=lab-lists category=None match=blocked.example: \
blocked.example is not in this walled garden
2026-11-22 08:23:58,357 copgate DEBUG pending 192.0.2.10:34974 > 198.51.100.83:443: \
waiting for the rest of the hello
2026-11-22 08:24:01,727 copgate INFO block tls blocked.example client=[2001:db8:1::11]:40410 \
group=teens rule=category list=lab-lists category=gambling match=blocked.example: \
blocked.example is in gambling (via blocked.example), blocked for this group
2026-11-22 08:23:58,403 copgate INFO safesearch dns www.google.com client=192.0.2.11:44132 \
group=teens rule=safesearch list=safesearch category=None match=www.google.com: \
www.google.com is answered with google's safe endpoint forcesafesearch.google.com
"""

TEEN_DNS_BLOCKED = Probe("teen", Method.DNS, "blocked.example", Seen.FORGED_NXDOMAIN, "gambling")
TEEN_TLS_BLOCKED = Probe("teen", Method.HTTPS, "blocked.example", Seen.RESET, "SNI", family=6)
BLOCKED_BY_CATEGORY = LoggedDecision(
    "block",
    "dns",
    "blocked.example",
    ip_address("192.0.2.11"),
    "teens",
    "category",
    "gambling",
    "blocked.example is in gambling (via blocked.example), blocked for this group",
)


def _dns(
    status: str | None, answer: tuple[Record, ...] = (), ede: tuple[int, ...] = ()
) -> DnsResult:
    return DnsResult(status, answer, (), ede, "")


def _http(
    status: int | None,
    body: str = "",
    error: str | None = None,
    redirect: str | None = None,
    version: str | None = None,
) -> HttpResult:
    return HttpResult(status, body, error, 0 if status else 35, version, None, redirect)


# -- the plan -------------------------------------------------------------------


def test_the_plan_is_a_dozen_probes_of_every_kind_from_every_client() -> None:
    assert 12 <= len(PROBES) <= 15
    assert {p.role for p in PROBES} == {c.role for c in plan.CLIENTS}
    assert {p.method for p in PROBES} == set(Method)
    assert {p.expect for p in PROBES} >= set(Seen) - {Seen.NOTHING, Seen.OTHER}
    assert any(p.family == 6 for p in PROBES)
    for probe in PROBES:
        plan.host(probe.name)  # every name is one the lab's DNS server answers


def test_each_client_s_group_is_the_one_the_lab_config_gives_it() -> None:
    config = tomllib.loads(gateway.CONFIG.format(lists='"a.cgc"', extra=""))
    for role, (group_name, _description) in GROUPS.items():
        group = config["group"][group_name]
        client = plan.client(role)
        by_address = any(
            client.v4 in ip_network(cidr) for cidr in group.get("addresses", []) if "." in cidr
        )
        assert by_address or client.segment.interface in group.get("interfaces", []), role


def test_a_probe_asks_the_client_s_router_or_the_name_s_server_pinned() -> None:
    assert TEEN_DNS_BLOCKED.server == plan.LAN.router_v4
    assert TEEN_DNS_BLOCKED.asked == "blocked.example A"
    assert TEEN_TLS_BLOCKED.server == plan.host("blocked.example").v6
    assert TEEN_TLS_BLOCKED.client_address == plan.client("teen").v6
    assert TEEN_TLS_BLOCKED.asked == "https://blocked.example/"
    lan2 = Probe("lan2", Method.DNS_TCP, "social.example", Seen.FORGED_NXDOMAIN, "", family=6)
    assert lan2.server == plan.LAN2.router_v6


# -- what the client saw --------------------------------------------------------


def test_dns_answers_are_read_as_copgate_s_or_the_server_s() -> None:
    address = Record("white.example.", 0, "A", "198.51.100.85")
    assert seen_in_dns(_dns("NOERROR", (address,))) == (Seen.ADDRESSES, "A 198.51.100.85")
    cname = Record("www.google.com.", 300, "CNAME", "forcesafesearch.google.com.")
    safe = seen_in_dns(_dns("NOERROR", (cname, address)))
    assert safe == (Seen.SAFE_CNAME, "CNAME forcesafesearch.google.com")
    assert seen_in_dns(_dns("NXDOMAIN", ede=(15,))) == (
        Seen.FORGED_NXDOMAIN,
        "NXDOMAIN, EDE 15 Blocked",
    )
    assert seen_in_dns(_dns("NOERROR", ede=(17,)))[0] is Seen.NO_DATA
    assert seen_in_dns(_dns(None)) == (Seen.NOTHING, "no answer")


def test_a_negative_dns_answer_without_an_extended_error_is_not_copgate_s() -> None:
    # The lab's own server answers NXDOMAIN for names it does not know, with
    # no EDE: that must never pass for copgate's block.
    assert seen_in_dns(_dns("NXDOMAIN"))[0] is Seen.OTHER
    assert seen_in_dns(_dns("NOERROR"))[0] is Seen.OTHER
    assert seen_in_dns(_dns("SERVFAIL", ede=(15,)))[0] is Seen.OTHER


def test_http_results_are_read_as_page_reset_block_page_or_silence() -> None:
    page = "<title>lab allowed.example</title>\nhost=allowed.example scheme=https\n"
    assert seen_in_http(_http(200, page, version="2"), "allowed.example") == (
        Seen.PAGE,
        "200 over HTTP/2",
    )
    h3 = seen_in_http(_http(200, page, version="h3/quic-0x1"), "allowed.example")
    assert h3 == (Seen.PAGE, "200 over HTTP/3 (QUIC 0x1)")
    # A page, but for another name: not the page asked for.
    assert seen_in_http(_http(200, page), "blocked.example")[0] is Seen.OTHER
    block_page = "http://192.0.2.1:8099/blocked?host=blocked.example&why=gambling"
    assert seen_in_http(_http(302, redirect=block_page), "blocked.example")[0] is Seen.BLOCK_PAGE
    over_ipv6 = "http://[2001:db8:1::1]:8099/blocked?host=blocked.example&why=gambling"
    assert seen_in_http(_http(302, redirect=over_ipv6), "blocked.example")[0] is Seen.BLOCK_PAGE
    elsewhere = "http://198.51.100.81/blocked"
    assert seen_in_http(_http(302, redirect=elsewhere), "blocked.example")[0] is Seen.OTHER
    reset = _http(None, error="Recv failure: Connection reset by peer")
    assert seen_in_http(reset, "blocked.example")[0] is Seen.RESET
    timeout = _http(None, error="Connection timed out after 3001 milliseconds")
    assert seen_in_http(timeout, "blocked.example")[0] is Seen.NOTHING


# -- the daemon's log -------------------------------------------------------------


def test_decision_lines_are_parsed_with_their_client_and_nothing_else_is() -> None:
    decisions = parse_decisions(LOG)
    assert [(d.verdict, d.kind, d.name) for d in decisions] == [
        ("block", "dns", "blocked.example"),
        ("block", "tls", "blocked.example"),
        ("safesearch", "dns", "www.google.com"),
    ]
    assert decisions[0].client == ip_address("192.0.2.10")
    assert decisions[0].category is None
    assert decisions[1].client == ip_address("2001:db8:1::11")
    assert decisions[1].group == "teens"
    assert decisions[1].category == "gambling"
    assert decisions[1].reason.startswith("blocked.example is in gambling")


def test_a_probe_finds_only_the_decision_for_its_own_kind_name_and_client() -> None:
    decisions = parse_decisions(LOG)
    # The pupil's DNS block is not the teen's; the teen's TLS block over IPv6 is found.
    assert find_decision(decisions, TEEN_DNS_BLOCKED) is None
    found = find_decision(decisions, TEEN_TLS_BLOCKED)
    assert found is not None
    assert (found.kind, found.client) == ("tls", ip_address("2001:db8:1::11"))


# -- judging and the table ----------------------------------------------------------


def test_a_row_passes_only_when_the_client_and_the_daemon_agree_with_the_plan() -> None:
    assert judge(TEEN_DNS_BLOCKED, Seen.FORGED_NXDOMAIN, "NXDOMAIN", BLOCKED_BY_CATEGORY).passed
    wrong = judge(TEEN_DNS_BLOCKED, Seen.ADDRESSES, "A 198.51.100.81", BLOCKED_BY_CATEGORY)
    assert not wrong.passed
    assert wrong.problem == "expected forged NXDOMAIN"
    unlogged = judge(TEEN_DNS_BLOCKED, Seen.FORGED_NXDOMAIN, "NXDOMAIN", None)
    assert not unlogged.passed
    assert unlogged.problem == "no decision for this question in the daemon's log"
    disagreeing = LoggedDecision(
        "allow", "dns", "blocked.example", ip_address("192.0.2.11"), "teens", "x", None, "y"
    )
    row = judge(TEEN_DNS_BLOCKED, Seen.FORGED_NXDOMAIN, "NXDOMAIN", disagreeing)
    assert row.problem == "the daemon logged allow, expected block"


def _rows() -> list[Row]:
    return [
        judge(TEEN_DNS_BLOCKED, Seen.FORGED_NXDOMAIN, "NXDOMAIN, EDE 15", BLOCKED_BY_CATEGORY),
        judge(TEEN_TLS_BLOCKED, Seen.PAGE, "200 over HTTP/2", None),
    ]


def test_the_table_shows_a_failed_probe_as_failed_and_the_daemon_s_reason() -> None:
    lines = render_table(_rows()).splitlines()
    assert len(lines) == 3
    header, passed, failed = lines
    assert passed.split()[:3] == ["ok", "teen", "DNS"]
    assert passed.endswith(f"teens: {BLOCKED_BY_CATEGORY.reason}")
    assert "blocked" in passed.split()
    assert failed.split()[:4] == ["FAIL", "teen", "(IPv6)", "HTTPS"]
    assert "allowed" in failed.split()  # what the client really saw, never the plan
    assert "expected reset" in failed
    # Columns line up: every row's verdict starts where the header's does.
    column = header.index("VERDICT")
    assert passed[column:].startswith("blocked")
    assert failed[column:].startswith("allowed")


def test_a_table_wider_than_the_terminal_puts_each_reason_on_its_own_line() -> None:
    lines = render_table(_rows(), width=100).splitlines()
    assert len(lines) == 5
    assert lines[2].startswith("      why: teens: blocked.example is in gambling")
    assert lines[4].startswith("      why: expected reset")
    assert all(len(line) <= 100 for line in lines[:2])
    assert render_table(_rows(), width=1000) == render_table(_rows())


def test_the_summary_counts_failures() -> None:
    rows = _rows()
    assert summary(rows[:1], 3.14) == "1 of 1 probes as expected, in 3.1 s"
    assert summary(rows, 3.0) == "1 of 2 probes as expected, 1 FAILED, in 3.0 s"


def test_a_row_as_json_carries_client_verdict_and_reason() -> None:
    data = _rows()[0].as_json()
    assert data["client"] == "teen"
    assert data["address"] == "192.0.2.11"
    assert data["verdict"] == "blocked"
    assert data["passed"] is True
    assert data["group"] == "teens"
    assert data["category"] == "gambling"
    json.dumps(data)


# -- a kept lab ----------------------------------------------------------------------


def _kept(lab_id: str = "0123abcd", workdir: str = "/tmp/copgate-lab-0123abcd-xyz") -> KeptLab:
    roles = ["gateway", "internet", *(c.role for c in plan.CLIENTS)]
    daemon = KeptProcess("copgate", 4321, 99)
    return KeptLab(
        lab_id,
        {role: f"cg-{lab_id}-{role}" for role in roles},
        workdir,
        f"{workdir}/copgate.toml",
        f"{workdir}/copgate.log",
        f"{workdir}/ca.pem",
        daemon,
        (KeptProcess("dns-server", 4000, 90), daemon),
        "/x/.venv/bin/copgate",
    )


def test_a_kept_lab_reads_back_what_was_written_and_is_explained() -> None:
    kept = _kept()
    assert KeptLab.from_json(json.loads(json.dumps(kept.as_json()))) == kept
    guide = explore_guide(kept)
    for name in kept.namespaces.values():
        assert name in guide
    assert "ip netns exec cg-0123abcd-teen dig blocked.example" in guide
    assert "kill -HUP 4321" in guide
    assert "/tmp/copgate-lab-0123abcd-xyz/copgate.log" in guide
    assert guide.rstrip().endswith("/x/.venv/bin/copgate demo --teardown 0123abcd")


def test_teardown_refuses_a_description_that_names_what_is_not_the_lab_s(tmp_path: Path) -> None:
    with pytest.raises(demo_cmd.DemoError, match="labs left up: none"):
        demo_cmd.read_kept_lab("0123abcd", tmp_path)
    with pytest.raises(demo_cmd.DemoError, match="no lab"):
        demo_cmd.read_kept_lab("../../etc", tmp_path)
    foreign = _kept().as_json()
    foreign["namespaces"] = {"gateway": "somebody-elses"}
    (tmp_path / "0123abcd.json").write_text(json.dumps(foreign))
    with pytest.raises(demo_cmd.DemoError, match="not lab 0123abcd's"):
        demo_cmd.read_kept_lab("0123abcd", tmp_path)
    (tmp_path / "0123abcd.json").write_text(json.dumps(_kept(workdir="/home").as_json()))
    with pytest.raises(demo_cmd.DemoError, match="a directory that is not"):
        demo_cmd.read_kept_lab("0123abcd", tmp_path)
    (tmp_path / "0123abcd.json").write_text("{}")
    with pytest.raises(demo_cmd.DemoError, match="not a kept lab"):
        demo_cmd.read_kept_lab("0123abcd", tmp_path)
    (tmp_path / "0123abcd.json").write_text(json.dumps(_kept().as_json()))
    assert demo_cmd.read_kept_lab("0123abcd", tmp_path) == _kept()


# -- --capture: no root needed ----------------------------------------------------


def test_demo_capture_inspects_a_sample_without_root(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--capture", str(tmp_path), "--json"]) == 0
    assert (tmp_path / "copgate-sample.pcap").stat().st_size > 0
    out = capsys.readouterr().out
    names = {json.loads(line)["name"] for line in out.splitlines() if line.startswith("{")}
    assert {"games.example", "use-application-dns.net"} <= names


def test_without_root_the_demo_says_how_to_run_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    assert main(["demo"]) == 2
    assert "needs root" in capsys.readouterr().err
    assert main(["demo", "--teardown", "0123abcd"]) == 2


# -- the lab, for real ---------------------------------------------------------------


def _netns_names() -> str:
    return subprocess.run(
        ["ip", "netns", "list"], check=False, capture_output=True, text=True
    ).stdout


def test_the_demo_runs_every_probe_for_real_and_leaves_nothing_behind() -> None:
    require_lab()
    out = io.StringIO()
    started = time.monotonic()
    rows = demo_cmd.run_lab_demo(out=out)
    seconds = time.monotonic() - started
    text = out.getvalue()
    failed = [row.as_json() for row in rows if not row.passed]
    assert failed == [], text
    assert [row.probe for row in rows] == list(PROBES)
    assert seconds < 60
    table = [line for line in text.splitlines() if line.startswith("ok  ")]
    assert len(table) == len(PROBES)
    by_asked = {(row.probe.role, row.probe.asked): row for row in rows}
    google = by_asked[("teen", "www.google.com A")]
    assert (google.verdict, google.detail) == ("safe search", "CNAME forcesafesearch.google.com")
    staff = by_asked[("staff", "blocked.example A")]
    assert staff.verdict == "allowed"
    assert staff.decision is not None and staff.decision.rule == "unfiltered"
    lan2 = by_asked[("lan2", "social.example A")]
    assert lan2.decision is not None and lan2.decision.group == "lab2"
    assert f"{len(PROBES)} of {len(PROBES)} probes as expected, in " in text
    lab_id = text.split("in lab ", 1)[1].split(":", 1)[0]
    assert f"cg-{lab_id}-" not in _netns_names()
    assert not list(Path("/etc/netns").glob(f"cg-{lab_id}-*"))
    assert not list(Path(tempfile.gettempdir()).glob(f"copgate-lab-{lab_id}-*"))


def test_a_kept_lab_stays_up_until_its_teardown_removes_exactly_it() -> None:
    require_lab()
    out = io.StringIO()
    rows = demo_cmd.run_lab_demo(keep=True, out=out)
    text = out.getvalue()
    lab_id = text.split("The lab is up (id ", 1)[1].split(")", 1)[0]
    try:
        assert all(row.passed for row in rows), text
        kept = demo_cmd.read_kept_lab(lab_id)
        assert kept.id == lab_id
        assert Path(kept.config).exists()
        assert demo_cmd._start_time(kept.daemon.pid) == kept.daemon.start
        names = _netns_names()
        assert all(name in names for name in kept.namespaces.values())
        # The lab still works after the demo's own process let go of it.
        probe = subprocess.run(
            ["ip", "netns", "exec", kept.namespaces["teen"], "dig", "+tries=1", "blocked.example"],
            check=False,
            capture_output=True,
            text=True,
            timeout=10,
        )
        assert "status: NXDOMAIN" in probe.stdout
        assert "EDE: 15" in probe.stdout
    finally:
        said = io.StringIO()
        demo_cmd.teardown(lab_id, said)
    assert "copgate stopped in order, its rules removed" in said.getvalue()
    assert f"cg-{lab_id}-" not in _netns_names()
    assert not Path(kept.workdir).exists()
    assert not (demo_cmd.STATE_DIR / f"{lab_id}.json").exists()
    assert all(demo_cmd._start_time(p.pid) != p.start for p in kept.processes)
    with pytest.raises(demo_cmd.DemoError, match="no lab"):
        demo_cmd.teardown(lab_id, io.StringIO())


def test_the_command_line_runs_the_demo_and_says_so_in_its_exit_status() -> None:
    require_lab()
    result = subprocess.run(
        [sys.executable, "-m", "copgate", "demo", "--json"],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 0, result.stderr
    assert len(rows) == len(PROBES)
    assert all(row["passed"] for row in rows)
