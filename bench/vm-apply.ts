// In one VM run (Debian 6.1 kernel), a 255-node o2nm cluster applied five ways, each --runs times:
//   (1) the library's plan+apply in-process, (2) `o2stack apply` as a process, (3) ocfs2-tools'
//   `o2cb register-cluster`, (4) a minimal C program doing the same syscalls (the floor), (5) a
//   second plan+apply of the same config through the library (a no-op: reads only).
// Prints min/median/max and the ratios against the targets. Run from the host: bash bench/vm-apply.sh
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { formatClusterConf } from '../lib/config/clusterConf.js';
import { NativeBackend } from '../lib/kernel/backend.js';
import { readO2nmState } from '../lib/kernel/o2nm.js';
import type { ClusterConfig } from '../lib/model/cluster.js';
import { planO2nm } from '../lib/model/o2nmPlan.js';
import { applyO2nmPlan } from '../lib/stack/o2nmApply.js';
import { resetO2nm } from '../test/contract/o2nm.contract.js';
import { benchArgs } from './args.js';

const values = benchArgs(import.meta.url, { runs: { default: '5', int: true }, floor: {}, cli: { default: 'dist/o2stack.cjs' } });
const runs = values.runs;
const backend = new NativeBackend({ root: '/' });
if (backend.fakeTree) throw new Error('run this in the VM: /sys/kernel/config is not configfs here');

const nodes = Array.from({ length: 255 }, (_, i) => ({ name: `node${i}`, number: i, ipAddress: i < 254 ? `192.0.2.${i + 1}` : '198.51.100.1', port: 7777 }));
const cluster: ClusterConfig = { name: 'bench', nodes, heartbeatMode: 'local', heartbeatRegions: [], timeouts: {} };
const conf = '/tmp/bench-cluster.conf';
writeFileSync(conf, formatClusterConf([cluster]));
// The same operations as our plan (no local node: o2cb registers all nodes without one when no
// node is named after the host, so all five do the same work).
const opsFile = '/tmp/bench-ops.txt';
resetO2nm(backend);
const steps = planO2nm(cluster, readO2nmState(backend), {}).steps;
writeFileSync(opsFile, steps.map((s) => (s.op === 'mkdir' ? `m ${s.path}` : `w ${s.path} ${s.data!.trim()}`)).join('\n') + '\n');

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
function timeProcess(cmd: string, args: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NODE_DISABLE_COLORS: '1' } });
  const t = ms(t0);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return t;
}
function check(label: string) {
  const s = readO2nmState(backend);
  const n = s.clusters[0]?.nodes.filter((x) => x.num === Number(x.name.slice(4)) && x.ipv4Port === 7777).length ?? 0;
  if (n !== 255) throw new Error(`${label}: ${n} of 255 nodes registered`);
}

const ways: Record<string, number[]> = { '(1) library apply': [], '(2) o2stack apply': [], '(3) o2cb register-cluster': [], '(4) C floor': [], '(5) no-op apply': [], 'node -e 1': [] };
const haveO2cb = spawnSync('sh', ['-c', 'command -v o2cb'], { encoding: 'utf8' }).status === 0;
for (let r = 0; r < runs; r++) {
  resetO2nm(backend);
  let t0 = process.hrtime.bigint();
  applyO2nmPlan(backend, planO2nm(cluster, readO2nmState(backend), {}));
  ways['(1) library apply']!.push(ms(t0));
  check('library');
  t0 = process.hrtime.bigint();
  const again = planO2nm(cluster, readO2nmState(backend), {});
  applyO2nmPlan(backend, again);
  ways['(5) no-op apply']!.push(ms(t0));
  if (again.steps.length) throw new Error('second apply was not a no-op');

  resetO2nm(backend);
  ways['(2) o2stack apply']!.push(timeProcess(process.execPath, [values.cli!, 'apply', '--config', conf]));
  check('o2stack apply');

  if (haveO2cb) {
    resetO2nm(backend);
    ways['(3) o2cb register-cluster']!.push(timeProcess('o2cb', ['--config-file', conf, 'register-cluster', 'bench']));
    check('o2cb');
  }
  if (values.floor && existsSync(values.floor)) {
    resetO2nm(backend);
    ways['(4) C floor']!.push(timeProcess(values.floor, [opsFile]));
    check('floor');
  }
  ways['node -e 1']!.push(timeProcess(process.execPath, ['-e', '1']));
}
resetO2nm(backend);

const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)] ?? NaN;
console.log(`255-node o2nm cluster, ${steps.length} configfs operations, ${runs} runs each (qemu TCG, Debian ${process.version} guest)`);
for (const [k, v] of Object.entries(ways)) {
  if (!v.length) {
    console.log(`${k.padEnd(28)} not measured (${k.includes('o2cb') ? 'o2cb not installed' : 'no floor binary'})`);
    continue;
  }
  const s = [...v].sort((a, b) => a - b);
  console.log(`${k.padEnd(28)} min ${s[0]!.toFixed(1).padStart(7)} ms  median ${med(v).toFixed(1).padStart(7)} ms  max ${s[s.length - 1]!.toFixed(1).padStart(7)} ms`);
}
const floor = med(ways['(4) C floor']!);
const lib = med(ways['(1) library apply']!);
const cli = med(ways['(2) o2stack apply']!);
const noop = med(ways['(5) no-op apply']!);
const node1 = med(ways['node -e 1']!);
console.log(`ratios: (1)/floor ${(lib / floor).toFixed(2)} (target ≤ 1.5); (2) − node -e 1 = ${(cli - node1).toFixed(1)} ms vs 1.5×floor ${(1.5 * floor).toFixed(1)} ms (target: ≤); (5)/(1) ${((100 * noop) / lib).toFixed(0)}% (target ≤ 25%); o2cb/floor ${(med(ways['(3) o2cb register-cluster']!) / floor).toFixed(2)}`);
