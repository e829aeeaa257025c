#!/bin/bash
# One node of the two-node o2cb demo, run inside a test VM by demo/two-node.ts (NODE=1|2).
# Every step goes through the o2stack CLI. Lines starting "@@" are milestones the host reads;
# "CHECK ok|fail what" lines are the demo's checks.
set -uo pipefail
ME=${NODE:?NODE=1|2}; PEER=$((3 - ME))
O2="node ${O2STACK_ENTRY:?}"
DEV=/dev/vda MNT=/mnt/shared
t0=$(date +%s%N)
ms() { echo $(( ($(date +%s%N) - t0) / 1000000 )); }
step() { echo "@@ n$ME +$(ms)ms $*"; }
check() { if eval "$2"; then echo "CHECK ok $1"; else echo "CHECK fail $1"; fi; }
run() { echo "\$ o2stack $*"; $O2 "$@"; }

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

step "start o2cb"
run start || { echo "CHECK fail o2stack start"; exit 1; }
step "o2cb started"
run hb-ctl --install >/dev/null
step "hb-ctl helper installed"
n=0; until ping -c1 -W1 192.0.2.$PEER >/dev/null 2>&1; do n=$((n+1)); [ $n -gt 100 ] && break; sleep 0.2; done
step "peer 192.0.2.$PEER reachable"

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
touch "$MNT/status-done-n$ME"; sync
n=0; until [ -e "$MNT/status-done-n$PEER" ]; do n=$((n+1)); [ $n -gt 300 ] && break; sleep 0.2; done

if [ "$ME" = 2 ]; then
  # n1 starts watching for our death only after it sees this marker
  touch "$MNT/ready-to-die-n2"; sync
  step "READY_TO_DIE (fs mounted, heartbeat running)"
  sleep 300
  echo "CHECK fail n2 was not killed by the host"; exit 1
fi

# node 1: the host kills node 2's qemu once n2 says it is ready; wait until it is gone, then write
# again. One lost ping under TCG is not a death: "gone" is three missed replies in a row, timed
# from the first of them.
n=0; until [ -e "$MNT/ready-to-die-n2" ]; do n=$((n+1)); [ $n -gt 300 ] && break; sleep 0.2; done
n=0; missed=0; tg=0
while [ $missed -lt 3 ] && [ $n -lt 600 ]; do
  n=$((n+1))
  if ping -c1 -W1 192.0.2.$PEER >/dev/null 2>&1; then missed=0; sleep 0.2
  else [ $missed = 0 ] && tg=$(date +%s%N); missed=$((missed+1)); fi
done
[ $missed -ge 3 ] || { echo "CHECK fail n2 still answers pings after $n tries"; tg=$(date +%s%N); }
step "peer gone (no reply to 3 pings in a row)"
( echo "written on n1 after n2 died" > "$MNT/after-kill.txt" && sync ) &
wp=$!
n=0; while kill -0 $wp 2>/dev/null && [ $n -lt 1200 ]; do n=$((n+1)); sleep 0.1; done
if kill -0 $wp 2>/dev/null; then echo "CHECK fail n1 writable again within 120 s"; else
  d=$(( ($(date +%s%N) - tg) / 1000000 ))
  step "writable again ${d} ms after the peer went away"
  echo "@@ RECOVERY_MS $d"
  check "n1 writable again after n2 was killed" "grep -q 'after n2 died' '$MNT/after-kill.txt'"
fi
dmesg | grep -E 'o2net|o2hb|o2dlm|ocfs2|JBD2' | grep -iE 'no longer|evict|recover|replay|dead|timed out' | tail -8 | sed 's/^/  dmesg: /'
run status
check "n1 no longer counts n2 as heartbeating" "! $O2 status --json | tr -d ' \n' | grep -q '\"number\":2,[^}]*\"heartbeating\":true'"
step "unmount and stop"
run umount "$MNT" && run stop
check "n1 unmounted and stopped cleanly" "! grep -q ' $MNT ' /proc/mounts && [ ! -e /sys/kernel/config/cluster/demo ]"
step "done"
