#!/bin/bash
# Part of vm/setup.sh: Debian bookworm's corosync and dlm-controld for the GUEST, never installed
# on the host. `apt-get download`s the packages below plus every library they depend on that the
# host does not have (the guest's root is the host's root, so the host's libraries are there),
# and extracts them with `dpkg -x` into $CLUSTER_ROOT (= $CACHE/cluster-root), merged-/usr style
# (lib/, bin/, sbin/ moved under usr/). A guest copies that tree over its throwaway root with
# vm/guest-cluster.sh install. Does nothing when the tree is there for the same package list.
# Checks with ldd that corosync, dlm_controld and their tools find every shared library.
set -euo pipefail
. "$(dirname "$0")/common.sh"
export DEBIAN_FRONTEND=noninteractive
# the daemons and tools, and the corosync client libraries (also what the addon links)
TOP=(corosync dlm-controld libknet1 libnozzle1 libqb100 libcorosync-common4 libcpg4 libquorum5 libcmap4
     libcfg7 libvotequorum8 libstatgrab10 libdlm3 libdlmcontrol3)
# dependencies that only maintainer scripts use (the guest never runs those)
SKIP=" init-system-helpers adduser lsb-base sysvinit-utils xsltproc debconf kmod systemd "
# binaries that must load in the guest
BINS=(usr/sbin/corosync usr/sbin/dlm_controld usr/sbin/dlm_tool usr/sbin/corosync-quorumtool
      usr/sbin/corosync-cmapctl usr/sbin/corosync-cfgtool usr/sbin/corosync-cpgtool)
STAMP=$CLUSTER_ROOT/.o2stack-cluster-pkgs
want="${TOP[*]}"

if [ -f "$STAMP" ] && [ "$(head -n 1 "$STAMP")" = "$want" ] && [ -x "$CLUSTER_ROOT/usr/sbin/dlm_controld" ]; then
  exit 0
fi
installed() { dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q '^install ok installed$'; }
have_lists() { compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; }
have_lists || apt-get update -q
apt-cache show dlm-controld >/dev/null 2>&1 || apt-get update -q

# the closure: TOP, then (breadth first, bounded) each Depends/PreDepends (first alternative) that
# the host lacks
declare -A seen=()
queue=("${TOP[@]}")
pkgs=()
for ((i = 0; i < ${#queue[@]} && i < 500; i++)); do
  p=${queue[$i]}
  [ -n "${seen[$p]:-}" ] && continue
  seen[$p]=1
  pkgs+=("$p")
  while read -r d; do
    d=${d%%:*}                     # libfoo:amd64 -> libfoo
    [ -n "$d" ] && [ -z "${seen[$d]:-}" ] || continue
    case $SKIP in *" $d "*) continue;; esac
    installed "$d" && continue
    queue+=("$d")
  done < <(apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances "$p" 2>/dev/null \
             | sed -nE 's/^  (Pre)?Depends: ([^<][^ ]*)$/\2/p')
done
echo "setup: corosync + dlm_controld for the guest: ${pkgs[*]}"

debs=$CACHE/debs/cluster
mkdir -p "$debs"
fetch() { (cd "$debs" && apt-get download -q -o APT::Sandbox::User=root "$@" >/dev/null); }
fetch "${pkgs[@]}" || { apt-get update -q && fetch "${pkgs[@]}"; } || die "apt-get download ${pkgs[*]} failed"

tmp=$CLUSTER_ROOT.tmp
rm -rf "$tmp"; mkdir -p "$tmp"
for p in "${pkgs[@]}"; do
  deb=$(ls -t "$debs/${p}"_*.deb 2>/dev/null | head -n 1)
  [ -n "$deb" ] || die "no .deb for $p in $debs"
  dpkg -x "$deb" "$tmp"
done
# merged /usr: the guest's /lib, /bin, /sbin are symlinks into /usr (as on the host)
for d in lib lib64 bin sbin; do
  if [ -d "$tmp/$d" ] && [ ! -L "$tmp/$d" ]; then
    mkdir -p "$tmp/usr/$d"; cp -a "$tmp/$d/." "$tmp/usr/$d/"; rm -rf "${tmp:?}/$d"
  fi
done
rm -rf "$tmp/usr/share/doc" "$tmp/usr/share/man" "$tmp/usr/share/lintian"

# every binary must find its libraries (the extracted ones first, then the host's)
libpath=$tmp/usr/lib/x86_64-linux-gnu
for b in "${BINS[@]}"; do
  [ -x "$tmp/$b" ] || die "the extracted packages have no $b"
  miss=$(LD_LIBRARY_PATH=$libpath ldd "$tmp/$b" 2>&1 | grep 'not found' || true)
  [ -z "$miss" ] || die "$b: libraries missing for the guest: $miss"
done
{ echo "$want"; echo "${pkgs[*]}"; } > "$tmp/.o2stack-cluster-pkgs"
rm -rf "$CLUSTER_ROOT"; mv "$tmp" "$CLUSTER_ROOT"
echo "setup: extracted into $CLUSTER_ROOT ($(du -sh "$CLUSTER_ROOT" | cut -f1))"
