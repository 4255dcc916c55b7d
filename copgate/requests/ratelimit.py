"""Per-client rate limits for the block page's forms: a token bucket per address.

A child may ask for a site or two a minute; a script posting in a loop is
refused after ``burst`` posts and then gets one post every ``1/rate``
seconds. The table of clients is bounded (``MAX_CLIENTS``): when full, the
bucket idle longest is dropped, which at worst gives that client a full
bucket back, never another client's. Pure: time comes in.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_CLIENTS = 1024
"""Addresses remembered: a LAN has a few hundred at most."""
POST_RATE = 1 / 20
"""Posts per second per client after the burst: one every 20 seconds."""
POST_BURST = 5
"""Posts a client may send at once."""


@dataclass(slots=True)
class _Bucket:
    tokens: float
    last: float


class RateLimit:
    """A token bucket per client address."""

    def __init__(self, rate: float = POST_RATE, burst: int = POST_BURST) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, _Bucket] = {}
        """Client -> bucket, least recently used first."""
        self.refused = 0

    def allow(self, client: str, now: float) -> bool:
        """Take one token for ``client``; False (and counted) if it has none left."""
        bucket = self._buckets.pop(client, None)
        if bucket is None:
            if len(self._buckets) >= MAX_CLIENTS:
                del self._buckets[next(iter(self._buckets))]
            bucket = _Bucket(float(self.burst), now)
        elapsed = max(0.0, now - bucket.last)
        bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate)
        bucket.last = now
        self._buckets[client] = bucket
        if bucket.tokens < 1.0:
            self.refused += 1
            return False
        bucket.tokens -= 1.0
        return True

    def __len__(self) -> int:
        return len(self._buckets)
