#!/bin/sh
# Installs copgate on Debian 12 or Raspberry Pi OS from a wheel, without the
# project's checkout or test tooling:
#     sudo sh install.sh copgate-0.1.0-py3-none-any.whl
# - a virtual environment in /opt/copgate with the wheel and its dependency
#   (cryptography; Debian's python3-cryptography is used when installed);
# - the built-in lists compiled to /var/lib/copgate/lists.cgc;
# - /etc/copgate/copgate.toml (kept if it exists);
# - the systemd unit, enabled (started once you have set lan_interfaces).
set -eu

wheel="${1:?usage: install.sh copgate-VERSION-py3-none-any.whl}"
here="$(dirname "$0")"
prefix=/opt/copgate

apt-get install -y python3-venv nftables iptables >/dev/null
python3 -m venv --system-site-packages "$prefix"
"$prefix/bin/pip" install --upgrade "$wheel"

data="$("$prefix/bin/python" -c 'import copgate.data, pathlib; print(pathlib.Path(copgate.data.__path__[0]))')"
install -d -m 0755 /var/lib/copgate /etc/copgate
"$prefix/bin/copgate" compile "$data/manifest.toml" --output /var/lib/copgate/lists.cgc
[ -e /etc/copgate/copgate.toml ] || install -m 0644 "$here/copgate.toml" /etc/copgate/copgate.toml
install -m 0644 "$here/copgate.service" /etc/systemd/system/copgate.service
systemctl daemon-reload
systemctl enable copgate.service
"$prefix/bin/copgate" config check /etc/copgate/copgate.toml
echo "copgate installed: set lan_interfaces in /etc/copgate/copgate.toml, then: systemctl start copgate"
