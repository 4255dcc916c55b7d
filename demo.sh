#!/usr/bin/env bash
# copgate's demo on a fresh Debian machine: installs what it needs, then
# runs `copgate demo`.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup.sh
copgate_setup
# The lab needs root: network namespaces, iptables, the netfilter queue.
exec $SUDO .venv/bin/copgate demo "$@"
