// The daemon's own cost per POSIX lock request on the host: one o2stack daemon on a fake kernel
// tree with a one-node static cluster (its process groups in the daemon), its plock device a
// SOCK_SEQPACKET socketpair whose other end plays the kernel: lock, wait for the answer, unlock,
// wait — N pairs, one at a time (what bench/plock-pairs.c does against the real device in a VM).
// Everything but corosync is on the path: device read, multicast and delivery through the group,
// the table, the answer.
//   npx tsx bench/plock-daemon.ts [--pairs 20000] [--json]
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
await rig.close();
