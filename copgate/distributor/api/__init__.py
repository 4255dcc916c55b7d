"""The distributor's JSON API: report intake from gateways and people, and automation for experts.

The intake implements ``docs/reports.md`` exactly (status codes, idempotency
keys, the 4 KiB cap); the rest serves experts' and administrators' scripts.
``openapi.json`` describes every endpoint and the tests hold the service to
it. This package runs on the distributor's server only, never on a router.
"""
