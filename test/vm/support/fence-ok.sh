#!/bin/sh
# A fence agent for test VMs that always succeeds: appends what it got on stdin (node=ID,
# fail_time=SECONDS) to $O2STACK_FENCE_LOG (default /tmp/o2stack-fence.log) and exits 0.
# NEVER use it on a real cluster: it fences nothing.
log=${O2STACK_FENCE_LOG:-/tmp/o2stack-fence.log}
{ echo "--- $(date +%s)"; cat; } >> "$log"
exit 0
