"""Bearer tokens: made once, shown once, stored only as a hash.

A token is 32 random bytes in URL-safe base64 with a prefix naming its kind
(``cgw_`` for a gateway, ``cgu_`` for a person's automation), so a token
pasted in the wrong place is recognised. The database keeps the SHA-256 of
the whole token: a token is random, not a password, so a fast unsalted hash
loses nothing (nobody can guess 256 bits) and lets the service find the
token's owner with one indexed lookup. A stolen database yields no token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

GATEWAY_PREFIX = "cgw_"
USER_PREFIX = "cgu_"
TOKEN_BYTES = 32
"""Random bytes of a token: 256 bits, beyond guessing."""
MAX_TOKEN = 128
"""Characters of a bearer token the service looks up at all; longer ones are refused unhashed."""


def new_token(prefix: str) -> str:
    """A fresh token; show it once, store ``token_hash(token)``."""
    return prefix + secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """The hex SHA-256 kept in the database in place of ``token``."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer`` header; None without one; "" if malformed."""
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN or not token.isascii():
        return ""
    return token


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two hashes."""
    return hmac.compare_digest(a.encode("ascii"), b.encode("ascii"))
