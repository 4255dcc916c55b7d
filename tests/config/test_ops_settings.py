"""The log and metrics options of ``general``: defaults, both syntaxes, errors with file:line."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

import pytest

from copgate.config import values
from tests.config.test_validate import GROUP, MINIMAL, errors, load


def test_by_default_a_thousand_decisions_are_kept_with_allowed_names_and_no_metrics() -> None:
    settings = load(MINIMAL).config.settings
    assert (settings.log_entries, settings.log_allowed, settings.metrics_listen) == (
        1000,
        True,
        None,
    )


def test_the_options_are_read_from_toml() -> None:
    settings = load(
        f'{GROUP}[general]\nlog_entries = 0\nlog_allowed = false\nmetrics_listen = "[::1]:9200"\n'
    ).config.settings
    assert (settings.log_entries, settings.log_allowed) == (0, False)
    assert settings.metrics_listen == (IPv6Address("::1"), 9200)


def test_the_options_are_read_from_uci() -> None:
    settings = load(
        "config general 'general'\n"
        "\toption log_entries '5000'\n"
        "\toption log_allowed '0'\n"
        "\toption metrics_listen '192.168.1.1'\n"
        "config group 'g'\n\tlist interfaces 'br-lan'\n",
        syntax="uci",
    ).config.settings
    assert (settings.log_entries, settings.log_allowed) == (5000, False)
    assert settings.metrics_listen == (IPv4Address("192.168.1.1"), values.METRICS_PORT)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "log_entries = 100001",
            "c.toml:4: option 'log_entries' in section 'general': expected an integer from 0 "
            "to 100000, got '100001'",
        ),
        (
            'log_allowed = "maybe"',
            "c.toml:4: option 'log_allowed' in section 'general': expected",
        ),
        (
            'metrics_listen = "203.0.113.300"',
            "c.toml:4: option 'metrics_listen' in section 'general': expected a loopback or LAN "
            "address",
        ),
        (
            'metrics_listen = "8.8.8.8"',
            "c.toml:4: option 'metrics_listen' in section 'general': expected a loopback or LAN "
            "address like 127.0.0.1, 192.168.1.1:9119 or [fd00::1]:9119, got '8.8.8.8' "
            "(a global address: the metrics would reach the WAN)",
        ),
        (
            'metrics_listen = "0.0.0.0:9119"',
            "c.toml:4: option 'metrics_listen' in section 'general': expected a loopback or LAN "
            "address like 127.0.0.1, 192.168.1.1:9119 or [fd00::1]:9119, got '0.0.0.0:9119' "
            "(that is not one address: the WAN would be served too)",
        ),
        (
            'metrics_listen = "[2001:4860::1]:9119"',
            "(a global address: the metrics would reach the WAN)",
        ),
        ('metrics_listen = "127.0.0.1:0"', "(port '0' is not within 1..65535)"),
        ('metrics_listen = "[::1]x"', "got '[::1]x'"),
    ],
)
def test_bad_values_are_refused_with_file_and_line(line: str, expected: str) -> None:
    (error,) = errors(f"{GROUP}[general]\n{line}\n")
    assert expected in error, error


@pytest.mark.parametrize(
    ("text", "address", "port"),
    [
        ("127.0.0.1", "127.0.0.1", values.METRICS_PORT),
        ("10.0.0.1:80", "10.0.0.1", 80),
        ("[fd00::1]", "fd00::1", values.METRICS_PORT),
        ("::1", "::1", values.METRICS_PORT),  # bare IPv6 is all address; a port needs brackets
        ("[fd00::1]:9300", "fd00::1", 9300),
        ("192.0.2.1:9119", "192.0.2.1", 9119),
    ],
)
def test_listen_addresses(text: str, address: str, port: int) -> None:
    found, found_port = values.listen_address(text)
    assert (str(found), found_port) == (address, port)
