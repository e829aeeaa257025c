// Membership change → the dead node's comm removed and its lockspaces restarted: the daemon's own
// time per event (ownTimeMs: kernel operations and corosync calls taken out). Three daemons in one
// process on fake kernel trees (tmpfs), sharing a StaticCluster hub as membership, with --lockspaces
// lockspaces mounted everywhere; each round node 3 dies (fenced by a no-op agent, removed, the
// lockspaces restarted on 1 and 2), then comes back and mounts them all again (joins through the
// start barrier). Prints p50/p99/max per event type for node 1 (target: p99 < 1 ms for the
// membership events). The same figures from a real kernel: `o2stack daemon-ctl status` → ownTimeMs.
//   npx tsx bench/daemon-membership.ts [--rounds 20] [--lockspaces 16] [--json]
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NativeBackend } from '../lib/kernel/backend.js';
import { DlmDaemon } from '../lib/stack/daemon/daemon.js';
import { InjectedUevents } from '../lib/stack/daemon/injectedUevents.js';
import { StaticCluster } from '../lib/stack/membership/static.js';
import { benchArgs, median, printJson } from './args.js';

const values = benchArgs(import.meta.url, { rounds: { default: '20', int: true }, lockspaces: { default: '16', int: true }, json: { flag: true } });
const rounds = values.rounds;
const lockspaces = Array.from({ length: values.lockspaces }, (_, i) => `${(0xa0000000 + i).toString(16).toUpperCase()}0000000000000000000000000`.slice(0, 32));
const base = existsSync('/dev/shm') ? '/dev/shm' : '/tmp';
const dir = mkdtempSync(join(base, 'o2s-bench-membership-'));
const C = 'sys/kernel/config/dlm/cluster';
writeFileSync(join(dir, 'fence.sh'), '#!/bin/sh\ncat > /dev/null\n');
chmodSync(join(dir, 'fence.sh'), 0o755);
const cluster = new StaticCluster({ nodes: [1, 2, 3].map((i) => ({ nodeid: i, name: `n${i}`, addr: `192.0.2.${i}` })) });
const daemons = new Map<number, DlmDaemon>();
const uevents = new Map<number, InjectedUevents>();
const root = (id: number) => join(dir, `n${id}`);

async function start(id: number): Promise<void> {
  rmSync(root(id), { recursive: true, force: true });
  mkdirSync(join(root(id), 'sys/kernel/config/dlm'), { recursive: true });
  const ue = new InjectedUevents();
  const d = new DlmDaemon({
    backend: new NativeBackend({ root: root(id), fakeTree: true }),
    clusterName: 'bench',
    nodes: [1, 2, 3].map((i) => ({ name: `n${i}`, nodeid: i, addresses: [`192.0.2.${i}`] })),
    membership: cluster.source(id),
    groups: true,
    monitorPath: null,
    uevents: ue,
    socketPath: join(dir, `n${id}.sock`),
    fenceAgent: join(dir, 'fence.sh'),
    fenceTimeoutMs: 10000,
    joinTimeoutMs: 30000,
    log: () => undefined,
  });
  await d.start();
  daemons.set(id, d);
  uevents.set(id, ue);
}
function mountAll(id: number): void {
  for (const ls of lockspaces) {
    mkdirSync(join(root(id), 'sys/kernel/dlm', ls), { recursive: true });
    uevents.get(id)!.lockspace('online', ls);
  }
}
const members = (id: number, ls: string) => {
  const p = join(root(id), C, 'spaces', ls, 'nodes');
  return existsSync(p) ? readdirSync(p).sort().join(',') : '';
};
async function until(cond: () => boolean, what: string, ms = 30000): Promise<number> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > ms) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
  return performance.now() - t0;
}

const recoveries: number[] = [];
try {
  for (const id of [1, 2, 3]) await start(id);
  for (const id of [1, 2, 3]) mountAll(id);
  await until(() => [1, 2, 3].every((id) => lockspaces.every((ls) => members(id, ls) === '1,2,3')), 'all mounted');
  for (let r = 0; r < rounds; r++) {
    await cluster.nodeDown(3);
    recoveries.push(
      await until(() => [1, 2].every((id) => !existsSync(join(root(id), C, 'comms/3')) && lockspaces.every((ls) => members(id, ls) === '1,2')), `round ${r}: n3 removed`),
    );
    await daemons.get(3)!.stop();
    await cluster.nodeUp(3);
    await start(3);
    mountAll(3);
    await until(() => [1, 2, 3].every((id) => lockspaces.every((ls) => members(id, ls) === '1,2,3')), `round ${r}: n3 back`);
  }
  const own = (daemons.get(1)!.status() as { ownTimeMs: Record<string, { count: number; p50: number; p99: number; max: number }> }).ownTimeMs;
  const rssMB = process.memoryUsage().rss / 2 ** 20;
  if (values.json) {
    const figures: Record<string, { label: string; unit: string; value: number }> = {};
    for (const k of ['node-down', 'fence-result', 'quorum']) {
      figures[`${k}.p50`] = { label: `daemon own time per ${k} event (node 1): p50`, unit: 'ms', value: own[k]?.p50 ?? NaN };
      figures[`${k}.p99`] = { label: `daemon own time per ${k} event (node 1): p99`, unit: 'ms', value: own[k]?.p99 ?? NaN };
    }
    figures.recoveryMs = { label: 'node down → comm removed, lockspaces restarted on both survivors (wall)', unit: 'ms', value: median(recoveries) };
    figures.rssMB = { label: 'RSS of the bench process (3 daemons + tsx)', unit: 'MB', value: rssMB };
    printJson({ bench: 'daemon-membership', params: { rounds, lockspaces: lockspaces.length, dir: base }, figures });
  } else {
  console.log(`${rounds} rounds of node 3 dying and coming back, ${lockspaces.length} lockspaces, 3 daemons on fake trees in ${base} (Node ${process.version})`);
  console.log('node 1, own time per event (ms; kernel operations and corosync calls excluded):');
  for (const [kind, s] of Object.entries(own).sort()) console.log(`  ${kind.padEnd(14)} count ${String(s.count).padStart(5)}  p50 ${s.p50.toFixed(3)}  p99 ${s.p99.toFixed(3)}  max ${s.max.toFixed(3)}`);
  const sorted = [...recoveries].sort((a, b) => a - b);
  console.log(`wall time node-down → comm removed and all lockspaces restarted on both survivors (fence agent and fake-tree I/O included): median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(1)} ms, max ${sorted[sorted.length - 1]!.toFixed(1)} ms`);
  const membership = ['node-down', 'fence-result', 'quorum'].map((k) => own[k]?.p99 ?? NaN);
  console.log(`target: p99 < 1 ms for node-down, fence-result, quorum: ${membership.map((v) => v.toFixed(3)).join(', ')} → ${membership.every((v) => v < 1) ? 'met' : 'NOT met'}`);
  console.log(`RSS of this process (3 daemons): ${rssMB.toFixed(1)} MB`);
  }
} finally {
  for (const d of daemons.values()) await d.stop().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
}
