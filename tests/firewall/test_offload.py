"""copgate.firewall.offload: finding flow offloading, and the commands that hold it back."""

from __future__ import annotations

import pytest

from copgate.firewall import DECIDED_MARK
from copgate.firewall.offload import (
    COMMENT,
    OffloadRule,
    flowtables,
    hold_back,
    offload_in_uci,
    offload_rules,
    release,
)

FIREWALL = """
config defaults
	option syn_flood	1
	option input		REJECT
	option flow_offloading	'{value}'

config zone
	option name		lan
	option flow_offloading '1'
"""
FORWARD = """table inet fw4 {
	chain forward { # handle 2
		type filter hook forward priority filter; policy drop;
		meta l4proto { tcp, udp } flow add @ft # handle 7
		ct state vmap { established : accept, related : accept, invalid : drop } # handle 8
		iifname "br-lan" jump forward_lan comment "!fw4: Handle lan forward traffic" # handle 9
	}
}
"""
CONDITION = "ct mark & 0x40000000 == 0x40000000"


@pytest.mark.parametrize(
    ("value", "on"), [("1", True), ("on", True), ("yes", True), ("0", False), ("off", False)]
)
def test_the_defaults_section_says_whether_offloading_is_on(value: str, on: bool) -> None:
    assert offload_in_uci(FIREWALL.format(value=value)) is on


def test_hardware_offloading_counts_and_other_sections_do_not() -> None:
    assert offload_in_uci("config defaults\n\toption flow_offloading_hw '1'\n")
    assert not offload_in_uci("config zone\n\toption flow_offloading '1'\n")
    assert not offload_in_uci("")


def test_flowtables_are_named_by_table() -> None:
    listing = (
        "table inet fw4 {\n\tflowtable ft {\n\t\thook ingress priority filter\n"
        '\t\tdevices = { "lan1", "wan" }\n\t}\n}\n'
    )
    assert flowtables(listing) == ("inet fw4 ft",)
    assert flowtables("") == ()


def test_offload_rules_are_found_with_their_handles() -> None:
    assert offload_rules(FORWARD) == (
        OffloadRule(7, "meta l4proto { tcp, udp } flow add @ft", "ft"),
    )


def test_hold_back_conditions_fw4s_rule_and_offloads_unread_ports_beside_it() -> None:
    commands = hold_back(offload_rules(FORWARD), DECIDED_MARK, (443, 53, 80, 443))
    statement = "meta l4proto { tcp, udp } flow add @ft"
    assert commands == (
        f"replace rule inet fw4 forward handle 7 {CONDITION} {statement}",
        "add rule inet fw4 forward position 7 meta l4proto udp ct original proto-dst"
        f' != {{ 53, 80, 443 }} {statement} comment "{COMMENT}"',
        "add rule inet fw4 forward position 7 meta l4proto tcp ct original proto-dst"
        f' != {{ 53, 80, 443 }} {statement} comment "{COMMENT}"',
    )


def test_a_rule_held_back_already_only_gets_its_copies_remade() -> None:
    held = (
        OffloadRule(7, f"{CONDITION} meta l4proto {{ tcp, udp }} flow add @ft", "ft"),
        OffloadRule(
            11,
            "meta l4proto tcp ct original proto-dst != { 0x35 [invalid type] }"
            f' meta l4proto {{ tcp, udp }} flow add @ft comment "{COMMENT}"',
            "ft",
        ),
    )
    commands = hold_back(held, DECIDED_MARK, (53,))
    assert commands[0] == "delete rule inet fw4 forward handle 11"
    assert [c.split()[0] for c in commands] == ["delete", "add", "add"]
    assert all(CONDITION not in c for c in commands[1:])


def test_release_gives_fw4s_rule_back_and_deletes_the_copies() -> None:
    held = (
        OffloadRule(7, f"{CONDITION} meta l4proto {{ tcp, udp }} flow add @ft", "ft"),
        OffloadRule(11, f'meta l4proto tcp flow add @ft comment "{COMMENT}"', "ft"),
    )
    assert release(held, DECIDED_MARK) == (
        "replace rule inet fw4 forward handle 7 meta l4proto { tcp, udp } flow add @ft",
        "delete rule inet fw4 forward handle 11",
    )
    assert release(offload_rules(FORWARD), DECIDED_MARK) == ()
