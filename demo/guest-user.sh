#!/bin/bash
# One node of the two-node USER-STACK demo, run inside a test VM by demo/two-node.ts --stack user
# (NODE=1|2): Debian's corosync (vm/guest-cluster.sh, two_node quorum) for membership and our
# `o2stack daemon` (corosync membership, the test fence agent) as the fs/dlm control daemon, on a
# volume made with mkfs.ocfs2 --cluster-stack=pcmk --cluster-name=demo. Lines starting "@@" are
# milestones the host reads; "CHECK ok|fail what" lines are the demo's checks.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/guest-lib.sh"
ROOT=$(cd "$HERE/.." && pwd)
FENCE_AGENT=$ROOT/test/vm/support/fence-ok.sh
GC="bash $ROOT/vm/guest-cluster.sh"
SOCK=/run/o2stack.sock
DLOG=/tmp/o2stack-daemon.log
export O2STACK_FENCE_LOG=/tmp/o2stack-fence.log
# jtest CMD EXPR: runs `o2stack CMD --json`, true when the JS expression EXPR holds for its output j
jtest() { $O2 $1 --json --socket "$SOCK" 2>/dev/null | node -e "let j; try { j = JSON.parse(require('fs').readFileSync(0, 'utf8')); } catch { process.exit(1); } process.exit(($2) ? 0 : 1)"; }
# o2stack groups lists the volume UUID on exactly these nodes (e.g. "1,2"), running here
groups_are() { jtest groups "j.groups.some((g) => g.uuid === '$UUID' && g.nodes.join() === '$1' && g.state === 'running')"; }

