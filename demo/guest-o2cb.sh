#!/bin/bash
# One node of the two-node o2cb demo, run inside a test VM by demo/two-node.ts (NODE=1|2).
# Every step goes through the o2stack CLI. Lines starting "@@" are milestones the host reads;
# "CHECK ok|fail what" lines are the demo's checks.
set -uo pipefail
. "$(dirname "$0")/guest-lib.sh"

mkdir -p /etc/ocfs2 "$MNT"
cat > /etc/ocfs2/cluster.conf <<CONF
cluster:
	name = demo
	node_count = 2
	heartbeat_mode = local
	idle_timeout_ms = 10000
	keepalive_delay_ms = 2000
	heartbeat_dead_threshold = 7

node:
	name = n1
	cluster = demo
	number = 1
	ip_address = 192.0.2.1
	ip_port = 7777

node:
	name = n2
	cluster = demo
	number = 2
	ip_address = 192.0.2.2
	ip_port = 7777
CONF

# o2stack start reads the o2cb defaults file beside the system cluster.conf, as o2cb's init does;
# the guest's /etc/default/o2cb is the host's (Debian ships O2CB_BOOTCLUSTER=ocfs2 and the kernel
# default timeouts), so say what this cluster uses (the guest's root is a throw-away overlay)
run configure --enabled true --boot-cluster demo --heartbeat-threshold 7 --idle-timeout-ms 10000 \
  --keepalive-delay-ms 2000 --reconnect-delay-ms 2000 >/dev/null || { echo "CHECK fail o2stack configure"; exit 1; }

step "start o2cb"
run start || { echo "CHECK fail o2stack start"; exit 1; }
step "o2cb started"
run hb-ctl --install >/dev/null
step "hb-ctl helper installed"
await_peer_reachable 100

stall_device_setup
step "mount $DEV on $MNT (starts local heartbeat, then mount(2))"
run mount "$DEV" "$MNT" || { echo "CHECK fail o2stack mount"; exit 1; }
step "mounted"
check "n$ME mounted the shared volume" "grep -q ' $MNT ocfs2 ' /proc/mounts"

echo "written on n$ME at $(date -u +%T)" > "$MNT/from-n$ME.txt"; sync
n=0; until [ -s "$MNT/from-n$PEER.txt" ]; do n=$((n+1)); [ $n -gt 300 ] && break; sleep 0.2; done
step "read the peer's file: $(cat "$MNT/from-n$PEER.txt" 2>&1)"
check "n$ME reads what n$PEER wrote" "grep -q 'written on n$PEER' '$MNT/from-n$PEER.txt'"

# both heartbeating and connected, as o2stack status sees it
n=0; until $O2 status --json | grep -q '"connected": true' && [ "$($O2 status --json | grep -c '"heartbeating": true')" = 2 ]; do n=$((n+1)); [ $n -gt 30 ] && break; sleep 1; done
run status
check "n$ME sees both nodes heartbeating" "[ \"\$($O2 status --json | grep -c '\"heartbeating\": true')\" = 2 ]"
meet status-done 300
if [ "$ME" = 2 ]; then
  start_writer; kill_ready 300
  [ "${FAULT:-}" = hbstall ] && stall_and_wait
  die_when_killed "fs mounted, heartbeat running${FAULT:+, writer running}"
fi

# node 1: the host kills node 2's qemu once n2 says it is ready (or n2 stalls its own I/O and its
# kernel ends it); wait until it is gone, then write again
await_kill_ready 300
watching
if [ "${FAULT:-}" = hbstall ]; then
  # n2 says on the volume that it stalls; n1 then reads n2's file (n2's lock: it waits until o2hb
  # here declares n2 dead) and writes, and only then sees n2 gone (its kernel restarted it)
  write_after_stall
  await_peer_gone
else
  await_peer_gone
  write_after_death
fi
verify_writer
dmesg | grep -E 'o2net|o2hb|o2dlm|ocfs2|JBD2' | grep -iE 'no longer|evict|recover|replay|dead|timed out' | tail -8 | sed 's/^/  dmesg: /'
run status
check "n1 no longer counts n2 as heartbeating" "! $O2 status --json | tr -d ' \n' | grep -q '\"number\":2,[^}]*\"heartbeating\":true'"
step "unmount and stop"
run umount "$MNT" && fsck_clean && run stop
check "n1 unmounted and stopped cleanly" "! grep -q ' $MNT ' /proc/mounts && [ ! -e /sys/kernel/config/cluster/demo ]"
step "done"
