#!/bin/bash
# Boot N test VMs (N = 2 or 3) that share one raw disk image and one private link; run CMD in each.
#   vm/run-cluster.sh N DISK.img CMD [ARGS...]        (vm/run-two.sh = vm/run-cluster.sh 2)
# DISK is /dev/vda in every VM (virtio-blk share-rw=on, cache=writethrough, no image locking).
# The link is ONE L2 segment for all N: every VM's eth0 is a qemu socket netdev on the same
# multicast group (239.255.X.Y:PORT, both random) joined on the loopback interface only
# (localaddr=127.0.0.1, TTL 1), so a frame one VM sends reaches every other one and never leaves
# this machine. The UDP port must be free before, and is checked (ss -p) to be held by exactly
# these qemus once they run, so no leftover VM or other process is on the link (else all are
# killed and the link is made again with another group and port). Inside VM k (1..N): eth0
# 192.0.2.k/24, hostname nk, NODE=k and NODES=N in CMD's environment. All run.sh knobs apply to
# every VM (VM_TIMEOUT is per VM, default 600 s; VM_MEM 2048 MiB each). Consoles are printed
# afterwards, prefixed "n1| ", "n2| ", ... (VM_LOGDIR=DIR keeps them as DIR/n1.log, DIR/n2.log, ...).
# Exit status: 0 only if CMD succeeded in every VM; else the first failing node's status in node
# order (125 = that VM died or timed out). qemu processes are killed by their PIDs at exit.
set -euo pipefail
. "$(dirname "$0")/common.sh"
usage() { sed -n '2,3p' "$0" >&2; exit 2; }
[ $# -ge 3 ] || usage
N=$1; shift
case $N in 2|3) ;; *) echo "o2stack-vm: N must be 2 or 3 (at most three VMs run on one machine), got '$N'" >&2; usage ;; esac
DISK=$1; shift
[ -f "$DISK" ] || die "no disk image $DISK"
PROJ=${VM_PROJ-$(cd "$VMDIR/.." && pwd)}
export VM_DISKS="$DISK ${VM_DISKS:-}"
ensure_initramfs
mkdir -p "$CACHE/runs"
RUNS=() PIDS=()
for k in $(seq 1 "$N"); do RUNS[k]=$(mktemp -d "$CACHE/runs/n$k.XXXXXX"); done
kill_vms() {   # every qemu this script started, by PID
  local p
  for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
}
cleanup() {
  kill_vms
  rm -rf "${RUNS[@]}"
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
T=${VM_TIMEOUT:-600}

linked=0
for attempt in 1 2 3; do
  PORT=$(free_udp_port) GROUP=$(mcast_group)
  for k in $(seq 1 "$N"); do
    V_ENV="NODE=$k NODES=$N" V_HOST=n$k V_IP=192.0.2.$k/24 V_NET="mcast=$GROUP:$PORT,localaddr=127.0.0.1"
    vm_prepare "${RUNS[k]}" "$@"
    vm_start "${RUNS[k]}/console.log"; PIDS[k]=$VM_PID
  done
  want=$(printf '%s\n' "${PIDS[@]}" | sort -n)
  for _ in $(seq 1 150); do      # up to 30 s for every qemu to bind the port
    have=$(udp_port_pids "$PORT")
    [ "$have" = "$want" ] && { linked=1; break; }
    for k in $(seq 1 "$N"); do kill -0 "${PIDS[k]}" 2>/dev/null || break 2; done
    # someone else on the port (all ours are there, and more): make another link
    [ -n "$(grep -vxF -f <(echo "$want") <<<"$have" || true)" ] && break
    sleep 0.2
  done
  [ $linked = 1 ] && break
  echo "o2stack-vm: link $GROUP:$PORT not held by exactly our qemus ($(echo "$want" | xargs)); port held by: $(udp_port_pids "$PORT" | xargs) (attempt $attempt)" >&2
  for k in $(seq 1 "$N"); do
    kill -0 "${PIDS[k]}" 2>/dev/null || { echo "o2stack-vm: n$k's qemu exited:" >&2; tail -n 5 "${RUNS[k]}/console.log" >&2; }
  done
  kill_vms
done
[ $linked = 1 ] || die "could not start $N VMs on a private link"
DEADLINE=$(( $(now_ms) + T * 1000 ))

ST=() RC=()
for k in $(seq 1 "$N"); do
  st=0; vm_wait "${PIDS[k]}" "$DEADLINE" "${RUNS[k]}" || st=$?
  ST[k]=$st; RC[k]=$(vm_rc "${RUNS[k]}" "$st")
done
status=0 summary=
for k in $(seq 1 "$N"); do
  sed "s/^/n$k| /" "${RUNS[k]}/console.log"
  [ "${ST[k]}" = 124 ] && echo "n$k| o2stack-vm: VM timed out after ${T}s (VM_TIMEOUT); qemu killed"
  [ "${ST[k]}" = 123 ] && echo "n$k| o2stack-vm: the command had exited ${RC[k]} but the VM did not power off within ${VM_HALT_GRACE:-60}s; qemu killed (the command's status stands)"
  if [ -n "${VM_LOGDIR:-}" ]; then mkdir -p "$VM_LOGDIR"; cp "${RUNS[k]}/console.log" "$VM_LOGDIR/n$k.log"; fi
  summary="$summary${summary:+, }n$k exit ${RC[k]}"
  [ "$status" = 0 ] && status=${RC[k]}
done
echo "o2stack-vm: $summary"
exit "$status"
