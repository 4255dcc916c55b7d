"""copgate.edges.residency: only clean file pages are released, and they read back intact.

The parser is fed smaps text as the kernel writes it; the release itself is
tried on a real mapping of a temporary file, and on the daemon's own case:
``copgate run``'s first ``cryptography`` import (issue 10).
"""

from __future__ import annotations

import ast
import dataclasses
import io
import mmap
import os
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from copgate.edges import _madvise_ffi, residency
from copgate.edges.residency import cryptography_files, read_maps, released_after, to_release

SMAPS = """\
7f61a3400000-7f61a3a00000 r-xp 00100000 fe:00 1234      /venv/_rust.abi3.so
Size:               6144 kB
Rss:                4528 kB
Private_Dirty:         0 kB
Anonymous:             0 kB
VmFlags: rd ex mr mw me
7f61a3a00000-7f61a3c50000 r--p 00700000 fe:00 1234      /venv/_rust.abi3.so
Size:               2368 kB
Anonymous:           612 kB
THPeligible:    0
7f61a3c50000-7f61a3c61000 rw-p 00950000 fe:00 1234      /venv/_rust.abi3.so
Anonymous:            68 kB
55d0c0a00000-55d0c0b00000 rw-p 00000000 00:00 0         [heap]
Anonymous:          1024 kB
7f61a4000000-7f61a4100000 rw-p 00000000 00:00 0
Anonymous:           100 kB
7f61a5000000-7f61a5001000 r--p 00000000 fe:00 99        /usr/lib/with space.so
Anonymous:             0 kB
"""


def test_smaps_gives_each_mapping_with_its_anonymous_pages() -> None:
    mappings = read_maps(SMAPS.splitlines())
    assert [(m.perms, m.path, m.anonymous_kb) for m in mappings] == [
        ("r-xp", "/venv/_rust.abi3.so", 0),
        ("r--p", "/venv/_rust.abi3.so", 612),
        ("rw-p", "/venv/_rust.abi3.so", 68),
        ("rw-p", "[heap]", 1024),
        ("rw-p", "", 100),
        ("r--p", "/usr/lib/with space.so", 0),
    ]
    assert (mappings[0].start, mappings[0].end) == (0x7F61A3400000, 0x7F61A3A00000)


def test_maps_lines_alone_say_nothing_of_anonymous_pages_so_nothing_is_releasable() -> None:
    header = SMAPS.splitlines()[0]
    (mapping,) = read_maps([header + "\n"])
    assert mapping.anonymous_kb is None and not mapping.releasable


def test_only_clean_read_only_file_mappings_are_releasable() -> None:
    releasable = [m.releasable for m in read_maps(SMAPS.splitlines())]
    # text; relocated rodata (copied on write); data; heap; anonymous; a clean file
    assert releasable == [True, False, False, False, False, True]


def test_only_files_mapped_since_before_are_released() -> None:
    mappings = read_maps(SMAPS.splitlines())
    assert to_release(mappings, {"/usr/lib/with space.so"}) == [mappings[0]]
    assert to_release(mappings, {"/venv/_rust.abi3.so", "/usr/lib/with space.so"}) == []


def test_copgate_run_releases_only_cryptographys_own_files() -> None:
    # Another thread may be loading a library of its own meanwhile (half mapped):
    # only the files an import of cryptography alone loads are ever advised.
    owned = [
        "/usr/lib/python3.11/site-packages/cryptography/hazmat/bindings/_rust.abi3.so",
        "/venv/lib/python3.11/site-packages/_cffi_backend.cpython-311-x86_64-linux-gnu.so",
    ]
    others = ["/usr/lib/x86_64-linux-gnu/libssl.so.3", "/usr/lib/python3.11/lib-dynload/_ssl.so"]
    assert [path for path in owned + others if cryptography_files(path)] == owned
    mappings = [
        dataclasses.replace(m, path=path)
        for m in read_maps(SMAPS.splitlines())[:1]
        for path in owned + others
    ]
    assert [m.path for m in to_release(mappings, set(), cryptography_files)] == owned


@pytest.mark.parametrize("line", ["garbage", "7f61a3400000-7f61a3a00000 r-xp"])
def test_a_line_of_unknown_shape_stops_the_read(line: str) -> None:
    with pytest.raises(ValueError, match="not a"):
        read_maps([line])


def test_a_field_before_any_mapping_stops_the_read() -> None:
    with pytest.raises(ValueError, match="before any mapping"):
        read_maps(["Anonymous: 0 kB\n"])


def _rss_kb(path: Path) -> int:
    """Resident kB of this process's mappings of ``path`` (smaps' Rss)."""
    total, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split(" ", 1)[0]
        if "-" in head and not head.endswith(":"):
            inside = line.endswith(" " + str(path))
        elif inside and head == "Rss:":
            total += int(line.split()[1])
    return total


def test_a_file_mapped_inside_the_block_is_unmapped_after_it_and_reads_back(
    tmp_path: Path,
) -> None:
    path = tmp_path / "library.bin"
    content = os.urandom(64 * 1024) * 8
    path.write_bytes(content)
    with path.open("rb") as file:
        with released_after():
            mapped = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
            touched = sum(mapped[offset] for offset in range(0, len(content), 4096))
            assert _rss_kb(path) >= len(content) // 1024
        try:
            assert _rss_kb(path) == 0
            assert mapped[:] == content  # the pages come back from the file, unchanged
            assert touched == sum(content[offset] for offset in range(0, len(content), 4096))
        finally:
            mapped.close()


