"""The edges: thin adapters between copgate's pure core and the system.

Each module here does I/O for one pure module in front of it (the netfilter
queue, the firewall rules, sockets, files) and holds no decision of its own.
"""
