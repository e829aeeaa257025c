// uevent listener throughput and latency. A Worker thread floods uevents while the main thread's
// UeventListener receives them; every datagram carries its send time (process.hrtime, i.e.
// CLOCK_MONOTONIC, shared by both threads) and a sequence number, so the handler measures
// send→handler latency and counts losses exactly.
//   inject: the addon's test-only sender (userspace netlink, listener with acceptUserspace),
//           paced at --rate events/s (target 50k/s, 0 lost), then unpaced (as fast as possible)
//   sysfs:  real kernel uevents from writes to /sys/devices/virtual/mem/null/uevent, unpaced
//   npx tsx bench/uevent.ts [--count N] [--rate R] [--sysfs-count N] [--json]
import { randomUUID } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { UeventListener, type ReceivedUevent } from '../lib/kernel/uevent.js';
import { benchArgs, printJson } from './args.js';

const values = benchArgs(import.meta.url, { count: { default: '200000', int: true }, rate: { default: '50000', int: true }, 'sysfs-count': { default: '50000', int: true }, json: { flag: true } });
const addon = new URL('../build/Release/ocfs2_stack.node', import.meta.url).pathname;

// The sender runs in a Worker (its own thread and loop) and loads the addon directly.
const senderCode = `
const { workerData, parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const { mode, count, rate, run } = workerData;
const a = mode === 'inject' ? require(workerData.addon) : undefined;
const burst = 250;
const t0 = process.hrtime.bigint();
const sab = new Int32Array(new SharedArrayBuffer(4));
const fd = mode === 'sysfs' ? fs.openSync('/sys/devices/virtual/mem/null/uevent', 'w') : -1;
let sent = 0;
while (sent < count) {
  const n = Math.min(burst, count - sent);
  if (mode === 'inject') {
    const msgs = [];
    for (let i = 0; i < n; i++) {
      const t = process.hrtime.bigint();
      const dp = '/devices/bench';
      msgs.push(Buffer.from('change@' + dp + '\\0ACTION=change\\0DEVPATH=' + dp + '\\0SUBSYSTEM=bench\\0RUN=' + run + '\\0I=' + (sent + i) + '\\0T=' + t + '\\0SEQNUM=' + (sent + i) + '\\0'));
    }
    a.uevent.sendForTest(msgs, 1);
  } else {
    for (let i = 0; i < n; i++) {
      const t = process.hrtime.bigint();
      fs.writeSync(fd, 'change ' + run.slice(0, 8) + '-0000-4000-8000-' + String(sent + i).padStart(12, '0') + ' RUN=' + run + ' I=' + (sent + i) + ' T=' + t, 0);
    }
  }
  sent += n;
  if (rate > 0) {
    // pace: wait until the schedule says the next burst is due
    const due = t0 + BigInt(Math.round((sent / rate) * 1e9));
    const now = process.hrtime.bigint();
    if (due > now) Atomics.wait(sab, 0, 0, Number(due - now) / 1e6);
  }
}
if (fd >= 0) fs.closeSync(fd);
parentPort.postMessage({ sent, ns: Number(process.hrtime.bigint() - t0) });
`;

interface Result {
  mode: string;
  sent: number;
  received: number;
  lost: number;
  sendRate: number;
  recvRate: number;
  p50us: number;
  p99us: number;
  maxus: number;
  overflows: number;
  wakeups: number;
}

