"""Signed list releases: signify keys and signatures, manifests, trust checks, deltas.

Everything here is pure: functions take bytes, paths of files already on disk
and the current time as arguments. Nothing here opens a socket, starts a
thread or reads the clock; fetching belongs to the updater, publishing to
``copgate.tools.dist_cmd``. docs/releases.md is the prose of this package.
"""
