"""copgate.edges.firewall: the daemon's backend object, its nft commands replaced by records."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

import pytest

from copgate.daemon import probes
from copgate.edges import firewall, nft
from copgate.firewall import FirewallSpec
from copgate.firewall.backend import Backend, BackendChoice, Host
from copgate.firewall.offload import OffloadRule

SPEC = FirewallSpec(("br-lan",), tls_ports=(443, 8443))
FW4_RULE = OffloadRule(7, "meta l4proto { tcp, udp } flow add @ft", "ft")


@pytest.fixture(autouse=True)
def _status_facts_forgotten() -> Iterator[None]:
    yield
    probes.forget()  # what these tests reported must not reach another test's status


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[object, ...]]:
    made: list[tuple[object, ...]] = []
    monkeypatch.setattr(nft, "apply", lambda text, **_k: made.append(("apply", text)))
    monkeypatch.setattr(nft, "remove", lambda **_k: made.append(("remove",)))
    monkeypatch.setattr(nft, "release_offload", lambda mark, **_k: made.append(("release", mark)))

    def hold(offload: nft.Offload, mark: int, ports: Sequence[int], **_k: object) -> int:
        made.append(("hold", offload.rules, mark, tuple(sorted(set(ports)))))
        return 3 if offload.rules else 0

    monkeypatch.setattr(nft, "hold_back_offload", hold)
    return made


def _offload(monkeypatch: pytest.MonkeyPatch, offload: nft.Offload) -> None:
    monkeypatch.setattr(nft, "find_offload", lambda **_k: offload)


def test_open_firewall_follows_the_choice() -> None:
    openwrt = Host(nft=True, iptables=False, fw4=True)
    debian = Host(nft=True, iptables=True, fw4=False)
    assert firewall.open_firewall(BackendChoice.AUTO, host=openwrt).backend is Backend.NFT
    assert firewall.open_firewall(BackendChoice.AUTO, host=debian).backend is Backend.IPTABLES


def test_nft_apply_loads_the_table_and_holds_offloading_back_logging_it_once(
    calls: list[tuple[object, ...]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _offload(monkeypatch, nft.Offload(True, ("inet fw4 ft",), (FW4_RULE,)))
    backend = firewall.NftFirewall()
    with caplog.at_level(logging.WARNING, logger="copgate"):
        backend.apply(SPEC)
        backend.apply(SPEC)  # a reload: the rule is held back again, the log not repeated
    assert calls[0][0] == "apply" and "table inet copgate {" in str(calls[0][1])
    assert calls[1] == ("hold", (FW4_RULE,), SPEC.decided_mark, (53, 80, 443, 8443))
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1
    assert "flow offloading is on (inet fw4 ft)" in warnings[0]
    assert "waits for copgate's decision" in warnings[0]
    assert probes.flow_offload() is True  # `copgate status` shows it on
    backend.remove()
    assert calls[-2:] == [("release", SPEC.decided_mark), ("remove",)]


def test_offloading_configured_without_fw4s_rule_is_a_warning_to_turn_it_off(
    calls: list[tuple[object, ...]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _offload(monkeypatch, nft.Offload(True, (), ()))
    with caplog.at_level(logging.WARNING, logger="copgate"):
        firewall.NftFirewall().apply(SPEC)
    assert [r.getMessage() for r in caplog.records] == [
        f"{firewall.OFFLOAD_WARNING} (found in the firewall config)"
    ]


def test_no_offloading_no_warning(
    calls: list[tuple[object, ...]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _offload(monkeypatch, nft.Offload(False, (), ()))
    with caplog.at_level(logging.WARNING, logger="copgate"):
        firewall.NftFirewall().apply(SPEC)
    assert caplog.records == []
    assert probes.flow_offload() is False
