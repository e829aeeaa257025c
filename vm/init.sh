#!/bin/sh
# /init of the test VM (busybox sh). The test root is an overlay: the HOST's root filesystem shared
# read-only over 9p, with a tmpfs on top (host binaries such as node, npm and mkfs.ocfs2 are there;
# writes vanish at power-off). Directories the host shares read-write (the project) appear at their
# host paths. /vmrun (the host's per-run directory) brings env + cmd.sh and takes back the exit status.
# No `set -e` here: /init must never exit (the kernel panics), every failure ends in halt_vm.
export PATH=/bin:/sbin
up() { cut -d' ' -f1 /proc/uptime; }
say() { echo "o2vm: $*"; }
# sync is bounded: a node fenced on purpose (its lockspace stopped, the volume still mounted) has
# dirty ocfs2 pages that never flush, and an unbounded sync kept such a VM up until the host's
# timeout (partition.three in CI, 2026-12-06: 16 min). busybox's poweroff syncs too unless -n
# (that sync blocked the same way in CI on 2026-12-06); sysrq 'o' is the last resort.
halt_vm() {
  sync & s=$!; i=0
  while kill -0 "$s" 2>/dev/null && [ "$i" -lt 20 ]; do sleep 1; i=$((i + 1)); done
  kill -0 "$s" 2>/dev/null && say "sync did not finish in 20 s (a cluster volume without its lockspace?); powering off anyway"
  poweroff -n -f; sleep 5
  say "poweroff did not power off in 5 s; sysrq o"
  echo o > /proc/sysrq-trigger; sleep 5
}
fatal() { say "FATAL: $*"; halt_vm; }
mod() { for m in "$@"; do modprobe "$m" || say "modprobe $m failed"; done; }

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs -o mode=1777 tmpfs /tmp
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
stty -onlcr 2>/dev/null || true      # the serial console: plain \n line ends for the host log
ip link set lo up

mod virtio_pci virtio_blk 9pnet_virtio 9p overlay
P9="trans=virtio,version=9p2000.L,msize=262144"
mkdir -p /vmrun /ro /rw /newroot
mount -t 9p -o "$P9" vmrun /vmrun || fatal "no vmrun share"
MODS= SHARES= IP= HOST=vm TTY=0
. /vmrun/env
[ -n "$MODS" ] && mod $MODS
grep -qw configfs /proc/filesystems && mount -t configfs configfs /sys/kernel/config

mount -t 9p -o "$P9,ro,cache=loose" hostroot /ro || fatal "no hostroot share"
mount -t tmpfs -o mode=0755 tmpfs /rw
mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/ro,upperdir=/rw/upper,workdir=/rw/work /newroot || fatal "overlay mount failed"
mount --bind /proc /newroot/proc
mount --rbind /sys /newroot/sys       # with configfs at /sys/kernel/config
mount --rbind /dev /newroot/dev       # with /dev/pts and /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /newroot/tmp
# the guest kernel's modules, so modprobe in the test root (host kmod) finds them
mkdir -p /newroot/lib/modules
cp -a "/lib/modules/$(uname -r)" /newroot/lib/modules/
# SHARES: "tag:cache:path ..." -- host directories shared read-write at their host paths
for s in $SHARES; do
  tag=${s%%:*}; rest=${s#*:}; cache=${rest%%:*}; path=${rest#*:}
  mkdir -p "/newroot$path"
  mount -t 9p -o "$P9,cache=$cache" "$tag" "/newroot$path" || fatal "share $path failed"
done
mkdir -p /newroot/vmrun
mount --bind /vmrun /newroot/vmrun
# Kernel usermode helpers run in THIS root, not in the test root: the o2cb umount path runs
# /sbin/ocfs2_hb_ctl (proc/sys/fs/ocfs2/nm/hb_ctl_path), so hand it to the host's ocfs2-tools.
if [ -x /newroot/sbin/ocfs2_hb_ctl ]; then
  printf '#!/bin/sh\nexec chroot /newroot /sbin/ocfs2_hb_ctl "$@"\n' > /sbin/ocfs2_hb_ctl
  chmod 0755 /sbin/ocfs2_hb_ctl
fi
# o2stack's helper (`o2stack hb-ctl --install` writes /sbin/o2stack-hb-ctl in the test root at
# run time, so this forwarder is made unconditionally).
printf '#!/bin/sh\nexec chroot /newroot /sbin/o2stack-hb-ctl "$@"\n' > /sbin/o2stack-hb-ctl
chmod 0755 /sbin/o2stack-hb-ctl
hostname "$HOST"
if [ -n "$IP" ]; then
  mod virtio_net
  ip addr add "$IP" dev eth0 && ip link set eth0 up || say "eth0 setup failed"
fi
DMESG0=$(dmesg | wc -l)
say "ready at uptime $(up) s"
if [ "$TTY" = 1 ]; then
  # interactive: the serial console becomes the controlling terminal (job control, ^C)
  setsid cttyhack chroot /newroot /bin/bash /vmrun/cmd.sh
else
  chroot /newroot /bin/bash /vmrun/cmd.sh
fi
rc=$?
echo "$rc" > /vmrun/rc
if [ "$rc" != 0 ]; then
  say "command exited $rc; kernel messages since it started (last 40):"
  dmesg | tail -n +"$((DMESG0 + 1))" | tail -n 40 | sed 's/^/  dmesg: /'
fi
say "exit $rc at uptime $(up) s"
halt_vm
