#!/bin/bash
# Runs INSIDE a test VM: Debian's Pacemaker 2.1 for a test cluster of VMs (node N = nN =
# 192.0.2.N, corosync already started by vm/guest-cluster.sh corosync-start). The packages come
# from the host's cache ($O2STACK_VM_CACHE/pacemaker-root, filled by vm/pacemaker-pkgs.sh) and are
# copied over the guest's throwaway root. No systemd: pacemakerd runs in the foreground in its own
# session, PID in /run/o2stack-vm/pacemakerd.pid, output in /tmp/pacemakerd.log (its daemons log to
# /var/log/pacemaker/pacemaker.log).
#
#   guest-pacemaker.sh install
#       Pacemaker's /usr linked into the guest's (cp -s), its /etc and /var copied (idempotent); the hacluster user and haclient group its daemons run
#       as; /var/lib/pacemaker, /var/log/pacemaker; test/vm/support/fence_o2test into /usr/sbin
#       (where Pacemaker's fencer looks for fence agents)
#   guest-pacemaker.sh start NODES [WAIT_S]
#       start pacemakerd; wait (at most WAIT_S, default 300) until crm_mon reports NODES nodes
#       online and a DC. Prints "pacemaker up: pid P, N nodes online after T ms"
#   guest-pacemaker.sh stop                 SIGTERM by PID, waits (pacemakerd stops its daemons)
#   guest-pacemaker.sh logs                 crm_mon -1, the tail of the logs
set -euo pipefail
CACHE=${O2STACK_VM_CACHE:-/var/cache/o2stack-vm}
SRC=${O2STACK_VM_PACEMAKER_ROOT:-$CACHE/pacemaker-root}
HERE=$(cd "$(dirname "$0")" && pwd)
PIDS=/run/o2stack-vm
mkdir -p "$PIDS"
die() { echo "guest-pacemaker: $*" >&2; exit 1; }
now_ms() { date +%s%3N; }
[ -f /vmrun/env ] || die "runs only inside a test VM (vm/run.sh, vm/run-cluster.sh)"

install() {
  [ -f /etc/.o2stack-pacemaker-installed ] && return 0
  [ -x "$SRC/usr/sbin/pacemakerd" ] || die "no pacemaker in $SRC: run vm/pacemaker-pkgs.sh on the host"
  # /usr as symbolic links into the tree (cp -s): copying its 12 MB file by file over 9p took
  # more than 4 minutes under TCG; an overlay over /usr is refused (the root is an overlay already:
  # "maximum fs stacking depth exceeded"). -n: a file the guest already has (the host's root, e.g.
  # gawk, xmllint) is kept, not an error (coreutils 9.1, Debian 12: skipped files exit 0)
  cp -asn "$SRC/usr/." /usr/
  [ -d "$SRC/etc" ] && cp -a "$SRC/etc/." /etc/
  [ -d "$SRC/var" ] && cp -a "$SRC/var/." /var/
  # what the package's maintainer scripts would do
  getent group haclient >/dev/null || echo "haclient:x:189:" >> /etc/group
  getent passwd hacluster >/dev/null || echo "hacluster:x:189:189:cluster user:/var/lib/pacemaker:/usr/sbin/nologin" >> /etc/passwd
  mkdir -p /var/lib/pacemaker/cib /var/lib/pacemaker/pengine /var/lib/pacemaker/blackbox /var/lib/pacemaker/cores /var/log/pacemaker
  chown -R hacluster:haclient /var/lib/pacemaker /var/log/pacemaker
  chmod 750 /var/lib/pacemaker/cib /var/lib/pacemaker/pengine
  # `command`: this function is itself named install
  command install -m 0755 "$HERE/../test/vm/support/fence_o2test" /usr/sbin/fence_o2test
  ldconfig 2>/dev/null || true
  touch /etc/.o2stack-pacemaker-installed
}

alive() { [ -f "$PIDS/pacemakerd.pid" ] && kill -0 "$(cat "$PIDS/pacemakerd.pid")" 2>/dev/null; }

start() {
  local nodes=${1:?NODES} wait_s=${2:-300} t0 online
  install
  alive && die "pacemakerd already runs (pid $(cat "$PIDS/pacemakerd.pid"))"
  t0=$(now_ms)
  setsid pacemakerd </dev/null >/tmp/pacemakerd.log 2>&1 &
  echo $! > "$PIDS/pacemakerd.pid"
  while :; do
    alive || { tail -n 40 /tmp/pacemakerd.log /var/log/pacemaker/pacemaker.log >&2 2>/dev/null; die "pacemakerd exited"; }
    # crm_mon's "Node List" (online nodes); a DC must be elected
    if out=$(crm_mon -1 2>/dev/null) && echo "$out" | grep -q 'Current DC: n[0-9]'; then
      online=$(echo "$out" | sed -n 's/.*Online: \[ \(.*\) \].*/\1/p' | wc -w)
      [ "$online" -ge "$nodes" ] && break
    fi
    # a progress line every 30 s (what crm_mon says so far, the last log line)
    if [ $(( ($(now_ms) - t0) / 30000 )) -gt "${shown:-0}" ]; then
      shown=$(( ($(now_ms) - t0) / 30000 ))
      echo "guest-pacemaker: $(( ($(now_ms) - t0) / 1000 )) s: crm_mon: $(crm_mon -1 2>&1 | grep -E 'DC:|Online|OFFLINE|UNCLEAN|rror|not' | tr '\n' ' ' | cut -c1-300); log: $(tail -n 1 /var/log/pacemaker/pacemaker.log 2>/dev/null | cut -c1-300)"
    fi
    if [ $(( $(now_ms) - t0 )) -ge $(( wait_s * 1000 )) ]; then
      crm_mon -1 >&2 2>&1 || true
      tail -n 30 /tmp/pacemakerd.log >&2 2>/dev/null || true
      grep -E 'error|warning|crit' /var/log/pacemaker/pacemaker.log 2>/dev/null | tail -n 40 >&2 || true
      tail -n 60 /var/log/pacemaker/pacemaker.log >&2 2>/dev/null || true
      die "pacemaker: not $nodes nodes online with a DC within ${wait_s} s"
    fi
    sleep 1
  done
  echo "pacemaker up: pid $(cat "$PIDS/pacemakerd.pid"), $nodes nodes online after $(( $(now_ms) - t0 )) ms"
}

stop() {
  local pid i
  [ -f "$PIDS/pacemakerd.pid" ] || return 0
  pid=$(cat "$PIDS/pacemakerd.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for i in $(seq 1 1200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$PIDS/pacemakerd.pid"
}

logs() {
  echo "--- crm_mon -1"; timeout 30 crm_mon -1 2>&1 || true
  echo "--- stonith_admin --history '*'"; timeout 30 stonith_admin --history '*' 2>&1 || true
  echo "--- /tmp/pacemakerd.log (last 20 lines)"; tail -n 20 /tmp/pacemakerd.log 2>/dev/null || true
  echo "--- /var/log/pacemaker/pacemaker.log (last 150 lines)"; tail -n 150 /var/log/pacemaker/pacemaker.log 2>/dev/null || true
}

cmd=${1:-}
shift || true
case $cmd in
  install) install ;;
  start) start "$@" ;;
  stop) stop ;;
  logs) logs ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d' >&2; exit 2 ;;
esac
