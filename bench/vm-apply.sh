#!/bin/bash
# Host side of bench/vm-apply.ts: build what it runs (dist/ and the C floor), then run it in a VM.
#   bash bench/vm-apply.sh [--runs N]
set -euo pipefail
cd "$(dirname "$0")/.."
npm run -s build
mkdir -p build/bench
gcc -O2 -o build/bench/floor bench/floor.c
bash vm/setup.sh >/dev/null
VM_TIMEOUT=${VM_TIMEOUT:-900} vm/run.sh node --import tsx bench/vm-apply.ts --floor build/bench/floor "$@"
