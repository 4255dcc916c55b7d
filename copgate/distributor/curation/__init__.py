"""The curation app: categories, sources, entries, reports, proposals, releases.

It owns the data model and the server-rendered pages of every role; the JSON
API (``copgate.distributor.api``) codes against the same models and the same
permission checks (``permissions``).
"""
