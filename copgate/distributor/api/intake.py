"""Reading one report posted to the intake: bytes in, a typed report or an ``IntakeRefusal`` out.

The format is ``docs/reports.md``, which gateways already speak: a JSON
object of at most 4 KiB, one report, its idempotency key in the body and in
the ``Idempotency-Key`` header. Fields the format may add later are ignored;
the known ones are checked for type and length, and the name for being a
host name a gateway can have judged. Everything here is pure: no Django, no
database, no clock (the time a report is received is the caller's).

A name may hold any printable character (DNS allows ``<`` or quotes in a
label, and a blocked hostile name is still what was blocked), so names and
comments are kept as data: escaping is the job of whatever shows them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from copgate.errors import CopgateError
from copgate.jsonobject import unique_keys

MAX_BODY = 4096
"""Bytes of one posted report (docs/reports.md): more is refused with 413 unread."""
MAX_NAME = 253  # RFC 1035 §2.3.4: a name's text form, without the trailing dot
MAX_LABEL = 63  # RFC 1035 §2.3.4: octets of one label (an IDN label as its A-label)
MAX_FIELD = 120
"""Characters of ``group``, ``category``, ``list``, ``reason`` (docs/reports.md)."""
MAX_COMMENT = 500
"""Characters of ``comment`` (docs/reports.md)."""
FORMAT_VERSION = 1
KEY = re.compile(r"[0-9a-f]{32}")
"""The idempotency key: 32 lower-case hex digits, random per report."""
CREATED = "%Y-%m-%dT%H:%M:%SZ"
"""RFC 3339 in the one spelling the format allows: UTC, seconds, ``Z``."""
ACE_PREFIX = "xn--"  # RFC 3490 §5: an IDN label on the wire


class Kind(StrEnum):
    """What the reporter says about the name."""

    mistake = "mistake"
    """It is blocked and should not be."""
    site = "site"
    """It is not blocked and should be."""


class IntakeRefusal(CopgateError):
    """A posted report is refused: the poster's fault, answered with ``status`` and never stored."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        """The HTTP status the intake answers (400, 413, 415 or 422)."""
        self.field = field
        """The JSON field at fault, when one is."""


@dataclass(frozen=True, slots=True)
class ReportIn:
    """One report as read from the wire, every field checked."""

    key: str
    """The idempotency key (32 lower-case hex digits)."""
    kind: Kind
    name: str
    """The host name, lower-case, without a trailing dot; any printable text."""
    created: datetime
    """When the reporter sent it (UTC), by the poster's clock."""
    group: str = ""
    category: str = ""
    """The category that blocked it (a mistake), or the one suggested (a site)."""
    list_name: str = ""
    reason: str = ""
    comment: str = ""


_TEXT_FIELDS: tuple[tuple[str, str, int], ...] = (
    # (JSON field, ReportIn attribute, most characters)
    ("group", "group", MAX_FIELD),
    ("category", "category", MAX_FIELD),
    ("list", "list_name", MAX_FIELD),
    ("reason", "reason", MAX_FIELD),
    ("comment", "comment", MAX_COMMENT),
)


def check_content_type(value: str | None) -> None:
    """Refuse (415) a body that is not declared as JSON."""
    media = (value or "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        raise IntakeRefusal(415, f"Content-Type must be application/json, not {media or 'none'!r}")


def read_report(body: bytes, header_key: str | None) -> ReportIn:
    """The report in ``body``; ``header_key`` is the ``Idempotency-Key`` header, if sent."""
    if len(body) > MAX_BODY:
        raise IntakeRefusal(413, f"a report is at most {MAX_BODY} bytes, this one is {len(body)}")
    try:
        document = json.loads(body.decode("utf-8"), object_pairs_hook=unique_keys)
    except (UnicodeDecodeError, ValueError) as exc:
        raise IntakeRefusal(400, f"the body is not a UTF-8 JSON document: {exc}") from None
    if not isinstance(document, dict):
        raise IntakeRefusal(400, "the body must be one JSON object (one report per request)")
    return _report(document, header_key)


def _report(document: dict[str, object], header_key: str | None) -> ReportIn:
    version = document.get("version")
    if type(version) is not int or version < FORMAT_VERSION:
        raise IntakeRefusal(422, f"version must be an integer >= {FORMAT_VERSION}", "version")
    key = _text(document, "key", 32, required=True)
    if not KEY.fullmatch(key):
        raise IntakeRefusal(422, "key must be 32 lower-case hex digits", "key")
    if header_key is not None and header_key != key:
        raise IntakeRefusal(422, "the Idempotency-Key header differs from the body's key", "key")
    kind_text = _text(document, "kind", MAX_FIELD, required=True)
    if kind_text not in Kind.__members__:
        raise IntakeRefusal(422, "kind must be 'mistake' or 'site'", "kind")
    texts = {attr: _text(document, field, limit) for field, attr, limit in _TEXT_FIELDS}
    return ReportIn(
        key=key,
        kind=Kind(kind_text),
        name=read_name(_text(document, "name", MAX_NAME + 1, required=True)),
        created=_created(_text(document, "created", MAX_FIELD, required=True)),
        **texts,
    )


def read_name(text: str) -> str:
    """``text`` as a host name (lower-case, no trailing dot); IntakeRefusal(422) if it is none."""
    name = text.lower().removesuffix(".")
    if not name:
        raise IntakeRefusal(422, "name is empty", "name")
    if len(name) > MAX_NAME:
        raise IntakeRefusal(422, f"name is longer than {MAX_NAME} characters", "name")
    if not name.isprintable() or any(c.isspace() for c in name):
        raise IntakeRefusal(422, "name holds a control or space character", "name")
    for label in name.split("."):
        if not label:
            raise IntakeRefusal(422, "name has an empty label", "name")
        if _label_octets(label) > MAX_LABEL:
            raise IntakeRefusal(422, f"a label of name is over {MAX_LABEL} octets", "name")
    return name


def _label_octets(label: str) -> int:
    if label.isascii():
        return len(label)
    try:
        return len(ACE_PREFIX) + len(label.encode("punycode"))
    except UnicodeError:
        return MAX_LABEL + 1


def _text(document: dict[str, object], field: str, limit: int, *, required: bool = False) -> str:
    value = document.get(field)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise IntakeRefusal(422, f"{field} must be a string", field)
    if len(value) > limit:
        raise IntakeRefusal(422, f"{field} is longer than {limit} characters", field)
    return value


def _created(text: str) -> datetime:
    try:
        return datetime.strptime(text, CREATED).replace(tzinfo=UTC)
    except ValueError:
        message = "created must be UTC RFC 3339: YYYY-MM-DDTHH:MM:SSZ"
        raise IntakeRefusal(422, message, "created") from None
