// The POSIX lock benchmark the two-node user-stack suites run on the mounted volume, with whatever
// control daemon serves /dev/dlm_plock there (dlm_controld in dlm-controld.two, ours in
// user-stack-corosync.two): lock+unlock pairs per second on one byte (bench/plock-pairs.c, built in
// the guest), first by n1 alone (uncontended), then by both nodes on the same byte at once
// (contended: every pair waits for the other node's unlock). Both nodes must call it at the same
// point of their suites; they meet through marker files on the volume. Prints figure lines:
//   o2stack-figure: plock bench (LABEL): uncontended n1 P pairs/s; contended n1+n2 Q pairs/s (...)
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from './kernel.js';
import { figure, root } from './run.js';

const BIN = '/tmp/plock-pairs';

function build(): string {
  if (!existsSync(BIN)) execFileSync('gcc', ['-O2', '-o', BIN, join(root, 'bench/plock-pairs.c')], { timeout: 120_000 });
  return BIN;
}

/** Runs the load for `seconds`; pairs per second (throws if it fails or hangs). */
function pairs(file: string, seconds: number): { pairs: number; ms: number; perSecond: number } {
  const out = execFileSync(build(), [file, '0', String(seconds)], { encoding: 'utf8', timeout: (seconds + 120) * 1000, killSignal: 'SIGKILL' });
  const m = /^pairs (\d+) ms (\d+)/.exec(out);
  if (!m) throw new Error(`plock-pairs printed ${out}`);
  const n = Number(m[1]);
  const ms = Number(m[2]);
  return { pairs: n, ms, perSecond: Math.round((n * 1000) / ms) };
}

const sync = () => execFileSync('sync');

export interface PlockBenchResult {
  uncontended?: number;
  contended: number;
}

/** Both nodes call this with the volume mounted on both. n1 prints the figures and returns them. */
export async function plockBench(o: { mnt: string; me: number; peer: number; label: string; seconds?: number }): Promise<PlockBenchResult | undefined> {
  const secs = o.seconds ?? 5;
  const file = `${o.mnt}/plock-bench.dat`;
  const mark = (name: string) => `${o.mnt}/plock-bench.${name}`;
  build();
  let uncontended: number | undefined;
  if (o.me === 1) {
    writeFileSync(file, 'x');
    sync();
    uncontended = pairs(file, secs).perSecond;
    writeFileSync(mark('solo-done'), '');
    sync();
  } else if (!(await waitFor(() => existsSync(mark('solo-done')), 240_000, 200))) throw new Error('n1 never finished the uncontended run');
  writeFileSync(mark(`ready-n${o.me}`), '');
  sync();
  if (!(await waitFor(() => existsSync(mark(`ready-n${o.peer}`)), 120_000, 100))) throw new Error(`n${o.peer} never got ready for the contended run`);
  const mine = pairs(file, secs);
  writeFileSync(mark(`result-n${o.me}`), JSON.stringify(mine));
  sync();
  if (!(await waitFor(() => existsSync(mark(`result-n${o.peer}`)), 240_000, 200))) throw new Error(`n${o.peer} never finished the contended run`);
  if (o.me !== 1) return undefined;
  const theirs = JSON.parse(readFileSync(mark(`result-n${o.peer}`), 'utf8')) as { pairs: number; ms: number; perSecond: number };
  const contended = mine.perSecond + theirs.perSecond;
  figure(`plock bench (${o.label}): uncontended n1 ${uncontended} pairs/s; contended n1+n2 ${contended} pairs/s (n1 ${mine.perSecond}, n2 ${theirs.perSecond}; ${secs} s each, bench/plock-pairs.c)`);
  return { uncontended: uncontended!, contended };
}
