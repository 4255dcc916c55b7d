"""CSRF tokens bind a form to its client and time; the rate limit bounds posts per client."""

from __future__ import annotations

import pytest

from copgate.requests import ratelimit
from copgate.requests.csrf import TOKEN_LIFETIME, CsrfKey
from copgate.requests.ratelimit import RateLimit

NOW = 1_800_000_000.0
KEY = CsrfKey(b"k" * 32)


def test_a_token_is_valid_for_its_client_within_its_lifetime() -> None:
    token = KEY.token("192.0.2.10", NOW)
    assert KEY.check(token, "192.0.2.10", NOW)
    assert KEY.check(token, "192.0.2.10", NOW + TOKEN_LIFETIME)
    assert not KEY.check(token, "192.0.2.10", NOW + TOKEN_LIFETIME + 1)
    assert not KEY.check(token, "192.0.2.11", NOW)


@pytest.mark.parametrize(
    "token",
    [None, "", "garbage", "1800000000.", ".abc", "x" * 65, "18e8.00", "-1.00", "１８.00"],
)
def test_a_malformed_token_is_refused(token: str | None) -> None:
    assert not KEY.check(token, "192.0.2.10", NOW)


def test_a_token_from_another_boot_or_with_its_time_changed_is_refused() -> None:
    token = KEY.token("192.0.2.10", NOW)
    assert not CsrfKey(b"j" * 32).check(token, "192.0.2.10", NOW)
    mac = token.partition(".")[2]
    assert not KEY.check(f"{int(NOW) + 30}.{mac}", "192.0.2.10", NOW + 30)


def test_a_token_from_the_future_beyond_the_skew_is_refused() -> None:
    assert not KEY.check(KEY.token("c", NOW + 3600), "c", NOW)


def test_a_burst_then_one_post_per_interval() -> None:
    limit = RateLimit(rate=1 / 20, burst=5)
    assert [limit.allow("a", NOW) for _ in range(7)] == [True] * 5 + [False] * 2
    assert limit.allow("b", NOW)  # another client is not affected
    assert not limit.allow("a", NOW + 19)
    assert limit.allow("a", NOW + 40)
    assert limit.refused == 3


def test_the_client_table_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ratelimit, "MAX_CLIENTS", 4)
    limit = RateLimit(rate=0.0, burst=1)
    for n in range(10):
        assert limit.allow(f"c{n}", NOW)
    assert len(limit) == 4
    assert not limit.allow("c9", NOW)
