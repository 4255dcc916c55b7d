"""``copgate dist`` end to end, through the real command line, in a temporary tree.

keygen, a root-signed key set, two releases built from list files, signed
(once on "another host": a directory holding only the manifest and the key),
published, checked as a gateway checks them, verified by signify-openbsd, and
served over HTTP with conditional GETs.
"""

from __future__ import annotations

import http.client
import io
import os
import re
import shutil
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from copgate.cli import main
from copgate.lists.cache import ListCache
from copgate.release.artefact import apply_delta, check_artefact
from copgate.release.manifest import CACHE_ARTEFACT, read_manifest
from copgate.release.signify import read_public_key
from copgate.release.verify import verify_keyset, verify_manifest
from copgate.tools.dist_cmd import parse_duration
from tests.conftest import PROJECT_ROOT


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def names(count: int, start: int = 0) -> str:
    return "".join(f"site{i}.example{i % 17}.net\n" for i in range(start, start + count))


@pytest.fixture
def published(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A tree with releases 1 and 2 published; keys in tmp_path (the working directory)."""
    monkeypatch.chdir(tmp_path)
    tree = tmp_path / "tree"
    assert run(capsys, "dist", "keygen", "--root", "-o", "root")[0] == 0
    assert run(capsys, "dist", "keygen", "-o", "release")[0] == 0
    status, out, _ = run(
        capsys,
        "dist",
        "sign",
        "--keyset",
        "--key",
        "root.sec",
        "--add",
        "release.pub",
        str(tree / "keyset.json"),
    )
    assert status == 0, out
    assert "key set version 1 (1 keys, 0 revoked)" in out
    for number, (count, start) in enumerate([(3000, 0), (3000, 30)], start=1):
        (tmp_path / "list.txt").write_text(names(count, start))
        status, out, _ = run(
            capsys,
            "dist",
            "build",
            "--tree",
            "tree",
            "--category",
            "adult",
            "list.txt",
            "--valid-for",
            "2d",
        )
        assert status == 0
        assert f"release {number}: {count} names" in out
        status, out, _ = run(
            capsys,
            "dist",
            "sign",
            "--key",
            "release.sec",
            "--publish",
            f"tree/releases/{number}/release.json",
        )
        assert status == 0
        assert f"published release {number}" in out
    return tree


def test_a_gateway_verifies_what_dist_published(published: Path, tmp_path: Path) -> None:
    root = read_public_key((tmp_path / "root.pub").read_text(), "root.pub")
    keyset = verify_keyset(
        (published / "keyset.json").read_bytes(),
        (published / "keyset.json.sig").read_bytes(),
        [root],
        None,
    )
    data = (published / "release.json").read_bytes()
    first = read_manifest((published / "releases/1/release.json").read_bytes(), "r1")
    manifest = verify_manifest(
        data,
        (published / "release.json.sig").read_bytes(),
        keyset,
        1,
        first.created + timedelta(days=1),
        first.created,
    )
    assert manifest.release == 2
    assert manifest.expires - manifest.created == timedelta(days=2)
    artefact = manifest.artefacts[CACHE_ARTEFACT]
    check_artefact(published / artefact.path, artefact)
    with ListCache.open(published / artefact.path) as cache:
        assert cache.header.release == 2
        assert cache.lookup("www.site3029.example3.net").listed
        assert not cache.lookup("site0.example0.net").listed
    delta = manifest.delta_from(1)
    assert delta is not None
    assert delta.size < 0.2 * artefact.size
    out = io.BytesIO()
    with (published / delta.path).open("rb") as stream:
        apply_delta(published / "releases/1/lists.cache", stream, out, artefact.size)
    assert out.getvalue() == (published / artefact.path).read_bytes()


def test_signify_openbsd_verifies_the_published_tree(published: Path, tmp_path: Path) -> None:
    tool = shutil.which("signify-openbsd")
    if tool is None:
        pytest.skip("signify-openbsd is not installed (scripts/setup.sh installs it)")
    for document, key in (("keyset.json", "root.pub"), ("release.json", "release.pub")):
        done = subprocess.run(
            [tool, "-V", "-p", str(tmp_path / key), "-m", str(published / document)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr


def test_signing_on_another_host(
    published: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "list.txt").write_text(names(3000, 60))
    run(capsys, "dist", "build", "--tree", "tree", "--category", "adult", "list.txt")
    # The signing host gets the new manifest, the published one and the key set.
    host = tmp_path / "signing-host"
    host.mkdir()
    shutil.copy(published / "releases/3/release.json", host / "release.json")
    shutil.copy(published / "release.json", host / "published.json")
    shutil.copy(published / "keyset.json", host / "keyset.json")
    shutil.move(tmp_path / "release.sec", host / "release.sec")
    argv = ["dist", "sign", "--key", str(host / "release.sec"), "--after"]
    status, out, _ = run(
        capsys,
        *argv,
        str(host / "published.json"),
        "--with-keyset",
        str(host / "keyset.json"),
        str(host / "release.json"),
    )
    assert status == 0, out
    # A second signature of the same release against the same floor is fine;
    # signing release 2's manifest again is refused as a rollback.
    status, _out, err = run(
        capsys, *argv, str(host / "published.json"), str(published / "releases/2/release.json")
    )
    assert status == 2
    assert "not newer than the published release 2" in err
    shutil.copy(host / "release.json.sig", published / "releases/3/release.json.sig")
    status, out, _ = run(capsys, "dist", "publish", "tree")
    assert (status, out.strip().split(" (")[0]) == (0, "published release 3")


def test_keygen_never_overwrites_a_key(
    published: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = (tmp_path / "root.sec").read_bytes()
    status, _out, err = run(capsys, "dist", "keygen", "--root", "-o", "root")
    assert status == 2
    assert "exists" in err
    assert (tmp_path / "root.sec").read_bytes() == before
    assert (tmp_path / "root.sec").stat().st_mode & 0o777 == 0o600


def test_rotation_and_revocation_through_the_command(
    published: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "dist", "keygen", "-o", "second")
    status, out, _ = run(
        capsys,
        "dist",
        "sign",
        "--keyset",
        "--key",
        "root.sec",
        "--add",
        "second.pub",
        "--revoke",
        "release.pub",
        "tree/keyset.json",
    )
    assert status == 0
    assert "key set version 2 (1 keys, 1 revoked)" in out
    (tmp_path / "list.txt").write_text(names(100))
    run(capsys, "dist", "build", "--tree", "tree", "--category", "adult", "list.txt")
    status, _out, err = run(
        capsys, "dist", "sign", "--key", "release.sec", "tree/releases/3/release.json"
    )
    assert status == 2
    assert "not a release key of key set version 2" in err
    status, out, _ = run(
        capsys, "dist", "sign", "--key", "second.sec", "--publish", "tree/releases/3/release.json"
    )
    assert status == 0
    assert "published release 3" in out


def test_build_refuses_a_tree_without_a_key_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "list.txt").write_text(names(10))
    status, _out, err = run(
        capsys,
        "dist",
        "build",
        "--tree",
        str(tmp_path / "t"),
        "--category",
        "adult",
        str(tmp_path / "list.txt"),
    )
    assert status == 2
    assert "no key set" in err


def test_build_honours_the_budget(published: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _out, err = run(
        capsys,
        "dist",
        "build",
        "--tree",
        "tree",
        "--category",
        "adult",
        "list.txt",
        "--budget",
        "1K",
    )
    assert status == 2
    assert "over the budget of 1024 bytes" in err
    assert not (published / "releases/3").exists()


def test_durations() -> None:
    assert parse_duration("7d") == timedelta(days=7)
    assert parse_duration("90m") == timedelta(minutes=90)
    assert parse_duration("3600") == timedelta(hours=1)
    with pytest.raises(Exception, match="not a duration"):
        parse_duration("soon")


def test_serve_answers_a_conditional_get_with_304(published: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    server = subprocess.Popen(
        [sys.executable, "-m", "copgate", "dist", "serve", str(published), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert found, line
        port = int(found.group(1))
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request("GET", "/release.json")
        response = connection.getresponse()
        assert response.status == 200
        assert response.read() == (published / "release.json").read_bytes()
        etag = response.getheader("ETag") or ""
        connection.request("GET", "/release.json", headers={"If-None-Match": etag})
        again = connection.getresponse()
        again.read()
        assert again.status == 304
        connection.close()
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=10) == 0


def test_signing_with_no_published_release_to_compare_says_so(
    published: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(published / "releases/2/release.json", tmp_path / "copy.json")
    status, _out, err = run(capsys, "dist", "sign", "--key", "release.sec", "copy.json")
    assert status == 0
    assert "not checked against a rollback" in err
    status, _out, err = run(
        capsys, "dist", "sign", "--key", "release.sec", "tree/releases/2/release.json"
    )
    assert status == 2
    assert "rollback" in err
