"""copgate.daemon.run: the log lines the lab and operators read, and the block page listeners.

The daemon's log is how the lab proves what happened to a flow: each
decision names the client's address and port, and at debug level each
packet passed while its hello was incomplete names its flow. These tests
write those lines from real verdicts and read them back with the lab's own
parser (``tests.lab.daemon_lab``), so the two cannot drift apart.

The block page gets a listener on each configured address; one that cannot
be bound is logged and the other still serves, through the daemon's own
selector handlers, on loopback (the lab serves it to real clients).
"""

from __future__ import annotations

import dataclasses
import logging
import selectors
import socket
import time
from collections.abc import Callable, Iterator
from ipaddress import IPv4Address, IPv6Address, ip_address
from pathlib import Path

import pytest

from copgate.daemon import run
from copgate.daemon.engine import PacketVerdict
from copgate.daemon.run import LOG, Daemon
from copgate.daemon.verdict_log import VerdictLog
from copgate.daemon.verdict_log import endpoint as _endpoint
from copgate.edges.requests_edge import RequestsEdge, page_hosts
from copgate.policy.tz import parse_tz
from copgate.tools.samples import client_hello
from tests.daemon.test_engine import META, engine, settings
from tests.lab.daemon_lab import decisions, pending
from tests.wire.builders import CLIENT4, CLIENT6, SERVER6, dns_query, ipv6, tcp, tcp4, udp4

STAMP = "2026-11-22 08:00:00,000"


def _logged(caplog: pytest.LogCaptureFixture, *verdicts: PacketVerdict) -> str:
    """The lines ``copgate run`` writes for ``verdicts``, in its format (see run_cmd)."""
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger=LOG.name):
        for verdict in verdicts:
            VerdictLog(time.time)(verdict)
    return "".join(f"{STAMP} {r.name} {r.levelname} {r.getMessage()}\n" for r in caplog.records)


def test_endpoints_are_written_as_address_and_port() -> None:
    assert _endpoint(CLIENT4, 40000) == "192.0.2.10:40000"
    assert _endpoint(CLIENT6, 53) == "[2001:db8:1::10]:53"
    assert _endpoint(b"\x01\x02", 5) == "?:5"


def test_a_decision_names_its_client(caplog: pytest.LogCaptureFixture) -> None:
    verdict = engine().judge(udp4(dns_query("WWW.Casino.Example"), sport=40123), META)
    (decision,) = decisions(_logged(caplog, verdict))
    assert decision[:3] == ("block", "dns", "www.casino.example")
    assert decision.client == "192.0.2.10:40123"
    assert decision.group == "pupils" and decision.rule == "category"


def test_a_held_packet_and_its_decision_share_the_flow(caplog: pytest.LogCaptureFixture) -> None:
    hello = client_hello("adult.example", padding=1700)
    eng = engine()
    first = eng.judge(ipv6(CLIENT6, SERVER6, 6, tcp(41000, 443, 1, hello[:1400])), META)
    second = eng.judge(ipv6(CLIENT6, SERVER6, 6, tcp(41000, 443, 1401, hello[1400:])), META)
    text = _logged(caplog, first, second)
    ((client, server),) = pending(text)
    (decision,) = decisions(text)
    assert decision.client == client == "[2001:db8:1::10]:41000"
    assert server == "[2001:db8:2::80]:443"
    assert (decision.verdict, decision.kind, decision.name) == ("block", "tls", "adult.example")


def test_an_allowed_verdict_is_logged_only_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    verdict = engine().judge(tcp4(1, client_hello("www.example.org")), META)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=LOG.name):
        VerdictLog(time.time)(verdict)
    assert caplog.records == []
    assert [d.verdict for d in decisions(_logged(caplog, verdict))] == ["allow"]


# -- the block page listeners ---------------------------------------------------------

UNASSIGNED4 = IPv4Address("192.0.2.254")  # RFC 5737: documentation, never a host's
UNASSIGNED6 = IPv6Address("2001:db8::dead")  # RFC 3849
LOOPBACK4 = IPv4Address("127.0.0.1")
LOOPBACK6 = IPv6Address("::1")


@pytest.fixture
def daemon(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Daemon]:
    """A daemon with only what the block page needs; listeners on ephemeral ports."""
    monkeypatch.setattr(run, "BLOCKPAGE_PORT", 0)
    built = object.__new__(Daemon)
    built.engine = engine()
    built.config = built.engine.config
    built.selector = selectors.DefaultSelector()
    built.blockpages = []
    reports = dataclasses.replace(built.config.settings, reports_dir=str(tmp_path / "reports"))
    requests_config = dataclasses.replace(built.config, settings=reports)
    built.requests = RequestsEdge(requests_config, lambda _client: None, parse_tz(""))
    yield built
    for server in built.blockpages:
        server.close()
    built.requests.close()
    built.selector.close()


