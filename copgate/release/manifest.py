"""The two signed JSON documents of a release tree: the manifest and the key set.

``release.json`` (the manifest) says which release this is, when it was made
and when it stops being fresh, and the size and SHA-256 of every artefact and
delta. ``keyset.json`` lists the keys allowed to sign manifests and the
keynums revoked. docs/releases.md gives both formats field by field.

The readers are strict where a lax reader would open a hole: duplicate JSON
keys (two parsers could read two different documents from one signed text),
paths that leave the tree, booleans posing as integers, times without a zone.
Unknown top-level keys are ignored, so a later format can add fields; an
unknown ``format`` is refused. The writers give the bytes that get signed.
This module never reads files or the clock and never checks signatures
(``copgate.release.verify`` does).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from copgate.jsonobject import unique_keys
from copgate.release.errors import BadManifest, BadSignature
from copgate.release.signify import PublicKey, public_key_line, read_public_key

FORMAT = 1
"""The one manifest and key-set format this code reads and writes."""
MAX_MANIFEST_BYTES = 64 * 1024
"""The largest release.json or keyset.json an updater should download."""
MAX_SIGNATURE_BYTES = 1024
"""The largest .sig file an updater should download (signify's are ~150 bytes)."""
MAX_DELTAS = 64
MAX_KEYS = 64
MAX_RELEASE = 2**63 - 1  # the cache header stores the release as a signed u64
CACHE_ARTEFACT = "lists.cache"
"""The artefact every release carries: the compiled list cache."""

_SHA256 = re.compile(r"[0-9a-f]{64}")
_KEYNUM = re.compile(r"[0-9a-f]{16}")
_PATH_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
_ARTEFACT_NAME = _PATH_SEGMENT


@dataclass(frozen=True, slots=True)
class Artefact:
    """One file of a release, as the manifest describes it."""

    name: str
    """The artefact's name (``lists.cache``), the key in ``artefacts``."""
    path: str
    """Its path relative to the tree's root (``releases/7/lists.cache``)."""
    size: int
    sha256: str
    """Lower-case hex."""


@dataclass(frozen=True, slots=True)
class Delta:
    """A delta that turns release ``source``'s artefact into this release's ``target``."""

    source: int
    """The release it applies to (``from`` in JSON)."""
    path: str
    size: int
    sha256: str
    target: str
    """The name of the artefact it builds."""


@dataclass(frozen=True, slots=True)
class Manifest:
    """A parsed release.json."""

    release: int
    """Only grows from one release to the next."""
    created: datetime
    """UTC; also the clock floor a gateway uses once this release is installed."""
    expires: datetime
    """UTC; after this a plausible clock refuses the manifest (a frozen feed)."""
    keyset: int
    """The version of the key set the manifest was signed under."""
    artefacts: Mapping[str, Artefact]
    deltas: tuple[Delta, ...]

    def delta_from(self, release: int, target: str = CACHE_ARTEFACT) -> Delta | None:
        """The delta from ``release`` to ``target``, if the manifest lists one."""
        return next((d for d in self.deltas if d.source == release and d.target == target), None)


@dataclass(frozen=True, slots=True)
class KeySet:
    """A parsed keyset.json: the release-signing keys in force."""

    version: int
    """Only grows; a gateway refuses a lower one."""
    created: datetime
    keys: tuple[PublicKey, ...]
    revoked: frozenset[str]
    """Keynums (lower-case hex) whose signatures are refused."""

    def trusted(self) -> tuple[PublicKey, ...]:
        """The keys that may sign manifests: listed and not revoked."""
        return tuple(k for k in self.keys if k.keynum_hex not in self.revoked)


def read_manifest(data: bytes, where: str) -> Manifest:
    """Parse release.json bytes; ``where`` names the file in errors."""
    doc = _document(data, where)
    release = _integer(doc, "release", where, minimum=1)
    created = _time(doc, "created", where)
    expires = _time(doc, "expires", where)
    if expires <= created:
        raise BadManifest(f"{where}: 'expires' {_rfc3339(expires)} is not after 'created'")
    artefacts = _artefacts(doc, where)
    deltas = _deltas(doc, release, artefacts, where)
    return Manifest(
        release=release,
        created=created,
        expires=expires,
        keyset=_integer(doc, "keyset", where, minimum=1),
        artefacts=artefacts,
        deltas=deltas,
    )


def read_keyset(data: bytes, where: str) -> KeySet:
    """Parse keyset.json bytes; ``where`` names the file in errors."""
    doc = _document(data, where)
    lines = _field(doc, "keys", list, where)
    if not lines or len(lines) > MAX_KEYS:
        raise BadManifest(f"{where}: 'keys' must list 1 to {MAX_KEYS} keys, has {len(lines)}")
    keys = []
    for index, line in enumerate(lines):
        if not isinstance(line, str):
            raise BadManifest(f"{where}: keys[{index}] is not a string")
        try:
            keys.append(read_public_key(line, f"{where}: keys[{index}]"))
        except BadSignature as exc:
            raise BadManifest(str(exc)) from None
    revoked = _field(doc, "revoked", list, where)
    for index, keynum in enumerate(revoked):
        if not isinstance(keynum, str) or not _KEYNUM.fullmatch(keynum):
            raise BadManifest(f"{where}: revoked[{index}] is not a 16-digit lower-case hex keynum")
    return KeySet(
        version=_integer(doc, "version", where, minimum=1),
        created=_time(doc, "created", where),
        keys=tuple(keys),
        revoked=frozenset(revoked),
    )


def manifest_json(manifest: Manifest) -> bytes:
    """The bytes of release.json for ``manifest`` (what gets signed)."""
    doc = {
        "format": FORMAT,
        "release": manifest.release,
        "created": _rfc3339(manifest.created),
        "expires": _rfc3339(manifest.expires),
        "keyset": manifest.keyset,
        "artefacts": {
            a.name: {"path": a.path, "size": a.size, "sha256": a.sha256}
            for a in manifest.artefacts.values()
        },
        "deltas": [
            {
                "from": d.source,
                "path": d.path,
                "size": d.size,
                "sha256": d.sha256,
                "target": d.target,
            }
            for d in manifest.deltas
        ],
    }
    return (json.dumps(doc, indent=2) + "\n").encode("utf-8")


def keyset_json(keyset: KeySet) -> bytes:
    """The bytes of keyset.json for ``keyset`` (what the root key signs)."""
    doc = {
        "format": FORMAT,
        "version": keyset.version,
        "created": _rfc3339(keyset.created),
        "keys": [public_key_line(k) for k in keyset.keys],
        "revoked": sorted(keyset.revoked),
    }
    return (json.dumps(doc, indent=2) + "\n").encode("utf-8")


def read_time(text: str, where: str) -> datetime:
    """An RFC 3339 date-time with a zone (``Z`` or an offset), as UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise BadManifest(f"{where}: {text!r} is not an RFC 3339 date-time") from None
    if value.tzinfo is None or "T" not in text.upper():
        raise BadManifest(f"{where}: {text!r} needs a date, a time and a zone (RFC 3339 §5.6)")
    return value.astimezone(UTC)


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _document(data: bytes, where: str) -> dict[str, Any]:
    if len(data) > MAX_MANIFEST_BYTES:
        raise BadManifest(f"{where}: {len(data)} bytes, more than {MAX_MANIFEST_BYTES}")
    try:
        doc = json.loads(data.decode("utf-8"), object_pairs_hook=unique_keys)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadManifest(f"{where}: not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise BadManifest(f"{where}: not a JSON object")
    version = doc.get("format")
    if type(version) is not int or version != FORMAT:
        raise BadManifest(f"{where}: format {version!r}, this reader knows {FORMAT}")
    return doc


def _field(doc: Mapping[str, Any], name: str, kind: type, where: str) -> Any:
    if name not in doc:
        raise BadManifest(f"{where}: missing field '{name}'")
    value = doc[name]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise BadManifest(f"{where}: field '{name}' must be a {kind.__name__}")
    return value


def _integer(doc: Mapping[str, Any], name: str, where: str, minimum: int = 0) -> int:
    value: int = _field(doc, name, int, where)
    if not minimum <= value <= MAX_RELEASE:
        raise BadManifest(f"{where}: field '{name}' = {value}, out of [{minimum}, {MAX_RELEASE}]")
    return value


def _time(doc: Mapping[str, Any], name: str, where: str) -> datetime:
    return read_time(_field(doc, name, str, where), f"{where}: field '{name}'")


def _path(doc: Mapping[str, Any], where: str) -> str:
    """A relative path inside the tree: no '..', no absolute path, no backslash."""
    path: str = _field(doc, "path", str, where)
    if not all(_PATH_SEGMENT.fullmatch(segment) for segment in path.split("/")):
        raise BadManifest(f"{where}: path {path!r} is not a plain relative path in the tree")
    return path


def _digest(doc: Mapping[str, Any], where: str) -> str:
    digest: str = _field(doc, "sha256", str, where)
    if not _SHA256.fullmatch(digest):
        raise BadManifest(f"{where}: sha256 must be 64 lower-case hex digits")
    return digest


def _artefacts(doc: Mapping[str, Any], where: str) -> dict[str, Artefact]:
    table = _field(doc, "artefacts", dict, where)
    if CACHE_ARTEFACT not in table:
        raise BadManifest(f"{where}: 'artefacts' has no '{CACHE_ARTEFACT}'")
    artefacts = {}
    for name, entry in table.items():
        here = f"{where}: artefacts.{name}"
        if not _ARTEFACT_NAME.fullmatch(name) or not isinstance(entry, dict):
            raise BadManifest(f"{here}: not a named object")
        artefacts[name] = Artefact(
            name=name,
            path=_path(entry, here),
            size=_integer(entry, "size", here),
            sha256=_digest(entry, here),
        )
    return artefacts


def _deltas(
    doc: Mapping[str, Any], release: int, artefacts: Mapping[str, Artefact], where: str
) -> tuple[Delta, ...]:
    entries = doc.get("deltas", [])
    if not isinstance(entries, list) or len(entries) > MAX_DELTAS:
        raise BadManifest(f"{where}: 'deltas' must be a list of at most {MAX_DELTAS}")
    deltas = []
    for index, entry in enumerate(entries):
        here = f"{where}: deltas[{index}]"
        if not isinstance(entry, dict):
            raise BadManifest(f"{here}: not an object")
        source = _integer(entry, "from", here, minimum=1)
        target = _field(entry, "target", str, here)
        if source >= release:
            raise BadManifest(f"{here}: from release {source}, not older than {release}")
        if target not in artefacts:
            raise BadManifest(f"{here}: target {target!r} is not an artefact of the release")
        deltas.append(
            Delta(
                source=source,
                path=_path(entry, here),
                size=_integer(entry, "size", here),
                sha256=_digest(entry, here),
                target=target,
            )
        )
    return tuple(deltas)
