"""Building copgate's packages: the OpenWrt ``.ipk`` and what goes in it.

Never part of a router's install: ``router`` decides which of copgate's
modules a router needs (and so which OpenWrt Python packages), ``ipk``
writes the package. Both run on a build machine.
"""
