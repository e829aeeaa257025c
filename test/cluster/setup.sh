#!/bin/sh
# Installs what `npm run test:cluster` needs on a Debian machine (CI calls this as root):
# corosync (the daemon, its tools and its client libraries, which the addon dlopens: no -dev
# packages, no rebuild) and iproute2 (ip netns). Idempotent: packages already installed are not
# fetched again.
set -eu
PKGS="corosync iproute2"
missing=""
for p in $PKGS; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing="$missing $p"
  fi
done
if [ -z "$missing" ]; then
  echo "test/cluster/setup.sh: all present ($PKGS)"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "test/cluster/setup.sh: needs root to install:$missing" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# --no-install-recommends: no crmsh/pacemaker. The corosync package's postinst may try to start
# the service; on machines without systemd that fails harmlessly (policy-rc.d is honoured).
apt-get install -y -qq --no-install-recommends $missing
# The Debian package enables and starts corosync.service with the stock 1-node config; the
# cluster tests run their own instances in network namespaces and never touch it.
echo "test/cluster/setup.sh: installed:$missing"
