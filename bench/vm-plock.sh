#!/bin/bash
# Host side of bench/vm-plock.ts: two VMs, one shared blank disk.
#   PLOCK_MODES=dlm,ours PLOCK_SECONDS=5 [PLOCK_STRACE=1] [PLOCK_PROF=1] [PLOCK_PERF=1] [PLOCK_TRACE=0] [PLOCK_BASE=dir] bash bench/vm-plock.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash vm/setup.sh >/dev/null
out=${PLOCK_OUT:-$PWD/build/vm-plock}
rm -rf "$out"; mkdir -p "$out"
disk=$(mktemp /tmp/vm-plock-XXXXXX.img)
trap 'rm -f "$disk"' EXIT
truncate -s 512M "$disk"
export PLOCK_OUT=$out O2STACK_RESULTS=/tmp/vm-plock-results
VM_ENV="O2STACK_RESULTS PLOCK_HOSTBENCH PLOCK_WARMUP PLOCK_TRACE PLOCK_BASE PLOCK_MODES PLOCK_SECONDS PLOCK_STRACE PLOCK_PROF PLOCK_PERF PLOCK_OUT ${VM_ENV:-}" VM_TIMEOUT=${VM_TIMEOUT:-900} VM_LOGDIR=$out \
  vm/run-two.sh "$disk" node --import tsx bench/vm-plock.ts | grep -E 'vm-plock|Error|error' || true
cat "$out"/n1.txt "$out"/n2.txt 2>/dev/null
