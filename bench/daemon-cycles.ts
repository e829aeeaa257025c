// The daemon's memory over many mount cycles, on the host: one o2stack daemon on a fake kernel tree
// with a one-node static group and a socketpair plock device (as bench/plock-daemon.ts); each cycle
// a lockspace joins (the kernel's `online`), serves 20 POSIX lock+unlock pairs and leaves
// (`offline`). Every tenth of the run V8's heap is collected twice and its size after the
// collection printed beside the RSS: a leak per cycle shows as heap growth; RSS alone also moves
// with V8's young generation and reservations (the 30-minute VM soak's RSS rose ~0.4 MB/min
// between major collections). Needs V8's gc(): run with node --expose-gc.
//   node --expose-gc --import tsx bench/daemon-cycles.ts [--cycles 4000] [--json]
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
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

const values = benchArgs(import.meta.url, { cycles: { default: '4000', int: true }, json: { flag: true } });
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  process.stderr.write('daemon-cycles: V8\'s gc() is not exposed: run node --expose-gc --import tsx bench/daemon-cycles.ts\n');
  process.exit(2);
}
const LS = 'CD'.repeat(16);
const dir = mkdtempSync(join(tmpdir(), 'o2s-bench-cycles-'));
const space = join(dir, 'sys/kernel/config/dlm/cluster/spaces', LS);
mkdirSync(join(dir, 'sys/kernel/config/dlm'), { recursive: true });
const cluster = new StaticCluster({ nodes: [{ nodeid: 1, name: 'n1', addr: '192.0.2.1' }] });
const [a, b] = plockSocketpairForTest();
const ue = new InjectedUevents();
const d = new DlmDaemon({ backend: new NativeBackend({ root: dir, fakeTree: true }), clusterName: 'demo', nodes: [{ nodeid: 1, addresses: ['192.0.2.1'] }], membership: cluster.source(1), groups: true, monitorPath: null, plockDevice: { fd: a }, uevents: ue, socketPath: null, log: () => undefined, fencing: 'manual' });
await d.start();
const k = new PlockDevice({ fd: b });
const h = (k as unknown as { handle: NativePlockHandle }).handle;
const n = loadNative().plock!;
let answered: (() => void) | undefined;
k.on('requests', () => answered?.());
const rec = [1, 2].map((optype) => encodePlockInfo({ version: [1, 2, 0], optype, ex: true, wait: true, flags: 0, pid: 5, nodeid: 0, rv: 0, fsid: lockspaceId(LS), number: 7n, start: 0n, end: 0n, owner: 9n }));
const ask = (optype: number) => new Promise<void>((r) => { answered = r; n.write(h, rec[optype - 1]!); });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** bounded: 5 s */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 5000 && !cond(); i++) await sleep(1);
  if (!cond()) throw new Error(`daemon-cycles: timed out waiting for ${what}`);
}
const mb = (x: number) => Math.round(x / 10485.76) / 100;
const rows: { cycle: number; heapUsedMB: number; heapTotalMB: number; externalMB: number; rssMB: number }[] = [];
const every = Math.max(1, Math.floor(values.cycles / 10));
try {
  for (let c = 0; c <= values.cycles; c++) {
    mkdirSync(join(dir, 'sys/kernel/dlm', LS), { recursive: true });
    rmSync(join(dir, 'sys/kernel/dlm', LS, 'event_done'), { force: true });
    ue.lockspace('online', LS);
    await until(() => d.plocks.model.view(LS)[0]?.synced === true, `cycle ${c}: the join`);
    for (let i = 0; i < 20; i++) {
      await ask(1);
      await ask(2);
    }
    rmSync(join(dir, 'sys/kernel/dlm', LS, 'event_done'), { force: true });
    ue.lockspace('offline', LS);
    await until(() => !existsSync(space), `cycle ${c}: the leave`);
    if (c % every === 0) {
      gc();
      gc();
      const m = process.memoryUsage();
      rows.push({ cycle: c, heapUsedMB: mb(m.heapUsed), heapTotalMB: mb(m.heapTotal), externalMB: mb(m.external), rssMB: mb(m.rss) });
      if (!values.json) console.log(`cycle ${c}: heap used after GC ${mb(m.heapUsed)} MB (V8 heap reserved ${mb(m.heapTotal)}, external ${mb(m.external)}), RSS ${mb(m.rss)} MB`);
    }
  }
} finally {
  await d.stop();
  k.close();
  rmSync(dir, { recursive: true, force: true });
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
