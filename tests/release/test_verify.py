"""The trust checks, one attack a test: each must be refused with its own error."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from copgate.release.errors import (
    BadManifest,
    BadSignature,
    Expired,
    RevokedKey,
    Rollback,
    UnknownKey,
)
from copgate.release.manifest import KeySet, keyset_json, manifest_json
from copgate.release.signify import SecretKey
from copgate.release.verify import clock_is_plausible, verify_keyset, verify_manifest
from tests.release.helpers import (
    CREATED,
    EXPIRES,
    RELEASE_KEY,
    RELEASE_KEY_2,
    ROOT,
    ROOT_2,
    STRANGER,
    keyset,
    manifest,
    signature,
)

ROOTS = (ROOT.public_key,)
DURING = CREATED + timedelta(days=1)
"""A plausible clock inside the manifest's validity."""
KEYSET = keyset()


def signed_manifest(
    release: int = 7,
    key: SecretKey = RELEASE_KEY,
    expires: datetime = EXPIRES,
    keyset_version: int = 1,
) -> tuple[bytes, bytes]:
    data = manifest_json(manifest(release=release, expires=expires, keyset_version=keyset_version))
    return data, signature(data, key)


def signed_keyset(ks: KeySet, key: SecretKey = ROOT) -> tuple[bytes, bytes]:
    data = keyset_json(ks)
    return data, signature(data, key)


def check(
    data: bytes,
    sig: bytes,
    keys: KeySet = KEYSET,
    installed: int | None = 6,
    now: datetime | None = DURING,
    floor: datetime | None = CREATED - timedelta(days=7),
) -> int:
    return verify_manifest(data, sig, keys, installed, now, floor).release


# -- manifests ----------------------------------------------------------------


def test_a_newer_release_signed_by_a_key_of_the_set_is_accepted() -> None:
    assert check(*signed_manifest()) == 7


def test_the_installed_release_again_is_returned_so_the_caller_sees_no_news() -> None:
    assert check(*signed_manifest(release=6)) == 6


def test_unsigned_manifest_is_refused() -> None:
    data, _sig = signed_manifest()
    with pytest.raises(BadSignature, match=r"release\.json\.sig"):
        check(data, b"")


def test_a_signature_that_is_not_signify_is_refused() -> None:
    data, _sig = signed_manifest()
    with pytest.raises(BadSignature, match="base64"):
        check(data, b"untrusted comment: x\n<html>not found</html>\n")


def test_manifest_signed_by_an_unknown_key_is_refused() -> None:
    with pytest.raises(UnknownKey, match=STRANGER.public_key.keynum_hex):
        check(*signed_manifest(key=STRANGER))


def test_manifest_signed_by_the_root_key_is_not_a_release_key() -> None:
    with pytest.raises(UnknownKey):
        check(*signed_manifest(key=ROOT))


def test_manifest_signed_by_a_revoked_key_is_refused() -> None:
    revoking = keyset(version=2, keys=(RELEASE_KEY, RELEASE_KEY_2), revoked=(RELEASE_KEY,))
    with pytest.raises(RevokedKey, match=RELEASE_KEY.public_key.keynum_hex):
        check(*signed_manifest(), keys=revoking)


def test_the_other_key_of_a_set_that_revokes_one_still_signs() -> None:
    revoking = keyset(version=2, keys=(RELEASE_KEY, RELEASE_KEY_2), revoked=(RELEASE_KEY,))
    assert check(*signed_manifest(key=RELEASE_KEY_2), keys=revoking) == 7


def test_tampered_manifest_is_refused() -> None:
    data, sig = signed_manifest()
    tampered = data.replace(b'"release": 7', b'"release": 9')
    assert tampered != data
    with pytest.raises(BadSignature, match="does not verify"):
        check(tampered, sig)


def test_a_manifest_with_a_signature_of_another_manifest_is_refused() -> None:
    data, _sig = signed_manifest(release=7)
    _other, other_sig = signed_manifest(release=8)
    with pytest.raises(BadSignature):
        check(data, other_sig)


def test_an_older_release_is_a_rollback() -> None:
    with pytest.raises(Rollback, match="release 5 is older than the installed release 6"):
        check(*signed_manifest(release=5))


