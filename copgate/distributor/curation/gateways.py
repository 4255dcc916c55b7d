"""Gateway tokens: issued once, shown once, stored as a SHA-256.

A token is 32 random bytes in URL-safe base64 (43 characters). Only its hash
is stored, so a leaked database reveals no working token; the administrator
copies the token into the gateway's ``reports_token`` when it is issued and
can only revoke or reissue it afterwards.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.db import transaction

from copgate.distributor.curation import audit
from copgate.distributor.curation.models import Gateway, snapshot

TOKEN_BYTES = 32


def token_hash(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def issue_token(who: Any, name: str, owner: Any = None) -> tuple[Gateway, str]:
    """A new gateway and its token (the only time the token is seen)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with transaction.atomic():
        gateway = Gateway.objects.create(name=name, token_hash=token_hash(token), owner=owner)
        audit.record(who, "gateway.issue", gateway)
    return gateway, token


def reissue_token(who: Any, gateway: Gateway) -> str:
    """A fresh token for ``gateway``; the old one stops working at once."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with transaction.atomic():
        before = snapshot(gateway)
        gateway.token_hash = token_hash(token)
        gateway.active = True
        gateway.save(update_fields=["token_hash", "active"])
        audit.record(who, "gateway.reissue", gateway, before)
    return token


def revoke(who: Any, gateway: Gateway) -> None:
    """The gateway's token stops working (401 at the intake)."""
    with transaction.atomic():
        before = snapshot(gateway)
        gateway.active = False
        gateway.save(update_fields=["active"])
        audit.record(who, "gateway.revoke", gateway, before)


def gateway_for_token(token: str) -> Gateway | None:
    """The active gateway holding ``token``, or None."""
    if not token:
        return None
    return Gateway.objects.filter(token_hash=token_hash(token), active=True).first()
