"""Rate limits per token or address: fixed windows counted in Django's cache.

A flood from one gateway token, one person or one address is answered 429
(the gateway retries with its backoff; docs/reports.md), before anything is
parsed or stored. Counts live in the configured cache: the default local
memory cache counts per process, so a deployment with several instances
behind a proxy configures a shared cache (the database cache or Redis) to
make the limit hold across them. Limits are settings, ``COPGATE_API_RATES``:
``{"gateway": (300, 600), ...}`` is 300 requests per 600 seconds.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache

DEFAULT_RATES: dict[str, tuple[int, int]] = {
    # A gateway's queue holds at most 256 reports and a restart sends them
    # all at once (docs/reports.md), so a healthy gateway stays under 300.
    "gateway": (300, 600),
    # A person's scripts: the review queue, proposals, decisions.
    "user": (600, 600),
    # Reports with no token, per address: a family or a class behind one
    # address reports a few sites an hour, a flood many.
    "anonymous": (20, 600),
}


def rate(scope: str) -> tuple[int, int]:
    """(requests, seconds) allowed in ``scope``; settings override the defaults."""
    configured: dict[str, tuple[int, int]] = getattr(settings, "COPGATE_API_RATES", {})
    return configured.get(scope, DEFAULT_RATES[scope])


def allow(scope: str, who: str, now: float) -> bool:
    """Count one request by ``who`` in ``scope``; False once its window's allowance is spent."""
    limit, window = rate(scope)
    slot = int(now // window)
    digest = hashlib.sha256(who.encode("utf-8")).hexdigest()[:32]
    key = f"copgate-api-rate:{scope}:{digest}:{slot}"
    if cache.add(key, 1, timeout=window + 1):
        return limit >= 1
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr: this request opens the window
        cache.set(key, 1, timeout=window + 1)
        count = 1
    return count <= limit
