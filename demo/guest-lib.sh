# Sourced by demo/guest-o2cb.sh and demo/guest-user.sh: one node of a two-node demo inside a test
# VM (NODE=1|2, O2STACK_ENTRY = the CLI), the shared volume on /dev/vda at /mnt/shared. Lines
# starting "@@" are milestones the host reads; "CHECK ok|fail what" lines are the demo's checks.
ME=${NODE:?NODE=1|2}; PEER=$((3 - ME))
O2="node ${O2STACK_ENTRY:?}"
DEV=/dev/vda MNT=/mnt/shared
t0=$(date +%s%N)
ms() { echo $(( ($(date +%s%N) - t0) / 1000000 )); }
step() { echo "@@ n$ME +$(ms)ms $*"; }
check() { if eval "$2"; then echo "CHECK ok $1"; else echo "CHECK fail $1"; fi; }
run() { echo "\$ o2stack $*"; $O2 "$@"; }

# Does the peer answer one ping within a second? busybox's ping: the host root the guest runs on
# need not have one, and a ping that cannot run must not read as "the peer is gone".
peer_answers() {
  local out
  out=$(busybox ping -c1 -W1 192.0.2.$PEER 2>&1) && return 0
  case $out in *'100% packet loss'*) return 1 ;; esac
  echo "CHECK fail busybox ping works: $out"; exit 1
}

# until the peer answers a ping (LIMIT tries at most)
await_peer_reachable() {
  local n=0
  until peer_answers; do n=$((n+1)); [ $n -gt "$1" ] && { echo "CHECK fail n$PEER answers ping"; exit 1; }; sleep 0.2; done
  step "peer 192.0.2.$PEER reachable"
}

# await_file NAME LIMIT: until NAME exists on the shared volume (LIMIT × 0.2 s at most); false if not
await_file() {
  local n=0; until [ -e "$MNT/$1" ]; do n=$((n+1)); [ "$n" -gt "$2" ] && return 1; sleep 0.2; done
}

# meet NAME LIMIT: leave a marker on the shared volume, then wait (LIMIT × 0.2 s at most) for the peer's
meet() { touch "$MNT/$1-n$ME"; sync; await_file "$1-n$PEER" "$2"; }

# The kill handshake. Between n2's READY_TO_DIE and the kill, n1 must not touch the volume: a lookup
# there can wait for a lock n2 holds and so sleep through the whole death, after which every figure
# is wrong (it happened in CI: n1 took its "before" readings after the recovery). So n2 leaves
# kill-ready-n2 and waits; n1 sees it (n2 alive, answering lock requests), takes its readings, leaves
# watching-n1 and stays off the volume; n2 sees that and only then says READY_TO_DIE.
# n2: kill_ready LIMIT
kill_ready() { touch "$MNT/kill-ready-n2"; sync; await_file watching-n1 "$1"; }
# n1: await_kill_ready LIMIT
await_kill_ready() { await_file kill-ready-n2 "$1" || echo "CHECK fail n2 got ready to be killed"; }
# n1: the last touch of the volume before the kill (no sync: n2's lookup makes our node flush it)
watching() { touch "$MNT/watching-n1"; }

# n2: tell the host (READY_TO_DIE on the console, WHAT running) to kill us
die_when_killed() {
  step "READY_TO_DIE ($1)"
  sleep 300
  echo "CHECK fail n2 was not killed by the host"; exit 1
}

# n1, right after watching (n2 alive): until n2 is gone. A few lost pings under TCG are
# not a death: "gone" is five missed replies in a row, timed from the first of them (tg, ns since
# the epoch).
await_peer_gone() {
  local n=0 missed=0; tg=0
  while [ $missed -lt 5 ] && [ $n -lt 600 ]; do
    n=$((n+1))
    if peer_answers; then missed=0; sleep 0.2
    else [ $missed = 0 ] && tg=$(date +%s%N); missed=$((missed+1)); fi
  done
  [ $missed -ge 5 ] || { echo "CHECK fail n2 still answers pings after $n tries"; tg=$(date +%s%N); }
  step "peer gone (no reply to 5 pings in a row)"
}

