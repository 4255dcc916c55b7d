"""CSRF tokens for the block page's forms: an HMAC of a per-boot secret, the client and the time.

A form is only taken from the client the page was shown to, within
``TOKEN_LIFETIME`` of showing it: ``token = "<time>.<hmac>"`` with
HMAC-SHA256(secret, "<client>|<time>") cut to ``MAC_HEX`` hex digits. No
state is kept per form, so a flood of page views costs nothing to remember.
A site elsewhere cannot read the token (the page is not readable
cross-origin) and so cannot make a child's browser post a request or
report. The secret is made at start and never written down: a restart ends
every open form, which a reload of the page mends. Pure: time comes in.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_LIFETIME = 3600.0
"""Seconds a shown form stays valid: a child may think for a while."""
CLOCK_SKEW = 60.0
"""Seconds a token's time may lie ahead (the clock stepped back, e.g. NTP at boot)."""
MAC_HEX = 32
"""128 bits of the MAC: more than forgery by guessing can reach."""
SECRET_BYTES = 32
MAX_TOKEN = 64
"""A longer field is not a token of ours; refused before any arithmetic."""


class CsrfKey:
    """The per-boot secret, and the tokens made from it."""

    __slots__ = ("_secret",)

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret if secret is not None else secrets.token_bytes(SECRET_BYTES)

    def token(self, client: str, now: float) -> str:
        stamp = str(int(now))
        return f"{stamp}.{self._mac(client, stamp)}"

    def check(self, token: str | None, client: str, now: float) -> bool:
        """True if ``token`` was made for ``client`` and is still valid at ``now``."""
        if not token or len(token) > MAX_TOKEN:
            return False
        stamp, dot, mac = token.partition(".")
        if not dot or not stamp.isascii() or not stamp.isdigit():
            return False
        made = int(stamp)
        if not now - TOKEN_LIFETIME <= made <= now + CLOCK_SKEW:
            return False
        return hmac.compare_digest(mac, self._mac(client, stamp))

    def _mac(self, client: str, stamp: str) -> str:
        message = f"{client}|{stamp}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:MAC_HEX]
