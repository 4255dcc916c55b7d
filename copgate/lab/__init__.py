"""The network-namespace lab copgate is proven in, and ``copgate demo`` builds.

``topology.Lab`` builds LAN clients, a gateway and an internet in network
namespaces of their own; ``servers`` runs real DNS, HTTPS and HTTP/3 servers
there; ``clients`` runs real clients (dig, kdig, curl, openssl, aioquic,
Chromium) and returns what they saw. It needs root, ``ip``, ``iptables`` and
the Debian packages the README names; it never sends a packet outside the
namespaces it created, and never touches a namespace or process it did not
create. The daemon never imports it.
"""