# wait_child PID TENTHS: until the child PID has exited, at most TENTHS x 0.1 s; false if it still runs
wait_child() {
  local n=0
  while kill -0 "$1" 2>/dev/null && [ $n -lt "$2" ]; do n=$((n+1)); sleep 0.1; done
  ! kill -0 "$1" 2>/dev/null
}

# n1: write on the shared volume again (in a child: a write blocked on the cluster's locks blocks
# only it), timed from tg; at most 120 s
write_after_death() {
  ( echo "written on n1 after n2 died" > "$MNT/after-kill.txt" && sync ) &
  local wp=$! d
  if ! wait_child $wp 1200; then echo "CHECK fail n1 writable again within 120 s"; else
    d=$(( ($(date +%s%N) - tg) / 1000000 ))
    step "writable again ${d} ms after the peer went away"
    echo "@@ RECOVERY_MS $d"
    check "n1 writable again after n2 was killed" "grep -q 'after n2 died' '$MNT/after-kill.txt'"
  fi
}

# ---- FAULT=writer (npm run test:faults): n2 is killed while writing ----
# n2: start_writer — a writer appending fixed 64-byte records "n2 seq=NNNNNNNN …\n" to the shared
# volume, fsync after each, printing "ACK N" on the console once fsync has returned (so the host
# knows every record the filesystem acknowledged before the kill); waits until 20 are acknowledged.
# the faults that run the writer on n2: killed (writer), heartbeat I/O stalled (hbstall)
writer_fault() { [ "${FAULT:-}" = writer ] || [ "${FAULT:-}" = hbstall ]; }
start_writer() {
  writer_fault || return 0
  python3 -u - "$MNT/writer-n2.log" <<'PY' &
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
seq = 0
while seq < 1000000:
    seq += 1
    rec = ("n2 seq=%08d " % seq).ljust(63, "x") + "\n"
    os.write(fd, rec.encode())
    os.fsync(fd)
    print("ACK %d" % seq, flush=True)
    time.sleep(0.02)
PY
  WRITER=$!
  local n=0
  until [ "$(wc -c < "$MNT/writer-n2.log" 2>/dev/null || echo 0)" -ge $((20 * 64)) ]; do
    n=$((n+1)); [ $n -gt 600 ] && { echo "CHECK fail n2's writer got going"; return 1; }; sleep 0.2
  done
  step "writer running (fsync'd 64-byte appends, ACK on the console after each fsync)"
}

# n1, after the recovery: which of n2's records are on the volume. Prints
# "@@ WRITER records=N last=L gaps=G torn=T": records well-formed, the last sequence number, gaps
# in 1..L (a lost acknowledged record shows as a gap or as L below n2's last ACK), and malformed
# records (only the very last may be torn by the kill: an unacknowledged append).
verify_writer() {
  writer_fault || return 0
  python3 - "$MNT/writer-n2.log" <<'PY'
import re, sys
data = open(sys.argv[1], "rb").read()
recs = [data[i:i + 64] for i in range(0, len(data), 64)]
pat = re.compile(rb"^n2 seq=(\d{8}) x*\n$")
seqs, torn = [], 0
for i, r in enumerate(recs):
    m = pat.match(r)
    if m and len(r) == 64:
        seqs.append(int(m.group(1)))
    elif i == len(recs) - 1:
        torn += 1            # the append the kill cut short: never acknowledged
    else:
        torn += 1000000      # a bad record in the middle: corruption
last = max(seqs) if seqs else 0
gaps = last - len(set(seqs)) + (len(seqs) - len(set(seqs)))
print("@@ WRITER records=%d last=%d gaps=%d torn=%d" % (len(seqs), last, gaps, torn))
PY
}

