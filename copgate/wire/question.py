"""What the wire core reports: a client's question, or why it has none yet.

These are the values that flow from the wire core to policy and to the
inspector. They are immutable and carry no behaviour; they never hold
references to buffers or flow state. They are NamedTuples rather than frozen
dataclasses because one is built for every question on the hot path, and a
frozen dataclass costs about three times as much to construct.
"""

from __future__ import annotations

import enum
from typing import NamedTuple

from copgate.wire.names import Name


class Kind(enum.StrEnum):
    """Which protocol a question was read from."""

    DNS = "dns"
    TLS = "tls"
    QUIC = "quic"
    HTTP = "http"


class Ech(enum.StrEnum):
    """What a ClientHello says about Encrypted Client Hello."""

    NONE = "none"
    """No ECH or ESNI extension: the SNI is the real name."""
    GREASE = "grease"
    """An ECH extension with an ordinary outer SNI: GREASE, the SNI is real."""
    REAL = "real"
    """ECH with a provider's public name outside: the real name is hidden."""
    ESNI = "esni"
    """The older draft ESNI extension (0xffce): the real name is hidden."""


Address = tuple[bytes, int]
"""An endpoint: packed IPv4 (4 bytes) or IPv6 (16 bytes) address and port."""


class ClientHello(NamedTuple):
    """What copgate reads from a TLS ClientHello (over TCP or in QUIC CRYPTO)."""

    sni: Name | None
    """The server_name (RFC 6066 §3), or None when the hello carries none."""
    alpn: tuple[str, ...]
    """ALPN protocol ids offered (RFC 7301), escaped like names."""
    ech: Ech
    """Whether and how the real name is hidden."""


class DnsQuery(NamedTuple):
    """The question of a DNS message (RFC 1035 §4.1.2) and what goes with it."""

    name: Name
    qtype: int
    qclass: int
    msg_id: int
    """The message ID, which a forged answer must echo."""
    response: bool
    """True for a response (QR=1): the inspector reads both directions."""
    edns_udp_size: int | None
    """The OPT record's UDP payload size (RFC 6891), None without EDNS."""


class Question(NamedTuple):
    """A name a client is about to reach, read from the first packets of a flow."""

    kind: Kind
    name: Name | None
    """None only for a TLS or QUIC hello without SNI (HTTPS to a bare address)."""
    client: Address
    server: Address
    hello: ClientHello | None = None
    """TLS and QUIC only."""
    dns: DnsQuery | None = None
    """DNS only."""
    quic_version: int | None = None
    """QUIC only: the version of the Initial packets."""
    transport: int = 0
    """IP protocol the question came over: 6 (TCP) or 17 (UDP)."""
    trusted: bool = True
    """False when the name was read from bytes the server may never read (a
    segment whose TTL or hop limit differs from the flow's): such a name may
    make a flow block, never allow it or mark it decided."""