def test_an_expired_manifest_with_a_plausible_clock_is_refused() -> None:
    with pytest.raises(Expired, match="expired"):
        check(*signed_manifest(), now=EXPIRES + timedelta(seconds=1))


def test_expiry_is_exact_to_the_second() -> None:
    with pytest.raises(Expired):
        check(*signed_manifest(), now=EXPIRES)
    assert check(*signed_manifest(), now=EXPIRES - timedelta(seconds=1)) == 7


def test_an_expired_manifest_is_accepted_while_the_clock_is_implausible() -> None:
    # A router booted without a real-time clock: 1970, before the installed release.
    boot_clock = datetime.fromtimestamp(0).astimezone()
    assert check(*signed_manifest(), now=boot_clock, floor=CREATED - timedelta(days=1)) == 7


def test_an_expired_manifest_is_accepted_when_no_clock_is_given() -> None:
    assert check(*signed_manifest(expires=CREATED + timedelta(seconds=1)), now=None) == 7


def test_a_manifest_naming_a_newer_key_set_than_the_verified_one_is_refused() -> None:
    with pytest.raises(BadManifest, match="key set version 3"):
        check(*signed_manifest(keyset_version=3))


def test_garbage_signed_by_a_good_key_is_still_refused_as_a_bad_manifest() -> None:
    data = b"<html><body>502 Bad Gateway</body></html>"
    with pytest.raises(BadManifest, match="not JSON"):
        check(data, signature(data, RELEASE_KEY))


def test_an_unknown_format_signed_by_a_good_key_is_refused() -> None:
    data = manifest_json(manifest()).replace(b'"format": 1', b'"format": 2')
    with pytest.raises(BadManifest, match="format 2"):
        check(data, signature(data, RELEASE_KEY))


def test_clock_plausibility() -> None:
    assert not clock_is_plausible(None, CREATED)
    assert clock_is_plausible(CREATED, CREATED)
    assert not clock_is_plausible(CREATED - timedelta(seconds=1), CREATED)
    assert clock_is_plausible(CREATED, None)


# -- key sets -----------------------------------------------------------------


def test_a_root_signed_key_set_is_accepted() -> None:
    result = verify_keyset(*signed_keyset(keyset(version=2)), ROOTS, KEYSET)
    assert result.version == 2
    assert result.trusted() == (RELEASE_KEY.public_key,)


def test_any_of_several_roots_may_sign_the_key_set() -> None:
    roots = (ROOT.public_key, ROOT_2.public_key)
    assert verify_keyset(*signed_keyset(KEYSET, ROOT_2), roots, None).version == 1


def test_a_key_set_not_signed_by_a_root_is_refused() -> None:
    with pytest.raises(UnknownKey, match=r"keyset\.json"):
        verify_keyset(*signed_keyset(KEYSET, RELEASE_KEY), ROOTS, None)


def test_a_tampered_key_set_is_refused() -> None:
    data, sig = signed_keyset(KEYSET)
    stranger = keyset_json(keyset(keys=(RELEASE_KEY, STRANGER)))
    with pytest.raises(BadSignature):
        verify_keyset(stranger, sig, ROOTS, None)
    assert data != stranger


def test_an_unsigned_key_set_is_refused() -> None:
    data, _sig = signed_keyset(KEYSET)
    with pytest.raises(BadSignature):
        verify_keyset(data, b"", ROOTS, None)


def test_an_older_key_set_is_a_rollback() -> None:
    # Replaying version 1 would bring back a key version 2 revoked.
    installed = keyset(version=2, keys=(RELEASE_KEY, RELEASE_KEY_2), revoked=(RELEASE_KEY,))
    with pytest.raises(Rollback, match="version 1 is older than the installed version 2"):
        verify_keyset(*signed_keyset(KEYSET), ROOTS, installed)


def test_the_same_key_set_version_again_is_accepted() -> None:
    assert verify_keyset(*signed_keyset(KEYSET), ROOTS, KEYSET).version == 1


def test_a_naive_clock_is_a_callers_bug_said_plainly() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        check(*signed_manifest(), now=datetime(2026, 12, 2))
