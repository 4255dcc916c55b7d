"""The daemon's side services at start: block-page listeners and the safe-search resolver.

``open_blockpages`` listens on each configured block-page address: one that
cannot be bound is logged and left out (the engine then sends that family's
clients the page in the server's place), and one not yet on the host is
listened on anyway (at boot the LAN address may come later).
``open_resolver`` starts the resolver of safe-search endpoints on the given
upstream, else /etc/resolv.conf's first; with none, safe search answers stay
unresolved. ``copgate.daemon.run`` registers what these return in its loop.

This module opens sockets and reads /etc/resolv.conf; it never judges a packet.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path

from copgate.daemon.verdict_log import endpoint
from copgate.edges.blockpage import BlockPageServer
from copgate.edges.resolver import SafeResolver, upstream_from_resolv_conf
from copgate.policy.model import Settings
from copgate.policy.safesearch import SAFE_ENDPOINTS

LOG = logging.getLogger("copgate")
RESOLV_CONF = Path("/etc/resolv.conf")


def open_blockpages(
    settings: Settings, port: int, listen: Callable[[str, int], BlockPageServer]
) -> list[tuple[IPv4Address | IPv6Address, BlockPageServer]]:
    """A listener on each configured block-page address, with the address; one that
    fails leaves the rest. ``listen(address, port)`` opens one (``BlockPageServer``
    with the loop's ``on_close``)."""
    servers: list[tuple[IPv4Address | IPv6Address, BlockPageServer]] = []
    for address in (settings.blockpage_ipv4, settings.blockpage_ipv6):
        if address is None:
            continue
        where = endpoint(address.packed, port)
        try:
            server = listen(str(address), port)
        except OSError as exc:
            LOG.warning("block page not served on %s: %s", where, exc)
            continue
        if server.address_pending:
            LOG.warning(
                "block page address %s is not on this host (yet): listening for it anyway",
                address,
            )
        servers.append((address, server))
        LOG.info("block page served on %s", where)
    return servers


def open_resolver(upstream: str | None) -> SafeResolver | None:
    """The safe-search resolver on ``upstream`` (default: /etc/resolv.conf's first), or
    None; the caller starts it with its first ``tick``."""
    if upstream is None:
        try:
            upstream = upstream_from_resolv_conf(RESOLV_CONF.read_text())
        except OSError:
            upstream = None
    if upstream is None:
        LOG.warning("no upstream resolver: safe-search endpoints stay unresolved")
        return None
    return SafeResolver(upstream, SAFE_ENDPOINTS)
