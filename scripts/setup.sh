#!/usr/bin/env bash
# Install what copgate's demo and tests need on a fresh Debian machine:
# Debian packages with apt-get, Python packages into ./.venv. Idempotent.
# Sourced by demo.sh and test.sh; not meant to be run on its own.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

DEBIAN_PACKAGES=(
    python3 python3-venv python3-dev gcc            # the virtual environment (sdists without a wheel build)
    iproute2 iptables nftables ethtool util-linux   # the network-namespace lab; nft -c checks fw4 text
    dnsmasq-base unbound nginx-light                # real servers (lab, list benchmark)
    bind9-dnsutils knot-dnsutils curl openssl dnsperf  # real clients: dig, kdig, curl, s_client
    chromium chromium-driver                        # the headless browser in lab tests
    signify-openbsd                                 # release signatures: compatibility tests both ways
    dash systemd                                    # the OpenWrt init script's shell; systemd-analyze reads the unit
    postgresql gettext                              # the distributor service: its PostgreSQL tests, msgfmt
)

copgate_setup() {
    local root
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    echo "== apt-get: ${DEBIAN_PACKAGES[*]}" >&2
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${DEBIAN_PACKAGES[@]}" >/dev/null
    if [ ! -x "$root/.venv/bin/python" ]; then
        # Debian's interpreter, the one apt-get just installed with its venv
        # module: a python3 found first on PATH (pyenv's, say) may be another
        # build (measured: a non-PGO 3.11 ran the daemon's per-packet path 13%
        # slower, BENCHMARKS.md).
        /usr/bin/python3 -m venv "$root/.venv"
    fi
    echo "== pip: copgate with its gateway, tools and dev extras into .venv" >&2
    "$root/.venv/bin/python" -m pip install -q --upgrade pip
    "$root/.venv/bin/python" -m pip install -q -e "$root[gateway,tools,dev,distributor]"
}
