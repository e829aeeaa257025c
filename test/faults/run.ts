// npm run test:faults [-- --runs N --stack o2cb|user|both|o2cb-hbstall|all --keep DIR]: a node
// killed while writing, on the real kernel, N times per stack (default 20 each; CI runs 1). Each
// run is the two-VM demo with --fault writer (demo/two-node.ts): n2 appends fsync'd records to the
// shared volume and is killed (qemu SIGKILL) mid-stream; n1 must recover and write again, every
// record whose fsync had returned must be on the volume, and fsck.ocfs2 -fn must find it clean.
// o2cb-hbstall is the o2cb demo with --fault hbstall: n2 is not killed, its own disk I/O stalls
// and its kernel must fence it; "writable again" is then timed from the stall. One result per
// run, a table at the end, and "N passed, N failed" (a run is one test). Run it under the VM lock:
//   flock /tmp/o2stack-vm.lock npm run test:faults -- --runs 20
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { values } = parseArgs({ options: { runs: { type: 'string', default: '20' }, stack: { type: 'string', default: 'both' }, keep: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
if (values.help) {
  console.log('npm run test:faults [-- --runs N (default 20) --stack o2cb|user|both|o2cb-hbstall|all (default both) --keep DIR (logs)]');
  process.exit(0);
}
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1 || runs > 1000) {
  console.error(`--runs ${values.runs}: a whole number from 1 to 1000`);
  process.exit(2);
}
const KINDS = ['o2cb', 'user', 'o2cb-hbstall'] as const;
type Kind = (typeof KINDS)[number];
const stacks: readonly Kind[] | undefined =
  values.stack === 'both' ? ['o2cb', 'user'] : values.stack === 'all' ? KINDS : (KINDS as readonly string[]).includes(values.stack!) ? [values.stack as Kind] : undefined;
if (!stacks) {
  console.error(`--stack ${values.stack}: o2cb, user, both (o2cb and user), o2cb-hbstall or all`);
  process.exit(2);
}
const logs = values.keep ?? mkdtempSync(join(tmpdir(), 'o2stack-faults-'));
mkdirSync(logs, { recursive: true });

interface Outcome {
  stack: string;
  run: number;
  ok: boolean;
  checks: string;
  recoveryMs?: number;
  acked?: number;
  found?: number;
  /** hbstall: n2's kernel fenced it this long after the stall (printk times) */
  selfFenceMs?: number;
  seconds: number;
  failures: string[];
}

function once(stack: Kind, run: number): Promise<Outcome> {
  const t0 = Date.now();
  const args = stack === 'o2cb-hbstall' ? ['--stack', 'o2cb', '--fault', 'hbstall'] : ['--stack', stack, '--fault', 'writer'];
  return new Promise((res) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'demo/two-node.ts', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')));
    // bounded: the demo bounds its VMs (VM_TIMEOUT); this is the backstop
    const timer = setTimeout(() => child.kill('SIGKILL'), 20 * 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      writeFileSync(join(logs, `${stack}-${run}.log`), out);
      const result = /^(\d+) passed, (\d+) failed$/m.exec(out);
      const rec = /^\[demo [^\]]*\] n1 wrote again (\d+) ms/m.exec(out);
      const w = /^@@ WRITER_RESULT acked=(\d+) found=(\d+) ok=(\w+)$/m.exec(out);
      const failures = [...out.matchAll(/CHECK fail (.*)$/gm)].map((m) => m[1]!);
      const hb = /^@@ HBSTALL_RESULT selfFenced=true writeTimeoutMs=-?\d+ fenceMs=(\d+)/m.exec(out);
      res({
        stack,
        run,
        ok: code === 0 && result !== null && result[2] === '0',
        checks: result ? `${result[1]}/${Number(result[1]) + Number(result[2])}` : 'no result',
        ...(rec ? { recoveryMs: Number(rec[1]) } : {}),
        ...(w ? { acked: Number(w[1]), found: Number(w[2]) } : {}),
        ...(hb ? { selfFenceMs: Number(hb[1]) } : {}),
        seconds: Math.round((Date.now() - t0) / 1000),
        failures,
      });
    });
  });
}

const outcomes: Outcome[] = [];
for (const stack of stacks) {
  for (let i = 1; i <= runs; i++) {
    console.log(`=== ${stack} run ${i}/${runs}: ${stack === 'o2cb-hbstall' ? "n2's disk I/O stalled while writing" : 'n2 killed while writing'}`);
    const o = await once(stack, i);
    outcomes.push(o);
    console.log(`--- ${stack} run ${i}: ${o.ok ? 'passed' : 'FAILED'}, checks ${o.checks},${o.selfFenceMs !== undefined ? ` n2's kernel fenced it ${o.selfFenceMs} ms after the stall,` : ''} writable again after ${o.recoveryMs ?? '?'} ms, records acknowledged ${o.acked ?? '?'} / found ${o.found ?? '?'}, ${o.seconds} s${o.failures.length ? `; failed: ${o.failures.join('; ')}` : ''}`);
  }
}

const pct = (xs: number[], p: number) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] : undefined);
console.log('\n| stack | runs | passed | writable again (ms) min / median / max | records acknowledged (min–max) | lost | self-fence after the stall (ms) |');
console.log('|---|---|---|---|---|---|---|');
for (const stack of stacks) {
  const os = outcomes.filter((o) => o.stack === stack);
  const rec = os.map((o) => o.recoveryMs).filter((x): x is number => x !== undefined);
  const acked = os.map((o) => o.acked).filter((x): x is number => x !== undefined);
  const lost = os.filter((o) => o.acked !== undefined && (o.found ?? 0) < o.acked).length;
  const fence = os.map((o) => o.selfFenceMs).filter((x): x is number => x !== undefined);
  console.log(`| ${stack} | ${os.length} | ${os.filter((o) => o.ok).length} | ${rec.length ? `${Math.min(...rec)} / ${pct(rec, 50)} / ${Math.max(...rec)}` : '–'} | ${acked.length ? `${Math.min(...acked)}–${Math.max(...acked)}` : '–'} | ${lost} runs | ${fence.length ? `${Math.min(...fence)} / ${pct(fence, 50)} / ${Math.max(...fence)}` : '–'} |`);
}
console.log(`logs: ${logs}`);
const passed = outcomes.filter((o) => o.ok).length;
console.log(`${passed} passed, ${outcomes.length - passed} failed`);
process.exit(outcomes.length === passed ? 0 : 1);
