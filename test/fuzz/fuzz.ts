// npm run fuzz [-- --inputs N] [--only NAME] [--seed S] [--max-ms MS] [--save DIR (each finding's input)] [--from I (run inputs I.. only: a finding again)]: every parser and decoder the project has
// takes N inputs (default 1,000,000 each): half generated, half mutations of real samples (byte
// flips, splices, and slices repeated until the input is large or deeply nested — size, depth and
// count are what small fuzzers never reach; how often, see test/fuzz/mutate.ts). Each must return
// or throw one of the project's typed errors, within a bound on the CPU time per input (--max-ms,
// default 2000); the heap must not keep growing. Prints one line per target and ends "N passed,
// N failed", with a progress line on stderr every 100,000 inputs. Not part of `npm test` (it takes
// minutes to hours); what it finds becomes a regression test there.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import { parseClusterConf } from '../../lib/config/clusterConf.js';
import { parseCmanXml } from '../../lib/config/cmanXml.js';
import { parseCorosyncConfCluster } from '../../lib/config/corosyncConf.js';
import { parseAny } from '../../lib/config/detect.js';
import { parseJsonConfig } from '../../lib/config/json.js';
import { parseO2cbDefaults } from '../../lib/config/o2cbDefaults.js';
import { decodePlockInfo, PLOCK_RECORD_BYTES } from '../../lib/kernel/plock.js';
import { ConfigError } from '../../lib/model/errors.js';
import { decodeFenceResult, decodeStartupFence, decodeStartupUnseen } from '../../lib/model/fenceMessage.js';
import { readHeartbeatRegion } from '../../lib/model/heartbeatFile.js';
import { decodeStart } from '../../lib/model/lockspaceGroup.js';
import { decodeMounts } from '../../lib/model/mountTracker.js';
import { decodePlockMessage, encodePlockJson } from '../../lib/model/plockSync.js';
import { encodePlockWire, PLOCK_WIRE_BYTES } from '../../lib/model/plockWire.js';
import { bufferReader, readSuperblock, VolumeFormatError } from '../../lib/model/superblock.js';
import { parseUevent } from '../../lib/model/uevent.js';
import { parseControlRequest } from '../../lib/stack/daemon/controlSocket.js';
import { benchArgs } from '../../bench/args.js';
import { mutate, rng, type Sizes } from './mutate.js';

const args = benchArgs(import.meta.url, { inputs: { default: '1000000', int: true }, only: {}, seed: { default: '1', int: true }, 'max-ms': { default: '2000', int: true }, save: {}, from: {} });
// --from I: inputs before I are made (the same sequence) but not run; 0 when absent
const from = args.from === undefined ? 0 : /^[0-9]+$/.test(args.from) ? Number(args.from) : NaN;
if (!Number.isSafeInteger(from)) {
  process.stderr.write(`--from ${JSON.stringify(args.from)}: a whole number (the first input to run)\n`);
  process.exit(2);
}

interface Target {
  name: string;
  /** generated inputs */
  gen: fc.Arbitrary<Buffer>;
  /** real samples to mutate */
  samples: Buffer[];
  /** larger inputs cost more: the biggest a mutation may grow to */
  maxBytes: number;
  /** how often mutations are large (mutate.ts): 'skewed' for the text readers, default 'uniform' */
  sizes?: Sizes;
  run(input: Buffer): unknown;
  /** a thrown error this target may give (anything else is a finding) */
  typed(e: unknown): boolean;
}

const fixture = (p: string) => readFileSync(new URL(`../fixtures/${p}`, import.meta.url));
const text = (b: Buffer) => b.toString('utf8');
const isConfigError = (e: unknown) => e instanceof ConfigError;
const never = () => false;

const configText = fc.oneof(
  fc.string({ maxLength: 400 }),
  fc.string({ maxLength: 2000, unit: 'binary' }),
  fc.array(fc.constantFrom('cluster:', 'node:', '\tname = n1', '\tnumber = 0', '\tip_address = 10.0.0.1', '\tip_port = 7777', '\tcluster = c', '\tnode_count = 1', '{', '}', '[', ']', '"', ':', ',', '<cluster name="c">', '<clusternode name="n" nodeid="1"/>', '</cluster>', 'O2CB_ENABLED=true', "O2CB_BOOTCLUSTER='c'", 'totem {', 'nodelist {', 'ring0_addr: 10.0.0.1', 'nodeid: 1', '\n', '\\', '$(', '`', '#'), { maxLength: 3000 }).map((a) => a.join('\n')),
).map((s) => Buffer.from(s));
const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));

