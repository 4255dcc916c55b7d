"""The block page's routes: the page says what and why, escaped; forms are checked, then stored."""

from __future__ import annotations

import html
import re
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest

from copgate.http1.request import Request, read_request
from copgate.requests.app import BlockPageApp
from copgate.requests.basics import MAX_BODY, MAX_PAGE
from copgate.requests.csrf import CsrfKey
from copgate.requests.i18n import Catalogue
from copgate.requests.page import Recent
from copgate.requests.ratelimit import RateLimit
from copgate.requests.store import RecordKind, Store

NOW = 1_800_000_000.0
CLIENT = "192.0.2.10"
HOSTILE = "<script>alert(1)</script>\"'.example"
"""A DNS label may carry any byte: this is a name, and the page must show it inert."""


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path)


@pytest.fixture
def app(store: Store) -> BlockPageApp:
    recent = {CLIENT: [Recent(NOW - 5, HOSTILE, "category", "adult")]}
    return BlockPageApp(
        Catalogue.load(),
        store,
        key=CsrfKey(b"s" * 32),
        limit=RateLimit(rate=1 / 20, burst=3),
        recent=lambda client: recent.get(client, []),
        group_of=lambda client: "kids" if client == CLIENT else None,
    )


def _get(target: str, language: str = "en") -> Request:
    head = f"GET {target} HTTP/1.1\r\nHost: 192.0.2.1:8099\r\nAccept-Language: {language}\r\n\r\n"
    request = read_request(head.encode())
    assert request is not None
    return request


def _post(body: bytes, content_type: str = "application/x-www-form-urlencoded") -> Request:
    head = (
        f"POST /request HTTP/1.1\r\nHost: 192.0.2.1:8099\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    request = read_request(head.encode())
    assert request is not None
    return request


def _split(response: bytes) -> tuple[int, dict[str, str], str]:
    head, _, body = response.partition(b"\r\n\r\n")
    lines = head.decode("ascii").split("\r\n")
    fields = dict(line.split(": ", 1) for line in lines[1:])
    assert int(fields["Content-Length"]) == len(body)
    return int(lines[0].split()[1]), fields, body.decode("utf-8")


def _token(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None
    return html.unescape(found[1])


def _blocked_url(name: str) -> str:
    query = {"host": name, "why": "gambling", "group": "kids", "cat": "gambling", "list": "ut1"}
    return "/blocked?" + urlencode(query, quote_via=quote)


def test_the_block_page_says_what_and_why_in_english(app: BlockPageApp) -> None:
    status, fields, page = _split(
        app.handle(_get(_blocked_url("casino.example")), b"", CLIENT, NOW)
    )
    assert status == 403
    assert "<strong>casino.example</strong> is not available on this network." in page
    assert '<td id="group">kids</td>' in page
    assert '<td id="category">gambling</td>' in page
    assert '<td id="list">ut1</td>' in page
    for kind in ("access", "mistake", "site"):
        assert f'id="form-{kind}"' in page
    assert "script-src" not in fields["Content-Security-Policy"]
    assert fields["Content-Security-Policy"].startswith("default-src 'none'")
    assert fields["Cache-Control"] == "no-store"


def test_the_block_page_speaks_russian(app: BlockPageApp) -> None:
    request = _get(_blocked_url("casino.example"), "ru-RU,ru;q=0.9,en;q=0.5")
    _status, _fields, page = _split(app.handle(request, b"", CLIENT, NOW))
    assert '<html lang="ru">' in page
    assert "Этот сайт заблокирован" in page
    assert "азартные игры" in page
    assert "Запросить доступ" in page


def test_a_hostile_name_is_escaped_everywhere(app: BlockPageApp) -> None:
    for target in (_blocked_url(HOSTILE), "/recent"):
        _status, _fields, page = _split(app.handle(_get(target), b"", CLIENT, NOW))
        assert "<script>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#x27;.example" in page
    assert "onerror" not in page


def test_the_recent_page_lists_this_clients_blocks_only(app: BlockPageApp) -> None:
    status, _fields, page = _split(app.handle(_get("/"), b"", CLIENT, NOW))
    assert status == 200
    assert "2027-01-15 07:59:55 UTC" in page
    assert "on a blocked list" in page and "adult content" in page
    _status, _fields, other = _split(app.handle(_get("/recent"), b"", "192.0.2.99", NOW))
    assert "Nothing was blocked on this device recently." in other


def test_an_unknown_path_is_404(app: BlockPageApp) -> None:
    assert _split(app.handle(_get("/etc/passwd"), b"", CLIENT, NOW))[0] == 404


def _form(app: BlockPageApp, **fields: str) -> bytes:
    page = _split(app.handle(_get(_blocked_url("casino.example")), b"", CLIENT, NOW))[2]
    values = {"csrf": _token(page), "name": "casino.example", "group": "teens", **fields}
    return urlencode(values).encode()


def test_ask_for_access_is_stored_with_the_clients_real_group(
    app: BlockPageApp, store: Store
) -> None:
    body = _form(app, kind="access", comment="for school, промо", why="gambling", list="ut1")
    status, _fields, page = _split(app.handle(_post(body), body, CLIENT, NOW))
    assert status == 200
    assert "Your request was sent." in page
    (entry,) = store.entries()
    record = entry.record
    assert (record.kind, record.name, record.group, record.client) == (
        RecordKind.ACCESS,
        "casino.example",
        "kids",
        CLIENT,
    )
    assert (record.comment, record.reason, record.list_name) == (
        "for school, промо",
        "gambling",
        "ut1",
    )


def test_report_a_site_takes_a_typed_url(app: BlockPageApp, store: Store) -> None:
    body = _form(app, kind="site", name="https://Bad.Example/path?x=1")
    assert _split(app.handle(_post(body), body, CLIENT, NOW))[0] == 200
    (entry,) = store.entries()
    assert (entry.record.kind, entry.record.name, entry.record.group) == (
        RecordKind.SITE,
        "bad.example",
        "kids",  # the client's group, not the form's
    )


@pytest.mark.parametrize(
    "csrf",
    [None, "", "1800000000.0000", "garbage"],
)
def test_a_form_without_a_valid_token_is_refused(
    app: BlockPageApp, store: Store, csrf: str | None
) -> None:
    values = {"kind": "access", "name": "casino.example"}
    if csrf is not None:
        values["csrf"] = csrf
    body = urlencode(values).encode()
    status, _fields, page = _split(app.handle(_post(body), body, CLIENT, NOW))
    assert status == 403
    assert "This form has expired" in page
    assert store.entries() == []
    assert app.stats.refused_token == 1


def test_a_token_shown_to_another_client_is_refused(app: BlockPageApp, store: Store) -> None:
    body = _form(app, kind="access")
    assert _split(app.handle(_post(body), body, "192.0.2.66", NOW))[0] == 403
    assert store.entries() == []


def test_a_flood_is_refused_after_the_burst(app: BlockPageApp, store: Store) -> None:
    statuses = []
    for n in range(6):
        body = _form(app, kind="mistake", comment=f"n{n}")
        statuses.append(_split(app.handle(_post(body), body, CLIENT, NOW + n))[0])
    assert statuses == [200, 200, 200, 429, 429, 429]
    assert len(store.entries()) == 3
    assert app.stats.refused_rate == 3


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"kind=access", "text/plain", 415),
        (b"x" * (MAX_BODY + 1), "application/x-www-form-urlencoded", 413),
        ("name=é".encode(), "application/x-www-form-urlencoded", 400),
        (b"&".join(b"a%d=1" % n for n in range(40)), "application/x-www-form-urlencoded", 400),
    ],
)
def test_a_body_that_is_not_a_small_form_is_refused(
    app: BlockPageApp, store: Store, body: bytes, content_type: str, status: int
) -> None:
    assert _split(app.handle(_post(body, content_type), body, CLIENT, NOW))[0] == status
    assert store.entries() == []


