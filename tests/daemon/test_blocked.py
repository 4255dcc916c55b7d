"""Blocked flows: remembered per 5-tuple, bounded in all and per client, forgotten in time."""

from __future__ import annotations

from copgate.daemon.blocked import BlockedFlows, flow_key
from copgate.wire.packet import PROTO_TCP, read_ip
from tests.wire.builders import CLIENT4, SERVER4, syn4

NOW = 1_800_000_000.0


def _key(client: int, port: int) -> tuple[bytes, int, bytes, int, int]:
    return (bytes([192, 0, 2, client]), port, SERVER4, 443, PROTO_TCP)


def test_a_flow_key_is_the_packets_five_tuple() -> None:
    packet = read_ip(syn4(0))
    assert flow_key(packet) == (CLIENT4, packet.sport, SERVER4, packet.dport, PROTO_TCP)


def test_blocked_flows_are_bounded_per_client_and_a_flooder_evicts_its_own() -> None:
    flows = BlockedFlows(max_flows=8, per_client=5, seconds=60)
    for port in range(3):
        flows.add(_key(20, port), NOW)  # a quiet client's three blocked flows
    for port in range(1000):
        flows.add(_key(66, port), NOW)  # a flood from another client
    assert all(flows.blocked(_key(20, port), NOW) for port in range(3))
    assert flows.held_by(bytes([192, 0, 2, 66])) == 5  # its own cap: its oldest went
    assert flows.blocked(_key(66, 999), NOW) and not flows.blocked(_key(66, 994), NOW)
    # When every slot is taken, the client holding the most gives one up.
    flows.add(_key(21, 1), NOW)
    assert len(flows) == 8 and flows.held_by(bytes([192, 0, 2, 66])) == 4
    assert flows.blocked(_key(21, 1), NOW) and flows.blocked(_key(20, 0), NOW)
    assert not flows.blocked(_key(20, 0), NOW + 60)
    assert flows.held_by(bytes([192, 0, 2, 20])) == 2


def test_blocked_flows_with_bounds_of_zero_remember_nothing() -> None:
    for flows in (BlockedFlows(max_flows=0), BlockedFlows(per_client=0)):
        flows.add(_key(20, 1), NOW)
        assert len(flows) == 0 and not flows.blocked(_key(20, 1), NOW)
