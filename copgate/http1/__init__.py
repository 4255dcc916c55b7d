"""HTTP/1.1 as copgate's own servers read it: strictly, without I/O (see ``request``)."""
