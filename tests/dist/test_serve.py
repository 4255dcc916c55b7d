"""dist serve: files of one tree only, with ETag / Last-Modified and 304 answers."""

from __future__ import annotations

import email.utils
import http.client
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from copgate.dist.serve import IMMUTABLE, REVALIDATE, TreeServer


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    root = tmp_path / "tree"
    (root / "releases/1").mkdir(parents=True)
    (root / "release.json").write_bytes(b'{"format": 1}\n')
    (root / "releases/1/lists.cache").write_bytes(b"\x89CPGLST\n" + bytes(100))
    (root / ".release.json.123.tmp").write_bytes(b"half a file")
    (tmp_path / "secret.txt").write_bytes(b"outside the tree")
    (root / "escape").symlink_to(tmp_path / "secret.txt")
    server = TreeServer(("127.0.0.1", 0), root)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield root, server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def get(port: int, path: str, method: str = "GET", **headers: str) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request(method, path, headers={k.replace("_", "-"): v for k, v in headers.items()})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_a_file_is_served_with_validators(served: tuple[Path, int]) -> None:
    root, port = served
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request("GET", "/release.json")
    response = connection.getresponse()
    assert response.status == 200
    assert response.read() == (root / "release.json").read_bytes()
    assert response.getheader("Content-Type") == "application/json"
    assert response.getheader("ETag")
    assert response.getheader("Last-Modified")
    assert response.getheader("Cache-Control") == REVALIDATE
    connection.close()


def test_release_artefacts_are_immutable(served: tuple[Path, int]) -> None:
    _root, port = served
    response = get(port, "/releases/1/lists.cache")
    assert response.status == 200
    assert response.getheader("Cache-Control") == IMMUTABLE
    assert response.getheader("Content-Length") == "108"


def test_if_none_match_with_the_etag_is_304(served: tuple[Path, int]) -> None:
    _root, port = served
    etag = get(port, "/release.json").getheader("ETag") or ""
    assert get(port, "/release.json", If_None_Match=etag).status == 304
    assert get(port, "/release.json", If_None_Match=f'"other", W/{etag}').status == 304
    assert get(port, "/release.json", If_None_Match='"other"').status == 200


def test_a_changed_file_gets_a_new_etag(served: tuple[Path, int]) -> None:
    root, port = served
    etag = get(port, "/release.json").getheader("ETag") or ""
    (root / "release.json").write_bytes(b'{"format": 1, "release": 2}\n')
    assert get(port, "/release.json", If_None_Match=etag).status == 200


def test_if_modified_since_is_304_unless_the_file_is_newer(served: tuple[Path, int]) -> None:
    root, port = served
    mtime = (root / "release.json").stat().st_mtime
    then = email.utils.formatdate(mtime, usegmt=True)
    assert get(port, "/release.json", If_Modified_Since=then).status == 304
    os.utime(root / "release.json", (mtime + 10, mtime + 10))
    assert get(port, "/release.json", If_Modified_Since=then).status == 200
    assert get(port, "/release.json", If_Modified_Since="not a date").status == 200


def test_if_none_match_wins_over_if_modified_since(served: tuple[Path, int]) -> None:
    root, port = served
    now = email.utils.formatdate((root / "release.json").stat().st_mtime + 60, usegmt=True)
    response = get(port, "/release.json", If_None_Match='"other"', If_Modified_Since=now)
    assert response.status == 200


def test_head_sends_headers_only(served: tuple[Path, int]) -> None:
    _root, port = served
    response = get(port, "/release.json", method="HEAD")
    assert response.status == 200
    assert response.getheader("Content-Length") == "14"


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/releases/",
        "/releases/1",
        "/../secret.txt",
        "/releases/%2e%2e/%2e%2e/secret.txt",
        "/releases/1/../../../secret.txt",
        "/escape",
        "/.release.json.123.tmp",
        "/absent.json",
        "//etc/passwd",
    ],
)
def test_nothing_but_files_of_the_tree_is_served(served: tuple[Path, int], path: str) -> None:
    _root, port = served
    assert get(port, path).status == 404


def test_other_methods_are_not_allowed(served: tuple[Path, int]) -> None:
    _root, port = served
    assert get(port, "/release.json", method="PUT").status == 501
