"""The safe-search table and the canary names, as data."""

from __future__ import annotations

import pytest

from copgate.policy.model import YouTubeMode
from copgate.policy.safesearch import (
    CANARIES,
    ENGINE_NAMES,
    ENGINE_TARGETS,
    GOOGLE_FORMER_SUFFIXES,
    GOOGLE_SUFFIXES,
    SAFE_ENDPOINTS,
    YOUTUBE_NAMES,
    Engine,
    SafeTarget,
    safe_target,
)
from copgate.wire.names import name_from_bytes


def test_google_covers_every_supported_domain_bare_and_with_www() -> None:
    assert len(GOOGLE_SUFFIXES) == len(set(GOOGLE_SUFFIXES)) == 190
    assert not set(GOOGLE_SUFFIXES) & set(GOOGLE_FORMER_SUFFIXES)
    for suffix in (*GOOGLE_SUFFIXES, *GOOGLE_FORMER_SUFFIXES):
        assert ENGINE_NAMES[f"www.google.{suffix}"] is Engine.GOOGLE
        assert ENGINE_NAMES[f"google.{suffix}"] is Engine.GOOGLE
    for sample in ("com", "co.uk", "de", "ru", "com.ua", "kz", "by", "co.uz", "am", "cat"):
        assert sample in GOOGLE_SUFFIXES


def test_engine_names() -> None:
    google = 2 * (len(GOOGLE_SUFFIXES) + len(GOOGLE_FORMER_SUFFIXES))
    assert len(ENGINE_NAMES) == google + 5 + 1 + 3 + 1
    assert [n for n, e in ENGINE_NAMES.items() if e is Engine.YOUTUBE] == list(YOUTUBE_NAMES)
    assert ENGINE_NAMES["www.bing.com"] is Engine.BING
    assert ENGINE_NAMES["start.duckduckgo.com"] is Engine.DUCKDUCKGO
    assert ENGINE_NAMES["pixabay.com"] is Engine.PIXABAY


def test_names_are_normalised() -> None:
    for name in (*ENGINE_NAMES, *CANARIES, *SAFE_ENDPOINTS):
        assert name_from_bytes(name.encode()).text == name
        assert name_from_bytes(name.encode()).valid


def test_safe_endpoints_are_not_rewritten_themselves() -> None:
    assert not set(SAFE_ENDPOINTS) & set(ENGINE_NAMES)
    assert set(ENGINE_TARGETS.values()) <= set(SAFE_ENDPOINTS)


@pytest.mark.parametrize(
    ("name", "safe", "youtube", "expected"),
    [
        (
            "www.google.fr",
            True,
            YouTubeMode.OFF,
            SafeTarget(Engine.GOOGLE, "forcesafesearch.google.com"),
        ),
        ("www.google.fr", False, YouTubeMode.STRICT, None),
        (
            "m.youtube.com",
            False,
            YouTubeMode.STRICT,
            SafeTarget(Engine.YOUTUBE, "restrict.youtube.com"),
        ),
        (
            "youtube.googleapis.com",
            False,
            YouTubeMode.MODERATE,
            SafeTarget(Engine.YOUTUBE, "restrictmoderate.youtube.com"),
        ),
        ("www.youtube.com", True, YouTubeMode.OFF, None),
        ("youtube.com", True, YouTubeMode.STRICT, None),  # not one of Google's five names
        ("images.google.com", True, YouTubeMode.STRICT, None),
        ("www.bing.com", True, YouTubeMode.OFF, SafeTarget(Engine.BING, "strict.bing.com")),
        (
            "duckduckgo.com",
            True,
            YouTubeMode.OFF,
            SafeTarget(Engine.DUCKDUCKGO, "safe.duckduckgo.com"),
        ),
    ],
)
def test_safe_target(
    name: str, safe: bool, youtube: YouTubeMode, expected: SafeTarget | None
) -> None:
    assert safe_target(name, safe, youtube) == expected


def test_canaries() -> None:
    assert (
        frozenset({"use-application-dns.net", "mask.icloud.com", "mask-h2.icloud.com"}) == CANARIES
    )
