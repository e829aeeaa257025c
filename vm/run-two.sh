#!/bin/bash
# Boot two test VMs that share one raw disk image and a private link, run CMD in both.
#   vm/run-two.sh DISK.img CMD [ARGS...]
# DISK is /dev/vda in both VMs (virtio-blk share-rw=on, cache=writethrough, no image locking).
# The link is a qemu socket netdev over 127.0.0.1 (a free port; VM 1 listens, VM 2 connects once
# VM 1's own qemu is seen listening). Inside: eth0 192.0.2.1/24 on n1 and 192.0.2.2/24 on n2,
# hostnames n1/n2, and NODE=1|2 in CMD's environment. All run.sh knobs apply to both VMs
# (VM_TIMEOUT is per VM, default 600 s). Consoles are printed afterwards, prefixed "n1| ", "n2| "
# (VM_LOGDIR=DIR keeps them as DIR/n1.log, DIR/n2.log).
# Exit status: 0 only if CMD succeeded in both VMs; else node 1's failing status, else node 2's
# (125 = a VM died or timed out).
set -euo pipefail
. "$(dirname "$0")/common.sh"
[ $# -ge 2 ] || { sed -n '2,3p' "$0" >&2; exit 2; }
DISK=$1; shift
[ -f "$DISK" ] || die "no disk image $DISK"
PROJ=${VM_PROJ-$(cd "$VMDIR/.." && pwd)}
export VM_DISKS="$DISK ${VM_DISKS:-}"
ensure_initramfs
mkdir -p "$CACHE/runs"
RUN1=$(mktemp -d "$CACHE/runs/n1.XXXXXX")
RUN2=$(mktemp -d "$CACHE/runs/n2.XXXXXX")
P1= P2=
cleanup() {
  local p
  for p in $P1 $P2; do kill -0 "$p" 2>/dev/null && kill "$p" 2>/dev/null; done
  rm -rf "$RUN1" "$RUN2"
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
T=${VM_TIMEOUT:-600}
V_ENV=NODE=1 V_HOST=n1 V_IP=192.0.2.1/24 V_NET=
vm_prepare "$RUN1" "$@"          # fills QEMU; the netdev is added per attempt below
BASE1=("${QEMU[@]}")

for attempt in 1 2 3; do
  PORT=$(free_port)
  QEMU=("${BASE1[@]}" -netdev "socket,id=net0,listen=127.0.0.1:$PORT" -device "virtio-net-pci,netdev=net0,mac=52:54:00:12:34:01")
  vm_start "$RUN1/console.log"; P1=$VM_PID
  ok=0
  for _ in $(seq 1 150); do      # up to 30 s for qemu 1 to listen
    if port_owned_by "$PORT" "$P1"; then ok=1; break; fi
    kill -0 "$P1" 2>/dev/null || break
    sleep 0.2
  done
  [ $ok = 1 ] && break
  echo "o2stack-vm: qemu $P1 did not get port $PORT (attempt $attempt)" >&2
  kill "$P1" 2>/dev/null || true; wait "$P1" 2>/dev/null || true; P1=
done
[ -n "$P1" ] || die "could not start VM 1 with a private port"
DEADLINE=$(( $(now_ms) + T * 1000 ))

V_ENV=NODE=2 V_HOST=n2 V_IP=192.0.2.2/24 V_NET=connect=127.0.0.1:$PORT
vm_prepare "$RUN2" "$@"
vm_start "$RUN2/console.log"; P2=$VM_PID

st1=0; vm_wait "$P1" "$DEADLINE" || st1=$?
st2=0; vm_wait "$P2" $(( DEADLINE + 5000 )) || st2=$?
rc1=$(vm_rc "$RUN1" "$st1"); rc2=$(vm_rc "$RUN2" "$st2")
for n in 1 2; do
  run=RUN$n; st=st$n
  sed "s/^/n$n| /" "${!run}/console.log"
  [ "${!st}" = 124 ] && echo "n$n| o2stack-vm: VM timed out after ${T}s (VM_TIMEOUT); qemu killed"
  if [ -n "${VM_LOGDIR:-}" ]; then mkdir -p "$VM_LOGDIR"; cp "${!run}/console.log" "$VM_LOGDIR/n$n.log"; fi
done
echo "o2stack-vm: n1 exit $rc1, n2 exit $rc2"
[ "$rc1" != 0 ] && exit "$rc1"
exit "$rc2"
