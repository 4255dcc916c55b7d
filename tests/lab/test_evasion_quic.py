"""An evader's QUIC tricks against copgate in the lab's gateway, through NAT.

The ``lan2`` client (group ``lab2``, the ``school`` template, which leaves
QUIC open) sends crafted QUIC v1 Initials (RFC 9001 §5: sealed with the
keys of their DCID) to the lab's HTTP/3 server. "Got through" is any
datagram from the server for the Initial that names the blocked name: the
server read it. A fake Initial for the allowed name, whose TTL dies between
the gateway and the server or whose UDP checksum is wrong, must not decide
the flow for the blocked Initial behind it; Initials with fresh DCIDs, each
a key derivation for copgate, must not wear copgate down until a blocked
one passes. The control: an allowed Initial is answered, a blocked one is
not.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from copgate.lab.topology import Client, Lab
from copgate.tools.samples import QUIC_MIN_DATAGRAM, QUIC_V1, client_hello, quic_initial
from copgate.wire.quic_keys import derive_client_initial_keys
from tests.lab import evasion_kit as kit
from tests.lab.daemon_lab import Gateway, running_copgate
from tests.lab.evasion_kit import RawUdp

pytestmark = pytest.mark.lab

BLOCKED = "blocked.example"
ALLOWED = "allowed.example"
QUIC = 443
FAMILIES = [4, 6]
AEAD_TAG = 16  # AES-128-GCM (RFC 9001 §5.3)
FRESH_DCIDS = 300
"""Initials with DCIDs never seen, from one client at once: more key
derivations than a page load needs, under the firewall's per-client burst."""


@pytest.fixture(scope="module")
def gateway(lab: Lab) -> Iterator[Gateway]:
    with running_copgate(lab) as running:
        yield running


@pytest.fixture
def evader(gateway: Gateway) -> Client:
    return gateway.lab.clients["lan2"]


def _initial(name: str, dcid: bytes | None = None) -> bytes:
    return quic_initial(client_hello(name, records=False), dcid or random.randbytes(8))


def _raw(client: Client, family: int) -> RawUdp:
    return RawUdp(client, kit.server_address(BLOCKED, family), QUIC)


@pytest.mark.parametrize("family", FAMILIES)
def test_an_allowed_initial_is_answered_and_a_blocked_one_is_not(
    gateway: Gateway, evader: Client, family: int
) -> None:
    with _raw(evader, family) as allowed:
        allowed.send(_initial(ALLOWED))
        assert allowed.answered_within(kit.WAIT)
    with _raw(evader, family) as blocked:
        blocked.send(_initial(BLOCKED))
        assert not blocked.answered_within(kit.WAIT), blocked.received


@pytest.mark.parametrize("family", FAMILIES)
def test_a_short_ttl_initial_dies_before_the_server(
    gateway: Gateway, evader: Client, family: int
) -> None:
    with kit.ttl_dies_at_server(gateway.lab), _raw(evader, family) as connection:
        connection.send(_initial(ALLOWED), ttl=kit.SHORT_TTL)
        assert not connection.answered_within(kit.WAIT)


@pytest.mark.parametrize("family", FAMILIES)
def test_a_fake_initial_whose_ttl_dies_does_not_decide(
    gateway: Gateway, evader: Client, family: int
) -> None:
    dcid = random.randbytes(8)
    with kit.ttl_dies_at_server(gateway.lab), _raw(evader, family) as connection:
        connection.send(_initial(ALLOWED, dcid), ttl=kit.SHORT_TTL)
        connection.send(_initial(BLOCKED, dcid))
        assert not connection.answered_within(kit.WAIT), connection.received


@pytest.mark.parametrize("conntrack_checksum", ["1", "0"])
@pytest.mark.parametrize("family", FAMILIES)
def test_a_fake_initial_with_a_bad_checksum_does_not_decide(
    gateway: Gateway, evader: Client, family: int, conntrack_checksum: str
) -> None:
    lab = gateway.lab
    dcid = random.randbytes(8)
    setting = "net.netfilter.nf_conntrack_checksum"
    with kit.sysctl(lab, lab.gateway, setting, conntrack_checksum), _raw(evader, family) as fake:
        fake.send(_initial(ALLOWED, dcid), bad_checksum=True)
        fake.send(_initial(BLOCKED, dcid))
        assert not fake.answered_within(kit.WAIT), fake.received


def test_fresh_dcids_do_not_wear_the_filter_down(gateway: Gateway, evader: Client) -> None:
    # Initials with fresh DCIDs on as many flows, each a key derivation,
    # then blocked Initials: a capped derivation must not become a pass.
    junk = [_initial(ALLOWED) for _ in range(FRESH_DCIDS)]
    for initial in junk:
        with _raw(evader, 4) as flow:
            flow.send(initial)
    answered = 0
    for _attempt in range(3):
        with _raw(evader, 4) as blocked:
            blocked.send(_initial(BLOCKED))
            answered += blocked.answered_within(1.0)
    assert answered == 0


def _short_initial(name: str, dcid: bytes) -> bytes:
    """A client Initial without padding, in a datagram under 1,200 bytes, which a
    server must discard (RFC 9000 §14.1); sealed as ``samples.quic_initial`` does."""
    keys = derive_client_initial_keys(QUIC_V1, dcid)
    handshake = client_hello(name, records=False)
    plain = b"\x06\x00" + (0x4000 | len(handshake)).to_bytes(2, "big") + handshake
    pn = bytes(4)
    length = len(pn) + len(plain) + AEAD_TAG
    header = bytes([0xC3]) + QUIC_V1.to_bytes(4, "big") + bytes([len(dcid)]) + dcid
    header += b"\x00\x00" + (0x4000 | length).to_bytes(2, "big") + pn
    sealed = AESGCM(keys.key).encrypt(keys.iv, plain, header)  # packet number 0
    mask = keys.header_mask(sealed[:16])
    protected = bytearray(header)
    protected[0] ^= mask[0] & 0x0F
    for index in range(len(pn)):
        protected[len(header) - len(pn) + index] ^= mask[1 + index]
    initial = bytes(protected) + sealed
    assert len(initial) < QUIC_MIN_DATAGRAM
    return initial


def test_the_server_discards_a_short_initial(gateway: Gateway) -> None:
    staff = gateway.lab.clients["staff"]
    dcid = random.randbytes(8)
    with _raw(staff, 4) as connection:
        connection.send(_short_initial(ALLOWED, dcid))
        assert not connection.answered_within(1.0), connection.received
        connection.send(_initial(BLOCKED, dcid))
        assert connection.answered_within(kit.WAIT)


def test_a_short_fake_initial_does_not_decide(gateway: Gateway, evader: Client) -> None:
    dcid = random.randbytes(8)
    with _raw(evader, 4) as connection:
        connection.send(_short_initial(ALLOWED, dcid))
        connection.send(_initial(BLOCKED, dcid))
        assert not connection.answered_within(kit.WAIT), connection.received


def test_copgate_survived(gateway: Gateway) -> None:
    assert gateway.daemon.alive()
    assert gateway.counters()["failures"] == 0
