#!/bin/bash
# Builds the guest initramfs: static busybox, vm/init.sh as /init, and the kernel modules in
# $INITRD_MODS with everything they depend on (from the extracted kernel's modules.dep).
# usage: mkinitramfs.sh OUT.cpio        (normally called by setup.sh / run.sh when needed)
set -euo pipefail
. "$(dirname "$0")/common.sh"
OUT=${1:?usage: mkinitramfs.sh OUT.cpio}
kernel_vars
BB=/bin/busybox                         # from busybox-static: no shared libraries to copy
[ -x "$BB" ] || die "no $BB: run setup.sh (package busybox-static)"
STAGE=$(mktemp -d "$CACHE/initramfs.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE"/{bin,sbin,etc,proc,sys,dev,tmp,run,mnt,lib/modules/"$KVER"}
cp "$BB" "$STAGE/bin/busybox"
for applet in $("$BB" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$STAGE/bin/$applet"
done
# request_module() in the kernel runs /sbin/modprobe
for a in modprobe insmod rmmod lsmod poweroff; do ln -sf ../bin/busybox "$STAGE/sbin/$a"; done

declare -A added=()
add_module() {
  local entry rel deps dep
  entry=$(grep -m1 -E "(^|/)$1\.ko(\.[a-z]+)?:" "$MODROOT/modules.dep") || die "kernel $KVER has no module $1"
  rel=${entry%%:*}; deps=${entry#*:}
  [ -z "${added[$rel]:-}" ] || return 0
  added[$rel]=1
  mkdir -p "$STAGE/lib/modules/$KVER/$(dirname "$rel")"
  cp "$MODROOT/$rel" "$STAGE/lib/modules/$KVER/$rel"
  for dep in $deps; do add_module "$(basename "${dep%%.ko*}")"; done
}
for m in $INITRD_MODS; do add_module "$m"; done
cp "$MODROOT/modules.order" "$MODROOT/modules.builtin" "$MODROOT/modules.builtin.modinfo" "$STAGE/lib/modules/$KVER/"
depmod -b "$STAGE" "$KVER"

cp "$VMDIR/init.sh" "$STAGE/init"
chmod 0755 "$STAGE/init"
(cd "$STAGE" && find . -print0 | cpio --null --create --format=newc --quiet) > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "initramfs: $OUT ($(du -h "$OUT" | cut -f1), ${#added[@]} modules)"
