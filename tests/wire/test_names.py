"""Names normalised one way: lower case, no trailing dot, punycode, invalid kept and escaped."""

from __future__ import annotations

import pytest

from copgate.wire.names import escape, name_from_bytes, name_from_labels


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"WWW.Example.COM.", "www.example.com"),
        (b"_dmarc.example.org", "_dmarc.example.org"),
        (b"-foo.blogspot.com", "-foo.blogspot.com"),
        ("www.münchen.de".encode(), "www.xn--mnchen-3ya.de"),
        ("ÄPFEL.example".encode(), "xn--pfel-koa.example"),
        (b"xn--mnich-kva.com", "xn--mnich-kva.com"),
        (b"a" * 63 + b".example", "a" * 63 + ".example"),
    ],
)
def test_valid_names_are_normalised(raw: bytes, text: str) -> None:
    name = name_from_bytes(raw)
    assert name.valid and name.text == text and name.reason is None


@pytest.mark.parametrize(
    ("raw", "text", "reason"),
    [
        (b"bad\x07name.example", "bad\\x07name.example", "control bytes"),
        (b"a..b", "a..b", "an empty label"),
        (b"", "", "empty name"),
        (b".", "", "empty name"),
        (b"a" * 64 + b".example", "a" * 64 + ".example", "a label longer than 63 octets"),
        (b"x." * 127 + b"x", "x." * 127 + "x", "longer than 253 characters"),
        (b"spa ce.example", "spa\\x20ce.example", "characters not allowed in a host name"),
        (b"back\\slash", "back\\\\slash", "characters not allowed in a host name"),
        (b"\xff\xfe.example", "\\xff\\xfe.example", "bytes that are neither ASCII nor UTF-8"),
    ],
)
def test_invalid_names_are_kept_marked_and_escaped(raw: bytes, text: str, reason: str) -> None:
    name = name_from_bytes(raw)
    assert not name.valid and name.text == text and name.reason == reason


def test_labels_join_like_dotted_text() -> None:
    assert name_from_labels([b"WWW", b"Example", b"com"]).text == "www.example.com"
    assert name_from_labels([]).reason == "empty name"


def test_escape_shows_only_printable_ascii() -> None:
    assert escape(b"ok") == "ok"
    assert escape(b"\x00a\\\x7f") == "\\x00a\\\\\\x7f"
    assert all(32 < ord(ch) < 127 for ch in escape(bytes(range(256))))