# after the unmount: fsck.ocfs2 -fn (read only: no cluster lock) finds the volume clean
fsck_clean() {
  writer_fault || return 0
  local out rc
  out=$(timeout 300 fsck.ocfs2 -fn "$DEV" 2>&1); rc=$?
  echo "$out" | tail -n 4 | sed 's/^/  fsck: /'
  check "fsck.ocfs2 -fn: the volume is clean after n2 was killed while writing" "[ $rc = 0 ] && ! echo \"\$out\" | grep -qiE 'error|corrupt'"
}

# ---- FAULT=hbstall (o2cb): n2's I/O to the shared disk stalls; its kernel, not the host, ends it ----
# n2 reaches the disk through a device-mapper linear device (dm-mod; no udev in the VM: dmsetup
# makes the node itself), so that its I/O alone can be frozen: `dmsetup suspend --noflush` queues
# every request and completes none (a lost SAN path, a hung array). n1 uses /dev/vda directly.
STALL_DM=o2stall
stall_device_setup() {
  [ "${FAULT:-}" = hbstall ] && [ "$ME" = 2 ] || return 0
  modprobe dm_mod 2>/dev/null
  dmsetup create "$STALL_DM" --noudevsync --table "0 $(blockdev --getsz /dev/vda) linear /dev/vda 0" &&
    dmsetup mknodes "$STALL_DM" && [ -b "/dev/mapper/$STALL_DM" ] || { echo "CHECK fail n2 made /dev/mapper/$STALL_DM over /dev/vda"; exit 1; }
  DEV=/dev/mapper/$STALL_DM
  step "n2 uses $DEV (dm linear over /dev/vda) to stall its own I/O later"
}
# n2: stall the device, tell the host (STALLING on the console and in the kernel log, for printk
# times), and wait to be fenced by its own kernel (o2hb's write timeout); the host gives up after
# its own limit
stall_and_wait() {
  # said on the volume first (n1 starts its write 2 s after it sees this), then done
  touch "$MNT/stalling-n2"; sync
  step "STALLING heartbeat I/O: dmsetup suspend --noflush $DEV (writer running)"
  # <3>: at KERN_ERR, so that the console (quiet) shows it among o2hb's own errors
  echo "<3>o2stack-fault: n2 heartbeat I/O suspended now" > /dev/kmsg
  dmsetup suspend --noflush --noudevsync "$STALL_DM" || echo "CHECK fail dmsetup suspend"
  sleep 600
  echo "CHECK fail n2's kernel did not fence it after its I/O stalled"; exit 1
}
# n1: once n2 says it stalls (its file on the volume, then 2 s), read the end of n2's writer file:
# n2 holds that inode's lock for its appends and cannot write back what it covers, so the read
# waits until o2hb here declares n2 dead and n2's journal is replayed; at most 180 s. Then a write.
# The host times STALLING (n2) to WRITABLE_AGAIN (n1) on its own clock.
write_after_stall() {
  await_file stalling-n2 300 || echo "CHECK fail n2 said it stalls"
  sleep 2
  local ts; ts=$(date +%s%N)
  ( tail -c 64 "$MNT/writer-n2.log" > /tmp/n2-tail && echo "written on n1 after n2 died" > "$MNT/after-kill.txt" && sync ) &
  local wp=$! d
  if ! wait_child $wp 1800; then echo "CHECK fail n1 reads n2's file and writes within 180 s of n2's stall"; else
    d=$(( ($(date +%s%N) - ts) / 1000000 ))
    step "WRITABLE_AGAIN: the read of n2's file waited ${d} ms; its last record: $(tr -d 'x\n' < /tmp/n2-tail)"
    check "n1 writable again after n2 was killed (the read of n2's file waited ${d} ms: n2's lock, until n2 was declared dead)" "grep -q 'after n2 died' '$MNT/after-kill.txt' && [ $d -ge 5000 ]"
  fi
}
