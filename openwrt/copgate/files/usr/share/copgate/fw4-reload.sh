#!/bin/sh
# Run by fw4 after it loads its ruleset (a firewall include of type script,
# added by /etc/uci-defaults/90-copgate). fw4 just rebuilt "inet fw4", so its
# flow-offload rule is back without copgate's condition: SIGHUP to a running
# copgate re-applies it. Not "/etc/init.d/copgate reload": with the config
# unchanged, procd sees nothing to do and sends no signal. A stopped copgate
# is left stopped (procd has no instance to signal).
[ -x "${IPKG_INSTROOT}/etc/init.d/copgate" ] || exit 0
. "${IPKG_INSTROOT}/lib/functions/procd.sh"
procd_send_signal copgate copgate HUP >/dev/null 2>&1
exit 0
