"""One update check: fetch, verify, store, swap; the last good release stays otherwise.

``Updater.check`` is what the daemon's poller and ``copgate update --now``
run. Nothing fetched is used before ``copgate.release.verify`` accepted it:

1. ``release.json``, conditionally (ETag / If-Modified-Since): 304 is no news;
2. its signature, and the key set when the manifest names a newer one than
   the release in force was verified under (accepted only if a root key
   signed it and its version did not go down);
3. the manifest: signed by a non-revoked key of that set, release newer than
   the one in force (equal: no news; lower: rollback), not expired once the
   clock is plausible (not earlier than the release in force was created);
4. the cache: rebuilt from the release in force by a delta when the manifest
   lists one from it (streamed, checked against the full artefact's hash,
   the whole file fetched instead if anything about the delta fails), else
   fetched whole with the manifest's size as its cap; then its size and
   SHA-256, then the cache's own checksum and invariants;
   ``provenance.json`` too when the manifest lists it (capped, size and
   SHA-256 checked; a release without it is as valid);
5. stored and swapped in (``copgate.update.store``), a copy to flash at most
   once per ``flash_copy_interval``.

Each check ends in one ``Outcome`` and one log line. Any refusal, failed
download or full disk leaves ``current`` as it was. The clock is the
caller's (``clock``: seconds since the epoch), so tests set it.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, cast

from copgate.errors import CacheError
from copgate.lists.cache import verify_cache_file
from copgate.lists.provenance import MAX_PROVENANCE_BYTES, PROVENANCE
from copgate.release.artefact import apply_delta, check_artefact
from copgate.release.errors import (
    ArtefactMismatch,
    BadDelta,
    BadManifest,
    BadSignature,
    ReleaseError,
)
from copgate.release.manifest import CACHE_ARTEFACT, Artefact, Delta, KeySet, Manifest
from copgate.release.manifest import read_manifest as peek_manifest
from copgate.release.signify import PublicKey
from copgate.release.verify import verify_keyset, verify_manifest
from copgate.update.errors import (
    Busy,
    DownloadError,
    NotAFile,
    StoreError,
    Unreachable,
    UpdateError,
)
from copgate.update.fetch import CHUNK, Fetcher, Hashing
from copgate.update.installed import (
    Installed,
    in_force,
    load_roots,
    read_small,
    select_at_boot,
)
from copgate.update.model import UpdateSettings
from copgate.update.state import State, age_text, lock, read_state, write_state
from copgate.update.store import (
    CACHE,
    KEYSET,
    KEYSET_SIG,
    MANIFEST,
    MANIFEST_SIG,
    Step,
    Store,
    no_step,
    storing,
    write_file,
)

LOG = logging.getLogger("copgate")


class Result(enum.Enum):
    """How a check ended."""

    INSTALLED = "installed"
    NO_NEWS = "no news"
    REFUSED = "refused"
    UNREACHABLE = "unreachable"
    FAILED = "failed"
    """Downloaded and verified, or not, but not stored: disk full, read-only storage."""
    BUSY = "busy"


@dataclass(frozen=True, slots=True)
class Outcome:
    """One check's result and the line logged for it."""

    result: Result
    release: int | None
    """The release in force after the check."""
    line: str
    via: str | None = None
    """``delta`` or ``full`` for an install."""


@dataclass(frozen=True, slots=True)
class _Fetched:
    """A verified manifest and the bytes to store beside the cache."""

    manifest: Manifest
    files: dict[str, bytes]
    etag: str | None
    last_modified: str | None


class _NoNews(Exception):
    """Internal: the manifest is unchanged (304) or names the release in force."""

    def __init__(self, fetched: _Fetched | None) -> None:
        self.fetched = fetched


