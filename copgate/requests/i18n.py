"""The block page's languages: a message catalogue per language, chosen by Accept-Language.

One TOML file per language in ``copgate/requests/messages`` (``en.toml`` is
the reference; a language is added by adding a file with the same keys).
A key a language lacks falls back to English, so a half-translated file
still shows a whole page. ``negotiate`` reads Accept-Language (RFC 9110
§12.5.4: language ranges with q-values) and picks the best language there is
a file for, English otherwise. Reads the catalogue files once, when the
app is built (in the daemon: at the block page's first request, see
``copgate.edges.requests_edge``); never anything else.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from copgate.errors import ConfigError

MESSAGES_DIR = Path(__file__).with_name("messages")
DEFAULT_LANGUAGE = "en"
MAX_RANGES = 16
"""Language ranges read from one Accept-Language; browsers send three or four."""
MAX_HEADER = 512


@dataclass(frozen=True, slots=True)
class Messages:
    """One language's texts, English behind every missing key."""

    language: str
    """The file's name: ``en``, ``ru``."""
    texts: Mapping[str, str]
    categories: Mapping[str, str]

    def __getitem__(self, key: str) -> str:
        return self.texts.get(key, key)

    def category(self, name: str) -> str:
        """A category's or rule's name in this language, or the name itself."""
        return self.categories.get(name, name)


class Catalogue:
    """Every language there is a file for."""

    def __init__(self, languages: Mapping[str, Messages]) -> None:
        if DEFAULT_LANGUAGE not in languages:
            raise ConfigError(f"the block page catalogue has no {DEFAULT_LANGUAGE}.toml")
        self.languages = MappingProxyType(dict(languages))

    @classmethod
    def load(cls, directory: Path = MESSAGES_DIR) -> Catalogue:
        """Read ``*.toml`` in ``directory``; ConfigError naming the file if one is bad."""
        raw: dict[str, dict[str, object]] = {}
        for path in sorted(directory.glob("*.toml")):
            try:
                raw[path.stem] = tomllib.loads(path.read_text("utf-8"))
            except (OSError, ValueError) as exc:
                raise ConfigError(f"{path}: cannot read the messages: {exc}") from exc
        english = raw.get(DEFAULT_LANGUAGE, {})
        languages = {
            language: _messages(language, english, data, directory)
            for language, data in raw.items()
        }
        return cls(languages)

    def negotiate(self, accept_language: str | None) -> Messages:
        """The best language of ``accept_language`` there is a file for; English if none."""
        for language in preferred(accept_language):
            messages = self.languages.get(language)
            if messages is not None:
                return messages
        return self.languages[DEFAULT_LANGUAGE]


def preferred(accept_language: str | None) -> list[str]:
    """Primary language subtags of an Accept-Language value, best first, q=0 dropped."""
    if not accept_language:
        return []
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(accept_language[:MAX_HEADER].split(",")[:MAX_RANGES]):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        param = params.strip()
        if param.startswith("q="):
            try:
                quality = float(param[2:])
            except ValueError:
                continue
        primary = tag.strip().split("-")[0].lower()
        if quality > 0 and primary.isascii() and primary.isalpha():
            ranked.append((-quality, position, primary))
    return [primary for _, _, primary in sorted(ranked)]


def _messages(
    language: str, english: Mapping[str, object], data: Mapping[str, object], where: Path
) -> Messages:
    texts = {k: v for k, v in english.items() if isinstance(v, str)}
    categories = dict(_table(english.get("categories")))
    for key, value in data.items():
        if key == "categories":
            categories.update(_table(value))
        elif isinstance(value, str):
            _check_placeholders(where / f"{language}.toml", key, value)
            texts[key] = value
        else:
            raise ConfigError(f"{where / language}.toml: '{key}' is not a text")
    return Messages(language, MappingProxyType(texts), MappingProxyType(categories))


PLACEHOLDERS = {"name": "", "group": "", "page": ""}
"""What a text may ask copgate to fill in; any other ``{...}`` is a mistake in the file."""


def _check_placeholders(path: Path, key: str, text: str) -> None:
    try:
        text.format(**PLACEHOLDERS)
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(
            f"{path}: '{key}': only {{name}}, {{group}} and {{page}} may be filled in ({exc!r})"
        ) from exc


def _table(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items()}
