"""Grants open what the administrator's policy blocked, for one group, until they expire."""

from __future__ import annotations

import pytest

from copgate.policy.decision import Decision, RuleKind, Verdict
from copgate.policy.grants import Grant, Grants, granted

NOW = 1_800_000_000.0


def _block(rule: RuleKind, group: str = "kids") -> Decision:
    return Decision(
        Verdict.BLOCK, group, rule, "casino.example is in gambling", "default", "gambling"
    )


GRANTS = Grants([Grant("casino.example", "kids", NOW + 60, "7")])


@pytest.mark.parametrize(
    "rule",
    [RuleKind.CATEGORY, RuleKind.WHITELIST_ONLY, RuleKind.TIME_WINDOW, RuleKind.OWN_ENTRY],
)
def test_a_grant_opens_a_policy_block_and_keeps_the_old_reason(rule: RuleKind) -> None:
    decision = granted(_block(rule), "www.casino.example", GRANTS, NOW)
    assert (decision.verdict, decision.rule) == (Verdict.ALLOW, RuleKind.GRANT)
    assert decision.match == "casino.example"
    assert decision.list_name == "kids.grants"
    assert "without it: casino.example is in gambling" in decision.reason
    assert "until 2027-01-15 08:01:00 UTC" in decision.reason


@pytest.mark.parametrize(
    "rule",
    [
        RuleKind.BYPASS,
        RuleKind.SAFESEARCH,
        RuleKind.INVALID_NAME,
        RuleKind.EVASION,
        RuleKind.FAILURE,
    ],
)
def test_a_grant_never_opens_a_bypass_or_safe_search_or_failure(rule: RuleKind) -> None:
    block = _block(rule)
    assert granted(block, "casino.example", GRANTS, NOW) is block


def test_a_grant_is_for_its_group_only() -> None:
    block = _block(RuleKind.CATEGORY, group="teens")
    assert granted(block, "casino.example", GRANTS, NOW) is block


def test_a_grant_covers_subdomains_not_parents_or_lookalikes() -> None:
    grants = Grants([Grant("games.casino.example", "kids", None)])
    block = _block(RuleKind.CATEGORY)
    assert granted(block, "a.games.casino.example", grants, NOW).verdict is Verdict.ALLOW
    assert granted(block, "casino.example", grants, NOW) is block
    assert granted(block, "xgames.casino.example", grants, NOW) is block


def test_a_grant_expires_by_itself() -> None:
    block = _block(RuleKind.CATEGORY)
    assert granted(block, "casino.example", GRANTS, NOW + 59.9).verdict is Verdict.ALLOW
    assert granted(block, "casino.example", GRANTS, NOW + 60) is block


def test_an_allow_is_left_alone() -> None:
    allow = Decision(Verdict.ALLOW, "kids", RuleKind.NOT_LISTED, "not listed")
    assert granted(allow, "casino.example", GRANTS, NOW) is allow


def test_a_grant_until_withdrawn_says_so() -> None:
    grants = Grants([Grant("casino.example", "kids", None)])
    decision = granted(_block(RuleKind.CATEGORY), "casino.example", grants, NOW * 2)
    assert "until withdrawn" in decision.reason
