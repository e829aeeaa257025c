// `o2stack status --json` cold: a new process of the built CLI (dist/o2stack.cjs; `npm run build`
// first) per run, against a fake kernel tree with a 16-node o2cb cluster applied by the library.
// Prints the wall time of each process (spawn to exit) and its median; `node -e 1` alongside.
//   npx tsx bench/status.ts [--runs 10] [--cli dist/o2stack.cjs] [--json]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NativeBackend } from '../lib/kernel/backend.js';
import { makeFakeKernelTree } from '../lib/kernel/fakeTree.js';
import { readO2nmState } from '../lib/kernel/o2nm.js';
import { planO2nm } from '../lib/model/o2nmPlan.js';
import { applyO2nmPlan } from '../lib/stack/o2nmApply.js';
import { benchArgs, median, printJson } from './args.js';

const values = benchArgs(import.meta.url, { runs: { default: '10', int: true }, cli: { default: 'dist/o2stack.cjs' }, json: { flag: true } });
const cli = new URL(`../${values.cli}`, import.meta.url).pathname;
if (!existsSync(cli)) {
  process.stderr.write(`${cli}: no such file (ENOENT); build the CLI first: npm run build\n`);
  process.exit(1);
}
const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'o2s-bench-status-'));
const times: number[] = [];
const node: number[] = [];
function time(args: string[], ok: (code: number | null) => boolean): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (!ok(r.status)) throw new Error(`node ${args.join(' ')} exited ${r.status}: ${r.error?.message ?? r.stderr}`);
  return ms;
}
try {
  const root = makeFakeKernelTree(dir);
  const backend = new NativeBackend({ root, fakeTree: true });
  const nodes = Array.from({ length: 16 }, (_, i) => ({ name: `node${i}`, number: i, ipAddress: `192.0.2.${i + 1}`, port: 7777 }));
  applyO2nmPlan(backend, planO2nm({ name: 'bench', nodes, heartbeatMode: 'local', heartbeatRegions: [], timeouts: {} }, readO2nmState(backend), { localNode: 'node0' }));
  for (let r = 0; r < values.runs; r++) {
    // exit 3: the stack is offline (no kernel modules on a fake tree), still a full report
    times.push(time([cli, '--root', root, '--json', 'status'], (c) => c === 0 || c === 3));
    node.push(time(['-e', '1'], (c) => c === 0));
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
if (values.json) {
  printJson({
    bench: 'status',
    params: { runs: values.runs, nodes: 16 },
    figures: {
      statusMs: { label: '`o2stack status --json` cold (new process, fake tree, 16 nodes)', unit: 'ms', value: median(times) },
      nodeMs: { label: '`node -e 1`', unit: 'ms', value: median(node) },
    },
  });
} else {
  const s = [...times].sort((a, b) => a - b);
  console.log(`o2stack status --json, ${values.runs} cold runs: min ${s[0]!.toFixed(1)} ms  median ${median(times).toFixed(1)} ms  max ${s[s.length - 1]!.toFixed(1)} ms  (node -e 1: median ${median(node).toFixed(1)} ms)`);
}
