"""Fixed-window rate limits in Django's cache (a database table: shared by every instance).

``allow(scope, who, limit, window)`` counts one hit for ``who`` in the
current window of ``window`` seconds and says whether it is within
``limit``. The windows are aligned to the clock, so a burst at a window's
end and the next one's start can reach twice the limit: enough to stop a
flood, which is all this is for. Anonymous web reports use it per client
address; the JSON API uses it per gateway token.
"""

from __future__ import annotations

import hashlib

from django.core.cache import cache

ANONYMOUS_REPORTS = (5, 3600)
"""Anonymous web reports: five an hour from one address."""
USER_REPORTS = (60, 3600)
"""Web reports of a signed-in user: sixty an hour."""


def allow(scope: str, who: str, limit: int, window: int, now: float) -> bool:
    """Count a hit of ``who`` in ``scope``; False once ``limit`` hits are past in this window."""
    slot = int(now // window)
    digest = hashlib.sha256(who.encode("utf-8", "surrogateescape")).hexdigest()[:32]
    key = f"rate:{scope}:{digest}:{slot}"
    # add() is atomic: only the first hit of a window creates the counter.
    if cache.add(key, 1, timeout=window + 60):
        return limit >= 1
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window + 60)
        count = 1
    return count <= limit
