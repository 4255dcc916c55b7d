"""Host names normalised one way everywhere: DNS, SNI, HTTP Host, lists.

A ``Name`` is lower case, has no trailing dot and is ASCII (IDN labels in
punycode, RFC 3492 / RFC 5891). A name that is not a valid host name (control
bytes, empty labels, over-long) is still returned, marked invalid with the
reason, and its text has every byte outside printable ASCII escaped as
``\\xNN`` (and ``\\`` as ``\\\\``) so that logs can show it safely and policy
can decide on it. This module never raises for a bad name: badness is data.

Underscores and hyphens at label edges are accepted as valid: they are not
legal in host names (RFC 952/1123) but appear in real queries (``_dmarc``,
SRV names, ``-foo.blogspot.com``), and refusing them would break real sites.
"""

from __future__ import annotations

import codecs
import re
from typing import NamedTuple

MAX_LABEL = 63  # RFC 1035 §2.3.4
MAX_NAME_TEXT = 253  # RFC 1035 §2.3.4: 255 octets on the wire, 253 as dotted text

VALID_HOST = re.compile(rb"[a-z0-9_-]{1,63}(?:\.[a-z0-9_-]{1,63})*")
"""A valid host name, lower case, as bytes (``copgate.wire.dns`` reads with it too)."""
_PRINTABLE = re.compile(rb"[\x21-\x5b\x5d-\x7e]*")


class Name(NamedTuple):
    """A normalised host name as a client asked for it.

    A NamedTuple rather than a frozen dataclass: it is built for every packet,
    and a frozen dataclass costs three times as much to construct (1.3 µs
    against 0.4 µs for eight fields on this machine), a large share of the
    5 µs budget for a DNS query.
    """

    text: str
    """Lower case, no trailing dot, punycode; escaped (``\\x07``) when invalid."""
    valid: bool
    """False when the name is not a valid host name; ``reason`` says why."""
    reason: str | None = None
    """Why the name is invalid, or None."""

    def __str__(self) -> str:  # NamedTuple's default shows the fields
        return self.text


def escape(raw: bytes) -> str:
    """Show arbitrary bytes as printable ASCII: ``\\xNN`` for the rest."""
    if _PRINTABLE.fullmatch(raw):
        return raw.decode("ascii")
    out = []
    for byte in raw:
        if byte == 0x5C:
            out.append("\\\\")
        elif 0x21 <= byte <= 0x7E:
            out.append(chr(byte))
        else:
            out.append(f"\\x{byte:02x}")
    return "".join(out)


_CACHE: dict[bytes, Name] = {}
CACHE_ENTRIES = 8192
"""Names recently normalised. Clients ask for the same names over and over;
a dict hit costs a twentieth of normalising. Cleared when full: simple, and
the hot names come back within a few packets."""


def name_from_bytes(raw: bytes) -> Name:
    """Normalise a dotted name as sent in an SNI, HTTP Host or list line."""
    name = _CACHE.get(raw)
    if name is None:
        if len(_CACHE) >= CACHE_ENTRIES:
            _CACHE.clear()
        name = _CACHE[raw] = _normalise(raw)
    return name


def _normalise(raw: bytes) -> Name:
    lowered = raw.lower()
    if lowered.endswith(b".") and lowered != b".":
        lowered = lowered[:-1]
    if len(lowered) <= MAX_NAME_TEXT and VALID_HOST.fullmatch(lowered):
        return Name(lowered.decode("ascii"), True)
    return _slow_path(lowered)


def name_from_labels(labels: list[bytes]) -> Name:
    """Normalise a name given as DNS wire labels (which may hold dots or NULs)."""
    joined = b".".join(labels)
    if joined.count(b".") != len(labels) - 1 and labels:
        return Name(escape(joined.lower()), False, "a label contains a dot")
    return name_from_bytes(joined)


def _slow_path(lowered: bytes) -> Name:
    if not lowered or lowered == b".":
        return Name("", False, "empty name")
    try:
        text = lowered.decode("utf-8")
    except UnicodeDecodeError:
        return Name(escape(lowered), False, "bytes that are neither ASCII nor UTF-8")
    if text.isascii():
        return Name(escape(lowered), False, _ascii_reason(lowered))
    if not idna_available():
        return Name(escape(lowered), False, NO_IDNA_CODEC)
    try:
        labels = [_idn_label(label) for label in text.split(".")]
    except UnicodeError:
        return Name(escape(lowered), False, "an IDN label that cannot be encoded")
    return name_from_bytes(b".".join(labels))


NO_IDNA_CODEC = "an IDN label, and this Python has no idna codec (OpenWrt: python3-codecs)"
"""The reason given for a name in UTF-8 when the codec is missing. Without
nameprep (RFC 3491, which needs ``unicodedata``) a UTF-8 label cannot be put
in the one punycode form the lists hold, and a guess could let a blocked
name pass: the name is refused as invalid, so the group's ``invalid_names``
treatment decides, as for any name copgate cannot read. Punycode names
(``xn--...``), what clients send, are ASCII and never need the codec."""

_IDNA: list[bool] = []
"""Whether the idna codec loads, learned on the first UTF-8 name (a cache of one)."""


def idna_available() -> bool:
    """True when ``str.encode("idna")`` works here.

    OpenWrt's python3-light has no ``unicodedata`` (python3-codecs has), and
    the codec's module imports it: ``encode("idna")`` then raises
    ``LookupError``, which would escape every caller that expects badness
    as data.
    """
    if not _IDNA:
        try:
            codecs.lookup("idna")
        except LookupError:
            _IDNA.append(False)
        else:
            _IDNA.append(True)
    return _IDNA[0]


def _idn_label(label: str) -> bytes:
    if label.isascii():
        return label.encode("ascii")
    # The stdlib codec applies nameprep (RFC 3491) and punycode (RFC 3492).
    return label.encode("idna").lower()


def _ascii_reason(lowered: bytes) -> str:
    if len(lowered) > MAX_NAME_TEXT:
        return f"longer than {MAX_NAME_TEXT} characters"
    labels = lowered.split(b".")
    if any(not label for label in labels):
        return "an empty label"
    if any(len(label) > MAX_LABEL for label in labels):
        return f"a label longer than {MAX_LABEL} octets"
    if any(byte < 0x20 or byte == 0x7F for byte in lowered):
        return "control bytes"
    return "characters not allowed in a host name"
