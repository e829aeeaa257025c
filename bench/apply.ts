// Plan + apply a 255-node o2cb cluster to a configfs-shaped tree: the native batch call against one
// native call per operation. Prints ops/s and µs per op. On the host the tree is a tmpfs directory
// (fake-tree mode); the real-kernel comparison runs in the VM (bench/vm-apply.ts).
// Also on the same fake tree, as processes: `o2stack apply` (the built CLI, --cli; `npm run build`
// first), `node -e 1`, and the C floor (bench/floor.c, built with gcc into build/bench/floor), for
// the targets: the CLI ≤ node -e 1 + 2× the floor, the library ≤ 1.2× the floor, a no-op
// re-apply ≤ 25% of a fresh one (each a ratio of this run's medians). The library's backend is
// told to trust the fake tree's inodes as it trusts configfs's (trustFakeInodes: nothing but the
// backend writes that tree), so the no-op re-apply reads what it reads on the real kernel: the
// known nodes' `local` only (255 attributes, not 1020). Without it the host figure was 42-53%.
//   npx tsx bench/apply.ts [--runs N] [--dir DIR] [--cli dist/o2stack.cjs] [--json]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NativeBackend } from '../lib/kernel/backend.js';
import { makeFakeKernelTree } from '../lib/kernel/fakeTree.js';
import { readO2nmState } from '../lib/kernel/o2nm.js';
import { formatClusterConf } from '../lib/config/clusterConf.js';
import type { ClusterConfig } from '../lib/model/cluster.js';
import { planO2nm } from '../lib/model/o2nmPlan.js';
import { applyO2nmPlan } from '../lib/stack/o2nmApply.js';
import { benchArgs, median, printJson } from './args.js';

const values = benchArgs(import.meta.url, { runs: { default: '20', int: true }, dir: { default: '/dev/shm' }, cli: { default: 'dist/o2stack.cjs' }, json: { flag: true } });
const repo = new URL('..', import.meta.url).pathname;
const notes: string[] = [];
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
const results: Record<string, number[]> = { plan: [], batch: [], perOp: [], noopPlan: [], fresh: [], noop: [], floor: [], cli: [], node: [] };

