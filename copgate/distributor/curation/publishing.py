"""Publishing: build the next release into the tree with ``copgate.dist``, sign where the key is.

The release is what ``assemble`` gives (sources + approved additions -
approved removals), compiled with the compiler of ``copgate dist build``
(the previous release passed in, so indexes stay stable and deltas small),
written with ``build_release``, plus one more artefact: ``provenance.json``,
listed in the manifest with its size and SHA-256, so it is signed with it.

Signing happens on this host when COPGATE_SIGNING_KEY names a release key
(a small site); the release is then published at once. Without a key the
candidate stays unsigned in ``releases/N/`` for ``copgate dist sign
--publish`` on a separate signer (a large operator), and ``sync_published``
notices when it went live. One build at a time per tree (a lock file), so
several instances on shared storage never interleave two builds.

This module is an edge: it reads files and is given the time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from copgate.dist.build import DEFAULT_VALID_FOR, build_release, next_release
from copgate.dist.errors import DistError
from copgate.dist.sign import publish, sign_manifest
from copgate.dist.tree import Tree, read_bytes, write_atomic
from copgate.distributor.curation import audit
from copgate.distributor.curation.assemble import (
    PROVENANCE_ARTEFACT,
    Assembled,
    active_entries,
    approved_removals,
    assemble,
)
from copgate.distributor.curation.models import (
    Category,
    Proposal,
    PublishRequest,
    Release,
    Source,
)
from copgate.distributor.curation.permissions import Action, require
from copgate.lists.cache import ListCache, verify_cache_file
from copgate.lists.compile import build_cache
from copgate.release.manifest import Artefact, manifest_json
from copgate.release.signify import read_secret_key

LOCK_FILE = ".copgate-build.lock"


@dataclasses.dataclass(frozen=True, slots=True)
class Built:
    """What one publication did."""

    release: Release
    names: int
    signed: bool


def tree() -> Tree:
    """The service's release tree (COPGATE_TREE_DIR)."""
    return Tree(Path(settings.COPGATE_TREE_DIR))


def source_file(source: Source) -> Path | None:
    """The file a source is read from: its upload, else its last fetched copy."""
    if source.upload:
        return Path(source.upload.path)
    if source.fetched_path:
        path = Path(settings.COPGATE_DATA_DIR) / source.fetched_path
        return path if path.exists() else None
    return None


def build_and_publish(who: Any, now: datetime, valid_for: timedelta = DEFAULT_VALID_FOR) -> Built:
    """Build the next release from the database; sign and publish it when a key is here."""
    require(who, Action.PUBLISH)
    return _build(who, now, valid_for)


def _build(who: Any, now: datetime, valid_for: timedelta = DEFAULT_VALID_FOR) -> Built:
    target = tree()
    with _build_lock(target.root):
        target.keyset()  # refuse before compiling: a tree needs its signed key set
        sources = []
        for source in Source.objects.filter(active=True).order_by("name"):
            path = source_file(source)
            if path is None:
                raise DistError(
                    _("source %(name)s has no file yet: upload one or fetch it")
                    % {"name": source.name}
                )
            sources.append((source, path))
        assembled = assemble(sources, Category.objects.all(), active_entries(), approved_removals())
        number = next_release(target)
        data, names = _compile(target, assembled, number, now)
        built = build_release(target, number, data, now, valid_for)
        verify_cache_file(target.root / target.cache_relpath(number))
        _add_provenance(target, number, assembled, built.manifest)
        signed = _sign_here(target, number)
    return _record(who, target, number, now, (names, len(data)), signed, assembled.proposals)


def _compile(target: Tree, assembled: Assembled, number: int, now: datetime) -> tuple[bytes, int]:
    published = target.published()
    previous_path = target.root / target.cache_relpath(published.release) if published else None
    when = int(now.timestamp())
    if previous_path is not None and previous_path.is_file():
        with ListCache.open(previous_path) as previous:
            data, report = build_cache(
                assembled.table,
                assembled.catalogue,
                build_time=when,
                release=number,
                previous=previous,
            )
    else:
        data, report = build_cache(
            assembled.table, assembled.catalogue, build_time=when, release=number
        )
    return data, report.names


def _add_provenance(target: Tree, number: int, assembled: Assembled, manifest: Any) -> None:
    """Write provenance.json and list it in the (still unsigned) manifest."""
    data = assembled.provenance(number)
    relpath = f"{target.release_dir(number).relative_to(target.root)}/{PROVENANCE_ARTEFACT}"
    write_atomic(target.root / relpath, data)
    artefact = Artefact(PROVENANCE_ARTEFACT, relpath, len(data), hashlib.sha256(data).hexdigest())
    artefacts = {**manifest.artefacts, PROVENANCE_ARTEFACT: artefact}
    with_provenance = dataclasses.replace(manifest, artefacts=artefacts)
    write_atomic(target.candidate(number), manifest_json(with_provenance))


def _sign_here(target: Tree, number: int) -> bool:
    key_path = settings.COPGATE_SIGNING_KEY
    if key_path is None:
        return False
    path = Path(key_path)
    secret = read_secret_key(read_bytes(path).decode("ascii", "replace"), str(path))
    sign_manifest(target.candidate(number), secret, target.published(), target.keyset())
    publish(target, number)
    return True


def _record(
    who: Any,
    target: Tree,
    number: int,
    now: datetime,
    counts: tuple[int, int],
    signed: bool,
    proposals: set[int],
) -> Built:
    names, size = counts
    with transaction.atomic():
        release, _created = Release.objects.update_or_create(
            number=number,
            defaults={
                "created": now,
                "tree_path": str(target.root),
                "signed": signed,
                "published": signed,
                "published_by": who if getattr(who, "is_authenticated", False) else None,
                "names": names,
                "size": size,
            },
        )
        # The first release that carries a decision (built; published once signed).
        Proposal.objects.filter(pk__in=proposals, release__isnull=True).update(release=release)
        audit.record(who, "release.publish" if signed else "release.build", release)
    return Built(release, names, signed)


def sync_published() -> int | None:
    """Mark releases a separate signer published since; the published number, or None."""
    try:
        published = tree().published()
    except DistError:
        return None
    if published is None:
        return None
    stale = Release.objects.filter(number__lte=published.release, published=False)
    for release in stale:
        release.signed = release.number == published.release or release.signed
        release.published = release.number == published.release
        release.save(update_fields=["signed", "published"])
    return published.release


def publish_due(now: datetime) -> Built | None:
    """Carry out the publications due by ``now`` (one build serves them all).

    An administrator asked for each (the page checks); cron runs this as the host's
    operator, so the permission was checked when the request was made."""
    due = list(PublishRequest.objects.filter(done__isnull=True, due__lte=now))
    if not due:
        return None
    requester = due[0].requested_by
    try:
        built = _build(requester, now)
    except Exception as exc:
        PublishRequest.objects.filter(pk__in=[r.pk for r in due]).update(
            done=now, error=str(exc)[:2000]
        )
        raise
    PublishRequest.objects.filter(pk__in=[r.pk for r in due]).update(
        done=now, release=built.release
    )
    return built


@contextlib.contextmanager
def _build_lock(root: Path) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    with (root / LOCK_FILE).open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
