"""The lab's servers: their configuration (pure text) and how they are started.

On ``internet``: dnsmasq authoritative for every name of ``plan.HOSTS`` (any
other name is NXDOMAIN: the lab is closed), nginx with HTTP on 80 and HTTPS
on 443 answering a page that names the host and the client's address, and
an aioquic HTTP/3 server on UDP 443 (QUIC v1 and v2). On ``gateway``: dnsmasq
as the LAN's resolver, forwarding to the internet DNS server, so a test can
ask "the router" or "an outside resolver address".

Each server is a child of the lab (``ip netns exec``), logs into the run's
directory and is ready when its sockets listen. Nothing here reaches outside
the lab's namespaces.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from functools import partial
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from typing import TYPE_CHECKING

from copgate.lab import plan
from copgate.lab.certs import TestPki
from copgate.lab.processes import LabProcess, Namespace, run

if TYPE_CHECKING:
    from copgate.lab.topology import Lab

DNS_PORT = 53
HTTP_PORT = 80
HTTPS_PORT = 443
H3_READY = "serving HTTP/3"
"""What ``copgate.lab.h3 serve`` prints once all its sockets are bound."""
READY_TIMEOUT = 10.0
"""Seconds a server gets to listen; each starts in well under one here."""

HTTPS_RR_TYPE = 65  # RFC 9460
HTTPS_RR_H2 = "00010000010003026832"
"""RFC 9460 HTTPS record data: priority 1, target ".", alpn="h2". Only h2, so a
browser that reads it is never steered to QUIC unless a test asks for QUIC."""

BIG_FILE = "big.bin"
BIG_SIZE = 1 << 20
"""``/big`` on every lab host: 1 MiB of random bytes, a bulk download."""

PAGE = (
    "<!doctype html><title>lab $host</title>\\n"
    "host=$host scheme=$scheme protocol=$server_protocol server=$server_addr "
    "client=$remote_addr\\n"
)
"""What nginx answers: the page names the host (title for browsers, a line for curl)."""


def dns_server_config(listen: Iterable[IPv4Address | IPv6Address]) -> str:
    """dnsmasq as the authoritative server of the lab's closed world."""
    lines = [
        "no-resolv",
        "no-hosts",
        "no-poll",
        "bind-interfaces",
        "log-queries",
        "log-facility=-",
        # Every name not listed below is answered NXDOMAIN, never forwarded:
        # the lab has no upstream, and a leak would show as a timeout.
        "local=/#/",
    ]
    lines += [f"listen-address={address}" for address in listen]
    for host in plan.HOSTS:
        lines.append(f"host-record={host.name},{host.v4},{host.v6}")
        if host.number != plan.DNS_HOST:
            lines.append(f"dns-rr={host.name},{HTTPS_RR_TYPE},{HTTPS_RR_H2}")
    return "\n".join(lines) + "\n"


def resolver_config(
    listen: Iterable[IPv4Address | IPv6Address], upstream: IPv4Address | IPv6Address
) -> str:
    """dnsmasq as the gateway's resolver: the LAN's "DNS of the router"."""
    lines = [
        "no-resolv",
        "no-hosts",
        "no-poll",
        "bind-interfaces",
        "log-queries",
        "log-facility=-",
        # No cache: every question the router is asked goes upstream, so a
        # test sees in the internet server's log what got through.
        "cache-size=0",
        f"server={upstream}",
    ]
    lines += [f"listen-address={address}" for address in listen]
    return "\n".join(lines) + "\n"


def nginx_config(run_dir: Path, pki: TestPki) -> str:
    """nginx serving every lab name on HTTP 80 and HTTPS 443, IPv4 and IPv6."""
    return f"""\
daemon off;
master_process on;
user root;
worker_processes 1;
pid {run_dir}/nginx.pid;
error_log stderr info;
events {{ worker_connections 512; }}
http {{
    access_log {run_dir}/nginx-access.log;
    server {{
        listen 80 default_server;
        listen [::]:80 default_server;
        listen 443 ssl http2 default_server;
        listen [::]:443 ssl http2 default_server;
        server_name _;
        ssl_certificate {pki.cert};
        ssl_certificate_key {pki.key};
        ssl_protocols TLSv1.2 TLSv1.3;
        default_type text/html;
        location / {{ return 200 "{PAGE}"; }}
        location = /big {{ alias {run_dir}/{BIG_FILE}; default_type application/octet-stream; }}
    }}
}}
"""