DPID=""
alive() { [ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null; }
stop_daemon() {   # SIGTERM by PID, bounded wait, SIGKILL if it ignores it
  alive || return 0
  kill "$DPID" 2>/dev/null
  local n=0; while alive && [ $n -lt 200 ]; do n=$((n+1)); sleep 0.1; done
  if alive; then echo "o2stack daemon (pid $DPID) ignored SIGTERM for 20 s: SIGKILL"; kill -9 "$DPID" 2>/dev/null; return 1; fi
}
# whatever happens, nothing this script started outlives it (n2 is killed with everything running)
cleanup() {
  grep -q " $MNT " /proc/mounts && timeout 60 umount "$MNT" 2>/dev/null
  stop_daemon
  $GC corosync-stop >/dev/null 2>&1
}
trap cleanup EXIT
fail_exit() {
  echo "CHECK fail $1"
  [ -f "$DLOG" ] && { echo "  --- daemon log (last 30 lines)"; tail -n 30 "$DLOG" | sed 's/^/  /'; }
  $GC logs 2>&1 | tail -n 30 | sed 's/^/  /'
  exit 1
}

mkdir -p "$MNT"
step "select the user stack"
run select pcmk || fail_exit "o2stack select pcmk"
# the kernel runs hb_ctl_path at every unmount; the user stack has no disk heartbeat to stop
echo /bin/true > /proc/sys/fs/ocfs2/nm/hb_ctl_path

await_peer_reachable 300
step "start corosync (cluster demo, nodes 1 and 2, two_node quorum)"
out=$($GC corosync-start demo 2 3000 180 2>&1); rc=$?
echo "$out" | tail -n 3 | sed 's/^/  /'
[ $rc = 0 ] || fail_exit "n$ME corosync up with 2 members, quorate"
check "n$ME corosync up with 2 members, quorate" "echo \"\$out\" | grep -q 'corosync up: .* 2 members, quorate'"

step "start o2stack daemon (corosync membership, fence agent test/vm/support/fence-ok.sh)"
echo "\$ o2stack daemon --fence-agent $FENCE_AGENT --socket $SOCK  (background, JSON log in $DLOG)"
# setsid in a background job execs node: $! is the daemon itself
setsid $O2 daemon --fence-agent "$FENCE_AGENT" --socket "$SOCK" </dev/null >"$DLOG" 2>&1 &
DPID=$!
n=0; until grep -q '"event":"ready"' "$DLOG" 2>/dev/null || ! alive; do n=$((n+1)); [ $n -gt 900 ] && break; sleep 0.2; done
grep -q '"event":"ready"' "$DLOG" && alive || fail_exit "n$ME o2stack daemon ready (pid $DPID)"
step "daemon ready (pid $DPID)"
check "n$ME o2stack daemon ready, on corosync, cluster demo, quorate" "jtest 'daemon-ctl status' \"j.membership === 'corosync' && j.cluster === 'demo' && j.quorate === true && j.localNodeId === $ME\""

step "mount $DEV on $MNT (our daemon answers the dlm lockspace join)"
OMOUNT=0
if run mount "$DEV" "$MNT"; then OMOUNT=1; else
  # o2stack mount checks that a control daemon answers and that fs/dlm runs the volume's cluster;
  # if it refuses, the reason is printed above and mount(8) shows what the kernel says
  echo "  (o2stack mount refused: mounting with mount(8) -o cluster_stack=pcmk to show the kernel's answer)"
  echo "\$ mount -t ocfs2 -o cluster_stack=pcmk $DEV $MNT"
  timeout 180 mount -t ocfs2 -o cluster_stack=pcmk "$DEV" "$MNT"
fi
grep -q " $MNT ocfs2 " /proc/mounts || fail_exit "n$ME mounted the shared volume"
step "mounted"
check "n$ME mounted the shared volume" "grep -q ' $MNT ocfs2 .*cluster_stack=pcmk' /proc/mounts"
check "n$ME mounted it with o2stack mount (controller and cluster checked)" "[ $OMOUNT = 1 ]"
UUID=$(ls /sys/kernel/dlm 2>/dev/null | grep -E '^[0-9A-F]{32}$' | head -1)

echo "written on n$ME at $(date -u +%T)" > "$MNT/from-n$ME.txt"; sync
n=0; until [ -s "$MNT/from-n$PEER.txt" ]; do n=$((n+1)); [ $n -gt 600 ] && break; sleep 0.2; done
step "read the peer's file: $(cat "$MNT/from-n$PEER.txt" 2>&1)"
check "n$ME reads what n$PEER wrote" "grep -q 'written on n$PEER' '$MNT/from-n$PEER.txt'"

# the node that mounted first restarts its lockspace when the other joins: wait (bounded) for both
n=0; until [ -n "$UUID" ] && groups_are 1,2; do n=$((n+1)); [ $n -gt 30 ] && break; sleep 1; done
run groups --socket "$SOCK"
check "n$ME: o2stack groups shows volume ${UUID:-?} mounted on nodes 1 and 2" "[ -n '$UUID' ] && groups_are 1,2"
meet status-done 600
if [ "$ME" = 2 ]; then start_writer; kill_ready 600; die_when_killed "fs mounted, corosync and o2stack daemon running${FAULT:+, writer running}"; fi

# node 1: the host kills node 2's qemu once n2 says it is ready; wait until it is gone, then write again
await_kill_ready 600
skip=$(wc -l < "$DLOG")   # the daemon's log lines from here on are about n2's death
watching
await_peer_gone
write_after_death
verify_writer

# what our daemon did, from its JSON log lines (after n2 said READY_TO_DIE), in ms after "gone"
after=$(tail -n +$((skip + 1)) "$DLOG")
tg_ms=$(( tg / 1000000 ))
at() {   # ms after "gone" of the first line matching $1 ("-" if none)
  local l t; l=$(echo "$after" | grep -m1 -E "$1") || { echo -; return; }
  t=$(echo "$l" | sed -n 's/^{"t":"\([^"]*\)".*/\1/p')
  echo $(( $(date -d "$t" +%s%3N) - tg_ms ))
}
rel() {   # "N ms: msg" of the first line matching $1
  local l; l=$(echo "$after" | grep -m1 -E "$1") || { echo "(none)"; return; }
  echo "$(at "$1") ms: $(echo "$l" | sed -n 's/.*"msg":"\([^"]*\)".*/\1/p')"
}
P_DOWN='"event":"model","msg":"[^"]*node 2 is dead'
P_QUORUM='"event":"quorum".*"left":\[([0-9]+,)*2[],]'
P_FENCE='"event":"fence","msg":"fencing node 2 '
P_FENCED='"event":"fence-result","msg":"fence agent for node 2: success'
P_COMM='"event":"ops","msg":"recover from node 2'
P_RESTART="\"event\":\"ops\",\"msg\":\"restart $UUID with members 1 \\(-2;"
echo "  o2stack daemon, ms after n2 stopped answering ping:"
echo "    CPG nodedown       $(rel "$P_DOWN")"
echo "    quorum drop        $(rel "$P_QUORUM")"
echo "    fence request      $(rel "$P_FENCE")"
echo "    fence result       $(rel "$P_FENCED")"
echo "    comm removed       $(rel "$P_COMM")"
echo "    lockspace restart  $(rel "$P_RESTART")"
echo "  fence agent log: $(tr '\n' ' ' < "$O2STACK_FENCE_LOG" 2>/dev/null)"
echo "@@ DAEMON_MS nodedown=$(at "$P_DOWN") fence=$(at "$P_FENCE") fenced=$(at "$P_FENCED") comm-removed=$(at "$P_COMM") restarted=$(at "$P_RESTART")"
check "n1's daemon ran the fence agent for n2 (node=2, success)" "echo \"\$after\" | grep -qE '$P_FENCED' && grep -q '^node=2\$' '$O2STACK_FENCE_LOG'"
check "n1's daemon removed n2's dlm comm" "echo \"\$after\" | grep -qE '$P_COMM' && [ ! -e /sys/kernel/config/dlm/cluster/comms/2 ]"
check "n1's daemon restarted the lockspace without n2" "echo \"\$after\" | grep -qE '$P_RESTART'"
dmesg | grep -E 'dlm|ocfs2|JBD2' | grep -iE 'recover|replay|remove member|dead' | tail -8 | sed 's/^/  dmesg: /'
check "n1's kernel replayed n2's journal (dmesg)" "dmesg | grep -q 'End replay journal (node 2,'"

run status
echo "\$ o2stack daemon-ctl status --json  (summary)"
$O2 daemon-ctl status --json --socket "$SOCK" | node -e "const j = JSON.parse(require('fs').readFileSync(0, 'utf8')); console.log('cluster ' + j.cluster + ' on ' + j.membership + ', quorate ' + j.quorate + ', nodes ' + j.nodes.map((x) => x.nodeid + ' ' + x.state).join(', ') + '; deaths ' + j.counters.deaths + ', fences ' + j.counters.fences)"
run groups --socket "$SOCK"
check "n1: groups shows the volume on node 1 only, the daemon counts n2 down and one fence" "groups_are 1 && jtest 'daemon-ctl status' \"j.counters.fences === 1 && j.nodes.some((x) => x.nodeid === 2 && x.state === 'down')\""

step "unmount, stop the daemon and corosync"
run umount "$MNT"
fsck_clean
stop_daemon; drc=$?
$GC corosync-stop
check "n1 unmounted, daemon (pid $DPID) and corosync stopped cleanly" "! grep -q ' $MNT ' /proc/mounts && [ $drc = 0 ] && ! kill -0 $DPID 2>/dev/null && grep -q '\"event\":\"stop\",\"msg\":\"daemon stopped\"' '$DLOG' && [ ! -e /run/o2stack-vm/corosync.pid ]"
step "done"
