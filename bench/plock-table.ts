// The pure POSIX lock table (lib/model/plockTable.ts) on the host: operations per second for
//   (a) 10,000 locks on ONE inode (10,000 owners on three nodes, disjoint ranges), then rounds of
//       unlock + lock + F_GETLK by another owner on each range;
//   (b) 10,000 inodes with one whole-file lock each, the same rounds;
//   (c) mixed: one inode, 1,000 owners taking random ranges of random modes, shared and exclusive,
//       with waiters (wait=true) and unlocks — what a busy database file sees.
// Median of --runs runs each (target: >= 1,000,000 ops/s for (a) and (b)). Prints numbers only.
//   npx tsx bench/plock-table.ts [--runs 7] [--locks 10000] [--json]
import { OFFSET_MAX, PlockTable, type Plock } from '../lib/model/plockTable.js';
import { benchArgs, printJson } from './args.js';

const values = benchArgs(import.meta.url, { runs: { default: '7', int: true }, locks: { default: '10000', int: true }, json: { flag: true } });
const runs = values.runs;
const N = values.locks;
const ROUNDS = 3;

function opsPerSecond(work: () => number): number {
  const t0 = process.hrtime.bigint();
  const ops = work();
  return (ops * 1e9) / Number(process.hrtime.bigint() - t0);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const lockOf = (i: number, number: 'one' | 'many'): Plock =>
  number === 'one'
    ? { nodeid: 1 + (i % 3), owner: BigInt(0x10000 + i), pid: 1000 + i, start: BigInt(i * 16), end: BigInt(i * 16 + 7), ex: true }
    : { nodeid: 1 + (i % 3), owner: BigInt(0x10000 + i), pid: 1000 + i, start: 0n, end: OFFSET_MAX, ex: true };

function disjoint(kind: 'one' | 'many'): number {
  const t = new PlockTable();
  const inode = (i: number) => (kind === 'one' ? 42n : BigInt(i + 1));
  let ops = 0;
  for (let i = 0; i < N; i++, ops++) t.lock(inode(i), lockOf(i, kind), false);
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < N; i++) {
      const l = lockOf(i, kind);
      t.unlock(inode(i), l, l.start, l.end);
      t.lock(inode(i), l, false);
      t.get(inode(i), { ...l, owner: 1n, nodeid: 9 });
      ops += 3;
    }
  }
  if (t.counts().locks !== N) throw new Error(`expected ${N} locks, have ${t.counts().locks}`);
  return ops;
}

function mixed(): number {
  const t = new PlockTable();
  let seed = 12345;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const owners = 1000;
  let ops = 0;
  for (let i = 0; i < N * ROUNDS; i++, ops++) {
    const o = rnd(owners);
    const start = BigInt(rnd(1_000_000));
    const l: Plock = { nodeid: 1 + (o % 3), owner: BigInt(o), pid: o, start, end: start + BigInt(rnd(64)), ex: rnd(4) === 0 };
    const what = rnd(10);
    if (what < 5) t.lock(7n, l, rnd(2) === 0);
    else if (what < 8) t.unlock(7n, l, l.start, l.end);
    else t.get(7n, l);
  }
  return ops;
}

const results: [string, number[]][] = [
  [`(a) ${N} locks on one inode: unlock/lock/F_GETLK`, []],
  [`(b) ${N} inodes, one lock each: unlock/lock/F_GETLK`, []],
  [`(c) mixed on one inode (1,000 owners, shared/exclusive, waiters)`, []],
];
for (let r = 0; r < runs; r++) {
  results[0]![1].push(opsPerSecond(() => disjoint('one')));
  results[1]![1].push(opsPerSecond(() => disjoint('many')));
  results[2]![1].push(opsPerSecond(mixed));
}
if (values.json) {
  const keys = ['oneInode', 'manyInodes', 'mixed'];
  printJson({
    bench: 'plock-table',
    params: { runs, locks: N },
    figures: Object.fromEntries(results.map(([label, xs], i) => [keys[i]!, { label: `plock table ${label}`, unit: 'ops/s', value: median(xs) }])),
  });
  process.exit(0);
}
console.log(`plock table (host, node ${process.version}, median of ${runs} runs, first run included):`);
for (const [name, xs] of results) console.log(`  ${name}: ${Math.round(median(xs)).toLocaleString('en-US')} ops/s (min ${Math.round(Math.min(...xs)).toLocaleString('en-US')}, max ${Math.round(Math.max(...xs)).toLocaleString('en-US')})`);
