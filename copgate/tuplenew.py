"""``new_tuple``: a NamedTuple built by tuple's own C constructor, for the packet path.

``new_tuple(SomeNamedTuple, (fields...))`` costs half of ``SomeNamedTuple(...)``,
whose generated ``__new__`` is a Python function: measurable for the few
values built for every DNS query (``benchmarks/bench_queue.py``). The price is
that nothing checks the fields: every field goes in, in the class's order
(defaults are not filled in), and the tests that compare such values with
ones built the usual way (``tests/daemon/test_dns_fast.py``, the readers'
property tests) hold the order. Use it only where a packet's cost is counted.
"""

from __future__ import annotations

new_tuple = tuple.__new__
