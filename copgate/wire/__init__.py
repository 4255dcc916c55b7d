"""The pure wire core: bytes in, questions out.

Nothing in this package touches sockets, netfilter, files or the clock; the
current time is always an argument. A parser has three outcomes: a result,
``None`` meaning "incomplete, feed me more", or ``copgate.errors.WireError``.
Any other exception escaping is a bug, and the fuzz tests prove there is none.
"""
