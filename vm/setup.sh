#!/bin/bash
# One-time host setup for the real-kernel VM harness. Safe to run again: it only does what is missing.
#  - apt-installs qemu-system-x86, busybox-static, ocfs2-tools, kmod, cpio, iproute2, dmsetup (the
#    guests run the host's binaries: dmsetup for the hbstall fault)
#  - downloads Debian 12's generic kernel package (the linux-image-6.1.*-amd64 that
#    linux-image-amd64 depends on), extracts it with dpkg -x (it is NOT installed), runs depmod
#  - builds the busybox initramfs (vm/mkinitramfs.sh)
#  - downloads bookworm's corosync + dlm-controld and the libraries they need for the GUEST and
#    extracts them with dpkg -x (vm/cluster-pkgs.sh; vm/guest-cluster.sh uses them in a VM)
# Everything is cached under ${O2STACK_VM_CACHE:-/var/cache/o2stack-vm}.
set -euo pipefail
. "$(dirname "$0")/common.sh"
export DEBIAN_FRONTEND=noninteractive
t0=$(now_ms)
PKGS=(qemu-system-x86 busybox-static ocfs2-tools kmod cpio iproute2 util-linux coreutils dmsetup)

installed() { dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q '^install ok installed$'; }
have_lists() { compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; }

missing=()
for p in "${PKGS[@]}"; do installed "$p" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "need root to apt-get install: ${missing[*]}"
  have_lists || apt-get update -q
  echo "setup: apt-get install ${missing[*]}"
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
    || { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; }
fi

mkdir -p "$CACHE/debs" "$KROOT"
if ! ls "$KROOT"/boot/vmlinuz-6.1.* >/dev/null 2>&1; then
  # the generic amd64 flavour: what the linux-image-amd64 metapackage depends on
  kpkg() { apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-6\.1\.[0-9.-]+-amd64$/{print $2; exit}' || true; }
  have_lists || apt-get update -q
  pkg=$(kpkg)
  [ -n "$pkg" ] || { apt-get update -q; pkg=$(kpkg); }
  [ -n "$pkg" ] || die "apt knows no linux-image-6.1.*-amd64 (is this Debian 12 / bookworm?)"
  echo "setup: downloading $pkg"
  # stale package lists name a kernel the mirror has dropped: refresh once and retry
  if ! (cd "$CACHE/debs" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >/dev/null); then
    apt-get update -q; pkg=$(kpkg)
    (cd "$CACHE/debs" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >/dev/null) || die "apt-get download $pkg failed"
  fi
  deb=$(ls -t "$CACHE/debs/${pkg}"_*.deb | head -n 1)
  echo "setup: extracting $(basename "$deb") into $KROOT"
  rm -rf "$KROOT.tmp"; mkdir -p "$KROOT.tmp"
  dpkg -x "$deb" "$KROOT.tmp"
  rm -rf "$KROOT"; mv "$KROOT.tmp" "$KROOT"
fi
kernel_vars
[ -s "$MODROOT/modules.dep" ] && [ "$MODROOT/modules.dep" -nt "$KERNEL" ] || depmod -b "$KROOT" "$KVER"
ensure_initramfs
# corosync + dlm_controld for the guest (apt-get download + dpkg -x, never installed on the host)
[ "$(id -u)" = 0 ] || [ -f "$CLUSTER_ROOT/.o2stack-cluster-pkgs" ] || die "need root for apt-get (corosync packages for the guest)"
"$VMDIR/cluster-pkgs.sh"
# Pacemaker for the guest (test/vm/suites/pacemaker.two.vm.ts), the same way, its own cache
"$VMDIR/pacemaker-pkgs.sh"
# scratch directories of runs that were killed with SIGKILL (normal exits remove their own)
mkdir -p "$CACHE/runs"
find "$CACHE/runs" -mindepth 1 -maxdepth 1 -mmin +1440 -exec rm -rf {} + 2>/dev/null || true
echo "setup: ready in $(( $(now_ms) - t0 )) ms: kernel $KVER, cache $CACHE"
