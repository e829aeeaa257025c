#!/bin/bash
# Runs INSIDE a test VM: Debian's corosync (and dlm_controld) for a test cluster of VMs whose
# node N is 192.0.2.N (vm/run-cluster.sh: n1..nN). The packages come from the host's cache
# ($O2STACK_VM_CLUSTER_ROOT, filled by vm/cluster-pkgs.sh during vm/setup.sh) and are copied over
# the guest's throwaway root. Every daemon runs in the background with its PID in
# /run/o2stack-vm/NAME.pid and its output in /tmp/NAME.log; stop kills exactly that PID.
#
#   guest-cluster.sh install
#       copy corosync + dlm_controld into / (idempotent); the dirs they need; /dev/misc/* links
#   guest-cluster.sh corosync-start CLUSTER_NAME [NODES [TOKEN_MS [WAIT_S]]]
#       write /etc/corosync/corosync.conf (knet, no crypto, nodes 1..NODES at 192.0.2.N,
#       votequorum: two_node for NODES=2, else a majority of NODES is quorate) and start
#       `corosync -f`; waits (at most WAIT_S, default 120) until corosync reports NODES members
#       and quorum. This node is $NODE (default 1). O2S_WAIT_MEMBERS=M waits for M members
#       instead (a node kept out on purpose); O2S_QUORUM_EXTRA adds votequorum lines (e.g.
#       "last_man_standing: 1", newline-separated); O2S_NO_TWO_NODE=1: two nodes without two_node
#       (each alone is then without quorum); O2S_VOTES="3 1 1" gives node i the i-th number of
#       votes.
#       Prints "corosync up: pid P, N members, quorate after T ms".
#   guest-cluster.sh corosync-wait-members N [WAIT_S]
#       wait until corosync reports exactly N members (e.g. after a node died)
#   guest-cluster.sh dlm-start FENCE_AGENT|none [WAIT_S]
#       write /etc/dlm/dlm.conf (startup fencing off, post_join_delay 0, `fence_all FENCE_AGENT`,
#       or enable_fencing=0 for "none") and start `dlm_controld -D` (foreground, debug log);
#       waits until `dlm_tool status` answers
#   guest-cluster.sh corosync-stop | dlm-stop      SIGTERM by PID, SIGKILL after 10 s
#   guest-cluster.sh logs                          the tail of both logs, dlm_tool status/dump
# Exit status non-zero (with the log tail on stderr) when a wait runs out.
set -euo pipefail
SRC=${O2STACK_VM_CLUSTER_ROOT:-${O2STACK_VM_CACHE:-/var/cache/o2stack-vm}/cluster-root}
PIDS=/run/o2stack-vm
NODE=${NODE:-1}
mkdir -p "$PIDS"

die() { echo "guest-cluster: $*" >&2; exit 1; }
now_ms() { date +%s%3N; }
[ -f /vmrun/env ] || die "runs only inside a test VM (vm/run.sh, vm/run-cluster.sh)"

install() {
  [ -f /etc/.o2stack-cluster-installed ] && return 0
  [ -x "$SRC/usr/sbin/corosync" ] && [ -x "$SRC/usr/sbin/dlm_controld" ] || die "no corosync/dlm_controld in $SRC: run vm/setup.sh"
  cp -a "$SRC/usr/." /usr/
  [ -d "$SRC/etc" ] && cp -a "$SRC/etc/." /etc/
  mkdir -p /var/lib/corosync /var/log/corosync /etc/corosync /etc/dlm /var/log/dlm_controld /run/dlm_controld
  # no udev: dlm_controld waits for /dev/misc/<name> (what 51-dlm.rules would link)
  mkdir -p /dev/misc
  local n
  for n in dlm-control dlm-monitor dlm_plock; do
    [ -e "/dev/$n" ] && ln -sfn "../$n" "/dev/misc/$n"
  done
  ldconfig 2>/dev/null || true
  touch /etc/.o2stack-cluster-installed
}

alive() { [ -f "$PIDS/$1.pid" ] && kill -0 "$(cat "$PIDS/$1.pid")" 2>/dev/null; }
# the recorded PID must be the daemon itself (setsid in a background job does not fork), so that
# stop kills exactly it
is_daemon() { [ "$(cat "/proc/$(cat "$PIDS/$1.pid")/comm" 2>/dev/null)" = "$2" ] || die "pid $(cat "$PIDS/$1.pid") is not $2"; }

# start NAME CMD... : in the background, in its own session, stdio on /tmp/NAME.log
start() {
  local name=$1; shift
  alive "$name" && die "$name already runs (pid $(cat "$PIDS/$name.pid"))"
  setsid "$@" </dev/null >"/tmp/$name.log" 2>&1 &
  echo $! > "$PIDS/$name.pid"
}

