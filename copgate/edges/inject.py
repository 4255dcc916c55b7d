"""Sending the packets copgate forges: raw IP sockets with copgate's mark.

Each datagram leaves through the routing table like any locally made packet
(so conntrack and the masquerade rule see it), carrying ``INJECTED_MARK`` as
its skb mark (SO_MARK) so that copgate's own queue rules let it pass. The
kernel fills in the IPv4 header checksum; the transport checksums are in the
bytes already (``copgate.forge.packets``).
"""

from __future__ import annotations

import ipaddress
import logging
import socket

from copgate.firewall import INJECTED_MARK

LOG = logging.getLogger("copgate.inject")


class Injector:
    """Two raw sockets, IPv4 and IPv6, that send whole IP datagrams."""

    def __init__(self, mark: int = INJECTED_MARK) -> None:
        self._v4 = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        self._v6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
        for sock in (self._v4, self._v6):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, mark)
            sock.setblocking(False)
        self.sent = 0
        self.failed = 0

    def send(self, datagram: bytes) -> None:
        """Send one IPv4 or IPv6 datagram; a failure is logged and counted, never raised."""
        try:
            if datagram[0] >> 4 == 4:
                destination = str(ipaddress.IPv4Address(datagram[16:20]))
                self._v4.sendto(datagram, (destination, 0))
            else:
                destination = str(ipaddress.IPv6Address(datagram[24:40]))
                self._v6.sendto(datagram, (destination, 0, 0, 0))
            self.sent += 1
        except OSError as exc:
            self.failed += 1
            LOG.warning("could not inject a %d-byte packet: %s", len(datagram), exc)

    def close(self) -> None:
        self._v4.close()
        self._v6.close()
