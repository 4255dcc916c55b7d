"""cffi's out-of-line ABI module for ``int madvise(void *, size_t, int)``.

For ``copgate.edges.residency``. cffi's backend (``_cffi_backend``, which
``cryptography`` loads too) reads the declaration from ``_types`` and
``_globals`` below: no C compiler and no pycparser at run time, so this
costs the daemon nothing to import once ``cryptography`` is in. Generated
with cffi (``FFI.cdef(DECLARATION)``, ``set_source(name, None)``,
``emit_python_code``); tests/edges/test_residency.py generates it again and
compares.
"""

import _cffi_backend  # type: ignore[import-untyped]  # cffi's C backend has no stubs

DECLARATION = "int madvise(void *addr, size_t length, int advice);"

ffi = _cffi_backend.FFI(
    "_madvise_ffi",
    _version=0x2601,
    _types=b"\x00\x00\x03\x0d\x00\x00\x05\x03\x00\x00\x1c\x01\x00\x00\x07\x01\x00\x00\x00\x0f\x00\x00\x00\x01",
    _globals=(b"\x00\x00\x00\x23madvise", 0),
)