// The floor: built once (gcc), fed the plan's operations with the tree's path in front.
const floorBin = join(repo, 'build/bench/floor');
const floorSrc = join(repo, 'bench/floor.c');
let haveFloor = existsSync(floorBin) && statSync(floorBin).mtimeMs >= statSync(floorSrc).mtimeMs;
if (!haveFloor) {
  mkdirSync(join(repo, 'build/bench'), { recursive: true });
  const cc = spawnSync('gcc', ['-O2', '-o', floorBin, floorSrc], { encoding: 'utf8' });
  haveFloor = cc.status === 0;
  if (!haveFloor) notes.push(`C floor not measured: gcc -O2 -o ${floorBin} ${floorSrc} failed: ${cc.error?.message ?? cc.stderr}`);
}
const cli = join(repo, values.cli!);
const haveCli = existsSync(cli);
if (!haveCli) notes.push(`o2stack apply as a process not measured: ${cli} missing (npm run build)`);
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
function timeProcess(cmd: string, args: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const t = ms(t0);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.error?.message ?? r.stderr}`);
  return t;
}
const conf = join(base, 'cluster.conf');
writeFileSync(conf, formatClusterConf([want]));
let ops = 0;
try {
  for (let r = 0; r < runs; r++) {
    for (const mode of ['batch', 'perOp'] as const) {
      const root = makeFakeKernelTree(join(base, `${mode}-${r}`));
      const backend = new NativeBackend({ root, fakeTree: true, trustFakeInodes: true });
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
        applyO2nmPlan(backend, again);
        results.noopPlan!.push(Number(process.hrtime.bigint() - t0) / 1e6);
        if (again.steps.length !== 0) throw new Error(`second plan is not a no-op: ${again.steps.length} steps`);
        results.fresh!.push(tPlan + results.batch![results.batch!.length - 1]!);
        results.noop!.push(results.noopPlan![results.noopPlan!.length - 1]!);
        if (haveFloor) {
          const froot = makeFakeKernelTree(join(base, `floor-${r}`));
          const opsFile = join(base, `floor-${r}.ops`);
          // configfs makes a cluster's default groups (heartbeat/, node/) itself, the fake-tree
          // backend makes them when a write needs them: the floor gets them as two more mkdirs
          const lines = plan.steps.flatMap((s) =>
            s.op !== 'mkdir' ? [`w ${froot}${s.path} ${s.data!.trim()}`] : /^\/sys\/kernel\/config\/cluster\/[^/]+$/.test(s.path) ? [`m ${froot}${s.path}`, `m ${froot}${s.path}/heartbeat`, `m ${froot}${s.path}/node`] : [`m ${froot}${s.path}`],
          );
          writeFileSync(opsFile, lines.join('\n') + '\n');
          results.floor!.push(timeProcess(floorBin, [opsFile]));
        }
        if (haveCli) {
          const croot = makeFakeKernelTree(join(base, `cli-${r}`));
          results.cli!.push(timeProcess(process.execPath, [cli, '--root', croot, '--config', conf, 'apply', '--node', 'node0', '--defaults', 'none']));
          const n = readO2nmState(new NativeBackend({ root: croot, fakeTree: true })).clusters[0]?.nodes.length ?? 0;
          if (n !== 255) throw new Error(`o2stack apply registered ${n} of 255 nodes`);
        }
        results.node!.push(timeProcess(process.execPath, ['-e', '1']));
      }
    }
  }
} finally {
  rmSync(base, { recursive: true, force: true });
}

const m = (k: string) => median(results[k]!);
if (values.json) {
  const f = (label: string, unit: string, value: number) => ({ label, unit, value });
  printJson({
    bench: 'apply',
    params: { runs, nodes: 255, ops, dir: values.dir },
    figures: {
      libraryMs: f('library plan+apply, 255 nodes (warm, in-process)', 'ms', m('fresh')),
      floorMs: f('C floor process (bench/floor.c), same syscalls', 'ms', m('floor')),
      cliMs: f('`o2stack apply` as a process', 'ms', m('cli')),
      nodeMs: f('`node -e 1`', 'ms', m('node')),
      libraryOverFloor: f('library / floor', '×', m('fresh') / m('floor')),
      cliOverheadFloors: f('(`o2stack apply` − `node -e 1`) / floor', '× floor', (m('cli') - m('node')) / m('floor')),
      noopOverFresh: f('no-op re-apply / fresh apply (library)', '%', (100 * m('noop')) / m('fresh')),
      batchOpsPerSec: f('native batch apply', 'ops/s', ops / (m('batch') / 1000)),
      perOpSpeedup: f('batch vs one native call per op', '×', m('perOp') / m('batch')),
    },
    notes,
  });
} else {
  console.log(`255-node cluster, ${ops} configfs operations, ${runs} runs each, fake tree on ${values.dir} (host kernel: ${process.platform} ${process.arch})`);
  for (const [name, samples] of Object.entries(results)) {
    if (!samples.length) continue;
    const s = stats(samples);
    const perOp = name === 'batch' || name === 'perOp' ? `  ${((s.median * 1000) / ops).toFixed(2)} µs/op  ${Math.round(ops / (s.median / 1000))} ops/s` : '';
    console.log(`${name.padEnd(9)} min ${s.min.toFixed(2)} ms  median ${s.median.toFixed(2)} ms  max ${s.max.toFixed(2)} ms${perOp}`);
  }
  console.log(`batch vs one call per op: ${(m('perOp') / m('batch')).toFixed(2)}× faster`);
  console.log(
    `library (plan+apply) / floor ${(m('fresh') / m('floor')).toFixed(2)} (target ≤ 1.2); o2stack apply − node -e 1 = ${(m('cli') - m('node')).toFixed(1)} ms vs 2× floor ${(2 * m('floor')).toFixed(1)} ms (target ≤); no-op / fresh ${((100 * m('noop')) / m('fresh')).toFixed(0)}% (target ≤ 25%)`,
  );
  for (const n of notes) console.log(n);
}
