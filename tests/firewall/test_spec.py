"""copgate.daemon.firewall_spec: a config's groups as the firewall's failure modes and refusals.

(The glue lives in the daemon's package; its tests live here, beside the
model they feed.) Each client set goes to its group's queue in the daemon's
matching order, a group that is not filtered never fails closed, what a
client sends over its rate gets its group's evasion treatment, and the
walled garden's refusal of unreadable traffic spares what the policy never
refuses.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from copgate.config.load import load_config
from copgate.daemon.firewall_spec import (
    exempt_ports,
    firewall_spec,
    kernel_excess,
    kernel_failure,
)
from copgate.firewall import (
    ANY_CLIENT,
    QUEUE_BURST,
    QUEUE_RATE,
    ClientKind,
    ClientMatch,
    Excess,
    Protocol,
    WhenAbsent,
)
from copgate.policy.model import Config, FailureMode, Mode, Treatment
from copgate.policy.outright import EXEMPT_FROM_UNREADABLE, Service

TEMPLATES = Path(__file__).resolve().parents[2] / "lists" / "templates"
CONFIG = """\
[general]
lan_interfaces = ["br-lan", "lan2"]
default_group = "pupils"

[group.pupils]
template = "primary-walled-garden"
addresses = ["192.0.2.0/25", "2001:db8:1::/64"]

[group.teens]
template = "home-teenagers"
addresses = ["192.0.2.10/32"]
failure = "closed"

[group.kids]
template = "home-young-children"
macs = ["02:00:5e:00:53:01"]
failure = "open"

[group.staff]
template = "staff"
failure = "closed"
interfaces = ["lan2"]
"""


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Config:
    path = tmp_path_factory.mktemp("spec") / "copgate.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return load_config(path, templates_dir=TEMPLATES)


def test_each_client_set_gets_its_groups_failure_mode_in_matching_order(config: Config) -> None:
    spec = firewall_spec(config, queue_num=4)
    assert spec.failures == (
        # Interface first; staff is not filtered, so never fails closed.
        (ClientMatch(ClientKind.INTERFACE, "lan2"), WhenAbsent.PASS),
        (ClientMatch(ClientKind.MAC, "02:00:5e:00:53:01"), WhenAbsent.PASS),
        # Longest prefix first: the teen's /32 before the pupils' /25.
        (ClientMatch(ClientKind.CIDR, "2001:db8:1::/64"), WhenAbsent.DROP),
        (ClientMatch(ClientKind.CIDR, "192.0.2.10/32"), WhenAbsent.DROP),
        (ClientMatch(ClientKind.CIDR, "192.0.2.0/25"), WhenAbsent.DROP),
    )
    # The default group (the walled garden) fails closed for everyone else.
    assert spec.when_absent is WhenAbsent.DROP
    assert (spec.queue_num, spec.closed_queue_num) == (4, 5)


def test_a_group_fails_closed_only_when_filtered_and_configured_so(config: Config) -> None:
    teens = config.group("teens")
    assert teens is not None
    assert kernel_failure(teens) is WhenAbsent.DROP
    assert kernel_failure(dataclasses.replace(teens, failure=FailureMode.OPEN)) is WhenAbsent.PASS
    assert kernel_failure(dataclasses.replace(teens, mode=Mode.OFF)) is WhenAbsent.PASS


def test_over_its_rate_each_client_set_gets_its_groups_evasion_treatment(config: Config) -> None:
    spec = firewall_spec(config)
    assert spec.excesses == (
        # Staff filters nothing: its excess passes unqueued.
        (ClientMatch(ClientKind.INTERFACE, "lan2"), Excess.PASS),
        # The kids fail open, yet a flood of theirs is dropped, not passed.
        (ClientMatch(ClientKind.MAC, "02:00:5e:00:53:01"), Excess.DROP),
        (ClientMatch(ClientKind.CIDR, "2001:db8:1::/64"), Excess.DROP),
        (ClientMatch(ClientKind.CIDR, "192.0.2.10/32"), Excess.DROP),
        (ClientMatch(ClientKind.CIDR, "192.0.2.0/25"), Excess.DROP),
    )
    assert spec.excess is Excess.DROP  # the walled garden, for everyone else


def test_the_excess_follows_the_evasion_option_as_the_engine_does(config: Config) -> None:
    kids, pupils, staff = config.group("kids"), config.group("pupils"), config.group("staff")
    assert kids is not None and pupils is not None and staff is not None
    assert kids.failure is FailureMode.OPEN and kernel_excess(kids) is Excess.DROP
    lenient = dataclasses.replace(kids, evasion=Treatment.ALLOW)
    assert kernel_excess(lenient) is Excess.PASS
    # A walled garden refuses evasion whatever its option says; mode off allows it.
    assert kernel_excess(dataclasses.replace(pupils, evasion=Treatment.ALLOW)) is Excess.DROP
    assert kernel_excess(staff) is Excess.PASS


def test_the_default_rate_applies_until_the_config_sets_one(config: Config) -> None:
    spec = firewall_spec(config)
    assert (spec.queue_rate, spec.queue_burst) == (QUEUE_RATE, QUEUE_BURST)


def test_the_configured_rate_reaches_the_firewall(tmp_path: Path) -> None:
    path = tmp_path / "copgate.toml"
    path.write_text(
        CONFIG.replace("[general]\n", "[general]\nqueue_rate = 0\nqueue_burst = 20\n", 1),
        encoding="utf-8",
    )
    spec = firewall_spec(load_config(path, templates_dir=TEMPLATES))
    assert (spec.queue_rate, spec.queue_burst) == (0, 20)


def test_the_walled_garden_never_refuses_ntp_or_icmp(config: Config) -> None:
    spec = firewall_spec(config)
    refused = {
        refusal.reason: refusal
        for client, refusal in spec.refusals
        if client == ANY_CLIENT and not refusal.exempt
    }
    udp = refused["unreadable-udp"]
    assert udp.except_ports and 123 in udp.ports  # "every UDP port but", NTP among them
    assert exempt_ports(EXEMPT_FROM_UNREADABLE) == ((Protocol.UDP, 123),)


def test_a_service_the_firewall_cannot_spare_is_a_bug() -> None:
    with pytest.raises(ValueError, match="cannot spare"):
        exempt_ports((Service("tcp", None, "every TCP port"),))
    with pytest.raises(ValueError, match="cannot spare"):
        exempt_ports((Service("sctp", 9, "not a protocol the firewall names"),))