const sbSamples = ['o2cb', 'pcmk', 'global', 'local', 'classic', 'hbdev', 'b512'].map((n) => gunzipSync(fixture(`superblock/${n}.head.gz`)));
const daemonMessages = ['{"t":"plock","op":"lock","fsid":1,"number":"42","start":"0","end":"9","ex":true,"wait":false,"owner":"0x1","pid":7,"nodeid":1}', '{"t":"fence-result","nodeid":2,"ok":true}', '{"t":"startup-fence","nodes":[3]}', '{"t":"startup-unseen","nodes":[]}', '{"t":"mounts","ls":["ABC"]}', 'o2s-start 1 2 3'].map((s) => Buffer.from(s));
const decoders = [decodePlockMessage, decodeFenceResult, decodeStartupFence, decodeStartupUnseen, decodeStart, decodeMounts];

const targets: Target[] = [
  { name: 'cluster.conf', gen: configText, sizes: 'skewed', samples: ['docs-cluster.conf', 'messy-cluster.conf', 'invalid-cluster.conf'].map((f) => fixture(`config/${f}`)), maxBytes: 4 << 20, run: (b) => parseClusterConf(text(b), { file: 'f' }), typed: isConfigError },
  { name: 'cman XML', gen: configText, sizes: 'skewed', samples: [fixture('config/cman-cluster.conf')], maxBytes: 4 << 20, run: (b) => parseCmanXml(text(b), { file: 'f' }), typed: isConfigError },
  { name: 'corosync.conf', gen: configText, sizes: 'skewed', samples: [fixture('config/corosync.conf')], maxBytes: 4 << 20, run: (b) => parseCorosyncConfCluster(text(b), { file: 'f' }), typed: isConfigError },
  { name: '/etc/default/o2cb', gen: configText, sizes: 'skewed', samples: [fixture('config/default-o2cb')], maxBytes: 4 << 20, run: (b) => parseO2cbDefaults(text(b), { file: 'f' }), typed: isConfigError },
  { name: 'JSON config', gen: configText, sizes: 'skewed', samples: [fixture('config/cluster.json')], maxBytes: 4 << 20, run: (b) => parseJsonConfig(text(b), { file: 'f' }), typed: isConfigError },
  { name: 'any format (detect)', gen: configText, sizes: 'skewed', samples: ['cluster.json', 'cman-cluster.conf', 'corosync.conf', 'default-o2cb', 'docs-cluster.conf'].map((f) => fixture(`config/${f}`)), maxBytes: 4 << 20, run: (b) => parseAny(text(b), { file: 'f' }), typed: isConfigError },
  { name: 'superblock', gen: bytes(16384), samples: sbSamples, maxBytes: 1 << 20, run: (b) => readSuperblock(bufferReader(b)), typed: (e) => e instanceof VolumeFormatError },
  {
    name: 'heartbeat file',
    gen: bytes(16384),
    samples: sbSamples,
    maxBytes: 1 << 20,
    run: (b) => {
      const sb = readSuperblock(bufferReader(b));
      return readHeartbeatRegion(bufferReader(b), sb);
    },
    typed: (e) => e instanceof VolumeFormatError,
  },
  {
    name: 'uevent datagram',
    gen: bytes(2048),
    samples: [Buffer.from('online@/kernel/dlm/ABC\0ACTION=online\0DEVPATH=/kernel/dlm/ABC\0SUBSYSTEM=dlm\0LOCKSPACE=ABC\0SEQNUM=12\0'), Buffer.concat([Buffer.from('libudev\0'), Buffer.from([0xfe, 0xed, 0xca, 0xfe, 40, 0, 0, 0, 40, 0, 0, 0, 20, 0, 0, 0]), Buffer.alloc(16), Buffer.from('ACTION=add\0DEVPATH=/x\0')])],
    maxBytes: 16384,
    run: (b) => parseUevent(b),
    typed: never,
  },
  { name: 'daemon group messages', gen: configText, samples: daemonMessages, maxBytes: 1 << 20, run: (b) => decoders.map((d) => d(text(b))), typed: never },
  {
    name: 'control-socket request',
    gen: configText,
    samples: ['status\n', 'fence-ack 2\n', 'plocks ABC\n', 'dump 50\n', 'constructor\n'].map((s) => Buffer.from(s)),
    maxBytes: 64 << 10,
    run: (b) => parseControlRequest(text(b), ['status', 'plocks', 'dump', 'fence-ack', 'node-down']),
    typed: never,
  },
  {
    // as the daemon reads a lockspace group's message: its bytes (binary form, or JSON text)
    name: 'plock group message (bytes)',
    gen: fc.oneof(bytes(128), fc.uint8Array({ minLength: PLOCK_WIRE_BYTES, maxLength: PLOCK_WIRE_BYTES }).map((a) => Buffer.concat([Buffer.from([0x7b, 0, 0x50, 0x4c, 1]), Buffer.from(a).subarray(5)]))),
    samples: [
      Buffer.from(encodePlockWire({ type: 'plock', op: 'lock', rid: 1, ex: true, wait: true, pid: 7, number: 42n, start: 0n, end: 0x7fffffffffffffffn, owner: 0xffff888812345678n }, 0xdeadbeef)),
      Buffer.from(encodePlockJson('ABC', { type: 'plock', op: 'get', rid: 2, ex: false, wait: false, pid: 7, number: 42n, start: 0n, end: 9n, owner: 1n })),
      Buffer.from('{"type":"plock-state","ls":"ABC","tag":"m=1:1;j=1:1;l=","have":true,"bin":1}'),
    ],
    maxBytes: 64 << 10,
    run: (b) => decodePlockMessage(b),
    typed: never,
  },
  {
    name: 'plock request (dlm_plock_info)',
    gen: fc.uint8Array({ minLength: PLOCK_RECORD_BYTES, maxLength: PLOCK_RECORD_BYTES }).map((a) => Buffer.from(a)),
    samples: [Buffer.alloc(PLOCK_RECORD_BYTES)],
    maxBytes: PLOCK_RECORD_BYTES,
    run: (b) => (b.length === PLOCK_RECORD_BYTES ? decodePlockInfo(b) : undefined),
    typed: never,
  },
];

