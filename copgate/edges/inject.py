"""Sending the packets copgate forges: raw IP sockets with copgate's mark.

Each datagram leaves through the routing table like any locally made packet
(so conntrack and the masquerade rule see it), carrying ``INJECTED_MARK`` as
its skb mark (SO_MARK) so that copgate's own queue rules let it pass. The
kernel fills in the IPv4 header checksum; the transport checksums are in the
bytes already (``copgate.forge.packets``).

Where a forged packet may go is the firewall's rule, not this module's:
an answer sent as a server (from a port copgate reads) leaves only through
a LAN interface, and the kernel drops it anywhere else (``build_confined``
in ``copgate.firewall.model``), after routing and policy routing, at no
cost here. A packet so dropped makes ``sendto`` fail with EPERM: it is
counted in ``refused``, not logged one by one, since a LAN client can send
such queries as fast as it likes (a query claiming an internet source).
Any other failure (a full socket buffer under a flood of blocked queries, a
route gone) is logged once per kind and window through the daemon's
``LogRate``, and its repeats are summarised with their count.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import socket
import time
from collections.abc import Callable

from copgate.daemon.lograte import LogRate
from copgate.daemon.verdict_log import admitted
from copgate.firewall import INJECTED_MARK

LOG = logging.getLogger("copgate.inject")


class Injector:
    """Two raw sockets, IPv4 and IPv6, that send whole IP datagrams."""

    def __init__(
        self,
        mark: int = INJECTED_MARK,
        rate: LogRate | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``rate``: where failures' log lines are admitted (None: every one is written)."""
        self._v4 = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        self._v6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
        for sock in (self._v4, self._v6):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, mark)
            sock.setblocking(False)
        self.sent = 0
        self.failed = 0
        self.refused = 0
        """Packets the firewall kept from leaving (an answer routed off the LAN)."""
        self._rate = rate
        self._clock = clock

    def send(self, datagram: bytes) -> None:
        """Send one IPv4 or IPv6 datagram; a failure is counted (and logged, unless the
        firewall refused it), never raised."""
        try:
            if datagram[0] >> 4 == 4:
                destination = str(ipaddress.IPv4Address(datagram[16:20]))
                self._v4.sendto(datagram, (destination, 0))
            else:
                destination = str(ipaddress.IPv6Address(datagram[24:40]))
                self._v6.sendto(datagram, (destination, 0, 0, 0))
            self.sent += 1
        except PermissionError:
            # EPERM from a raw socket that may send at all: netfilter dropped it.
            self.refused += 1
            LOG.debug("the firewall kept a %d-byte injected packet from leaving", len(datagram))
        except OSError as exc:
            self.failed += 1
            self._warn(exc, len(datagram))

    def _warn(self, exc: OSError, size: int) -> None:
        """The failure's line, if its kind had none in this window; the repeats of
        the window before summarised first."""
        kind = errno.errorcode.get(exc.errno or 0, str(exc.errno))
        if admitted(self._rate, ("inject", kind), self._clock()):
            LOG.warning("could not inject a %d-byte packet: %s", size, exc)

    def close(self) -> None:
        self._v4.close()
        self._v6.close()
