// `o2stack monitor --json` as a process, fed real kernel uevents: bench/uevent-send.c (built with
// gcc into build/bench/uevent-send) writes "change" to /sys/devices/virtual/mem/null/uevent at
// --rate events/s for --seconds; the monitor (dist/o2stack.cjs, `--subsystem mem`) prints JSON
// lines into a pipe this process counts. Lost = sent − lines printed (the monitor's own count and
// its overflow lines are reported too). Issue 14's target: 150,000 events/s for 10 s, 0 lost.
// Needs root (sysfs writes), gcc and `npm run build`.
//   npx tsx bench/monitor.ts [--rate N] [--seconds N] [--json]
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchArgs, printJson } from './args.js';

const values = benchArgs(import.meta.url, { rate: { default: '150000', int: true }, seconds: { default: '10', int: true }, json: { flag: true } });
const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(repo, 'dist', 'o2stack.cjs');
const senderSrc = join(repo, 'bench', 'uevent-send.c');
const sender = join(repo, 'build', 'bench', 'uevent-send');

function fail(why: string): never {
  if (values.json) printJson({ bench: 'monitor', params: { rate: values.rate, seconds: values.seconds }, figures: {}, notes: [why] });
  else console.log(`monitor bench not run: ${why}`);
  process.exit(0);
}
if (process.getuid?.() !== 0) fail('needs root (writes /sys/devices/virtual/mem/null/uevent)');
if (!existsSync(cli)) fail('dist/o2stack.cjs missing: npm run build');
mkdirSync(dirname(sender), { recursive: true });
const cc = spawnSync('gcc', ['-O2', '-o', sender, senderSrc], { encoding: 'utf8' });
if (cc.status !== 0) fail(`gcc -O2 -o ${sender} ${senderSrc} failed: ${cc.error?.message ?? cc.stderr}`);

const count = values.rate * values.seconds;
const mon = spawn(process.execPath, [cli, 'monitor', '--json', '--subsystem', 'mem'], { stdio: ['ignore', 'pipe', 'pipe'] });
let lines = 0;
let overflowLines = 0;
let tail = '';
mon.stdout.on('data', (d: Buffer) => {
  // counted with indexOf (memchr): a byte loop here took CPU the monitor and the sender need
  for (let i = d.indexOf(10); i !== -1; i = d.indexOf(10, i + 1)) lines++;
  // overflow lines are rare: look for them in the text only when one may be there
  if (d.includes('"overflow"')) overflowLines += (d.toString('utf8').match(/"overflow":/g) ?? []).length;
});
mon.stderr.on('data', (d: Buffer) => (tail = (tail + d.toString('utf8')).slice(-2000)));
// the monitor is listening once it said what it prints
for (let i = 0; i < 100 && !tail.includes('monitor will print'); i++) await new Promise((r) => setTimeout(r, 100));
if (!tail.includes('monitor will print')) {
  mon.kill('SIGKILL');
  fail(`the monitor did not start: ${tail.trim()}`);
}
// The sender runs as a child this process waits for without blocking: the monitor's stdout must
// be read while the events flow, as any consumer would (with spawnSync nothing read the pipe for
// the 10 s, the monitor queued every line in its own memory and fell behind the kernel).
const senderOut = await new Promise<string>((resolve) => {
  const s = spawn(sender, [String(count), String(values.rate)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const limit = setTimeout(() => s.kill('SIGKILL'), (values.seconds * 3 + 30) * 1000);
  s.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
  s.on('close', () => {
    clearTimeout(limit);
    resolve(out);
  });
});
const [n, achieved] = senderOut.trim().split(' ').map(Number);
// drain: until every event sent is printed, or no new line for 3 s (bounded: 60 s); how long the
// monitor took after the sender's last event is its lag (0 when it kept up)
const tSent = Date.now();
let lastChange = Date.now();
let last = lines;
while (lines - overflowLines < (n ?? count) && Date.now() - lastChange < 3000 && Date.now() - tSent < 60_000) {
  await new Promise((r) => setTimeout(r, 20));
  if (lines !== last) {
    last = lines;
    lastChange = Date.now();
  }
}
const lagMs = lines - overflowLines >= (n ?? count) ? lastChange - tSent : NaN;
mon.kill('SIGINT');
await new Promise((r) => mon.on('close', r));
const printed = lines - overflowLines;
const monitorSays = /monitor: (\d+) events printed.*?(\d+) overflows/.exec(tail);
const lost = (n ?? count) - printed;
if (values.json) {
  const f = (label: string, unit: string, value: number) => ({ label, unit, value });
  printJson({
    bench: 'monitor',
    params: { rate: values.rate, seconds: values.seconds },
    figures: {
      sendRate: f(`kernel uevents sent (sysfs writes, paced at ${values.rate}/s)`, 'events/s', achieved ?? NaN),
      printed: f('`o2stack monitor --json`: lines printed', 'events', printed),
      lostPct: f(`\`o2stack monitor --json\` at ${values.rate}/s for ${values.seconds} s: lost`, '%', (100 * lost) / (n ?? count)),
      overflows: f('`o2stack monitor --json`: overflow reports (ENOBUFS)', 'count', monitorSays ? Number(monitorSays[2]) : NaN),
      lagMs: f('`o2stack monitor --json`: last line printed after the last event sent', 'ms', lagMs),
    },
  });
} else {
  console.log(`sent ${n} kernel uevents at ${achieved}/s (asked ${values.rate}/s for ${values.seconds} s); o2stack monitor --json printed ${printed}, lost ${lost} (${((100 * lost) / (n ?? count)).toFixed(2)}%), overflow lines ${overflowLines}; last line ${Number.isNaN(lagMs) ? 'never (not all printed)' : `${lagMs} ms`} after the last event sent`);
  console.log(`the monitor says: ${tail.trim().split('\n').pop()}`);
  console.log(`target: ${values.rate}/s for ${values.seconds} s with 0 lost -> ${lost === 0 && (achieved ?? 0) >= values.rate * 0.95 ? 'MET' : 'NOT MET'}`);
}