def test_a_file_mapped_before_the_block_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "earlier.bin"
    path.write_bytes(bytes(256 * 1024))
    with path.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        assert not any(mapped[offset] for offset in range(0, len(mapped), 4096))
        with released_after():
            pass
        assert _rss_kb(path) == len(mapped) // 1024


def test_a_block_that_maps_no_new_file_reads_no_smaps(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []
    monkeypatch.setattr(residency, "release", calls.append)
    with released_after():
        pass  # an import of modules loaded already
    assert calls == []


def test_without_cffi_nothing_is_released_and_nothing_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "copgate.edges._madvise_ffi", None)  # an absent module
    path = tmp_path / "kept.bin"
    path.write_bytes(bytes(128 * 1024))
    with path.open("rb") as file:
        with released_after():
            mapped = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
            assert not any(mapped[offset] for offset in range(0, len(mapped), 4096))
        try:
            assert _rss_kb(path) == len(mapped) // 1024
        finally:
            mapped.close()


def _ffi_arguments(source: str) -> dict[str, object]:
    """The keyword arguments of the ``_cffi_backend.FFI(...)`` call in ``source``."""
    call = next(
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        if node.func.attr == "FFI"
    )
    return {kw.arg or "": ast.literal_eval(kw.value) for kw in call.keywords}


def test_the_madvise_module_is_what_cffi_generates_from_its_declaration(tmp_path: Path) -> None:
    cffi = pytest.importorskip("cffi")  # the cffi package (pycparser) generates; run needs none
    ffi = cffi.FFI()
    ffi.cdef(_madvise_ffi.DECLARATION)
    ffi.set_source("_madvise_ffi", None)
    generated = tmp_path / "generated.py"
    with redirect_stdout(io.StringIO()):  # cffi says "generating ..."
        ffi.emit_python_code(str(generated))
    ours = Path(_madvise_ffi.__file__).read_text()
    assert _ffi_arguments(ours) == _ffi_arguments(generated.read_text())


BINDING_PROBE = """
import sys
from pathlib import Path
if sys.argv[1].startswith("run"):
    from copgate.cli import main
    main(["run", "--config", "/nonexistent/copgate.toml"])  # status 2; the wrap is in place
from copgate.wire import quic_keys
if sys.argv[1].endswith("verify"):  # the updater's first signature check imports it
    from copgate.release.errors import BadSignature
    from copgate.release.signify import PublicKey, Signature, verify
    key = PublicKey(keynum=bytes(8), key=bytes(32))
    try:
        verify(b"release", Signature(keynum=bytes(8), sig=bytes(64)), [key], "probe")
    except BadSignature:
        pass
else:
    quic_keys._crypto()
import cryptography.hazmat.bindings._rust as binding
from copgate.edges.residency import read_maps
clean = [m for m in read_maps(Path("/proc/self/smaps").read_text().splitlines())
         if m.path == binding.__file__ and m.releasable]
rss, inside = 0, False
for line in Path("/proc/self/smaps").read_text().splitlines():
    head = line.split(" ", 1)[0]
    if "-" in head and not head.endswith(":"):
        start = int(head.split("-")[0], 16)
        inside = any(m.start == start for m in clean)
    elif inside and head == "Rss:":
        rss += int(line.split()[1])
keys = quic_keys.derive_client_initial_keys(1, bytes.fromhex("8394c8f03e515708"))
print(len(clean), rss, keys.key.hex())
"""
RFC9001_CLIENT_KEY = "1f369613dd76d5467730efcbe3b1a22d"  # RFC 9001 §A.1, client "quic key"


def _binding_probe(mode: str) -> tuple[int, int, str]:
    out = subprocess.run(
        [sys.executable, "-c", BINDING_PROBE, mode], capture_output=True, text=True, check=True
    ).stdout.split()
    return int(out[0]), int(out[1]), out[2]


def test_copgate_run_gives_back_the_pages_the_cryptography_import_touched() -> None:
    mappings, resident_kb, key = _binding_probe("run")
    assert mappings >= 1
    # None of the binding's clean pages until keys are derived (it is 0 here; a few
    # 64 KiB fault-arounds are allowed for a collection that runs a binding's dealloc).
    assert resident_kb <= 256
    assert key == RFC9001_CLIENT_KEY  # and deriving after the release still works


def test_copgate_run_gives_them_back_when_a_signature_check_imports_it_first() -> None:
    mappings, released_kb, key = _binding_probe("run-verify")
    _mappings, kept_kb, _key = _binding_probe("plain-verify")
    # The check itself touches some of the binding (about 3.2 MB); of the
    # import's own pages (about 2.6 MB more) some are gone. How many varies with
    # the machine (a CI run kept 6.7 of 7.6 MB): the benchmark measures it.
    assert mappings >= 1 and released_kb < kept_kb
    assert key == RFC9001_CLIENT_KEY


def test_without_copgate_run_the_import_keeps_its_pages() -> None:
    mappings, resident_kb, key = _binding_probe("plain")
    assert mappings >= 1 and resident_kb > 1024  # the import's own touch, MBs of it
    assert key == RFC9001_CLIENT_KEY
