"""copgate.timetext: durations in their two largest units, plain or padded."""

from __future__ import annotations

import pytest

from copgate.timetext import two_units


@pytest.mark.parametrize(
    ("seconds", "plain", "padded"),
    [
        (-3, "0s", "0s"),
        (59.9, "59s", "59s"),
        (61, "1m 1s", "1m 01s"),
        (7500, "2h 5m", "2h 05m"),
        (2 * 86400 + 7300, "2d 2h", "2d 2h"),
    ],
)
def test_two_units(seconds: float, plain: str, padded: str) -> None:
    assert two_units(seconds) == plain
    assert two_units(seconds, padded=True) == padded
