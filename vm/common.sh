# Host-side settings and helpers for the VM harness. Sourced by setup.sh, run.sh, run-cluster.sh.
# Everything the harness downloads or builds lives under ONE directory, $CACHE.
set -euo pipefail
VMDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${O2STACK_VM_CACHE:-/var/cache/o2stack-vm}
KROOT=$CACHE/kernel                    # dpkg -x of the kernel package (never installed)
CLUSTER_ROOT=$CACHE/cluster-root       # dpkg -x of corosync + dlm-controld for the guest (cluster-pkgs.sh)
# Modules put in the initramfs (their dependencies are added from modules.dep). dm-mod: not
# loaded by default; o2cb-hbstall.crash loads it to freeze a device's I/O (dmsetup suspend).
INITRD_MODS="virtio_pci virtio_blk virtio_net 9p 9pnet_virtio overlay configfs ocfs2_nodemanager ocfs2
  ocfs2_dlm ocfs2_stack_o2cb ocfs2_stack_user ocfs2_dlmfs dlm dm-mod"
# Modules the guest loads before the command (VM_MODS overrides; "" loads none of them).
DEFAULT_MODS="configfs ocfs2_nodemanager ocfs2 ocfs2_dlm ocfs2_stack_o2cb ocfs2_stack_user ocfs2_dlmfs dlm"

die() { echo "o2stack-vm: $*" >&2; exit 1; }
now_ms() { date +%s%3N; }

