"""Specs shared by the firewall tests, and the kernel's check of nftables text.

``assert_nft_accepted`` hands a text to ``nft -c`` in a scratch network
namespace where nft and root are available (it skips otherwise), so that the
renderer's tests and ``copgate firewall``'s check the same way.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
import shutil
import subprocess

import pytest

from copgate.firewall import (
    ANY_CLIENT,
    REFUSE_DOQ,
    REFUSE_DOT,
    REFUSE_QUIC,
    ClientKind,
    ClientMatch,
    Excess,
    Family,
    FirewallSpec,
    WhenAbsent,
    render_iptables,
    unreadable,
)

LANS = ("br-lan", "lan2")
SPEC = FirewallSpec(LANS)
PUPILS = ClientMatch(ClientKind.CIDR, "192.0.2.0/25")
PUPILS_V6 = ClientMatch(ClientKind.CIDR, "2001:db8:1::/64")
GUESTS = ClientMatch(ClientKind.INTERFACE, "lan2")
TABLET = ClientMatch(ClientKind.MAC, "02-00-5E-00-53-01")
BASE = FirewallSpec(LANS, queue_num=7, tls_ports=(443, 8443))
FULL = dataclasses.replace(
    BASE,
    refusals=(
        (ANY_CLIENT, REFUSE_DOT),
        (ANY_CLIENT, REFUSE_DOQ),
        (PUPILS, REFUSE_QUIC),
        (PUPILS_V6, REFUSE_QUIC),
        *((GUESTS, refusal) for refusal in unreadable(BASE)),
        (TABLET, REFUSE_QUIC),
    ),
)
FAILING = dataclasses.replace(
    FULL,
    when_absent=WhenAbsent.DROP,
    failures=(
        (GUESTS, WhenAbsent.PASS),
        (TABLET, WhenAbsent.PASS),
        (PUPILS, WhenAbsent.DROP),
        (PUPILS_V6, WhenAbsent.DROP),
    ),
    excesses=(
        (GUESTS, Excess.PASS),
        (TABLET, Excess.DROP),
        (PUPILS, Excess.DROP),
        (PUPILS_V6, Excess.DROP),
    ),
)
"""Guests and the tablet fail open, pupils and everyone else closed; over
their rate, guests (a group that filters nothing) pass, everyone else is dropped."""
PAYLOADS = (*range(0, 9), 100, 1400)
"""TCP payload lengths the "segment carries data" matches are evaluated over."""


def iptables_rules(spec: FirewallSpec, family: Family) -> list[str]:
    """Each rule of the family's plan as one shell-quoted line."""
    return [shlex.join(rule) for rule in render_iptables(spec, family).rules]


def with_comment(rules: list[str], comment: str) -> list[str]:
    """The rules whose comment is ``copgate: <comment>``."""
    return [rule for rule in rules if f"--comment 'copgate: {comment}'" in rule]


def _nft_check(text: str) -> subprocess.CompletedProcess[str]:
    # A scratch network namespace: "nft -c" asks the kernel to validate
    # without committing, and even that stays out of the machine's tables.
    return subprocess.run(
        ["unshare", "--net", "nft", "-c", "-f", "-"],
        input=text,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def assert_nft_accepted(text: str) -> None:
    """``nft -c -f`` accepts ``text``; skips where nft -c cannot run."""
    if shutil.which("nft") is None or shutil.which("unshare") is None:
        pytest.skip("nft or unshare is not installed")
    probe = _nft_check("table inet probe\n")
    if probe.returncode != 0:
        pytest.skip(f"nft -c cannot run here (needs root): {probe.stderr.strip()}")
    checked = _nft_check(text)
    if checked.returncode != 0:
        # This kernel may lack the nftables queue expression (the lab's
        # does: it has only the xtables NFQUEUE target). Then every error
        # must be the queue statement's, and the text with each queue
        # statement replaced by "accept" must pass the kernel's check.
        errors = re.findall(r"^\S+:(\d+):(\d+)-(\d+): Error", checked.stderr, re.M)
        assert errors, checked.stderr
        lines = text.splitlines()
        for line_no, start, end in errors:
            assert lines[int(line_no) - 1][int(start) - 1 : int(end)] == "queue", checked.stderr
        without_queue = re.sub(r"queue num \d+( bypass)?", "accept", text)
        passed = _nft_check(without_queue)
        assert passed.returncode == 0, passed.stderr