async function runOnce(mode: 'inject' | 'sysfs', count: number, rate: number): Promise<Result> {
  const run = randomUUID().replace(/-/g, ''); // synthetic uevent values must be alphanumeric
  const key = mode === 'inject' ? 'RUN' : 'SYNTH_ARG_RUN';
  const tKey = mode === 'inject' ? 'T' : 'SYNTH_ARG_T';
  const iKey = mode === 'inject' ? 'I' : 'SYNTH_ARG_I';
  const l = new UeventListener({
    acceptUserspace: mode === 'inject',
    filter: mode === 'inject' ? { subsystem: 'bench' } : { subsystem: 'mem' },
    ref: true,
  });
  const seen = new Uint8Array(count);
  const lat = new Float64Array(count);
  let received = 0;
  let first = 0n;
  let last = 0n;
  l.on('event', (ev: ReceivedUevent) => {
    if (ev.env[key] !== run) return;
    const now = process.hrtime.bigint();
    const i = Number(ev.env[iKey]);
    if (!(i >= 0 && i < count) || seen[i]) return;
    seen[i] = 1;
    lat[received++] = Number(now - BigInt(ev.env[tKey])) / 1000;
    if (first === 0n) first = now;
    last = now;
  });
  const w = new Worker(senderCode, { eval: true, workerData: { mode, count, rate, run, addon } });
  const done = await new Promise<{ sent: number; ns: number }>((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  await w.terminate();
  // let the tail drain (bounded)
  for (let i = 0; i < 200 && received < done.sent; i++) await new Promise((r) => setTimeout(r, 10));
  const s = l.stats();
  l.close();
  const sorted = Array.from(lat.subarray(0, received)).sort((a, b) => a - b);
  const q = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! : NaN);
  const spanS = Number(last - first) / 1e9;
  return {
    mode: `${mode}${rate > 0 ? ` @${rate}/s` : ' unpaced'}`,
    sent: done.sent,
    received,
    lost: done.sent - received,
    sendRate: Math.round(done.sent / (done.ns / 1e9)),
    recvRate: spanS > 0 ? Math.round(received / spanS) : NaN,
    p50us: Math.round(q(0.5)),
    p99us: Math.round(q(0.99)),
    maxus: Math.round(sorted[sorted.length - 1] ?? NaN),
    overflows: s.overflows,
    wakeups: s.wakeups,
  };
}

const count = values.count;
const rate = values.rate;
const results: Result[] = [];
const notes: string[] = [];
await runOnce('inject', Math.min(50000, count), 0); // warm-up (JIT), not reported
results.push(await runOnce('inject', count, rate));
results.push(await runOnce('inject', count, 0));
if (process.getuid?.() === 0) results.push(await runOnce('sysfs', values['sysfs-count'], 0));
else notes.push('sysfs mode skipped: needs root to write /sys/devices/virtual/mem/null/uevent');

const paced = results[0]!;
const unpaced = results[1]!;
const sysfs = results[2];
if (values.json) {
  const f = (label: string, unit: string, value: number) => ({ label, unit, value });
  printJson({
    bench: 'uevent',
    params: { count, rate, sysfsCount: values['sysfs-count'] },
    figures: {
      pacedRecvRate: f(`library listener, injected at ${rate}/s: received`, 'events/s', paced.recvRate),
      pacedLostPct: f(`library listener, injected at ${rate}/s: lost`, '%', (100 * paced.lost) / paced.sent),
      pacedP99us: f(`library listener, injected at ${rate}/s: send→handler p99`, 'µs', paced.p99us),
      unpacedRecvRate: f('library listener, injected unpaced: received', 'events/s', unpaced.recvRate),
      unpacedLostPct: f('library listener, injected unpaced: lost', '%', (100 * unpaced.lost) / unpaced.sent),
      sysfsRecvRate: f('library listener, kernel uevents (sysfs writes): received', 'events/s', sysfs?.recvRate ?? NaN),
      sysfsLostPct: f('library listener, kernel uevents (sysfs writes): lost', '%', sysfs ? (100 * sysfs.lost) / sysfs.sent : NaN),
    },
    notes,
  });
  process.exit(0);
}
for (const n of notes) console.log(n);
console.table(results);
console.log(
  `target: ${rate} events/s with 0 lost -> ${paced.lost === 0 && paced.recvRate >= rate * 0.95 ? 'MET' : 'NOT MET'} ` +
    `(received ${paced.recvRate}/s, lost ${paced.lost}, p50 ${paced.p50us} µs, p99 ${paced.p99us} µs)`,
);
