"""The Russian catalogue: complete, compiled, and the compiled file matches its source."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import copgate.distributor.curation

LOCALE = Path(copgate.distributor.curation.__file__).parent / "locale"
PO = LOCALE / "ru" / "LC_MESSAGES" / "django.po"
MO = LOCALE / "ru" / "LC_MESSAGES" / "django.mo"
_ENTRY = re.compile(
    r'^msgid ((?:".*"\n)+)(?:msgid_plural (?:".*"\n)+)?((?:msgstr.*\n(?:".*"\n)*)+)', re.M
)


def _text(quoted: str) -> str:
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"', quoted)
    return "".join(
        bytes(p, "utf-8").decode("unicode_escape").encode("latin-1").decode() for p in parts
    )


def test_every_message_is_translated() -> None:
    entries = _ENTRY.findall(PO.read_text(encoding="utf-8"))
    assert len(entries) > 200
    untranslated = [_text(msgid) for msgid, msgstr in entries if _text(msgid) and not _text(msgstr)]
    assert untranslated == []
    assert "#, fuzzy" not in PO.read_text(encoding="utf-8")


def test_the_compiled_catalogue_is_the_source_compiled() -> None:
    with MO.open("rb") as file:
        compiled = gettext.GNUTranslations(file)
    singular = {
        _text(msgid): _text(msgstr)
        for msgid, msgstr in _ENTRY.findall(PO.read_text(encoding="utf-8"))
        if _text(msgid) and msgstr.startswith("msgstr ")
    }
    for msgid, msgstr in singular.items():
        assert compiled.gettext(msgid) == msgstr, msgid
    assert compiled.ngettext("%(counter)s open report", "%(counter)s open reports", 3) == (
        "%(counter)s открытых сообщения"
    )
