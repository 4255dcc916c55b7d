"""The daemon's side services at start: which block pages listen, which resolver asks."""

from __future__ import annotations

import dataclasses
import logging
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path

import pytest

from copgate.daemon import startup
from copgate.daemon.startup import open_blockpages, open_resolver
from copgate.edges.blockpage import BlockPageServer
from copgate.policy.model import DnsBlockAnswer, Settings

ROUTER4 = IPv4Address("192.0.2.1")
ROUTER6 = IPv6Address("2001:db8:1::1")
SETTINGS = Settings(
    lists=(),
    timezone="UTC0",
    dns_block=DnsBlockAnswer.BLOCKPAGE,
    blockpage_ipv4=ROUTER4,
    blockpage_ipv6=ROUTER6,
    block_ttl=300,
    tls_ports=frozenset({443}),
    lan_interfaces=("br-lan",),
)


class _Listener:
    """Stands in for a BlockPageServer: records where it was asked to listen."""

    address_pending = False

    def __init__(self, address: str, port: int) -> None:
        self.where = (address, port)


def test_each_configured_address_gets_a_listener_and_a_failed_one_is_left_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def listen(address: str, port: int) -> BlockPageServer:
        if ":" in address:
            raise OSError(98, "Address already in use")
        return _Listener(address, port)  # type: ignore[return-value]

    with caplog.at_level(logging.WARNING, logger="copgate"):
        opened = open_blockpages(SETTINGS, 8099, listen)
    assert [(address, server.where) for address, server in opened] == [  # type: ignore[attr-defined]
        (ROUTER4, ("192.0.2.1", 8099))
    ]
    assert [r.getMessage() for r in caplog.records] == [
        "block page not served on [2001:db8:1::1]:8099: [Errno 98] Address already in use"
    ]


def test_no_address_means_no_listener() -> None:
    bare = dataclasses.replace(SETTINGS, blockpage_ipv4=None, blockpage_ipv6=None)
    assert open_blockpages(bare, 8099, _Listener) == []  # type: ignore[arg-type]


def test_the_resolver_asks_the_given_upstream_else_resolv_conf(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("# generated\nnameserver 198.51.100.53\nnameserver 192.0.2.53\n")
    monkeypatch.setattr(startup, "RESOLV_CONF", conf)
    for upstream, expected in ((None, "198.51.100.53"), ("2001:db8::53", "2001:db8::53")):
        resolver = open_resolver(upstream)
        assert resolver is not None and resolver.upstream == (expected, 53)
        resolver.close()
    conf.write_text("search lan\n")
    with caplog.at_level(logging.WARNING, logger="copgate"):
        assert open_resolver(None) is None  # no nameserver line
        monkeypatch.setattr(startup, "RESOLV_CONF", tmp_path / "missing")
        assert open_resolver(None) is None  # no file
    assert [r.getMessage() for r in caplog.records] == [
        "no upstream resolver: safe-search endpoints stay unresolved"
    ] * 2
