"""``read_report``: bytes in, a checked report or an IntakeRefusal out; nothing else, ever."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from copgate.distributor.api.intake import (
    MAX_BODY,
    IntakeRefusal,
    Kind,
    check_content_type,
    read_name,
    read_report,
)

KEY = "3f6c0b1e9d2a4c5b8e7f60a1b2c3d4e5"
EXAMPLE = {
    "version": 1,
    "key": KEY,
    "kind": "mistake",
    "name": "school-games.example",
    "created": "2026-12-06T00:12:39Z",
    "group": "pupils",
    "category": "games",
    "list": "default",
    "reason": "category",
    "comment": "we use it in maths lessons",
}


def test_the_example_of_docs_reports_md_reads() -> None:
    report = read_report(json.dumps(EXAMPLE).encode(), KEY)
    assert (report.key, report.kind, report.name, report.list_name) == (
        KEY,
        Kind.mistake,
        "school-games.example",
        "default",
    )
    assert report.created == datetime(2026, 12, 6, 0, 12, 39, tzinfo=UTC)


def test_optional_fields_may_be_absent_and_the_header_too() -> None:
    minimal = {k: EXAMPLE[k] for k in ("version", "key", "kind", "name", "created")}
    report = read_report(json.dumps(minimal).encode(), None)
    assert (report.group, report.comment, report.category) == ("", "", "")


@pytest.mark.parametrize(
    "name",
    [
        '<script>alert("x")</script>.example',
        "под-запретом.пример",
        "a" * 63 + ".example",
        ("a" * 63 + ".") * 3 + "a" * 61,  # 253 characters, every label within 63
        "_dmarc.example",
    ],
)
def test_any_printable_name_within_the_dns_limits_is_data(name: str) -> None:
    assert read_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        ".",
        "a..example",
        ".example",
        "a" * 64 + ".example",
        ("a" * 62 + ".") * 4 + "example",
        "tab\there.example",
        "nul\x00.example",
        "del\x7f.example",
        "space .example",
        "ы" * 60 + ".example",  # 60 Cyrillic letters: an A-label over 63 octets
    ],
)
def test_names_outside_the_dns_limits_are_refused(name: str) -> None:
    with pytest.raises(IntakeRefusal) as refused:
        read_name(name)
    assert (refused.value.status, refused.value.field) == (422, "name")


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("Application/JSON", True),
        ("text/plain", False),
        (None, False),
        ("application/x-www-form-urlencoded", False),
    ],
)
def test_only_json_is_taken(value: str | None, ok: bool) -> None:
    if ok:
        check_content_type(value)
    else:
        with pytest.raises(IntakeRefusal) as refused:
            check_content_type(value)
        assert refused.value.status == 415


def test_the_size_is_refused_before_parsing() -> None:
    with pytest.raises(IntakeRefusal) as refused:
        read_report(b"{" + b" " * MAX_BODY + b"}", None)
    assert refused.value.status == 413


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_read_or_are_refused(data: bytes) -> None:
    try:
        read_report(data, None)
    except IntakeRefusal as refused:
        assert refused.status in {400, 413, 422}


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(EXAMPLE)), JSON, max_size=10))
def test_every_field_of_any_type_reads_or_is_refused_naming_it(fields: dict[str, object]) -> None:
    document = {**EXAMPLE, **fields}
    try:
        report = read_report(json.dumps(document).encode(), None)
    except IntakeRefusal as refused:
        assert refused.status in {413, 422}
        assert refused.status == 413 or refused.field in EXAMPLE
    else:
        assert report.key == document["key"] and report.kind == document["kind"]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_a_name_reads_lower_cased_or_is_refused(text: str) -> None:
    try:
        name = read_name(text)
    except IntakeRefusal as refused:
        assert refused.field == "name"
    else:
        assert name == text.lower().removesuffix(".") and 0 < len(name) <= 253
