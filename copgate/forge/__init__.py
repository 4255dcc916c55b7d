"""Pure builders of the packets copgate injects: forged DNS answers, TCP resets,
HTTP redirects. Bytes in, bytes out; sending them is the daemon's edge.
"""
