"""The API's rate limits: who is counted where, and how much each may send.

A flood from one gateway token, one person or one address is answered 429
(the gateway retries with its backoff; docs/reports.md), before anything is
parsed or stored. The counting is the curation app's (``curation.ratelimit``:
fixed windows in the database cache, shared by every instance behind the
proxy). Anonymous reports share their count with the web form's, per
address, so a flood gains nothing by using both. Limits can be set in the
settings, ``COPGATE_API_RATES = {"gateway": (300, 600)}``: 300 requests per
600 seconds.
"""

from __future__ import annotations

from django.conf import settings

from copgate.distributor.curation import ratelimit

DEFAULT_RATES: dict[str, tuple[int, int]] = {
    # A gateway's queue holds at most 256 reports and a restart sends them
    # all at once (docs/reports.md), so a healthy gateway stays under 300.
    "gateway": (300, 600),
    # A person's scripts: the review queue, proposals, decisions.
    "user": (600, 600),
    # Nobody's requests, per address: the web form's allowance for anonymous reports.
    "anonymous": ratelimit.ANONYMOUS_REPORTS,
}
SCOPES = {"gateway": "api-gateway", "user": "api-user", "anonymous": "web-report"}
"""Our scope -> the counter it uses (anonymous shares the web form's)."""


def rate(scope: str) -> tuple[int, int]:
    """(requests, seconds) allowed in ``scope``; settings override the defaults."""
    configured: dict[str, tuple[int, int]] = getattr(settings, "COPGATE_API_RATES", {})
    return configured.get(scope, DEFAULT_RATES[scope])


def allow(scope: str, who: str, now: float) -> bool:
    """Count one request by ``who`` in ``scope``; False once its window's allowance is spent."""
    limit, window = rate(scope)
    return ratelimit.allow(SCOPES[scope], who, limit, window, now)