@pytest.mark.parametrize("fields", [{"kind": "other"}, {"kind": "access", "name": " "}])
def test_a_form_without_a_kind_or_name_is_refused(
    app: BlockPageApp, store: Store, fields: dict[str, str]
) -> None:
    body = _form(app, **fields)
    assert _split(app.handle(_post(body), body, CLIENT, NOW))[0] == 400
    assert store.entries() == []


def test_without_a_store_forms_get_503_and_the_page_still_works(store: Store) -> None:
    app = BlockPageApp(Catalogue.load(), None, key=CsrfKey(b"s" * 32))
    assert _split(app.handle(_get(_blocked_url("a.example")), b"", CLIENT, NOW))[0] == 403
    body = _form(app, kind="access")
    assert _split(app.handle(_post(body), body, CLIENT, NOW))[0] == 503


def test_a_client_the_daemon_does_not_know_keeps_the_forms_group(
    app: BlockPageApp, store: Store
) -> None:
    page = _split(app.handle(_get(_blocked_url("casino.example")), b"", "192.0.2.77", NOW))[2]
    body = urlencode(
        {"csrf": _token(page), "kind": "mistake", "name": "casino.example", "group": "teens"}
    ).encode()
    assert _split(app.handle(_post(body), body, "192.0.2.77", NOW))[0] == 200
    assert [e.record.group for e in store.entries()] == ["teens"]


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("192.0.2.1:8099", 403),
        ("Blocked.Copgate.Lan:8099", 403),
        ("[2001:db8:1::1]:8099", 403),
        ("evil.example:8099", 421),
        ("evil.example", 421),
        ("192.0.2.1.evil.example", 421),
    ],
)
def test_only_the_pages_own_hosts_are_answered(store: Store, host: str, status: int) -> None:
    """A site that rebinds its own name to the router's address gets nothing to read."""
    app = BlockPageApp(
        Catalogue.load(),
        store,
        hosts=frozenset({"blocked.copgate.lan", "192.0.2.1", "2001:db8:1::1"}),
    )
    head = f"GET /blocked?host=a.example HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    request = read_request(head)
    assert request is not None
    response = app.handle(request, b"", CLIENT, NOW)
    assert _split(response)[0] == status
    if status == 421:
        assert b'name="csrf"' not in response


def test_a_recent_page_of_hostile_names_stays_within_one_send(store: Store) -> None:
    worst = '"' * 253  # every character escapes to six
    rows = [Recent(NOW - n, worst, "category", "adult") for n in range(50)]
    app = BlockPageApp(Catalogue.load(), store, recent=lambda client: rows)
    status, _fields, page = _split(app.handle(_get("/recent"), b"", CLIENT, NOW))
    assert status == 200 and page.endswith("</body></html>\n")
    assert len(page.encode()) <= MAX_PAGE
    assert 5 < page.count("<tr>") < 50
