"""What a family does with a block: see why, ask for access, report a mistake or a site.

The block page's content and forms (``page``, ``i18n``, ``csrf``,
``ratelimit``, ``app``), the durable queue of requests and reports
(``store``), the administrator's grants on disk (``grantfile``), the
forwarding of reports to the distributor (``forward``) and the block page's
own name (``pagename``). The HTTP server itself is ``copgate.edges.blockpage``.
"""
