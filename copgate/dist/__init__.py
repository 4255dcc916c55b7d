"""The distributor's side of signed list releases: the tree, build, sign, publish, serve.

``copgate.release`` holds what both sides share (formats, trust checks,
deltas); this package writes release trees and is never imported by a
gateway. ``copgate.tools.dist_cmd`` is its command line. docs/releases.md is
the prose.
"""
