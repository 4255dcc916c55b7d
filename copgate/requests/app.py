"""The block page's routes: one request head (and a form's body) in, one response out.

| method | path       | answer                                                     |
|--------|------------|------------------------------------------------------------|
| GET    | /blocked   | 403 and the block page (what, why, the three forms)        |
| GET    | /, /recent | 200 and "recently blocked on this device"                  |
| POST   | /request   | a form: stored, then 200 with a one-line answer            |
| other  |            | 404                                                        |

A request whose Host is not one of the page's own (``hosts``) gets 421:
no DNS rebinding of a site's name onto the router.

A form is refused, in this order: a body that is not a small urlencoded form
(400, 413, 415), a missing or stale CSRF token (403), a client over its rate
(429), a queue that is full (503). Requests and reports name the group the
daemon puts the client in (a child cannot ask on another group's behalf);
the form's own group is used only when the daemon does not know the client.
Every response says ``no-store`` and carries a Content-Security-Policy that
allows no script and no outside resource. The page is rendered by
``copgate.requests.page``; the server that does the I/O is
``copgate.edges.blockpage``. The time comes in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import parse_qs

from copgate.http1.request import Request
from copgate.requests.basics import MAX_BODY, MAX_PAGE, AppStats
from copgate.requests.csrf import CsrfKey
from copgate.requests.i18n import Catalogue, Messages
from copgate.requests.page import Blocked, Recent, block_page, message_page, recent_page
from copgate.requests.ratelimit import RateLimit
from copgate.requests.store import (
    MAX_COMMENT,
    MAX_FIELD,
    MAX_NAME,
    QueueFullError,
    RecordKind,
    Store,
    StoreError,
)

LOG = logging.getLogger("copgate.blockpage")
MAX_FORM_FIELDS = 16
MAX_RECENT = 50
"""Rows of "recently blocked": the page stays one screenful and well under ``MAX_PAGE``."""
FORM_TYPE = "application/x-www-form-urlencoded"
HEADERS = (
    "Cache-Control: no-store\r\n"
    "Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'\r\n"
    "X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n"
)
STATUS_TEXT = {
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    421: "Misdirected Request",
    429: "Too Many Requests",
    503: "Service Unavailable",
}

RecentSource = Callable[[str], Sequence[Recent]]
"""Client address -> its recent blocks, newest first."""
GroupOf = Callable[[str], str | None]
"""Client address -> the group the daemon puts it in, if known."""


@dataclass(frozen=True, slots=True)
class Answer:
    """A response before it is bytes."""

    status: int
    html: str

    def encode(self) -> bytes:
        body = self.html.encode("utf-8")[:MAX_PAGE]
        head = (
            f"HTTP/1.1 {self.status} {STATUS_TEXT.get(self.status, 'Error')}\r\n"
            f"Content-Type: text/html; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
            f"{HEADERS}Connection: close\r\n\r\n"
        )
        return head.encode("ascii") + body


class Asked(NamedTuple):
    """One request as a route sees it."""

    request: Request
    query: str
    """The target after ``?``."""
    body: bytes
    client: str
    now: float


Route = Callable[[Messages, Asked], Answer]


class BlockPageApp:
    """The block page's content and forms."""

    def __init__(
        self,
        catalogue: Catalogue,
        store: Store | None,
        *,
        page_url: str = "/recent",
        key: CsrfKey | None = None,
        limit: RateLimit | None = None,
        recent: RecentSource | None = None,
        group_of: GroupOf | None = None,
        clock: Callable[[float], str] | None = None,
        on_stored: Callable[[], None] | None = None,
        hosts: frozenset[str] | None = None,
    ) -> None:
        """``on_stored`` is called after a record is stored (the forwarder wakes up).

        ``hosts`` are the names the page answers to (its own name, its
        addresses); a request whose Host is another gets 421, so a site that
        rebinds its own name to the router's address (DNS rebinding) cannot
        read a child's "recently blocked" or its form tokens. None: any Host.
        """
        self.catalogue = catalogue
        self.store = store
        self.page_url = page_url
        self.key = key if key is not None else CsrfKey()
        self.limit = limit if limit is not None else RateLimit()
        self.recent = recent
        self.group_of = group_of
        self.clock = clock
        self.on_stored = on_stored
        self.hosts = hosts
        self.stats = AppStats()
        self._routes: dict[tuple[str, str], Route] = {
            ("GET", "/blocked"): self._blocked_page,
            ("GET", "/"): self._recent_page,
            ("GET", "/recent"): self._recent_page,
            ("POST", "/request"): self._form,
        }
        """The table at the top of this module; HEAD is routed as GET."""

    def handle(self, request: Request, body: bytes, client: str, now: float) -> bytes:
        """The whole response to ``request`` (a HEAD gets the same head; the server cuts it)."""
        messages = self.catalogue.negotiate(request.field("accept-language"))
        if self.hosts is not None and host_of(request.field("host")) not in self.hosts:
            return Answer(421, message_page(messages, "not_found", self.page_url)).encode()
        path, _, query = request.target.partition("?")
        method = "GET" if request.method == "HEAD" else request.method
        route = self._routes.get((method, path))
        if route is None:
            return Answer(404, message_page(messages, "not_found", self.page_url)).encode()
        return route(messages, Asked(request, query, body, client, now)).encode()

    def _blocked_page(self, messages: Messages, asked: Asked) -> Answer:
        token = self.key.token(asked.client, asked.now)
        return Answer(403, block_page(messages, _blocked(asked.query), token, self.page_url))

    def _recent_page(self, messages: Messages, asked: Asked) -> Answer:
        entries = list(self.recent(asked.client))[:MAX_RECENT] if self.recent else []
        token = self.key.token(asked.client, asked.now)
        return Answer(200, recent_page(messages, entries, token, self.clock))

    def _form(self, messages: Messages, asked: Asked) -> Answer:
        client, now = asked.client, asked.now
        form = _read_form(asked.request, asked.body)
        if isinstance(form, int):
            self.stats.refused_form += 1
            return Answer(form, message_page(messages, "refused_form", self.page_url))
        if not self.key.check(form.get("csrf"), client, now):
            self.stats.refused_token += 1
            return Answer(403, message_page(messages, "refused_token", self.page_url))
        if not self.limit.allow(client, now):
            self.stats.refused_rate += 1
            return Answer(429, message_page(messages, "refused_rate", self.page_url))
        try:
            kind = RecordKind(form.get("kind", ""))
        except ValueError:
            kind = None
        name = _host(form.get("name", ""))
        if kind is None or not name:
            self.stats.refused_form += 1
            return Answer(400, message_page(messages, "refused_form", self.page_url))
        return self._store(messages, kind, name, form, client, now)

    def _store(
        self,
        messages: Messages,
        kind: RecordKind,
        name: str,
        form: dict[str, str],
        client: str,
        now: float,
    ) -> Answer:
        known = self.group_of(client) if self.group_of is not None else None
        group = known or form.get("group", "")
        if self.store is None:
            self.stats.refused_full += 1
            return Answer(503, message_page(messages, "refused_full", self.page_url))
        try:
            record = self.store.add(
                kind,
                name,
                group,
                client,
                now,
                comment=form.get("comment", ""),
                category=form.get("category", ""),
                list_name=form.get("list", ""),
                reason=form.get("why", ""),
            )
        except QueueFullError:
            self.stats.refused_full += 1
            return Answer(503, message_page(messages, "refused_full", self.page_url))
        except (StoreError, OSError) as exc:
            LOG.error("block page: request from %s not stored: %s", client, exc)
            self.stats.refused_full += 1
            return Answer(503, message_page(messages, "refused_full", self.page_url))
        self.stats.stored += 1
        if self.on_stored is not None and kind.forwarded:
            self.on_stored()
        LOG.info("block page: %s request %d for %s from %s", kind, record.id, name, client)
        key = "sent_access" if kind is RecordKind.ACCESS else "sent_report"
        return Answer(200, message_page(messages, key, self.page_url))


