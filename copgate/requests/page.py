"""The block page's HTML: what was blocked and why, the three forms, the recent list.

Every text that came from outside (a name, a reason, a group, a category, a
comment) goes through ``_e`` (HTML-escaped, quotes included, cut to a
bound): a blocked name can carry ``<``, ``>`` and quotes, since DNS allows
any byte in a label. The catalogue's own texts are trusted files but are
escaped too, so that a translation cannot break the page either. No script,
no external resource: the page works on a LAN with no internet and
a Content-Security-Policy of ``default-src 'none'`` holds it (``app``).
Builds text; reads and sends nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from copgate.requests.i18n import Messages
from copgate.requests.store import MAX_COMMENT, MAX_FIELD, MAX_NAME, RecordKind

ROWS_BUDGET = 20 * 1024
"""Bytes of "recently blocked" rows: with the rest of the page (under 4 KiB) well
inside ``copgate.requests.basics.MAX_PAGE``."""
STYLE = (
    "body{font-family:sans-serif;max-width:40em;margin:2em auto;padding:0 1em}"
    "form{margin:1em 0;padding:.5em 1em;border:1px solid #ccc}"
    "td,th{padding:.2em .6em;text-align:left}"
)


@dataclass(frozen=True, slots=True)
class Blocked:
    """What the page is about, as the redirect's query told it."""

    name: str
    why: str
    group: str = ""
    category: str = ""
    list_name: str = ""


@dataclass(frozen=True, slots=True)
class Recent:
    """One block of this device's, for "recently blocked"."""

    time: float
    name: str
    reason: str
    category: str


def _e(text: str, limit: int = MAX_FIELD) -> str:
    # html is imported at the first page, not with the daemon: it brings the
    # HTML5 entity table, about 0.35 MB resident (issue 10). After the first
    # page the import statement is a dictionary look-up.
    import html  # noqa: PLC0415

    return html.escape(text[:limit], quote=True)


def _document(messages: Messages, title: str, body: str) -> str:
    return (
        f'<!doctype html>\n<html lang="{_e(messages.language)}"><head><meta charset="utf-8">'
        f"<title>{title}</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def block_page(messages: Messages, blocked: Blocked, token: str, page_url: str) -> str:
    """The page a blocked HTTP request is redirected to."""
    name = _e(blocked.name or "?", MAX_NAME)
    why = blocked.category or blocked.why
    rows = [
        ("why", messages.category(why) if why else ""),
        ("group", blocked.group),
        ("category", messages.category(blocked.category) if blocked.category else ""),
        ("list", blocked.list_name),
    ]
    facts = "".join(
        f'<tr><th>{_e(messages[key])}</th><td id="{key}">{_e(value)}</td></tr>'
        for key, value in rows
        if value
    )
    hidden = _hidden(token, blocked)
    body = (
        f"<h1>{_e(messages['heading'])}</h1>\n"
        f'<p id="blocked">{_e(messages["blocked"]).format(name=f"<strong>{name}</strong>")}</p>\n'
        f"<table>{facts}</table>\n"
        + _form(messages, "access", hidden, messages["ask"], messages["ask_help"])
        + _form(messages, "mistake", hidden, messages["mistake"], messages["mistake_help"])
        + _site_form(messages, token)
        + f'<p><a id="recent" href="{_e(page_url, 300)}">{_e(messages["recent_link"])}</a></p>'
    )
    return _document(messages, _e(messages["title"]).format(name=name), body)


def recent_page(
    messages: Messages,
    entries: Sequence[Recent],
    token: str,
    clock: Callable[[float], str] | None = None,
) -> str:
    """ "Recently blocked on this device", in the order given (newest first); ``clock``
    writes a time (the router's local time in the daemon; UTC by default)."""
    clock = clock or utc_clock
    if entries:
        rows = _rows(messages, entries, clock)
        head = "".join(
            f"<th>{_e(messages[k])}</th>" for k in ("time", "name", "reason", "category")
        )
        table = f'<table id="recent-blocks"><tr>{head}</tr>{rows}</table>'
    else:
        table = f'<p id="recent-blocks">{_e(messages["recent_empty"])}</p>'
    body = f"<h1>{_e(messages['recent_heading'])}</h1>\n{table}\n" + _site_form(messages, token)
    return _document(messages, _e(messages["recent_heading"]), body)


def _rows(messages: Messages, entries: Sequence[Recent], clock: Callable[[float], str]) -> str:
    """The table's rows, as many as fit ``ROWS_BUDGET`` bytes: a hostile name grows
    sixfold when escaped (``"`` is ``&quot;``), and the page must stay one send."""
    rows: list[str] = []
    size = 0
    for entry in entries:
        category = messages.category(entry.category) if entry.category else ""
        row = (
            f"<tr><td>{_e(clock(entry.time))}</td><td>{_e(entry.name, MAX_NAME)}</td>"
            f"<td>{_e(messages.category(entry.reason))}</td><td>{_e(category)}</td></tr>"
        )
        size += len(row.encode("utf-8"))
        if size > ROWS_BUDGET:
            break
        rows.append(row)
    return "".join(rows)


def message_page(messages: Messages, key: str, back: str) -> str:
    """A one-line answer to a form (sent, or why it was refused)."""
    body = (
        f'<p id="message">{_e(messages[key], 300)}</p>'
        f'<p><a href="{_e(back, 300)}">{_e(messages["back"])}</a></p>'
    )
    return _document(messages, _e(messages[key], 300), body)


def _hidden(token: str, blocked: Blocked) -> str:
    fields = {
        "csrf": token,
        "name": blocked.name,
        "why": blocked.why,
        "group": blocked.group,
        "category": blocked.category,
        "list": blocked.list_name,
    }
    return "".join(
        f'<input type="hidden" name="{key}" value="{_e(value, MAX_NAME)}">'
        for key, value in fields.items()
    )


def _form(messages: Messages, kind: str, hidden: str, button: str, help_text: str) -> str:
    return (
        f'<form id="form-{kind}" method="post" action="/request">{hidden}'
        f'<input type="hidden" name="kind" value="{kind}">'
        f"<p>{_e(help_text)}</p>"
        f'<label>{_e(messages["comment"])} <input type="text" name="comment" '
        f'maxlength="{MAX_COMMENT}"></label> '
        f'<button type="submit" id="submit-{kind}">{_e(button)}</button></form>\n'
    )


def _site_form(messages: Messages, token: str) -> str:
    kind = RecordKind.SITE.value
    return (
        f'<form id="form-{kind}" method="post" action="/request">'
        f'<input type="hidden" name="csrf" value="{_e(token)}">'
        f'<input type="hidden" name="kind" value="{kind}">'
        f"<p>{_e(messages['site_help'])}</p>"
        f'<label>{_e(messages["site_name"])} <input type="text" name="name" required '
        f'maxlength="{MAX_NAME}"></label> '
        f'<label>{_e(messages["comment"])} <input type="text" name="comment" '
        f'maxlength="{MAX_COMMENT}"></label> '
        f'<button type="submit" id="submit-{kind}">{_e(messages["site"])}</button></form>\n'
    )


def utc_clock(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
