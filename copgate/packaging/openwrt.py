"""The OpenWrt packages that provide what copgate's router-side code imports.

OpenWrt splits CPython's standard library (``lang/python/python3`` in the
packages feed: ``Makefile`` and ``files/python3-package-*.mk``): most of it
is ``python3-light``; the modules below are cut out into packages of their
own, and a router has them only when something depends on them. A few
(``tkinter``, ``idlelib``, ``ensurepip``, ``turtledemo``) are in no package.
``SPLIT`` is that table for OpenWrt 23.05 and 24.10 (Python 3.11); the
third-party packages copgate may import are in ``THIRD_PARTY``.

Pure data and a lookup; ``tests/openwrt/test_depends.py`` checks the
recipe's DEPENDS against it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

SPLIT: Mapping[str, str] = MappingProxyType(
    {
        "asyncio": "python3-asyncio",
        "cgi": "python3-cgi",
        "cgitb": "python3-cgi",
        "unicodedata": "python3-codecs",
        "_codecs_cn": "python3-codecs",
        "_codecs_hk": "python3-codecs",
        "_codecs_iso2022": "python3-codecs",
        "_codecs_jp": "python3-codecs",
        "_codecs_kr": "python3-codecs",
        "_codecs_tw": "python3-codecs",
        "stringprep": "python3-codecs",  # imports unicodedata
        "ctypes": "python3-ctypes",
        "dbm": "python3-dbm",
        "decimal": "python3-decimal",
        "_pydecimal": "python3-decimal",
        "distutils": "python3-distutils",
        "email": "python3-email",
        "lib2to3": "python3-lib2to3",
        "logging": "python3-logging",
        "lzma": "python3-lzma",
        "multiprocessing": "python3-multiprocessing",
        "curses": "python3-ncurses",
        "ssl": "python3-openssl",
        "_hashlib": "python3-openssl",
        "pydoc": "python3-pydoc",
        "pydoc_data": "python3-pydoc",
        "readline": "python3-readline",
        "sqlite3": "python3-sqlite3",
        "unittest": "python3-unittest",
        "urllib": "python3-urllib",
        "uuid": "python3-uuid",
        "venv": "python3-venv",
        "webbrowser": "python3-webbrowser",
        "xml": "python3-xml",
        "xmlrpc": "python3-xml",
        "pyexpat": "python3-xml",
    }
)
"""Standard-library top-level module -> the OpenWrt package that has it."""
NOT_PACKAGED = frozenset({"tkinter", "idlelib", "ensurepip", "turtledemo", "test"})
"""Standard-library modules no OpenWrt package installs."""
LIGHT = "python3-light"
THIRD_PARTY: Mapping[str, str] = MappingProxyType(
    {
        "cryptography": "python3-cryptography",  # QUIC Initial keys, release signatures
        "_cffi_backend": "python3-cffi",  # madvise after cryptography's import (residency)
    }
)
"""Other top-level modules copgate's router code may import -> their feed package."""
IDNA_CODEC = "python3-codecs"
"""``str.encode("idna")`` needs ``unicodedata`` (``copgate.wire.names``)."""
KERNEL = ("kmod-nft-queue", "kmod-nfnetlink-queue")
"""The nftables ``queue`` expression and nfnetlink_queue, which copgate binds."""


class UnknownModuleError(LookupError):
    """A module no OpenWrt package is known to provide."""


def package_of(module: str, *, stdlib: bool) -> str:
    """The OpenWrt package of top-level ``module`` (``stdlib``: it is CPython's)."""
    if stdlib:
        if module in NOT_PACKAGED:
            raise UnknownModuleError(f"{module}: in no OpenWrt python3 package")
        return SPLIT.get(module, LIGHT)
    if module in THIRD_PARTY:
        return THIRD_PARTY[module]
    raise UnknownModuleError(f"{module}: no OpenWrt package is known for it (THIRD_PARTY)")


def python_depends(modules: Iterable[tuple[str, bool]]) -> frozenset[str]:
    """The packages for (top-level module, is stdlib) pairs."""
    return frozenset(package_of(name, stdlib=stdlib) for name, stdlib in modules)
