// The daemon's own cost per POSIX lock request on the host: one o2stack daemon on a fake kernel
// tree with a one-node static cluster (its process groups in the daemon), its plock device a
// SOCK_SEQPACKET socketpair whose other end plays the kernel: lock, wait for the answer, unlock,
// wait — N pairs, one at a time (what bench/plock-pairs.c does against the real device in a VM).
// Everything but corosync is on the path: device read, multicast and delivery through the group,
// the table, the answer.
//   npx tsx bench/plock-daemon.ts [--pairs 20000] [--json]
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NativeBackend } from '../lib/kernel/backend.js';
import { encodePlockInfo, PlockDevice, plockSocketpairForTest } from '../lib/kernel/plock.js';
import { loadNative, type NativePlockHandle } from '../lib/kernel/native.js';
import { lockspaceId } from '../lib/model/dlm.js';
import { DlmDaemon } from '../lib/stack/daemon/daemon.js';
import { InjectedUevents } from '../lib/stack/daemon/injectedUevents.js';
import { StaticCluster } from '../lib/stack/membership/static.js';
import { benchArgs, printJson } from './args.js';

const values = benchArgs(import.meta.url, { pairs: { default: '20000', int: true }, json: { flag: true } });
const LS = 'AB'.repeat(16);
const dir = mkdtempSync(join(tmpdir(), "o2s-bench-plock-"));
mkdirSync(join(dir, 'sys/kernel/config/dlm'), { recursive: true });
const cluster = new StaticCluster({ nodes: [{ nodeid: 1, name: 'n1', addr: '192.0.2.1' }] });
const [a, b] = plockSocketpairForTest();
const ue = new InjectedUevents();
const d = new DlmDaemon({ backend: new NativeBackend({ root: dir, fakeTree: true }), clusterName: 'demo', nodes: [{ nodeid: 1, addresses: ['192.0.2.1'] }], membership: cluster.source(1), groups: true, monitorPath: null, plockDevice: { fd: a }, uevents: ue, socketPath: null, log: () => undefined, fencing: 'manual' });
await d.start();
mkdirSync(join(dir, 'sys/kernel/dlm', LS), { recursive: true });
ue.lockspace('online', LS);
while (!d.plocks.model.view(LS)[0]?.synced) await new Promise((r) => setTimeout(r, 5));
const k = new PlockDevice({ fd: b });
const h = (k as unknown as { handle: NativePlockHandle }).handle;
const n = loadNative().plock!;
let resolve: (() => void) | undefined;
k.on('requests', () => resolve?.());
// the two records made once: the fake kernel's own cost stays out of the daemon's figure
const rec = [1, 2].map((optype) => encodePlockInfo({ version: [1, 2, 0], optype, ex: true, wait: true, flags: 0, pid: 5, nodeid: 0, rv: 0, fsid: lockspaceId(LS), number: 7n, start: 0n, end: 0n, owner: 9n }));
const ask = (optype: number) => new Promise<void>((r) => { resolve = r; n.write(h, rec[optype - 1]!); });
const N = values.pairs;
await ask(1); await ask(2); // warm

const t0 = process.hrtime.bigint();
const c0 = process.cpuUsage();
for (let i = 0; i < N; i++) { await ask(1); await ask(2); }
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
// CPU time too: on a shared machine the wall clock also counts the other processes' turns
const c = process.cpuUsage(c0);
const cpuUs = (c.user + c.system) / N / 2;
if (process.env.PLOCK_CPU_SPLIT) console.log(`user ${(c.user / N / 2).toFixed(1)} sys ${(c.system / N / 2).toFixed(1)} us per op`);
if (values.json) {
  printJson({
    bench: 'plock-daemon',
    params: { pairs: N },
    figures: {
      usPerOp: { label: 'daemon plock request (socketpair device, one-node group): per op', unit: 'µs', value: (ms * 1000) / N / 2 },
      pairsPerSec: { label: 'daemon plock lock+unlock pairs', unit: 'pairs/s', value: (N / ms) * 1000 },
      cpuUsPerOp: { label: 'CPU (this process: daemon and fake kernel) per op', unit: 'µs', value: cpuUs },
    },
  });
} else console.log(`${N} pairs in ${ms.toFixed(0)} ms: ${Math.round(N / ms * 1000)} pairs/s, ${(ms * 1000 / N / 2).toFixed(1)} us per op, ${cpuUs.toFixed(1)} us CPU per op`);
await d.stop(); k.close();
rmSync(dir, { recursive: true, force: true });
