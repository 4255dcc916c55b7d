#!/bin/sh
# Run by fw4 after it loads its ruleset (a firewall include of type script,
# added by /etc/uci-defaults/90-copgate). fw4 just rebuilt "inet fw4", so its
# flow-offload rule is back without copgate's condition: a reload of a
# running copgate (SIGHUP) re-applies it. A stopped copgate is left stopped.
[ -x /etc/init.d/copgate ] || exit 0
/etc/init.d/copgate running 2>/dev/null && /etc/init.d/copgate reload
exit 0