# KVER/KERNEL/MODROOT of the extracted kernel (the newest one, if several were extracted).
kernel_vars() {
  KVER=$(ls "$KROOT/lib/modules" 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$KVER" ] || die "no kernel under $KROOT: run $VMDIR/setup.sh first"
  KERNEL=$KROOT/boot/vmlinuz-$KVER
  MODROOT=$KROOT/lib/modules/$KVER
  INITRD=$CACHE/initramfs-$KVER.cpio
  [ -r "$KERNEL" ] || die "missing $KERNEL: run $VMDIR/setup.sh"
}

# Build the busybox initramfs unless an up-to-date one exists. Parallel callers: one builds, the
# others wait on the lock.
ensure_initramfs() {
  kernel_vars
  local lock=$CACHE/initramfs.lock
  exec 8>"$lock"
  flock 8
  if [ ! -s "$INITRD" ] || [ "$VMDIR/init.sh" -nt "$INITRD" ] || [ "$VMDIR/common.sh" -nt "$INITRD" ] \
     || [ "$VMDIR/mkinitramfs.sh" -nt "$INITRD" ]; then
    "$VMDIR/mkinitramfs.sh" "$INITRD" >&2
  fi
  exec 8>&-
}

# The private link of a multi-VM run (run-cluster.sh): a multicast group in 239.255.0.0/16 (IPv4
# local scope) and a UDP port nobody on this machine has bound. qemu joins the group on the
# loopback interface only (localaddr=127.0.0.1; TTL 1): the frames never leave this machine.
mcast_group() { echo "239.255.$(( RANDOM % 256 )).$(( 1 + RANDOM % 254 ))"; }
free_udp_port() {
  local p i
  for i in $(seq 1 100); do
    p=$(( 20000 + RANDOM % 40000 ))
    ss -Huan "sport = :$p" | grep -q . || { echo "$p"; return 0; }
  done
  die "no free UDP port found"
}

# The PIDs of the processes that have a socket bound to UDP port $1, sorted, one per line.
udp_port_pids() {
  { ss -Huanp "sport = :$1" 2>/dev/null || true; } | { grep -o 'pid=[0-9]*' || true; } | cut -d= -f2 | sort -nu
}

# ---- one VM -------------------------------------------------------------------------------------
# vm_prepare RUNDIR CMD...   Writes RUNDIR/env (read by /init) and RUNDIR/cmd.sh (run in the test
# root) and fills the array QEMU. Reads: PROJ, VM_SHARE, VM_MODS, VM_ENV, VM_DISKS, VM_MEM, VM_SMP,
# VM_QEMU_ARGS, and per VM: V_IP, V_HOST, V_NET, V_TTY, V_ENV (extra "NAME=value" words).
sq() { printf "'%s'" "${1//\'/\'\\\'\'}"; }      # single-quote for busybox sh
vm_prepare() {
  local run=$1; shift
  local shares="" i=0 d v o
  QEMU=(qemu-system-x86_64 -machine q35 -accel tcg -cpu max -m "${VM_MEM:-2048}" -smp "${VM_SMP:-1}"
        -nodefaults -display none -no-reboot -kernel "$KERNEL" -initrd "$INITRD"
        -append "console=ttyS0 quiet panic=-1"
        -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"
        -virtfs "local,path=$run,mount_tag=vmrun,security_model=none")
  # the project share is cached in the guest (cache=loose: module loading is ~10x faster; the host
  # must not change the project while a VM runs); VM_SHARE directories stay coherent (cache=none)
  local cache
  for d in ${PROJ:+"P$PROJ"} ${VM_SHARE:-}; do
    cache=none
    [ "${d:0:1}" = P ] && { cache=${VM_PROJ_CACHE:-loose}; d=${d:1}; }
    d=$(cd "$d" && pwd) || die "cannot share $d"
    case $d in *[[:space:]:]*) die "cannot share a path with spaces or colons: $d";; esac
    i=$((i + 1))
    QEMU+=(-virtfs "local,path=$d,mount_tag=share$i,security_model=none,multidevs=remap")
    shares="$shares share$i:$cache:$d"
  done
  for d in ${VM_DISKS:-}; do
    [ -e "$d" ] || die "no disk image $d"
    i=$((i + 1))
    QEMU+=(-drive "file=$d,format=raw,if=none,id=disk$i,cache=writethrough,file.locking=off"
           -device "virtio-blk-pci,drive=disk$i,share-rw=on")
  done
  if [ -n "${V_NET:-}" ]; then
    o=${V_IP:-0.0.0.1/0}; o=${o%/*}; o=${o##*.}
    QEMU+=(-netdev "socket,id=net0,$V_NET" -device "virtio-net-pci,netdev=net0,mac=52:54:00:12:34:$(printf %02x "$o")")
  fi
  if [ "${V_TTY:-0}" = 1 ]; then QEMU+=(-serial mon:stdio); else QEMU+=(-serial stdio); fi
  # shellcheck disable=SC2206
  QEMU+=(${VM_QEMU_ARGS:-})
  {
    echo "MODS=$(sq "${VM_MODS-$DEFAULT_MODS}")"
    echo "SHARES=$(sq "$shares")"
    echo "IP=$(sq "${V_IP:-}")"
    echo "HOST=$(sq "${V_HOST:-vm}")"
    echo "TTY=$(sq "${V_TTY:-0}")"
  } > "$run/env"
  {
    echo "# generated by vm/run.sh"
    echo "export NODE_DISABLE_COLORS=1 NO_COLOR=1 FORCE_COLOR=0   # the console is a tty: no ANSI colours"
    # where vm/guest-cluster.sh finds corosync + dlm_controld (the host's cache, read-only here)
    printf 'export O2STACK_VM_CLUSTER_ROOT=%q\n' "$CLUSTER_ROOT"
    for v in PATH HOME TERM LANG ${VM_ENV:-}; do
      [ -n "${!v+x}" ] && printf 'export %s=%q\n' "$v" "${!v}"
    done
    for v in ${V_ENV:-}; do printf 'export %q\n' "$v"; done
    # interactive: the serial console does not know the terminal's size
    [ "${V_TTY:-0}" = 1 ] && [ -n "${V_STTY:-}" ] && printf 'stty %s 2>/dev/null\n' "$V_STTY"
    printf 'cd %q || exit 125\n' "$PWD"
    printf 'exec'; printf ' %q' "$@"; printf '\n'
  } > "$run/cmd.sh"
}

# vm_start LOG   Starts "${QEMU[@]}" in the background; VM_PID is qemu's own PID (a simple command
# run with & is exec'ed by the forked child). LOG "-" = this script's stdout.
vm_start() {
  if [ "$1" = - ]; then
    if [ "${V_TTY:-0}" = 1 ]; then "${QEMU[@]}" <&0 & else "${QEMU[@]}" </dev/null & fi
  else
    "${QEMU[@]}" </dev/null >"$1" 2>&1 &
  fi
  VM_PID=$!
}

# vm_wait PID DEADLINE_MS [RUNDIR]   Waits for qemu PID until the epoch-ms DEADLINE. Returns
# qemu's exit status, or 124 after killing it at the deadline. With RUNDIR: once the guest has
# written RUNDIR/rc (its command is over), the VM gets VM_HALT_GRACE seconds (60) to power off,
# then qemu is killed and 123 returned: the command's status stands, the halt is what hung
# (a fenced node's ocfs2 pages can block the guest's shutdown for good).
vm_wait() {
  local pid=$1 deadline=$2 run=${3:-} rc=0 done_at=
  local grace=$(( ${VM_HALT_GRACE:-60} * 1000 ))
  while kill -0 "$pid" 2>/dev/null; do
    local now; now=$(now_ms)
    if [ -n "$run" ] && [ -z "$done_at" ] && [ -s "$run/rc" ]; then done_at=$now; fi
    if [ "$now" -ge "$deadline" ] || { [ -n "$done_at" ] && [ $((now - done_at)) -ge "$grace" ]; }; then
      kill "$pid" 2>/dev/null || true
      sleep 1; kill -9 "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
      if [ -n "$done_at" ]; then return 123; fi
      return 124
    fi
    sleep 0.2
  done
  wait "$pid" || rc=$?
  return $rc
}

# vm_rc RUNDIR QEMU_STATUS   The guest command's exit status, or 125 if the VM died first.
vm_rc() {
  if [ "$2" != 0 ] && [ "$2" != 123 ]; then echo 125; return; fi
  if [ -s "$1/rc" ]; then cat "$1/rc"; else echo 125; fi
}