stop() {
  local name=$1 pid i
  [ -f "$PIDS/$name.pid" ] || return 0
  pid=$(cat "$PIDS/$name.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && { echo "guest-cluster: $name (pid $pid) ignored SIGTERM for 10 s: SIGKILL" >&2; kill -9 "$pid" 2>/dev/null || true; }
  fi
  rm -f "$PIDS/$name.pid"
}

tail_log() { echo "--- /tmp/$1.log (last ${2:-40} lines)"; tail -n "${2:-40}" "/tmp/$1.log" 2>/dev/null || true; }

# "MEMBERS QUORATE" from corosync-quorumtool (e.g. "2 Yes"), or nothing
quorum_state() {
  corosync-quorumtool -s 2>/dev/null | awk -F: '
    /^Quorate:/ { gsub(/ /, "", $2); q = $2 }
    /^Nodes:/   { gsub(/ /, "", $2); n = $2 }
    END { if (n != "") print n, q }'
}

wait_members() {   # N WAIT_S
  local want=$1 wait_s=$2 t0 st
  t0=$(now_ms)
  while :; do
    alive corosync || { tail_log corosync >&2; die "corosync exited"; }
    st=$(quorum_state || true)
    [ "$st" = "$want Yes" ] && break
    if [ $(( $(now_ms) - t0 )) -ge $(( wait_s * 1000 )) ]; then
      corosync-quorumtool -s >&2 || true
      tail_log corosync >&2
      die "corosync: not $want members and quorate within ${wait_s} s (now: ${st:-no answer})"
    fi
    sleep 0.2
  done
  WAITED=$(( $(now_ms) - t0 ))
}

corosync_start() {
  local cluster=${1:?cluster name} nodes=${2:-2} token=${3:-3000} wait_s=${4:-120} i
  [ "$NODE" -ge 1 ] && [ "$NODE" -le "$nodes" ] || die "NODE=$NODE is not in 1..$nodes"
  install
  {
    echo "# written by vm/guest-cluster.sh for a test cluster of VMs (node N = 192.0.2.N)"
    echo "totem {"
    echo "  version: 2"
    echo "  cluster_name: $cluster"
    echo "  transport: knet"
    echo "  crypto_cipher: none"
    echo "  crypto_hash: none"
    echo "  token: $token"
    echo "}"
    echo "logging {"
    echo "  to_stderr: yes"
    echo "  to_logfile: no"
    echo "  to_syslog: no"
    echo "  timestamp: hires"
    echo "}"
    echo "quorum {"
    echo "  provider: corosync_votequorum"
    # two nodes: the survivor of a two-node cluster stays quorate (wait_for_all comes with it:
    # quorum is first reached only once both were seen)
    [ "$nodes" = 2 ] && [ -z "${O2S_NO_TWO_NODE:-}" ] && echo "  two_node: 1"
    [ -n "${O2S_QUORUM_EXTRA:-}" ] && printf '%s\n' "$O2S_QUORUM_EXTRA" | sed 's/^/  /'
    echo "}"
    echo "nodelist {"
    for i in $(seq 1 "$nodes"); do
      echo "  node {"
      echo "    name: n$i"
      echo "    nodeid: $i"
      echo "    ring0_addr: 192.0.2.$i"
      # O2S_VOTES="3 1 1": node i's quorum_votes (default 1 each)
      [ -n "${O2S_VOTES:-}" ] && echo "    quorum_votes: $(echo "$O2S_VOTES" | cut -d' ' -f"$i")"
      echo "  }"
    done
    echo "}"
  } > /etc/corosync/corosync.conf
  grep -q "^192\.0\.2\.1 n1$" /etc/hosts 2>/dev/null || for i in $(seq 1 "$nodes"); do echo "192.0.2.$i n$i"; done >> /etc/hosts
  local t0; t0=$(now_ms)
  start corosync corosync -f -c /etc/corosync/corosync.conf
  wait_members "${O2S_WAIT_MEMBERS:-$nodes}" "$wait_s"
  is_daemon corosync corosync
  echo "corosync up: pid $(cat "$PIDS/corosync.pid"), ${O2S_WAIT_MEMBERS:-$nodes} members, quorate after $(( $(now_ms) - t0 )) ms"
}

dlm_start() {
  local agent=${1:?fence agent path or none} wait_s=${2:-60} t0
  install
  alive corosync || die "start corosync first"
  {
    echo "# written by vm/guest-cluster.sh (test VMs only)"
    echo "enable_startup_fencing=0"
    echo "post_join_delay=0"
    if [ "$agent" = none ]; then
      echo "enable_fencing=0"
    else
      [ -x "$agent" ] || die "fence agent $agent is not executable"
      echo "fence_all $agent"
    fi
  } > /etc/dlm/dlm.conf
  t0=$(now_ms)
  start dlm_controld dlm_controld -D
  while ! dlm_tool status >/dev/null 2>&1; do
    alive dlm_controld || { tail_log dlm_controld >&2; die "dlm_controld exited"; }
    if [ $(( $(now_ms) - t0 )) -ge $(( wait_s * 1000 )) ]; then
      tail_log dlm_controld >&2
      die "dlm_tool status got no answer within ${wait_s} s"
    fi
    sleep 0.2
  done
  is_daemon dlm_controld dlm_controld
  echo "dlm_controld up: pid $(cat "$PIDS/dlm_controld.pid"), answering after $(( $(now_ms) - t0 )) ms"
}

logs() {
  tail_log corosync 60
  tail_log dlm_controld 120
  if alive dlm_controld; then
    echo "--- dlm_tool status"; timeout 10 dlm_tool status 2>&1 || true
    echo "--- dlm_tool ls"; timeout 10 dlm_tool ls 2>&1 || true
    echo "--- dlm_tool dump (last 80 lines)"; timeout 10 dlm_tool dump 2>&1 | tail -n 80 || true
  fi
  if alive corosync; then echo "--- corosync-quorumtool -s"; timeout 10 corosync-quorumtool -s 2>&1 || true; fi
}

cmd=${1:-}
shift || true
case $cmd in
  install) install ;;
  corosync-start) corosync_start "$@" ;;
  corosync-wait-members) alive corosync || die "corosync is not running"; wait_members "${1:?N}" "${2:-120}"; echo "corosync: $1 members after $WAITED ms" ;;
  corosync-stop) stop corosync ;;
  dlm-start) dlm_start "$@" ;;
  dlm-stop) stop dlm_controld ;;
  logs) logs ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d' >&2; exit 2 ;;
esac
