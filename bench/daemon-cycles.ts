// The daemon's memory over many mount cycles, on the host: one o2stack daemon on a fake kernel tree
// with a one-node static group and a socketpair plock device (as bench/plock-daemon.ts); each cycle
// a lockspace joins (the kernel's `online`), serves 20 POSIX lock+unlock pairs and leaves
// (`offline`). Every tenth of the run V8's heap is collected twice and its size after the
// collection printed beside the RSS: a leak per cycle shows as heap growth; RSS alone also moves
// with V8's young generation and reservations (the 30-minute VM soak's RSS rose ~0.4 MB/min
// between major collections). Needs V8's gc(): run with node --expose-gc.
//   node --expose-gc --import tsx bench/daemon-cycles.ts [--cycles 4000] [--json]
import { benchArgs, printJson } from './args.js';
import { startPlockDaemonRig } from './plockDaemonRig.js';

const values = benchArgs(import.meta.url, { cycles: { default: '4000', int: true }, json: { flag: true } });
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  process.stderr.write('daemon-cycles: V8\'s gc() is not exposed: run node --expose-gc --import tsx bench/daemon-cycles.ts\n');
  process.exit(2);
}
const LS = 'CD'.repeat(16);
const rig = await startPlockDaemonRig('o2s-bench-cycles-', LS);
const { ask } = rig;
const mb = (x: number) => Math.round(x / 10485.76) / 100;
const rows: { cycle: number; heapUsedMB: number; heapTotalMB: number; externalMB: number; rssMB: number }[] = [];
const every = Math.max(1, Math.floor(values.cycles / 10));
try {
  for (let c = 0; c <= values.cycles; c++) {
    await rig.join();
    for (let i = 0; i < 20; i++) {
      await ask(1);
      await ask(2);
    }
    await rig.leave();
    if (c % every === 0) {
      gc();
      gc();
      const m = process.memoryUsage();
      rows.push({ cycle: c, heapUsedMB: mb(m.heapUsed), heapTotalMB: mb(m.heapTotal), externalMB: mb(m.external), rssMB: mb(m.rss) });
      if (!values.json) console.log(`cycle ${c}: heap used after GC ${mb(m.heapUsed)} MB (V8 heap reserved ${mb(m.heapTotal)}, external ${mb(m.external)}), RSS ${mb(m.rss)} MB`);
    }
  }
} finally {
  await rig.close();
}
// growth from the first tenth (warm: JIT, the first lockspace's structures) to the end, per 1,000 cycles
const first = rows[1] ?? rows[0]!;
const last = rows[rows.length - 1]!;
const per1000 = ((last.heapUsedMB - first.heapUsedMB) * 1000) / Math.max(1, last.cycle - first.cycle);
if (values.json) {
  printJson({
    bench: 'daemon-cycles',
    params: { cycles: values.cycles },
    figures: {
      heapGrowth: { label: 'daemon heap used after GC, growth per 1,000 mount cycles (after the first tenth)', unit: 'MB', value: per1000 },
      heapEnd: { label: `daemon heap used after GC after ${values.cycles} mount cycles`, unit: 'MB', value: last.heapUsedMB },
      rssEnd: { label: `RSS of the bench process after ${values.cycles} mount cycles`, unit: 'MB', value: last.rssMB },
    },
  });
} else console.log(`heap used after GC: ${first.heapUsedMB} MB at cycle ${first.cycle}, ${last.heapUsedMB} MB at cycle ${last.cycle}: ${per1000.toFixed(3)} MB per 1,000 cycles`);
