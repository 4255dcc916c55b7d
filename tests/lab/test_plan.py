"""copgate.lab.plan: the lab's addresses stay in the documentation ranges and never clash."""

from __future__ import annotations

from ipaddress import ip_network

from copgate.lab import plan

DOCUMENTATION = [
    ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
]


def _documentation(address: object) -> bool:
    return any(address in network for network in DOCUMENTATION)


def test_every_address_is_a_documentation_address() -> None:
    addresses = [a for h in plan.HOSTS for a in (h.v4, h.v6)]
    addresses += [a for c in plan.CLIENTS for a in (c.v4, c.v6)]
    addresses += [a for s in (plan.LAN, plan.LAN2, plan.WAN) for a in (s.router_v4, s.router_v6)]
    assert all(_documentation(address) for address in addresses)


def test_the_same_host_number_in_both_families() -> None:
    dns = plan.host("ns.example")
    assert (str(dns.v4), str(dns.v6)) == ("198.51.100.53", "2001:db8:2::53")
    assert str(plan.client("lan2").v6) == "2001:db8:3::10"
    assert str(plan.LAN.router_v6) == "2001:db8:1::1"


def test_clients_are_distinct_and_the_lan2_client_has_its_own_interface() -> None:
    assert len({c.v4 for c in plan.CLIENTS}) == len(plan.CLIENTS)
    assert len({c.role for c in plan.CLIENTS}) == len(plan.CLIENTS)
    assert {c.segment.interface for c in plan.CLIENTS} == {plan.BRIDGE, plan.LAN2_INTERFACE}
    assert all(c.v4 in c.segment.v4 and c.v6 in c.segment.v6 for c in plan.CLIENTS)


def test_names_are_unique_and_safe_search_endpoints_have_their_own_address() -> None:
    names = [h.name for h in plan.HOSTS]
    assert len(names) == len(set(names))
    assert plan.host("www.google.com").v4 != plan.host("forcesafesearch.google.com").v4
    assert plan.host("www.youtube.com").v4 != plan.host("restrict.youtube.com").v4
    assert all(h.v4 in plan.WAN_V4 for h in plan.HOSTS)
