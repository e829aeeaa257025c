#!/bin/bash
# Boot two test VMs that share one raw disk image and a private link, run CMD in both.
#   vm/run-two.sh DISK.img CMD [ARGS...]
# The same as `vm/run-cluster.sh 2 DISK.img CMD...` (see there and vm/README.md): DISK is /dev/vda
# in both VMs; eth0 192.0.2.1/24 on n1 and 192.0.2.2/24 on n2 (one private L2 link on the
# loopback interface), hostnames n1/n2, NODE=1|2 and NODES=2 in CMD's environment; consoles
# printed afterwards, prefixed "n1| ", "n2| " (VM_LOGDIR=DIR keeps DIR/n1.log, DIR/n2.log).
# Exit status: 0 only if CMD succeeded in both VMs; else node 1's failing status, else node 2's
# (125 = a VM died or timed out).
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,3p' "$0" >&2; exit 2; }
exec "$(dirname "$0")/run-cluster.sh" 2 "$@"
