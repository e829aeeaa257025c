// The daemon's own cost per POSIX lock request on the host: one o2stack daemon on a fake kernel
// tree with a one-node static cluster (its process groups in the daemon), its plock device a
// SOCK_SEQPACKET socketpair whose other end plays the kernel: lock, wait for the answer, unlock,
// wait — N pairs, one at a time (what bench/plock-pairs.c does against the real device in a VM).
// Everything but corosync is on the path: device read, multicast and delivery through the group,
// the table, the answer. After the timed loop, a second one of --pairs/4 pairs runs under V8's
// sampling heap profiler (every 64 bytes, objects collected since included) for the bytes the
// process allocates per request (daemon and fake kernel; the profiler's own records excluded):
// below ~1,000 bytes/ms V8 returns its young generation to the kernel after each scavenge, so a
// slow daemon faults in every page it allocates (README, POSIX lock figures).
//   npx tsx bench/plock-daemon.ts [--pairs 20000] [--json]
import { Session } from 'node:inspector/promises';
import { benchArgs, printJson } from './args.js';
import { startPlockDaemonRig } from './plockDaemonRig.js';

const values = benchArgs(import.meta.url, { pairs: { default: '20000', int: true }, json: { flag: true } });
const LS = 'AB'.repeat(16);
const rig = await startPlockDaemonRig('o2s-bench-plock-', LS);
const { ask } = rig;
await rig.join();
const N = values.pairs;
await ask(1); await ask(2); // warm

const t0 = process.hrtime.bigint();
const c0 = process.cpuUsage();
for (let i = 0; i < N; i++) { await ask(1); await ask(2); }
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
// CPU time too: on a shared machine the wall clock also counts the other processes' turns
const c = process.cpuUsage(c0);
const cpuUs = (c.user + c.system) / N / 2;

interface SampleNode { callFrame: { url: string }; selfSize: number; children: SampleNode[] }
const session = new Session();
session.connect();
const M = Math.max(1, Math.floor(N / 4));
await session.post('HeapProfiler.startSampling', { samplingInterval: 64, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as never);
for (let i = 0; i < M; i++) { await ask(1); await ask(2); }
const { profile } = (await session.post('HeapProfiler.stopSampling')) as unknown as { profile: { head: SampleNode } };
session.disconnect();
let sampled = 0;
const sum = (n: SampleNode): void => {
  if (!n.callFrame.url.startsWith('node:inspector')) sampled += n.selfSize;
  n.children.forEach(sum);
};
sum(profile.head);
const bytesPerOp = sampled / M / 2;
if (process.env.PLOCK_CPU_SPLIT) console.log(`user ${(c.user / N / 2).toFixed(1)} sys ${(c.system / N / 2).toFixed(1)} us per op`);
if (values.json) {
  printJson({
    bench: 'plock-daemon',
    params: { pairs: N },
    figures: {
      usPerOp: { label: 'daemon plock request (socketpair device, one-node group): per op', unit: 'µs', value: (ms * 1000) / N / 2 },
      pairsPerSec: { label: 'daemon plock lock+unlock pairs', unit: 'pairs/s', value: (N / ms) * 1000 },
      cpuUsPerOp: { label: 'CPU (this process: daemon and fake kernel) per op', unit: 'µs', value: cpuUs },
      bytesPerOp: { label: 'JS heap allocated per op (daemon and fake kernel, sampled)', unit: 'bytes', value: bytesPerOp },
    },
  });
} else console.log(`${N} pairs in ${ms.toFixed(0)} ms: ${Math.round(N / ms * 1000)} pairs/s, ${(ms * 1000 / N / 2).toFixed(1)} us per op, ${cpuUs.toFixed(1)} us CPU per op, ${bytesPerOp.toFixed(0)} bytes allocated per op`);
await rig.close();
