"""The gateway daemon: a pure engine (packets and time in, verdicts out) and
the event loop that serves it from the netfilter queue."""
