// Plan + apply a 255-node o2cb cluster to a configfs-shaped tree: the native batch call against one
// native call per operation. Prints ops/s and µs per op. On the host the tree is a tmpfs directory
// (fake-tree mode); the real-kernel comparison runs in the VM (bench/vm-apply.ts).
//   npx tsx bench/apply.ts [--runs N] [--dir DIR]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NativeBackend } from '../lib/kernel/backend.js';
import { makeFakeKernelTree } from '../lib/kernel/fakeTree.js';
import { readO2nmState } from '../lib/kernel/o2nm.js';
import type { ClusterConfig } from '../lib/model/cluster.js';
import { planO2nm } from '../lib/model/o2nmPlan.js';
import { applyO2nmPlan } from '../lib/stack/o2nmApply.js';
import { benchArgs } from './args.js';

const values = benchArgs(import.meta.url, { runs: { default: '20', int: true }, dir: { default: '/dev/shm' } });
const runs = values.runs;

function cluster255(): ClusterConfig {
  const nodes = Array.from({ length: 255 }, (_, i) => ({ name: `node${i}`, number: i, ipAddress: `10.${i >> 8}.${i & 255}.1`, port: 7777 }));
  return { name: 'bench', nodes, heartbeatMode: 'local', heartbeatRegions: [], timeouts: {} };
}

function stats(samples: number[]) {
  const s = [...samples].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return { min: s[0]!, median: q(0.5), max: s[s.length - 1]! };
}

const base = (() => {
  try {
    return mkdtempSync(join(values.dir!, 'o2stack-bench-'));
  } catch {
    return mkdtempSync(join(tmpdir(), 'o2stack-bench-'));
  }
})();
const want = cluster255();
const results: Record<string, number[]> = { plan: [], batch: [], perOp: [], noopPlan: [] };
let ops = 0;
try {
  for (let r = 0; r < runs; r++) {
    for (const mode of ['batch', 'perOp'] as const) {
      const root = makeFakeKernelTree(join(base, `${mode}-${r}`));
      const backend = new NativeBackend({ root, fakeTree: true });
      let t0 = process.hrtime.bigint();
      const plan = planO2nm(want, readO2nmState(backend), { localNode: 'node0' });
      const tPlan = Number(process.hrtime.bigint() - t0) / 1e6;
      ops = plan.steps.length;
      t0 = process.hrtime.bigint();
      if (mode === 'batch') applyO2nmPlan(backend, plan);
      else {
        for (const s of plan.steps) {
          if (s.op === 'mkdir') backend.mkdir(s.path);
          else if (s.op === 'rmdir') backend.rmdir(s.path);
          else backend.write(s.path, s.data!);
        }
      }
      results[mode]!.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (mode === 'batch') {
        results.plan!.push(tPlan);
        t0 = process.hrtime.bigint();
        const again = planO2nm(want, readO2nmState(backend), { localNode: 'node0' });
        results.noopPlan!.push(Number(process.hrtime.bigint() - t0) / 1e6);
        if (again.steps.length !== 0) throw new Error(`second plan is not a no-op: ${again.steps.length} steps`);
      }
    }
  }
} finally {
  rmSync(base, { recursive: true, force: true });
}

console.log(`255-node cluster, ${ops} configfs operations, ${runs} runs each, fake tree on ${values.dir} (host kernel: ${process.platform} ${process.arch})`);
for (const [name, samples] of Object.entries(results)) {
  const s = stats(samples);
  const perOp = name === 'batch' || name === 'perOp' ? `  ${((s.median * 1000) / ops).toFixed(2)} µs/op  ${Math.round(ops / (s.median / 1000))} ops/s` : '';
  console.log(`${name.padEnd(9)} min ${s.min.toFixed(2)} ms  median ${s.median.toFixed(2)} ms  max ${s.max.toFixed(2)} ms${perOp}`);
}
console.log(`batch vs one call per op: ${(stats(results.perOp!).median / stats(results.batch!).median).toFixed(2)}× faster`);
