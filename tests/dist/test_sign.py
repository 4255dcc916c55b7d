"""dist sign and publish: refuse what gateways would refuse, then go live."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from copgate.dist.build import build_release
from copgate.dist.errors import DistError
from copgate.dist.sign import edit_keyset, publish, sign_keyset, sign_manifest
from copgate.dist.tree import Tree, signature_path
from copgate.release.errors import ArtefactMismatch, BadManifest, BadSignature, RevokedKey
from copgate.release.verify import verify_keyset, verify_manifest
from tests.dist.helpers import compiled, names, new_tree
from tests.release.helpers import CREATED, RELEASE_KEY, RELEASE_KEY_2, ROOT, STRANGER


def built(tree: Tree, number: int, count: int = 20) -> Path:
    build_release(tree, number, compiled(names(count), number), CREATED)
    return tree.candidate(number)


def test_a_signed_and_published_release_verifies_as_a_gateway_checks_it(tmp_path: Path) -> None:
    tree = new_tree(tmp_path)
    sign_manifest(built(tree, 1), RELEASE_KEY, None, tree.keyset())
    assert publish(tree).release == 1
    keyset = verify_keyset(
        tree.keyset_path.read_bytes(),
        signature_path(tree.keyset_path).read_bytes(),
        [ROOT.public_key],
        None,
    )
    manifest = verify_manifest(
        tree.manifest_path.read_bytes(),
        signature_path(tree.manifest_path).read_bytes(),
        keyset,
        None,
        CREATED + timedelta(days=1),
        None,
    )
    assert manifest.release == 1


def test_sign_refuses_a_manifest_that_does_not_parse(tmp_path: Path) -> None:
    path = tmp_path / "release.json"
    path.write_bytes(b"{not json")
    with pytest.raises(BadManifest):
        sign_manifest(path, RELEASE_KEY, None, None)
    assert not signature_path(path).exists()


def test_sign_refuses_a_release_not_newer_than_the_published_one(tmp_path: Path) -> None:
    tree = new_tree(tmp_path)
    sign_manifest(built(tree, 1), RELEASE_KEY, None, tree.keyset())
    publish(tree)
    with pytest.raises(DistError, match="not newer than the published release 1"):
        sign_manifest(tree.candidate(1), RELEASE_KEY, tree.published(), tree.keyset())


def test_sign_refuses_a_key_the_key_set_does_not_list(tmp_path: Path) -> None:
    tree = new_tree(tmp_path)
    with pytest.raises(DistError, match="not a release key"):
        sign_manifest(built(tree, 1), STRANGER, None, tree.keyset())


def test_publish_refuses_an_unsigned_tree(tmp_path: Path) -> None:
    tree = new_tree(tmp_path)
    built(tree, 1)
    with pytest.raises(DistError, match="no signed release"):
        publish(tree)


def test_publish_refuses_a_signature_by_a_key_outside_the_key_set(tmp_path: Path) -> None:
    tree = new_tree(tmp_path)
    sign_manifest(built(tree, 1), STRANGER, None, None)
    with pytest.raises(Exception, match="not a trusted key"):
        publish(tree)
    assert not tree.manifest_path.exists()


def test_publish_refuses_a_tampered_artefact(tmp_path: Path) -> None:
    tree = new_tree(tmp_path)
    sign_manifest(built(tree, 1), RELEASE_KEY, None, tree.keyset())
    cache = tmp_path / "releases/1/lists.cache"
    cache.write_bytes(cache.read_bytes()[:-1] + b"\0")
    with pytest.raises(ArtefactMismatch):
        publish(tree)


def test_publish_refuses_a_manifest_edited_after_signing(tmp_path: Path) -> None:
    tree = new_tree(tmp_path)
    path = built(tree, 1)
    sign_manifest(path, RELEASE_KEY, None, tree.keyset())
    path.write_bytes(path.read_bytes().replace(b'"release": 1', b'"release": 11'))
    with pytest.raises(BadSignature):
        publish(tree)


def test_key_set_versions_grow_with_each_change_and_not_without() -> None:
    first = edit_keyset(None, CREATED, add=[RELEASE_KEY.public_key])
    assert first.version == 1
    same = edit_keyset(first, CREATED, add=[RELEASE_KEY.public_key])
    assert same == first
    second = edit_keyset(first, CREATED, add=[RELEASE_KEY_2.public_key])
    assert second.version == 2
    assert second.keys == (RELEASE_KEY.public_key, RELEASE_KEY_2.public_key)
    third = edit_keyset(second, CREATED, remove=[RELEASE_KEY.public_key])
    assert (third.version, third.keys) == (3, (RELEASE_KEY_2.public_key,))


def test_a_key_set_must_keep_a_key_and_cannot_re_add_a_revoked_one() -> None:
    first = edit_keyset(None, CREATED, add=[RELEASE_KEY.public_key])
    with pytest.raises(DistError, match="at least one"):
        edit_keyset(first, CREATED, remove=[RELEASE_KEY.public_key])
    revoked = edit_keyset(
        first, CREATED, add=[RELEASE_KEY_2.public_key], revoke=[RELEASE_KEY.public_key.keynum_hex]
    )
    assert revoked.keys == (RELEASE_KEY_2.public_key,)
    with pytest.raises(DistError, match="revoked"):
        edit_keyset(revoked, CREATED, add=[RELEASE_KEY.public_key])


def test_revoking_a_key_makes_gateways_refuse_what_it_signed(tmp_path: Path) -> None:
    tree = new_tree(tmp_path)
    sign_manifest(built(tree, 1), RELEASE_KEY, None, tree.keyset())
    publish(tree)
    # The release key is stolen: the root host revokes it and adds a new one.
    edited = edit_keyset(
        tree.keyset(), CREATED, add=[RELEASE_KEY_2.public_key], revoke=[RELEASE_KEY.keynum.hex()]
    )
    sign_keyset(tree.keyset_path, ROOT, edited)
    keyset = verify_keyset(
        tree.keyset_path.read_bytes(),
        signature_path(tree.keyset_path).read_bytes(),
        [ROOT.public_key],
        None,
    )
    # The thief's next release, signed with the stolen key:
    stolen = built(tree, 2, count=30)
    sign_manifest(stolen, RELEASE_KEY, None, None)
    with pytest.raises(RevokedKey):
        verify_manifest(
            stolen.read_bytes(), signature_path(stolen).read_bytes(), keyset, 1, None, None
        )
    sign_manifest(stolen, RELEASE_KEY_2, tree.published(), keyset)
    assert publish(tree).release == 2
