"""The distributor's curation service (issue 14): a Django site, never on a router.

Experts classify, administrators publish, users and gateways report. The
service writes the signed-release tree of ``copgate.dist``; serving that tree
to gateways is a CDN's or nginx's job. Installed as the ``distributor`` extra;
``copgate.packaging.router`` keeps this package off routers.
"""
