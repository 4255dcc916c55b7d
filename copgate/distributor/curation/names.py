"""Host names as people type them into forms: reduced to a host, then checked.

Two strengths. A proposal or an entry needs a valid host name, normalised as
the gateway does (``copgate.wire.names``: lower case, punycode, no trailing
dot), because it goes into a compiled list. A report keeps what was sent as
data (docs/reports.md: any printable character), only bounded and stripped
of control characters; pages escape it wherever they show it.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from copgate.distributor.curation.models import MAX_NAME
from copgate.wire.names import name_from_bytes

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def host_of(typed: str) -> str:
    """``https://User@WWW.Example.org:8443/path?q`` -> ``www.example.org``."""
    text = _SCHEME.sub("", typed.strip())
    for stop in "/?#":
        text = text.split(stop, 1)[0]
    text = text.rsplit("@", 1)[-1]
    if text.startswith("["):  # an IPv6 literal keeps its colons
        return text.lower()
    return text.split(":", 1)[0].lower()


def read_entry_name(typed: str) -> str:
    """The normalised host name of ``typed``; ``ValidationError`` says why it is not one."""
    host = host_of(typed)
    name = name_from_bytes(host.encode("utf-8", "surrogateescape"))
    if not name.valid:
        raise ValidationError(
            _("%(name)s is not a host name: %(reason)s"),
            params={"name": host, "reason": name.reason},
            code="invalid_name",
        )
    if "." not in name.text:
        raise ValidationError(
            _("%(name)s is a top-level label, not a site"), params={"name": name.text}
        )
    return name.text


def read_report_name(typed: str) -> str:
    """The host of a report, kept as data: bounded, no control characters."""
    host = host_of(typed)
    if not host:
        raise ValidationError(_("the name is empty"), code="empty_name")
    if len(host) > MAX_NAME:
        raise ValidationError(
            _("the name is longer than %(max)d characters"), params={"max": MAX_NAME}
        )
    if _CONTROL.search(host):
        raise ValidationError(_("the name holds control characters"), code="invalid_name")
    valid = name_from_bytes(host.encode("utf-8", "surrogateescape"))
    return valid.text if valid.valid else host


def parents(name: str) -> list[str]:
    """``a.b.example.org`` -> ``[a.b.example.org, b.example.org, example.org, org]``."""
    labels = name.split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]
