"""`copgate firewall`, run as the command line runs it, on the shipped example config.

What it prints must be what the daemon would apply for the same config (the
same ``firewall_spec``), and text the kernel's tools accept: the nftables
table goes to ``nft -c`` and each iptables family's text to
``iptables-restore --test`` in a scratch network namespace, where those
tools and root are available.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from copgate.cli import main
from copgate.config.load import load_config
from copgate.daemon.firewall_spec import firewall_spec
from copgate.firewall import RAW_HOOKS, Family, jump_changes, render_iptables, render_nft
from tests.firewall.helpers import assert_nft_accepted

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "copgate.toml"
TEMPLATES = ROOT / "lists" / "templates"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["firewall", *argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _restore_test(command: str, text: str) -> subprocess.CompletedProcess[str]:
    # --test parses and checks the rules without committing, and the scratch
    # namespace keeps even that away from the machine's tables.
    return subprocess.run(
        ["unshare", "--net", f"{command}-restore", "--test", "--noflush"],
        input=text,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_nft_for_the_example_is_the_daemons_and_passes_nft_check(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, err = run(capsys, "--config", str(EXAMPLE), "--templates", str(TEMPLATES))
    assert (status, err) == (0, "")
    config = load_config(EXAMPLE, templates_dir=TEMPLATES)
    assert out == render_nft(firewall_spec(config))
    # The example's walled garden (br-pupils) refuses what copgate cannot read.
    assert 'iifname "br-pupils" udp dport 443 reject' in out
    assert 'iifname "br-staff" udp dport 443 return comment "copgate: quic not refused"' in out
    # NTP is never refused (the policy's EXEMPT_FROM_UNREADABLE), and the
    # walled garden fails closed on queue 1 (no bypass).
    assert 'iifname "br-pupils" udp dport != { 53, 443, 123 } reject' in out
    assert 'iifname "br-pupils" goto closed comment "copgate: fails closed"' in out
    assert 'queue num 1 comment "copgate: queue 1"' in out
    assert_nft_accepted(out)


def test_nft_for_one_family(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "--config", str(EXAMPLE), "--family", "ipv6", "--queue", "3")
    assert status == 0
    assert 'meta nfproto ipv6 iifname { "br-lan", "br-pupils",' in out
    assert "queue num 3 bypass" in out


@pytest.mark.parametrize(
    ("family", "command", "own", "other"),
    [
        (Family.IPV4, "iptables", "-s 192.168.1.64/27", "icmp6"),
        (Family.IPV6, "ip6tables", "icmp6-port-unreachable", "192.168.1.64/27"),
    ],
)
def test_iptables_for_each_family_is_the_daemons(
    capsys: pytest.CaptureFixture[str], family: Family, command: str, own: str, other: str
) -> None:
    argv = ("--backend", "iptables", "--family", f"ipv{family.value}", "--queue", "5")
    status, out, err = run(capsys, "--config", str(EXAMPLE), *argv)
    assert (status, err) == (0, "")
    config = load_config(EXAMPLE)
    plan = render_iptables(firewall_spec(config, 5), family)
    assert plan.command == command
    # On a host with none of copgate's jumps: the chains, then every jump inserted.
    raw_jumps = jump_changes((), plan.raw_jumps, RAW_HOOKS)
    assert out == plan.restore_text(jump_changes((), plan.jumps), raw_jumps)
    lines = out.splitlines()
    assert (lines[0], lines[-1]) == ("*raw", "COMMIT")
    assert "*filter" in lines
    assert "-I OUTPUT 1 -j COPGATE-RAW" in lines
    assert "-I FORWARD 1 -i br-lan -j COPGATE-FORWARD" in lines
    assert "-I INPUT 1 -i br-lan -j COPGATE" in lines
    assert "--queue-num 5 --queue-bypass" in out
    # The example's walled garden (br-pupils, and the default group) fails
    # closed: queue 6, no bypass; staff (br-staff) fail open.
    assert "-A COPGATE-QUEUE -i br-pupils" in out
    assert '-A COPGATE-QUEUE -i br-staff -m comment --comment "copgate: fails open"' in out
    assert '-A COPGATE-QUEUE -m comment --comment "copgate: fails closed" -g COPGATE-CLOSED' in out
    assert out.count("-j NFQUEUE --queue-num 6\n") == 1
    # Over their rate, staff (not filtered) pass and everyone else is dropped;
    # servers' SYN-ACKs go to the open queue, out to every LAN interface.
    assert (
        '-A COPGATE-EXCESS -i br-staff -m comment --comment "copgate: over the rate, passed"' in out
    )
    assert '-A COPGATE-EXCESS -m comment --comment "copgate: over the rate, dropped" -j DROP' in out
    synack = "-p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN,ACK"
    assert f"-I OUTPUT 1 -o br-lan {synack} -j COPGATE-REPLY" in lines
    assert '"copgate: tls syn-ack" -j NFQUEUE --queue-num 5 --queue-bypass' in out
    assert own in out
    assert other not in out
    if shutil.which("unshare") is None or shutil.which(f"{command}-restore") is None:
        pytest.skip(f"unshare or {command}-restore is not installed")
    if _restore_test(command, "*filter\nCOMMIT\n").returncode != 0:
        pytest.skip(f"{command}-restore --test cannot run here (needs root)")
    checked = _restore_test(command, out)
    assert checked.returncode == 0, checked.stderr


def test_iptables_needs_a_family(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["firewall", "--config", str(EXAMPLE), "--backend", "iptables"])
    assert exited.value.code == 2
    assert "--backend iptables needs --family ipv4 or --family ipv6" in capsys.readouterr().err


def test_a_bad_config_exits_2_with_the_loaders_lines(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "copgate.toml"
    path.write_text(
        '[general]\nlan_interfaces = ["br-lan"]\ndefault_group = "kids"\n\n'
        '[group.kids]\nmode = "walled"\ninterfaces = ["br kids"]\n',
        encoding="utf-8",
    )
    status, out, err = run(capsys, "--config", str(path))
    assert (status, out) == (2, "")
    lines = err.splitlines()
    assert lines[0].startswith(f"copgate firewall: {path}:6: option 'mode' in group 'kids': ")
    assert lines[1].startswith(f"{path}:7: option 'interfaces' in group 'kids': ")
    assert len(lines) == 2


def test_a_bad_firewall_setting_exits_2_naming_the_config(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, err = run(capsys, "--config", str(EXAMPLE), "--queue", "65536")
    assert (status, out) == (2, "")
    assert err == (
        f"copgate firewall: {EXAMPLE}: firewall: queue number 65536 out of 0-65534"
        " (fail-closed groups use the queue after it)\n"
    )
