"""The trust checks a gateway runs before it uses anything it downloaded.

Two roles of keys, as TUF has them: an offline root key signs the key set,
and the keys of that set sign manifests. So release keys rotate, and a
stolen one is revoked, on routers nobody touches; only the root key is
configured on the gateway.

Order matters: a signature is checked before its document is parsed, so
bytes nobody trusted never reach the JSON reader's fields. Then come the
checks that keep an attacker who replays old signed files from winning:

- a key set whose version is lower than the installed one is a Rollback
  (it could bring back a revoked key);
- a manifest whose release is lower than the installed one is a Rollback;
  an equal one is returned (nothing new: the caller skips it);
- an expired manifest is refused (a frozen feed) only when the clock is
  plausible: not earlier than ``clock_floor``, the installed release's
  creation time. A router without a battery-backed clock boots in 1970;
  refusing every manifest then would leave it on its oldest lists forever.

These functions are pure: bytes, keys and times in, a value or an error
out. They never fetch, never read the clock and never write anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from copgate.release.errors import BadManifest, BadSignature, Expired, RevokedKey, Rollback
from copgate.release.manifest import KeySet, Manifest, read_keyset, read_manifest
from copgate.release.signify import PublicKey, read_signature, verify

KEYSET_FILE = "keyset.json"
MANIFEST_FILE = "release.json"
SIGNATURE_SUFFIX = ".sig"


def verify_keyset(
    data: bytes, sig: bytes, roots: Sequence[PublicKey], installed: KeySet | None
) -> KeySet:
    """The key set in ``data`` if a root key signed it and it is not older than ``installed``."""
    where = KEYSET_FILE + SIGNATURE_SUFFIX
    signature = read_signature(_text(sig, where), where)
    verify(data, signature, roots, KEYSET_FILE)
    keyset = read_keyset(data, KEYSET_FILE)
    if installed is not None and keyset.version < installed.version:
        raise Rollback(
            f"{KEYSET_FILE}: version {keyset.version} is older than the installed "
            f"version {installed.version}"
        )
    return keyset


def verify_manifest(
    data: bytes,
    sig: bytes,
    keyset: KeySet,
    installed_release: int | None,
    now: datetime | None,
    clock_floor: datetime | None,
) -> Manifest:
    """The manifest in ``data`` if a key of ``keyset`` signed it and it may be used.

    A release equal to ``installed_release`` is returned (the caller sees
    nothing new); a lower one is a Rollback. Expiry is checked only when
    ``now`` is given and not earlier than ``clock_floor``.
    """
    where = MANIFEST_FILE + SIGNATURE_SUFFIX
    signature = read_signature(_text(sig, where), where)
    if signature.keynum.hex() in keyset.revoked:
        raise RevokedKey(
            f"{MANIFEST_FILE}: signed by key {signature.keynum.hex()}, revoked by key set "
            f"version {keyset.version}"
        )
    verify(data, signature, keyset.trusted(), MANIFEST_FILE)
    manifest = read_manifest(data, MANIFEST_FILE)
    if manifest.keyset > keyset.version:
        raise BadManifest(
            f"{MANIFEST_FILE}: field 'keyset' names key set version {manifest.keyset}, newer "
            f"than the verified version {keyset.version}"
        )
    if installed_release is not None and manifest.release < installed_release:
        raise Rollback(
            f"{MANIFEST_FILE}: release {manifest.release} is older than the installed "
            f"release {installed_release}"
        )
    if clock_is_plausible(now, clock_floor) and now is not None and now >= manifest.expires:
        raise Expired(
            f"{MANIFEST_FILE}: release {manifest.release} expired at "
            f"{manifest.expires.isoformat()}, the clock says {now.isoformat()}"
        )
    return manifest


def clock_is_plausible(now: datetime | None, clock_floor: datetime | None) -> bool:
    """Whether ``now`` can be believed: given, and not before ``clock_floor``.

    Both must carry a zone (a naive time is a caller's bug, refused here
    with ValueError rather than compared wrongly).
    """
    if now is None:
        return False
    for name, value in (("now", now), ("clock_floor", clock_floor)):
        if value is not None and value.tzinfo is None:
            raise ValueError(f"{name} must be timezone-aware, got {value.isoformat()}")
    return clock_floor is None or now >= clock_floor


def _text(sig: bytes, where: str) -> str:
    try:
        return sig.decode("ascii")
    except UnicodeDecodeError:
        raise BadSignature(f"{where}: not a signify signature (not ASCII)") from None
