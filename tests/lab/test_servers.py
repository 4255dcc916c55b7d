"""copgate.lab.servers: the configuration texts the lab's servers start from."""

from __future__ import annotations

from pathlib import Path

from copgate.lab import plan, servers
from copgate.lab.certs import TestPki


def test_dns_server_is_authoritative_for_the_plan_and_closed() -> None:
    dns = plan.host("ns.example")
    text = servers.dns_server_config([dns.v4, dns.v6]).splitlines()
    assert "local=/#/" in text  # every other name: NXDOMAIN, never forwarded
    assert "no-resolv" in text
    assert f"listen-address={dns.v4}" in text
    assert "host-record=allowed.example,198.51.100.80,2001:db8:2::80" in text
    records = [line for line in text if line.startswith("host-record=")]
    assert len(records) == len(plan.HOSTS)
    assert "dns-rr=allowed.example,65,00010000010003026832" in text


def test_resolver_forwards_to_the_internet_server_without_cache() -> None:
    text = servers.resolver_config([plan.LAN.router_v4], plan.host("ns.example").v4)
    assert text.splitlines()[-2:] == ["server=198.51.100.53", "listen-address=192.0.2.1"]
    assert "cache-size=0" in text


def test_nginx_serves_http_https_both_families_and_names_the_host() -> None:
    pki = TestPki(Path("/run/ca.pem"), Path("/run/server.pem"), Path("/run/server.key"), "pin")
    text = servers.nginx_config(Path("/run/lab"), pki)
    for listen in ("listen 80 ", "listen [::]:80 ", "listen 443 ssl", "listen [::]:443 ssl"):
        assert listen in text
    assert "ssl_certificate /run/server.pem;" in text
    assert "ssl_certificate_key /run/server.key;" in text
    assert "host=$host" in text and "client=$remote_addr" in text
    assert "alias /run/lab/big.bin;" in text
