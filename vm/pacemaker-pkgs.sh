#!/bin/bash
# Part of vm/setup.sh (optional: only suites that `// @needs pacemaker` use it): Debian bookworm's
# Pacemaker for the GUEST, never installed on the host. Like vm/cluster-pkgs.sh (whose tree,
# corosync and its libraries, a guest installs first): `apt-get download`s the packages below plus
# every library they depend on that the host does not have, and extracts them with `dpkg -x` into
# $PCMK_ROOT (= $CACHE/pacemaker-root), merged-/usr style. Its own stamp, so the corosync tree's
# cache stays valid. Checks with ldd (the corosync tree's libraries, then this one's, then the
# host's) that pacemakerd, its daemons and the CLI tools find every shared library.
set -euo pipefail
. "$(dirname "$0")/common.sh"
export DEBIAN_FRONTEND=noninteractive
PCMK_ROOT=$CACHE/pacemaker-root
# pacemaker (daemons), its CLI (crm_mon, crm_attribute, cibadmin, stonith_admin, crm_resource),
# ocf:pacemaker:* and ocf:heartbeat:* (Filesystem, ocf-tester), xmllint (ocf-tester validates meta-data)
TOP=(pacemaker pacemaker-cli-utils pacemaker-resource-agents resource-agents libxml2-utils)
# maintainer-script-only dependencies, and what the corosync tree already has
SKIP=" init-system-helpers adduser lsb-base sysvinit-utils xsltproc debconf kmod systemd corosync
  libknet1 libnozzle1 libqb100 libcorosync-common4 libcpg4 libquorum5 libcmap4 libcfg7 libvotequorum8
  libstatgrab10 cluster-glue libstonith1 "
BINS=(usr/sbin/pacemakerd usr/lib/pacemaker/pacemaker-based usr/lib/pacemaker/pacemaker-fenced
      usr/lib/pacemaker/pacemaker-execd usr/lib/pacemaker/pacemaker-attrd
      usr/lib/pacemaker/pacemaker-schedulerd usr/lib/pacemaker/pacemaker-controld
      usr/sbin/crm_mon usr/sbin/crm_attribute usr/sbin/cibadmin usr/sbin/stonith_admin
      usr/sbin/crm_resource usr/sbin/crm_node)
STAMP=$PCMK_ROOT/.o2stack-pacemaker-pkgs
want="${TOP[*]}"

if [ -f "$STAMP" ] && [ "$(head -n 1 "$STAMP")" = "$want" ] && [ -x "$PCMK_ROOT/usr/sbin/pacemakerd" ]; then
  exit 0
fi
[ -x "$CLUSTER_ROOT/usr/sbin/corosync" ] || "$VMDIR/cluster-pkgs.sh"
installed() { dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q '^install ok installed$'; }
apt-cache show pacemaker >/dev/null 2>&1 || apt-get update -q

declare -A seen=()
queue=("${TOP[@]}")
pkgs=()
for ((i = 0; i < ${#queue[@]} && i < 500; i++)); do
  p=${queue[$i]}
  [ -n "${seen[$p]:-}" ] && continue
  seen[$p]=1
  pkgs+=("$p")
  while read -r d; do
    d=${d%%:*}
    [ -n "$d" ] && [ -z "${seen[$d]:-}" ] || continue
    case $SKIP in *" $d "*) continue;; esac
    installed "$d" && continue
    queue+=("$d")
  done < <(apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances "$p" 2>/dev/null \
             | sed -nE 's/^  (Pre)?Depends: ([^<][^ ]*)$/\2/p')
done
echo "setup: pacemaker for the guest: ${pkgs[*]}"

debs=$CACHE/debs/pacemaker
mkdir -p "$debs"
fetch() { (cd "$debs" && apt-get download -q -o APT::Sandbox::User=root "$@" >/dev/null); }
fetch "${pkgs[@]}" || { apt-get update -q && fetch "${pkgs[@]}"; } || die "apt-get download ${pkgs[*]} failed"

tmp=$PCMK_ROOT.tmp
rm -rf "$tmp"; mkdir -p "$tmp"
for p in "${pkgs[@]}"; do
  deb=$(ls -t "$debs/${p}"_*.deb 2>/dev/null | head -n 1)
  [ -n "$deb" ] || die "no .deb for $p in $debs"
  dpkg -x "$deb" "$tmp"
done
for d in lib lib64 bin sbin; do
  if [ -d "$tmp/$d" ] && [ ! -L "$tmp/$d" ]; then
    mkdir -p "$tmp/usr/$d"; cp -a "$tmp/$d/." "$tmp/usr/$d/"; rm -rf "${tmp:?}/$d"
  fi
done
rm -rf "$tmp/usr/share/doc" "$tmp/usr/share/man" "$tmp/usr/share/lintian"

libpath=$tmp/usr/lib/x86_64-linux-gnu:$tmp/usr/lib:$CLUSTER_ROOT/usr/lib/x86_64-linux-gnu
for b in "${BINS[@]}"; do
  [ -x "$tmp/$b" ] || die "the extracted packages have no $b"
  miss=$(LD_LIBRARY_PATH=$libpath ldd "$tmp/$b" 2>&1 | grep 'not found' || true)
  [ -z "$miss" ] || die "$b: libraries missing for the guest: $miss"
done
{ echo "$want"; echo "${pkgs[*]}"; } > "$tmp/.o2stack-pacemaker-pkgs"
rm -rf "$PCMK_ROOT"; mv "$tmp" "$PCMK_ROOT"
echo "setup: extracted into $PCMK_ROOT ($(du -sh "$PCMK_ROOT" | cut -f1))"