let passed = 0;
let failed = 0;
const N = args.inputs;
for (const [ti, t] of targets.entries()) {
  if (args.only && !t.name.toLowerCase().includes(args.only.toLowerCase())) continue;
  const r = rng(args.seed * 7919 + ti);
  const findings: string[] = [];
  let slowest = 0;
  let slowestCpu = 0;
  let biggest = 0;
  let saved = 0;
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = Date.now();
  const genBatch = 1000;
  let generated: Buffer[] = [];
  // where the current batch of generated inputs began, and how many of it are left: --from skips
  // inputs without running them (nor generating the batches it passes), the same sequence after it
  let batchAt = 0;
  let batchLeft = 0;
  let ran = 0;
  for (let i = 0; i < N && findings.length < 5; i++) {
    if (i && i % 100_000 === 0) process.stderr.write(`  ${t.name}: ${i} of ${N} inputs in ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
    let input: Buffer;
    if (i % 2 === 0) {
      if (batchLeft === 0) {
        batchAt = i;
        batchLeft = genBatch;
        generated = [];
      }
      batchLeft--;
      if (i < from) continue;
      if (generated.length === 0) generated = fc.sample(t.gen, { numRuns: genBatch, seed: args.seed + ti * 1_000_003 + batchAt }).slice(0, batchLeft + 1);
      input = generated.pop()!;
    } else {
      input = mutate(r, t.samples, t.maxBytes, t.sizes); // r's sequence: made even when skipped
      if (i < from) continue;
    }
    ran++;
    biggest = Math.max(biggest, input.length);
    const s = process.hrtime.bigint();
    const cpu0 = process.cpuUsage();
    try {
      t.run(input);
    } catch (e) {
      if (!t.typed(e)) findings.push(`input ${i} (${input.length} bytes, starts ${JSON.stringify(input.subarray(0, 60).toString('latin1'))}): ${(e as Error)?.constructor?.name}: ${(e as Error)?.message?.slice(0, 200)}`);
    }
    const ms = Number(process.hrtime.bigint() - s) / 1e6;
    // the bound is on this process's CPU time: on a shared 2-core machine the wall time of a 4 MB
    // input tripled with the load of other jobs, which is no finding about the parser
    const cpu = process.cpuUsage(cpu0);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    slowest = Math.max(slowest, ms);
    slowestCpu = Math.max(slowestCpu, cpuMs);
    if (cpuMs > args['max-ms']) findings.push(`input ${i} (${input.length} bytes) took ${cpuMs.toFixed(0)} ms of CPU, ${ms.toFixed(0)} ms wall (bound ${args['max-ms']} ms of CPU)`);
    if (args.save && findings.length > saved) {
      // the input itself, to become a regression test
      mkdirSync(args.save, { recursive: true });
      writeFileSync(`${args.save}/${t.name.replace(/[^A-Za-z0-9.]+/g, '_')}-${i}.bin`, input);
      saved = findings.length;
    }
  }
  globalThis.gc?.();
  const heapMb = (process.memoryUsage().heapUsed - heap0) / 1e6;
  if (heapMb > 200) findings.push(`the heap grew by ${heapMb.toFixed(0)} MB`);
  const line = `${t.name}: ${ran} inputs${ran < N - Math.min(from, N) ? ` (stopped at 5 findings, of ${N})` : ''} (largest ${biggest} bytes) in ${((Date.now() - t0) / 1000).toFixed(1)} s, slowest ${slowest.toFixed(1)} ms (CPU ${slowestCpu.toFixed(1)} ms), heap ${heapMb >= 0 ? '+' : ''}${heapMb.toFixed(1)} MB`;
  if (findings.length) {
    failed++;
    console.log(`FAIL ${line}\n  ${findings.join('\n  ')}`);
  } else {
    passed++;
    console.log(`ok   ${line}`);
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
