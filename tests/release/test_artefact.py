"""Artefact checks against the manifest: size first, then SHA-256, streaming."""

from __future__ import annotations

from pathlib import Path

import pytest

from copgate.release.artefact import check_artefact, file_sha256
from copgate.release.errors import ArtefactMismatch
from tests.release.helpers import CACHE_BYTES, artefact


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "lists.cache"
    path.write_bytes(data)
    return path


def test_the_artefact_the_manifest_names_passes(tmp_path: Path) -> None:
    check_artefact(write(tmp_path, CACHE_BYTES), artefact())


def test_an_artefact_of_another_release_of_the_same_size_is_refused(tmp_path: Path) -> None:
    other = CACHE_BYTES.replace(b"release 7", b"release 6")
    assert len(other) == len(CACHE_BYTES)
    with pytest.raises(ArtefactMismatch, match="SHA-256"):
        check_artefact(write(tmp_path, other), artefact())


def test_a_truncated_artefact_is_refused_by_its_size(tmp_path: Path) -> None:
    with pytest.raises(ArtefactMismatch, match=f"has {len(CACHE_BYTES) - 1} bytes"):
        check_artefact(write(tmp_path, CACHE_BYTES[:-1]), artefact())


def test_an_oversized_artefact_is_refused_by_its_size(tmp_path: Path) -> None:
    with pytest.raises(ArtefactMismatch, match=f"the manifest says {len(CACHE_BYTES)}"):
        check_artefact(write(tmp_path, CACHE_BYTES + b"\n"), artefact())


def test_a_missing_artefact_is_a_mismatch_not_a_crash(tmp_path: Path) -> None:
    with pytest.raises(ArtefactMismatch, match="cannot be read"):
        check_artefact(tmp_path / "absent", artefact())


def test_hashing_streams_over_chunk_boundaries(tmp_path: Path) -> None:
    data = bytes(range(256)) * 1000  # 256 kB: several chunks
    check_artefact(write(tmp_path, data), artefact(data=data))
    assert file_sha256(tmp_path / "lists.cache") == artefact(data=data).sha256