def _start(daemon: Daemon, v4: IPv4Address | None, v6: IPv6Address | None) -> None:
    daemon.config = dataclasses.replace(
        daemon.config, settings=settings(blockpage_ipv4=v4, blockpage_ipv6=v6)
    )
    daemon.requests.app.hosts = page_hosts(daemon.config.settings)
    daemon._start_blockpages()


def _ask(daemon: Daemon, address: str, target: str) -> bytes:
    """GET ``target`` from the listener on ``address``, the daemon's loop answering."""
    (server,) = [s for s in daemon.blockpages if s.listener.getsockname()[0] == address]
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as client:
        client.connect(server.listener.getsockname()[:2])
        client.sendall(f"GET {target} HTTP/1.1\r\nHost: {address}\r\n\r\n".encode())
        client.setblocking(False)
        response = b""
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            for key, _events in daemon.selector.select(0.05):
                handler: Callable[[], None] = key.data
                handler()
            try:
                chunk = client.recv(65536)
            except BlockingIOError:
                continue
            if not chunk:
                return response
            response += chunk
    raise AssertionError(f"no complete answer from the block page on {address}: {response!r}")


def test_the_block_page_listens_on_both_families(daemon: Daemon) -> None:
    _start(daemon, LOOPBACK4, LOOPBACK6)
    assert daemon.engine.blockpage_served == frozenset({LOOPBACK4, LOOPBACK6})
    for address in ("127.0.0.1", "::1"):
        response = _ask(daemon, address, "/blocked?host=casino.example&why=gambling")
        assert response.startswith(b"HTTP/1.1 403 Forbidden\r\n")
        assert b"<strong>casino.example</strong> is not available" in response
    assert len(daemon.selector.get_map()) == 2  # the answered connections are gone


@pytest.mark.parametrize("taken", ["127.0.0.1", "::1"])
def test_an_address_that_cannot_be_bound_leaves_the_other_serving(
    daemon: Daemon,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    taken: str,
) -> None:
    # Another program holds the block page's port on one family's address.
    family = socket.AF_INET6 if ":" in taken else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as holder:
        holder.bind((taken, 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        monkeypatch.setattr(run, "BLOCKPAGE_PORT", port)
        with caplog.at_level(logging.INFO, logger=LOG.name):
            _start(daemon, LOOPBACK4, LOOPBACK6)
    unbound = f"[{taken}]:{port}" if ":" in taken else f"{taken}:{port}"
    served = "::1" if taken == "127.0.0.1" else "127.0.0.1"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and warnings[0].startswith(f"block page not served on {unbound}: ")
    assert daemon.engine.blockpage_served == frozenset({ip_address(served)})
    response = _ask(daemon, served, "/blocked?host=adult.example&why=adult")
    assert b"<title>Blocked: adult.example</title>" in response


@pytest.mark.parametrize(("v4", "v6"), [(UNASSIGNED4, None), (None, UNASSIGNED6)])
def test_an_address_not_yet_on_the_host_is_served_with_a_warning(
    daemon: Daemon,
    caplog: pytest.LogCaptureFixture,
    v4: IPv4Address | None,
    v6: IPv6Address | None,
) -> None:
    # At boot the LAN address may arrive after copgate starts; redirects to it
    # must work once it does, and a mistyped address is still reported.
    with caplog.at_level(logging.INFO, logger=LOG.name):
        _start(daemon, v4, v6)
    address = v4 or v6
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        f"block page address {address} is not on this host (yet): listening for it anyway"
    ]
    assert daemon.engine.blockpage_served == frozenset({address})


def test_no_block_page_address_means_no_listener(daemon: Daemon) -> None:
    _start(daemon, None, None)
    assert daemon.blockpages == [] and daemon.engine.blockpage_served == frozenset()


def test_a_reload_names_a_block_page_address_it_cannot_serve(
    daemon: Daemon, caplog: pytest.LogCaptureFixture
) -> None:
    _start(daemon, LOOPBACK4, None)
    both = dataclasses.replace(
        daemon.config, settings=settings(blockpage_ipv4=LOOPBACK4, blockpage_ipv6=LOOPBACK6)
    )
    with caplog.at_level(logging.INFO, logger=LOG.name):
        daemon._warn_unserved_blockpage(both)
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith("reload: block page not served on [::1]:0 until copgate restarts")