def static_tree_config(root: Path, run_dir: Path, port: int, name: str) -> str:
    """nginx serving the files under ``root`` on ``port`` (a release tree, as a CDN would).

    ``name`` keeps its pid and access log apart from the lab's own nginx.
    """
    return f"""\
daemon off;
master_process on;
user root;
worker_processes 1;
pid {run_dir}/nginx-{name}.pid;
error_log stderr info;
events {{ worker_connections 64; }}
http {{
    access_log {run_dir}/nginx-{name}-access.log;
    server {{
        listen {port};
        root {root};
        default_type application/octet-stream;
    }}
}}
"""


def listening(netns: Namespace, protocol: str, port: int) -> bool:
    """Whether some socket in ``netns`` listens on ``port`` (protocol tcp or udp)."""
    flag = "-t" if protocol == "tcp" else "-u"
    result = run(netns, ["ss", "-Hln", flag, f"sport = :{port}"], timeout=5)
    return bool(result.stdout.strip())


def _dnsmasq(lab: Lab, netns: Namespace, name: str, config: str) -> LabProcess:
    path = lab.workdir / f"{name}.conf"
    path.write_text(config)
    # -k: stay in the foreground, a child the lab stops by pid; --pid-file=
    # with no value: no pid file to collide with the system's dnsmasq.
    argv = ["dnsmasq", "-k", f"--conf-file={path}", "--pid-file=", "--user=root"]
    return lab.spawn(netns, argv, name=name)


def start_dns_server(lab: Lab) -> LabProcess:
    """The internet-side authoritative DNS server at 198.51.100.53 and 2001:db8:2::53."""
    dns = plan.host("ns.example")
    return _dnsmasq(lab, lab.internet, "dns-server", dns_server_config([dns.v4, dns.v6]))


def start_resolver(lab: Lab) -> LabProcess:
    """The gateway's resolver on its LAN addresses, forwarding to the internet server."""
    listen: list[IPv4Address | IPv6Address] = []
    for segment in (plan.LAN, plan.LAN2):
        listen += [segment.router_v4, segment.router_v6]
    config = resolver_config(listen, plan.host("ns.example").v4)
    return _dnsmasq(lab, lab.gateway, "resolver", config)


def start_nginx(lab: Lab, pki: TestPki) -> LabProcess:
    prefix = lab.workdir / "nginx"
    prefix.mkdir(exist_ok=True)
    (lab.workdir / BIG_FILE).write_bytes(os.urandom(BIG_SIZE))
    config = lab.workdir / "nginx.conf"
    config.write_text(nginx_config(lab.workdir, pki))
    argv = ["nginx", "-p", f"{prefix}/", "-e", "stderr", "-c", str(config)]
    return lab.spawn(lab.internet, argv, name="nginx")


def start_h3(lab: Lab, pki: TestPki) -> LabProcess:
    argv = [sys.executable, "-m", "copgate.lab.h3", "serve", "--cert", str(pki.cert)]
    argv += ["--key", str(pki.key)]
    for number in plan.WEB_NUMBERS:
        address = plan.Host("", number)
        argv += ["--host", str(address.v4), "--host", str(address.v6)]
    return lab.spawn(lab.internet, argv, name="h3", env=lab.python_env())


def _all_listening(netns: Namespace, sockets: Iterable[tuple[str, int]]) -> bool:
    return all(listening(netns, protocol, port) for protocol, port in sockets)


def _says(process: LabProcess, words: str) -> bool:
    return words in process.log_text()


def start_all(lab: Lab, pki: TestPki) -> list[LabProcess]:
    """Start every server at once, then wait until each is ready."""
    dns_server = start_dns_server(lab)
    resolver = start_resolver(lab)
    nginx = start_nginx(lab, pki)
    h3 = start_h3(lab, pki)
    dns_sockets = (("udp", DNS_PORT), ("tcp", DNS_PORT))
    web_sockets = (("tcp", HTTP_PORT), ("tcp", HTTPS_PORT))
    checks: list[tuple[LabProcess, Callable[[], bool]]] = [
        (dns_server, partial(_all_listening, lab.internet, dns_sockets)),
        (resolver, partial(_all_listening, lab.gateway, dns_sockets)),
        (nginx, partial(_all_listening, lab.internet, web_sockets)),
        # The HTTP/3 server says so once every one of its sockets is bound.
        (h3, partial(_says, h3, H3_READY)),
    ]
    for process, ready in checks:
        lab.wait_ready(process, ready, READY_TIMEOUT)
    return [dns_server, resolver, nginx, h3]
