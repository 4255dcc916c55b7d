"""Decisions without a name: unreadable traffic, evasion, failures, firewall refusals."""

from __future__ import annotations

import dataclasses

import pytest

from copgate.policy.decide import RuleKind, Service, Verdict
from copgate.policy.model import Bypass, FailureMode, Group, Mode, Treatment
from copgate.policy.outright import (
    EXEMPT_FROM_UNREADABLE,
    decide_evasion,
    decide_unreadable,
    failure_decision,
    refused_outright,
)
from tests.policy.helpers import make_group

FILTER = make_group("teens")
WALLED = make_group("young", Mode.WHITELIST)
STAFF = make_group("staff", Mode.OFF, bypass=Bypass.all(True), unreadable=Treatment.REFUSE)


@pytest.mark.parametrize(
    ("group", "expected"),
    [
        (FILTER, (Verdict.ALLOW, RuleKind.UNREADABLE)),
        (WALLED, (Verdict.BLOCK, RuleKind.UNREADABLE)),
        (STAFF, (Verdict.ALLOW, RuleKind.UNFILTERED)),
    ],
)
def test_unreadable(group: Group, expected: tuple[Verdict, RuleKind]) -> None:
    decision = decide_unreadable(group, "SSH on TCP 22")
    assert (decision.verdict, decision.rule) == expected
    assert "SSH on TCP 22" in decision.reason
    assert decision.group == group.name


ALLOWS = Treatment.ALLOW
REFUSES = Treatment.REFUSE


@pytest.mark.parametrize(
    ("group", "treatment", "expected"),
    [
        (FILTER, REFUSES, (Verdict.BLOCK, RuleKind.EVASION)),
        (FILTER, ALLOWS, (Verdict.ALLOW, RuleKind.EVASION)),
        # A walled garden refuses it whatever the option says (validation
        # refuses "allow" there; a model built by hand still cannot open it).
        (WALLED, REFUSES, (Verdict.BLOCK, RuleKind.EVASION)),
        (WALLED, ALLOWS, (Verdict.BLOCK, RuleKind.EVASION)),
        (STAFF, REFUSES, (Verdict.ALLOW, RuleKind.UNFILTERED)),
    ],
)
def test_evasion(group: Group, treatment: Treatment, expected: tuple[Verdict, RuleKind]) -> None:
    trick = "a segment 40000 bytes ahead of the stream"
    decision = decide_evasion(dataclasses.replace(group, evasion=treatment), trick)
    assert (decision.verdict, decision.rule, decision.group) == (*expected, group.name)
    assert trick in decision.reason


def test_failure_mode() -> None:
    opened = failure_decision(dataclasses.replace(FILTER, failure=FailureMode.OPEN), "buffer full")
    assert (opened.verdict, opened.rule) == (Verdict.ALLOW, RuleKind.FAILURE)
    assert "buffer full" in opened.reason
    closed = failure_decision(WALLED, ValueError("boom"))
    assert (closed.verdict, closed.rule) == (Verdict.BLOCK, RuleKind.FAILURE)
    assert "ValueError: boom" in closed.reason
    assert failure_decision(STAFF, "x").verdict is Verdict.ALLOW


def test_refused_outright() -> None:
    filt = refused_outright(FILTER)
    assert (filt.dot, filt.quic, filt.unreadable) == (True, False, False)
    assert filt.services == (
        Service("tcp", 853, filt.services[0].why),
        Service("udp", 853, filt.services[1].why),
    )
    walled = refused_outright(WALLED)
    assert (walled.dot, walled.quic, walled.unreadable) == (True, True, True)
    assert ("udp", 443) in [(s.protocol, s.port) for s in walled.services]
    staff = refused_outright(STAFF)  # mode off refuses nothing, whatever the switches say
    assert (staff.dot, staff.quic, staff.unreadable, staff.services) == (False, False, False, ())


def test_exempt_services_keep_devices_working() -> None:
    assert ("udp", 123) in [(s.protocol, s.port) for s in EXEMPT_FROM_UNREADABLE]
    assert {s.protocol for s in EXEMPT_FROM_UNREADABLE} >= {"icmp", "ipv6-icmp"}
