"""copgate: a child-online-protection gateway for OpenWrt-class routers."""

__version__ = "0.1.0"