def host_of(field: str | None) -> str:
    """The host of a Host field, lower case, without port or brackets (RFC 9110 §7.2)."""
    text = (field or "").strip().lower()
    if text.startswith("["):
        return text[1:].partition("]")[0]
    if text.count(":") == 1:
        return text.partition(":")[0]
    return text.rstrip(".")


def _blocked(query: str) -> Blocked:
    values = parse_qs(query.partition("#")[0], max_num_fields=MAX_FORM_FIELDS)

    def one(key: str, limit: int = MAX_FIELD) -> str:
        return values.get(key, [""])[0][:limit]

    return Blocked(one("host", MAX_NAME), one("why"), one("group"), one("cat"), one("list"))


def _read_form(request: Request, body: bytes) -> dict[str, str] | int:
    """The form's fields (first value of each), or the status to refuse it with."""
    if len(body) > MAX_BODY:
        return 413
    content_type = (request.field("content-type") or "").split(";")[0].strip().lower()
    if content_type != FORM_TYPE:
        return 415
    try:
        text = body.decode("ascii")
        values = parse_qs(text, max_num_fields=MAX_FORM_FIELDS, errors="strict")
    except (UnicodeDecodeError, ValueError):
        return 400
    limits = {"comment": MAX_COMMENT, "name": MAX_NAME}
    return {key: vals[0][: limits.get(key, MAX_NAME)] for key, vals in values.items()}


def _host(text: str) -> str:
    """The host a user typed or the page sent: ``https://Example.COM/x`` -> ``example.com``.

    Any printable text is kept as it is (escaped wherever it is shown): a
    hostile name that was blocked is still what was blocked.
    """
    text = text.strip()
    scheme, sep, rest = text.partition("://")
    if sep and scheme.isascii() and scheme.isalpha():
        text = rest.split("/")[0].split("?")[0].split("#")[0]
    text = text.rstrip(".").lower()
    if not text or len(text) > MAX_NAME or not text.isprintable() or " " in text:
        return ""
    return text
