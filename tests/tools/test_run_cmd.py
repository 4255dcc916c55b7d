"""copgate run: the daemon's process keeps OpenSSL's libcrypto out (issue 10, memory)."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
from copgate.cli import main
status = main(["run", "--config", "/nonexistent/copgate.toml"])
import copgate.daemon.run, hashlib, hmac
from copgate.lists.hashing import keyed_hasher
print(status, sys.modules["_hashlib"])
print(hashlib.sha256(b"abc").hexdigest())
print(hmac.new(b"key", b"message", "sha256").hexdigest())
print(keyed_hasher().name)
print(any("libcrypto" in line for line in open("/proc/self/maps")))
"""


def test_copgate_run_uses_cpythons_own_hashes_and_maps_no_libcrypto() -> None:
    lines = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert lines[0] == "2 None"  # the bad config's exit status; hashlib saw no OpenSSL
    # FIPS 180-2's SHA-256 test vector, and HMAC-SHA-256 as OpenSSL computes it.
    assert lines[1] == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert lines[2] == "6e9ef29b75fffc5b7abae527d58fdadb2fe42e7219011976917343065f58ed4a"
    assert lines[3] == "blake2s"
    assert lines[4] == "False"
