"""What the block page's server and the daemon's counters need of the app, without the app.

``copgate.edges.blockpage`` sizes its buffers by these limits and
``copgate.edges.requests_edge`` counts the forms by ``AppStats``; the app
itself (``copgate.requests.app``, with the page, the catalogues and the
CSRF key) is built at the block page's first request, so a daemon whose
page is never asked for never loads it (issue 10). Defines values only.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_BODY = 4096
"""Bytes of a form: a name, a comment of ``MAX_COMMENT`` characters percent-encoded, a token."""
MAX_PAGE = 32 * 1024
"""Bytes of any response: the server's send buffer is sized to take it whole."""


@dataclass(slots=True)
class AppStats:
    """What the forms did, for the daemon's counters."""

    stored: int = 0
    refused_token: int = 0
    refused_rate: int = 0
    refused_form: int = 0
    refused_full: int = 0
