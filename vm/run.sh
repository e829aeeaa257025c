#!/bin/bash
# Boot one test VM (Debian 12's 6.1 kernel under qemu TCG), run CMD inside, exit with its status.
#   vm/run.sh CMD [ARGS...]     e.g. vm/run.sh node -e 'console.log(require("os").release())'
#   vm/run.sh --shell           interactive bash in the VM on this terminal (quit: exit, or Ctrl-A x)
# Exit status: CMD's, or 125 if the VM died or timed out before CMD finished.
# The guest's root is the host's root (read-only 9p + tmpfs overlay: node, npm, ocfs2-tools are
# there, writes are thrown away); the project directory is shared read-write at its host path and
# CMD starts in the current directory. The serial console (kernel + CMD output) goes to stdout.
# env:
#   VM_PROJ      host directory shared read-write at the same path (default: this package; "" = none)
#   VM_SHARE     more host directories shared read-write at their paths (space separated)
#   VM_MODS      modules loaded before CMD (default: configfs ocfs2 ocfs2_dlm ocfs2_stack_o2cb
#                ocfs2_stack_user ocfs2_dlmfs dlm ...; "" = none)
#   VM_DISKS     raw images attached as /dev/vda, /dev/vdb, ... (share-rw, cache=writethrough)
#   VM_ENV       names of host environment variables passed in (PATH HOME TERM LANG always)
#   VM_NET       qemu socket netdev options for eth0 (listen=127.0.0.1:PORT | connect=127.0.0.1:PORT)
#   VM_IP        eth0 address/prefix in the guest, e.g. 192.0.2.1/24
#   VM_HOSTNAME  guest hostname (default vm)
#   VM_MEM (MiB, 2048)  VM_SMP (1)  VM_TIMEOUT (seconds, 600)  VM_QEMU_ARGS (extra qemu words)
#   VM_LOG       write the console to this file instead of stdout
#   O2STACK_VM_CACHE  where setup.sh put the kernel (/var/cache/o2stack-vm)
set -euo pipefail
. "$(dirname "$0")/common.sh"
V_TTY=0
if [ "${1:-}" = --shell ]; then
  shift; V_TTY=1
  [ -t 0 ] || die "--shell needs a terminal on stdin"
  [ $# -gt 0 ] || set -- bash -i
  read -r rows cols < <(stty size 2>/dev/null || echo "24 80")
  V_STTY="rows $rows cols $cols"
fi
[ $# -gt 0 ] || { sed -n '2,5p' "$0" >&2; exit 2; }
PROJ=${VM_PROJ-$(cd "$VMDIR/.." && pwd)}
ensure_initramfs
mkdir -p "$CACHE/runs"
RUN=$(mktemp -d "$CACHE/runs/run.XXXXXX")
VM_PID=
cleanup() {
  if [ -n "$VM_PID" ] && kill -0 "$VM_PID" 2>/dev/null; then kill "$VM_PID" 2>/dev/null || true; fi
  rm -rf "$RUN"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
V_IP=${VM_IP:-} V_HOST=${VM_HOSTNAME:-vm} V_NET=${VM_NET:-}
vm_prepare "$RUN" "$@"
T=${VM_TIMEOUT:-600}
vm_start "${VM_LOG:--}"
echo "$VM_PID" > "$RUN/qemu.pid"
[ -n "${VM_PIDFILE:-}" ] && echo "$VM_PID" > "$VM_PIDFILE"
st=0; vm_wait "$VM_PID" $(( $(now_ms) + T * 1000 )) "$RUN" || st=$?
[ $st = 124 ] && echo "o2stack-vm: VM timed out after ${T}s (VM_TIMEOUT); qemu $VM_PID killed" >&2
[ $st = 123 ] && echo "o2stack-vm: the command had exited $(cat "$RUN/rc") but the VM did not power off within ${VM_HALT_GRACE:-60}s; qemu $VM_PID killed (the command's status stands)" >&2
[ $st != 0 ] && [ $st != 124 ] && [ $st != 123 ] && echo "o2stack-vm: qemu exited with status $st" >&2
rc=$(vm_rc "$RUN" "$st")
[ "$rc" = 125 ] && [ $st = 0 ] && echo "o2stack-vm: the VM powered off without an exit status from the command" >&2
exit "$rc"
