// The daemon at rest as a process: `o2stack daemon` (the built CLI, dist/o2stack.cjs; `npm run
// build` first) on a fake kernel tree with a one-node static membership (--fence-manual,
// --liveness none: no probe port that could clash with another run), started, left 1 s to
// settle, then sampled for --seconds: VmRSS from /proc/PID/status (at the end and the largest
// sample) and CPU time (utime+stime of /proc/PID/stat) over the window, as % of one core.
// Target (issue 14): daemon RSS < 50 MB.
//   npx tsx bench/daemon-idle.ts [--seconds 5] [--cli dist/o2stack.cjs] [--json]
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchArgs, printJson } from './args.js';

const values = benchArgs(import.meta.url, { seconds: { default: '5', int: true }, cli: { default: 'dist/o2stack.cjs' }, json: { flag: true } });
const cli = new URL(`../${values.cli}`, import.meta.url).pathname;
if (!existsSync(cli)) {
  process.stderr.write(`${cli}: no such file (ENOENT); build the CLI first: npm run build\n`);
  process.exit(1);
}
const CLK_TCK = 100; // Linux USER_HZ on every architecture Node supports
const dir = mkdtempSync(join(tmpdir(), 'o2s-bench-idle-'));
mkdirSync(join(dir, 'sys/kernel/config/dlm'), { recursive: true });
writeFileSync(join(dir, 'members'), 'n1=1@192.0.2.1\n');
const child = spawn(
  process.execPath,
  [cli, 'daemon', '--root', dir, '--members', join(dir, 'members'), '--node-id', '1', '--cluster', 'demo', '--fence-manual', '--liveness', 'none', '--socket', join(dir, 'o2.sock')],
  { stdio: ['ignore', 'ignore', 'pipe'] },
);
let log = '';
child.stderr!.setEncoding('utf8').on('data', (d: string) => (log += d));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rssMB = () => Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;
const cpuTicks = () => {
  const st = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
};
let result: { rss: number; rssMax: number; cpuPct: number; startMs: number };
try {
  const t0 = performance.now();
  for (let i = 0; i < 3000 && !log.includes('"event":"ready"'); i++) {
    if (child.exitCode !== null) throw new Error(`o2stack daemon exited ${child.exitCode}: ${log}`);
    await sleep(10);
  }
  if (!log.includes('"event":"ready"')) throw new Error(`o2stack daemon not ready after 30 s: ${log}`);
  const startMs = performance.now() - t0;
  await sleep(1000);
  const c0 = cpuTicks();
  const w0 = performance.now();
  let rssMax = 0;
  for (let i = 0; i < values.seconds * 4; i++) {
    await sleep(250);
    rssMax = Math.max(rssMax, rssMB());
  }
  const cpuPct = (((cpuTicks() - c0) / CLK_TCK) * 1000 * 100) / (performance.now() - w0);
  result = { rss: rssMB(), rssMax, cpuPct, startMs };
} finally {
  if (child.exitCode === null) {
    child.kill('SIGTERM');
    const exited = await Promise.race([new Promise((r) => child.once('exit', () => r(true))), sleep(5000).then(() => false)]);
    if (!exited) child.kill('SIGKILL');
  }
  rmSync(dir, { recursive: true, force: true });
}
if (values.json) {
  printJson({
    bench: 'daemon-idle',
    params: { seconds: values.seconds },
    figures: {
      rssMB: { label: '`o2stack daemon` idle RSS (process, fake tree, 1 node)', unit: 'MB', value: result.rss },
      cpuPct: { label: '`o2stack daemon` idle CPU', unit: '% of a core', value: result.cpuPct },
      startMs: { label: '`o2stack daemon` start → ready', unit: 'ms', value: result.startMs },
    },
  });
} else console.log(`o2stack daemon idle over ${values.seconds} s: RSS ${result.rss.toFixed(1)} MB (max ${result.rssMax.toFixed(1)}), CPU ${result.cpuPct.toFixed(2)}% of a core; start → ready ${result.startMs.toFixed(0)} ms (target RSS < 50 MB → ${result.rss < 50 ? 'met' : 'NOT met'})`);
