"""What `copgate config check` prints about a valid config."""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path

import pytest

from copgate.config.load import load_config
from copgate.config.summary import days_text, describe, matched_by

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "copgate.toml"


@pytest.mark.parametrize(
    ("days", "text"),
    [
        (frozenset(range(7)), "daily"),
        (frozenset(range(5)), "mon-fri"),
        (frozenset({0, 1}), "mon,tue"),
        (frozenset({0, 2, 3, 4, 6}), "mon,wed-fri,sun"),
        (frozenset({5, 6}), "sat,sun"),
    ],
)
def test_days_text(days: frozenset[int], text: str) -> None:
    assert days_text(days) == text


def test_describe_the_example() -> None:
    lines = describe(load_config(EXAMPLE))
    assert lines[:6] == [
        "lists: /var/lib/copgate/lists.cgc",
        "timezone: MSK-3",
        "DNS block answer: blockpage (192.168.1.1, fd00:5c:1::1), TTL 300 s",
        "TLS ports: 443",
        "LAN interfaces: br-lan, br-pupils, br-older, br-staff",
        "default group: pupils",
    ]
    text = "\n".join(lines)
    assert "group pupils (default): mode whitelist - Primary pupils" in text
    assert "  clients: interfaces br-pupils; every client no other group matches" in text
    assert "  clients: interfaces br-older; addresses 192.168.1.64/27" in text
    assert "  time windows: mon-fri 08:30-15:00 blocks audio-video, chat" in text
    assert "  own entries: allow school.example, learning.example; block none" in text
    assert (
        "  when undecided: open; unreadable traffic: allow; invalid names: refuse; evasion: refuse"
    ) in text
    assert (
        "  when undecided: open; unreadable traffic: allow; invalid names: allow; evasion: allow"
    ) in text
    assert "group staff: mode off" in text
    assert "  bypass countermeasures: none" in text


def test_matched_by_names_the_rule_that_matched() -> None:
    config = load_config(EXAMPLE)
    older = config.group("older")
    pupils = config.group("pupils")
    assert older is not None and pupils is not None
    assert matched_by(config, older, "br-older", None, None) == "interface br-older"
    address = IPv4Address("192.168.1.70")
    assert matched_by(config, older, "br-lan", address, None) == "address in 192.168.1.64/27"
    assert (
        matched_by(config, pupils, "br-lan", None, None)
        == "no other group matches: the default group"
    )