class Updater:
    """Checks the distributor for a new release and installs it (see the module docstring)."""

    def __init__(
        self,
        settings: UpdateSettings,
        fetcher: Fetcher,
        clock: Callable[[], float],
        step: Step = no_step,
    ) -> None:
        self.settings = settings
        self.fetcher = fetcher
        self.clock = clock
        self.step = step
        self.ram = Store(settings.ram_dir, "ram")
        self.flash = Store(settings.flash_dir, "flash")

    def check(self) -> Outcome:
        """Check once and log the outcome; never raises for a bad or absent release."""
        try:
            with lock(self.ram.root):
                outcome = self._locked()
        except Busy as exc:
            outcome = Outcome(Result.BUSY, None, f"update: skipped: {exc}")
        except StoreError as exc:
            outcome = Outcome(Result.FAILED, None, f"update: failed: {exc}")
        log = LOG.info if outcome.result in (Result.INSTALLED, Result.NO_NEWS) else LOG.error
        log("%s", outcome.line)
        return outcome

    def plan(self, wait: float) -> None:
        """Note in the state file when the next check comes (for ``--status``)."""
        try:
            with lock(self.ram.root):
                state = read_state(self.ram.root)
                write_state(self.ram.root, replace(state, next_check=self.clock() + wait))
        except UpdateError as exc:  # Busy (a check from the command line) or StoreError
            LOG.debug("update: next check time not saved: %s", exc)

    # -- one check, under the lock ------------------------------------------------

    def _locked(self) -> Outcome:
        roots = load_roots(self.settings)
        installed = in_force(self.settings, roots) or select_at_boot(self.settings)
        state = read_state(self.ram.root)
        now = self.clock()
        try:
            outcome, state = self._attempt(installed, roots, state, now)
        except _NoNews as news:
            if news.fetched is not None:
                state = replace(
                    state, etag=news.fetched.etag, last_modified=news.fetched.last_modified
                )
            outcome = Outcome(Result.NO_NEWS, _number(installed), self._no_news(installed, now))
            if installed is not None and installed.directory.parent == self.ram.root:
                # The copy a kill or a read-only flash prevented, when it is due.
                state = self._copy_to_flash(installed.directory, installed.release, state, now)
        except ReleaseError as exc:
            outcome = self._keeping(Result.REFUSED, f"refused: {exc}", installed, now)
        except CacheError as exc:
            outcome = self._keeping(Result.REFUSED, f"refused: {exc}", installed, now)
        except Unreachable as exc:
            outcome = self._keeping(Result.UNREACHABLE, f"unreachable: {exc}", installed, now)
        except DownloadError as exc:
            outcome = self._keeping(Result.UNREACHABLE, f"download failed: {exc}", installed, now)
        except UpdateError as exc:  # StoreError: disk full, read-only storage
            outcome = self._keeping(Result.FAILED, f"not stored: {exc}", installed, now)
        state = replace(state, last_check=now, result=outcome.line)
        try:
            write_state(self.ram.root, state)
        except StoreError as exc:
            LOG.warning("update: state not saved: %s", exc)
        return outcome

    def _attempt(
        self, installed: Installed | None, roots: tuple[PublicKey, ...], state: State, now: float
    ) -> tuple[Outcome, State]:
        fetched = self._fetch_manifest(installed, roots, state, now)
        manifest = fetched.manifest
        if installed is not None and manifest.release == installed.release:
            raise _NoNews(fetched)
        artefact = _cache_artefact(manifest)
        if artefact.size > self.settings.max_size:
            raise ArtefactMismatch(
                f"release {manifest.release}: lists.cache is {artefact.size} bytes, over the "
                f"budget of {self.settings.max_size} (option 'max_size' in section 'update')"
            )
        via, directory = self._install(installed, fetched, artefact)
        state = replace(state, etag=fetched.etag, last_modified=fetched.last_modified)
        state = self._copy_to_flash(directory, manifest.release, state, now)
        was = "none" if installed is None else str(installed.release)
        line = (
            f"update: installed release {manifest.release} via {via} "
            f"({artefact.size} bytes; was {was})"
        )
        return Outcome(Result.INSTALLED, manifest.release, line, via), state

    def _fetch_manifest(
        self, installed: Installed | None, roots: tuple[PublicKey, ...], state: State, now: float
    ) -> _Fetched:
        """The verified manifest, or _NoNews (304); raises what verification refuses."""
        conditional = installed is not None and installed.manifest is not None
        answer = self.fetcher.small(
            self._url(MANIFEST),
            etag=state.etag if conditional else None,
            last_modified=state.last_modified if conditional else None,
        )
        if answer.body is None:
            raise _NoNews(None)
        data = answer.body
        self.step("fetched-manifest")
        try:
            signature = self._small(MANIFEST_SIG)
        except NotAFile as exc:  # a manifest without its signature is unsigned, not a glitch
            raise BadSignature(f"{MANIFEST}: unsigned: {exc}") from exc
        # Read unverified only to learn which key set version it names; nothing
        # of it is used before verify_manifest below accepts the same bytes.
        named = peek_manifest(data, MANIFEST).keyset
        keyset, keyset_files = self._keyset(installed, roots, named)
        floor = installed.created if installed is not None else None
        manifest = verify_manifest(
            data,
            signature,
            keyset,
            installed_release=installed.release if installed is not None else None,
            now=datetime.fromtimestamp(now, UTC),
            clock_floor=floor,
        )
        files = {MANIFEST: data, MANIFEST_SIG: signature, **keyset_files}
        return _Fetched(manifest, files, answer.etag, answer.last_modified)

    def _keyset(
        self, installed: Installed | None, roots: tuple[PublicKey, ...], named: int
    ) -> tuple[KeySet, dict[str, bytes]]:
        """The key set to verify the manifest with: the installed one unless a newer is named."""
        have = installed.keyset if installed is not None else None
        if installed is not None and have is not None and named <= have.version:
            directory = installed.directory
            files = {name: read_small(directory / name) for name in (KEYSET, KEYSET_SIG)}
            return have, files
        data, signature = self._small(KEYSET), self._small(KEYSET_SIG)
        keyset = verify_keyset(data, signature, roots, have)
        return keyset, {KEYSET: data, KEYSET_SIG: signature}

    def _small(self, name: str) -> bytes:
        body = self.fetcher.small(self._url(name)).body
        if body is None:  # only a conditional request may get 304
            raise BadManifest(f"{self._url(name)}: the server said 'not modified' unasked")
        return body

    def _url(self, path: str) -> str:
        return f"{self.settings.url}/{path}"

    # -- storing ------------------------------------------------------------------

    def _install(
        self, installed: Installed | None, fetched: _Fetched, artefact: Artefact
    ) -> tuple[str, Path]:
        """Write the release into the RAM store and swap it in; returns (via, its dir)."""
        release = fetched.manifest.release
        previous = self.ram.current_link()
        # Only the release in force stays while the new one is written: RAM holds
        # at most two releases at any moment (see BENCHMARKS.md, "List updates").
        self.ram.prune(set())
        staging = self.ram.stage(release)
        try:
            self.step("staged")
            via = self._write_cache(installed, fetched.manifest, artefact, staging / CACHE)
            self.step("cache-written")
            self._write_provenance(fetched.manifest, staging / PROVENANCE)
            for name, data in fetched.files.items():
                write_file(staging / name, data)
            self.step("meta-written")
            directory = self.ram.commit(staging, release, self.step)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        self.step("committed")
        self.ram.swap(str(release), self.step)
        self.step("swapped")
        self.ram.prune({str(release), previous or ""})
        self.step("pruned")
        return via, directory

    def _write_cache(
        self, installed: Installed | None, manifest: Manifest, artefact: Artefact, out: Path
    ) -> str:
        """Build ``out`` by a delta when one applies, else by a full download; verified."""
        delta = manifest.delta_from(installed.release) if installed is not None else None
        if delta is not None and installed is not None:
            try:
                self._apply(installed.cache, delta, artefact, out)
                return "delta"
            except (ReleaseError, DownloadError, CacheError) as exc:
                LOG.warning("update: delta from %d not used: %s", delta.source, exc)
        self._download(artefact, out)
        return "full download"

    def _apply(self, old: Path, delta: Delta, artefact: Artefact, out: Path) -> None:
        url = self._url(delta.path)
        with (
            storing(out),
            Hashing(self.fetcher.stream(url, delta.size), self.step) as body,
            open(out, "wb") as file,
        ):
            apply_delta(old, cast(BinaryIO, body), file, artefact.size)
            body.drain()
        if body.sha256() != delta.sha256:
            raise BadDelta(f"{url}: SHA-256 {body.sha256()}, the manifest says {delta.sha256}")
        self.step("delta-applied")
        _check(out, artefact)

    def _download(self, artefact: Artefact, out: Path) -> None:
        url = self._url(artefact.path)
        with (
            storing(out),
            contextlib.closing(self.fetcher.stream(url, artefact.size)) as body,
            open(out, "wb") as file,
        ):
            while chunk := body.read(CHUNK):
                file.write(chunk)
                self.step("downloading")
        _check(out, artefact)

    def _write_provenance(self, manifest: Manifest, out: Path) -> None:
        """Download ``provenance.json`` beside the cache when the manifest lists it.

        It only explains entries (``copgate check``), so one too large is left
        out with a warning rather than refusing the lists; one that differs from
        its signed size or hash is refused like any other artefact.
        """
        artefact = manifest.artefacts.get(PROVENANCE)
        if artefact is None:
            return
        if artefact.size > MAX_PROVENANCE_BYTES:
            LOG.warning(
                "update: release %d: %s is %d bytes, over %d: not downloaded",
                manifest.release,
                PROVENANCE,
                artefact.size,
                MAX_PROVENANCE_BYTES,
            )
            return
        url = self._url(artefact.path)
        with (
            storing(out),
            contextlib.closing(self.fetcher.stream(url, artefact.size)) as body,
            open(out, "wb") as file,
        ):
            while chunk := body.read(CHUNK):
                file.write(chunk)
        check_artefact(out, artefact)
        self.step("provenance-written")

    def _copy_to_flash(self, directory: Path, release: int, state: State, now: float) -> State:
        """Copy the release to flash if the last copy is older than ``flash_copy_interval``."""
        last = state.flash_copied
        if last is not None and 0 <= now - last < self.settings.flash_copy_interval:
            return state
        if self.flash.current_link() == str(release):
            return state
        try:
            self.flash.copy_from(directory, release, self.step)
            self.flash.swap(str(release), self.step)
            self.flash.prune({str(release)})
        except StoreError as exc:
            LOG.warning("update: release %d not copied to flash: %s", release, exc)
            return state
        self.step("flash-copied")
        return replace(state, flash_copied=now)

    # -- log lines ----------------------------------------------------------------

    def _no_news(self, installed: Installed | None, now: float) -> str:
        return f"update: no news: release {_number(installed)} is current{_age(installed, now)}"

    def _keeping(
        self, result: Result, what: str, installed: Installed | None, now: float
    ) -> Outcome:
        kept = _number(installed)
        return Outcome(
            result, kept, f"update: {what}; keeping release {kept}{_age(installed, now)}"
        )


def _number(installed: Installed | None) -> int | None:
    return None if installed is None else installed.release


def _age(installed: Installed | None, now: float) -> str:
    if installed is None:
        return ""
    return f" (built {age_text(now - installed.created.timestamp())} ago)"


def _cache_artefact(manifest: Manifest) -> Artefact:
    artefact = manifest.artefacts.get(CACHE_ARTEFACT)
    if artefact is None:
        raise BadManifest(f"{MANIFEST}: release {manifest.release} has no '{CACHE_ARTEFACT}'")
    return artefact


def _check(path: Path, artefact: Artefact) -> None:
    """The artefact's size and hash as signed, then the cache's own checksum and invariants."""
    check_artefact(path, artefact)
    verify_cache_file(path)
