"""The page speaks the browser's language when there is a catalogue file for it."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from copgate.errors import ConfigError
from copgate.requests.i18n import MESSAGES_DIR, Catalogue, preferred

CATALOGUE = Catalogue.load()


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7", "ru"),
        ("en-GB,en;q=0.9,ru;q=0.8", "en"),
        ("de-DE,de;q=0.9,ru;q=0.5,en;q=0.4", "ru"),
        ("en;q=0.1, ru;q=0.5", "ru"),
        ("ru;q=0, en", "en"),
        ("fr", "en"),
        ("", "en"),
        (None, "en"),
        ("ru;q=abc, en", "en"),
        ("*", "en"),
    ],
)
def test_accept_language_picks_the_best_language_with_a_file(
    header: str | None, language: str
) -> None:
    assert CATALOGUE.negotiate(header).language == language


def test_preferred_is_bounded_and_ordered() -> None:
    assert preferred("a;q=0.2, b, c;q=0.5") == ["b", "c", "a"]
    assert len(preferred(",".join(["xx"] * 1000))) == 16


def test_every_shipped_file_has_every_english_key() -> None:
    """The fallback hides a missing key on the page; this test does not."""
    english = tomllib.loads((MESSAGES_DIR / "en.toml").read_text("utf-8"))
    for path in MESSAGES_DIR.glob("*.toml"):
        data = tomllib.loads(path.read_text("utf-8"))
        assert set(data) == set(english), path.name
        assert set(data["categories"]) == set(english["categories"]), path.name
    assert CATALOGUE.languages["ru"]["heading"] == "Этот сайт заблокирован"
    assert CATALOGUE.languages["ru"].category("gambling") == "азартные игры"


def test_a_language_is_added_by_adding_a_file_and_missing_keys_fall_back(tmp_path: Path) -> None:
    (tmp_path / "en.toml").write_bytes((MESSAGES_DIR / "en.toml").read_bytes())
    (tmp_path / "de.toml").write_text('heading = "Diese Seite ist gesperrt"\n', "utf-8")
    catalogue = Catalogue.load(tmp_path)
    german = catalogue.negotiate("de-AT,de;q=0.9")
    assert german["heading"] == "Diese Seite ist gesperrt"
    assert german["ask"] == "Ask for access"


def test_a_bad_catalogue_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "en.toml").write_text("heading = [1]\n")
    with pytest.raises(ConfigError, match=r"en\.toml"):
        Catalogue.load(tmp_path)
    (tmp_path / "en.toml").write_text("heading = \n")
    with pytest.raises(ConfigError, match=r"en\.toml"):
        Catalogue.load(tmp_path)


@pytest.mark.parametrize("text", ["{nmae} is blocked", "{0}", "{", "}"])
def test_a_text_with_a_stray_placeholder_is_refused_at_load(tmp_path: Path, text: str) -> None:
    (tmp_path / "en.toml").write_bytes((MESSAGES_DIR / "en.toml").read_bytes())
    (tmp_path / "xx.toml").write_text(f"blocked = {text!r}\n".replace("'", '"'), "utf-8")
    with pytest.raises(ConfigError, match=r"xx\.toml: 'blocked'"):
        Catalogue.load(tmp_path)
