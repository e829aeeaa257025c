#!/bin/bash
# Runs INSIDE a test VM (started by test/vm/run-suites.ts): mocha on one suite file.
# usage: guest-mocha.sh NODE_BINARY [ARGS...]
# - In a multi-VM run (vm/run-cluster.sh: NODE=1..N) each node reports as "<suite>[nN]" into its
#   own results file.
# - O2STACK_VM_TSX_CACHE (a shared host directory): tsx's transform cache is copied in before and
#   new entries back after, so each VM does not compile the same TypeScript again (under qemu TCG
#   that is most of a suite's start-up time). The cache itself stays on the guest's tmpfs.
set -euo pipefail
if [ -n "${NODE:-}" ]; then
  export O2STACK_SUITE="$O2STACK_SUITE[n$NODE]" O2STACK_RESULTS="$O2STACK_RESULTS.n$NODE"
fi
shared=${O2STACK_VM_TSX_CACHE:-}
local_cache="${TMPDIR:-/tmp}/tsx-$(id -u)"
if [ -n "$shared" ] && [ -d "$shared" ]; then
  mkdir -p "$local_cache"
  cp -a "$shared/." "$local_cache/" 2>/dev/null || true
fi
rc=0
"$@" || rc=$?
if [ -n "$shared" ] && [ -d "$shared" ] && [ -d "$local_cache" ]; then
  cp -an "$local_cache/." "$shared/" 2>/dev/null || true
fi
exit $rc
