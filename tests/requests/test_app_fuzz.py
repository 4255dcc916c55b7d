"""Whatever a LAN client sends the app, it answers with a whole response and never raises."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from copgate.http1.request import read_request
from copgate.requests.app import STATUS_TEXT, BlockPageApp
from copgate.requests.csrf import CsrfKey
from copgate.requests.i18n import Catalogue
from copgate.requests.page import Recent
from copgate.requests.ratelimit import RateLimit
from copgate.requests.store import Store

NOW = 1_800_000_000.0
CATALOGUE = Catalogue.load()
TARGET = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=200)
FIELD = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=120).map(str.strip)


@given(
    method=st.sampled_from(["GET", "HEAD", "POST", "OPTIONS"]),
    target=st.one_of(TARGET, TARGET.map(lambda t: "/blocked?" + t), st.just("/request")),
    language=FIELD,
    content_type=st.one_of(st.just("application/x-www-form-urlencoded"), FIELD),
    body=st.one_of(st.binary(max_size=600), TARGET.map(str.encode)),
)
def test_any_request_gets_a_whole_answer(
    tmp_path_factory: pytest.TempPathFactory,
    method: str,
    target: str,
    language: str,
    content_type: str,
    body: bytes,
) -> None:
    head = (
        f"{method} {target} HTTP/1.1\r\nHost: 192.0.2.1\r\nAccept-Language: {language}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    request = read_request(head)
    assert request is not None
    store = Store(tmp_path_factory.mktemp("fuzz"))
    app = BlockPageApp(
        CATALOGUE,
        store,
        key=CsrfKey(b"f" * 32),
        limit=RateLimit(),
        recent=lambda client: [Recent(NOW, target, language, content_type)],
    )
    response = app.handle(request, body, "192.0.2.10", NOW)
    head_bytes, _, page = response.partition(b"\r\n\r\n")
    status = int(head_bytes.split(b" ")[1])
    assert status in STATUS_TEXT
    assert f"Content-Length: {len(page)}\r\n".encode() in head_bytes + b"\r\n"
    assert b"<script" not in page.lower()
