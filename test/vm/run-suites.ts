// npm run test:vm [-- NAME...]
// Runs the real-kernel suites test/vm/suites/*.vm.ts, each in its own fresh VM (Debian 12's 6.1
// kernel under qemu, see vm/README.md): one VM per suite file; two VMs for files named *.two.vm.ts
// and three for *.three.vm.ts, sharing a disk and one private link (vm/run-cluster.sh N: node k is
// nk, 192.0.2.k, NODE=k, NODES=N). Each suite gets a fresh blank 512 MiB disk image as /dev/vda
// (shared by all VMs of a multi-VM suite). Inside the guest, mocha runs with the project's
// .mocharc.json options and spec = that one file; the summary reporter appends
// {suite,passed,failed,skipped} to O2STACK_RESULTS (node k of a multi-VM suite: to
// O2STACK_RESULTS.nk, as "<suite>[nk]"), a host directory shared into the VM; a node that writes
// no results counts as a failed suite. NAME arguments keep only the suites whose
// file name contains one of them. Prints every suite's console, then the total line
// "N passed, N failed, N skipped"; exits non-zero if a test failed or a VM died (a dead VM counts
// as one failed suite, with its console tail).
// Crash suites (*.crash.vm.ts) bring their VM's kernel down on purpose; the console decides: the
// file's header names a marker line (`// @crash-marker TEXT`), the lines the kernel must print
// after it (`// @crash-expect TEXT`, each a plain substring of a kernel console line, one that
// starts with the printk time "[  12.345678] ") and the failure message when it does
// not (`// @crash-absent TEXT`). Passed (1 test) when every expected line follows the marker: the
// VM is then killed (run.sh kills qemu by its PID). Failed when the VM ends without them, or
// CRASH_WAIT_MS after the marker. The VM gets at most CRASH_VM_SECONDS.
// A one-VM suite gets one blank disk (/dev/vda) unless its header says `// @vm-disks N`. A suite
// whose header says `// @vm-timeout S` gets S seconds per VM when that is more than
// O2STACK_VM_SUITE_TIMEOUT (a suite known to be long: Pacemaker under TCG). Suites
// with corosync need nothing on the host: the guests' corosync, dlm_controld and client libraries
// come from vm/cluster-pkgs.sh, and the addon dlopens libcpg/libquorum/libcmap there.
// env: O2STACK_VM_SUITE_TIMEOUT  seconds per VM (default 600)
//      O2STACK_VM_PARALLEL=N      at most N VMs at once (default 1: one suite after another; at
//                                 most 3). With 2, two one-VM suites run side by side; a suite
//                                 never starts while it would exceed N, except a suite of more
//                                 VMs than N, which runs alone. Each suite's console is then
//                                 printed when it ends, not as it comes
//      O2STACK_VM_ORDER=long      the suites that took longest last time first (their times kept
//                                 in $O2STACK_VM_CACHE/suite-times.json), else by name
//      O2STACK_VM_KEEP=1          keep the results directory (mocha configs, results, disk images)
//      O2STACK_VM_TSX_CACHE=0     do not keep tsx's transform cache between VMs (kept by default
//                                 in $O2STACK_VM_CACHE/tsx-cache)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, truncateSync, openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}
interface SuiteOutcome extends Counts {
  name: string;
  vms: number;
  exitCode: number;
  ms: number;
  note?: string;
}

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const suitesDir = join(root, 'test', 'vm', 'suites');
const suiteTimeout = Number(process.env.O2STACK_VM_SUITE_TIMEOUT ?? 600);
const TAIL_LINES = 40;
const DISK_BYTES = 512 * 1024 * 1024;
const CRASH_VM_SECONDS = 240; // a crash suite's VM, at most
const CRASH_WAIT_MS = 60_000; // from the marker line to the last expected console line
const CRASH_GRACE_MS = 2_000; // after the last expected line: let the oops finish printing
let interrupted = false; // SIGINT/SIGTERM: finish the current suite's bookkeeping, run no more
const vmCache = process.env.O2STACK_VM_CACHE ?? '/var/cache/o2stack-vm';
// tsx's transform cache, kept between VMs and runs (O2STACK_VM_TSX_CACHE=0: compile in every VM)
const tsxCache = process.env.O2STACK_VM_TSX_CACHE === '0' ? undefined : join(vmCache, 'tsx-cache');

function out(s: string): void {
  process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
}

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/**
 * The project's .mocharc.json for one spec file. Its node-option entries come back separately: the
 * driver starts mocha's cli.js under node with them itself, rather than letting bin/mocha.js
 * start a second node process (each node start costs seconds under TCG).
 */
function mochaConfig(specFile: string): { cfg: Record<string, unknown>; nodeFlags: string[] } {
  const rc = JSON.parse(readFileSync(join(root, '.mocharc.json'), 'utf8')) as Record<string, unknown>;
  const cfg: Record<string, unknown> = { ...rc, spec: [relative(root, specFile)], color: false };
  delete cfg.ignore; // a host config may ignore test/vm/**
  const nodeOption = rc['node-option'];
  const nodeFlags = (Array.isArray(nodeOption) ? nodeOption : nodeOption === undefined ? [] : [nodeOption]).map((o) => `--${String(o)}`);
  delete cfg['node-option'];
  // the guest is an emulated CPU (qemu TCG, about 20x slower than the host): keep the project's
  // timeout as a floor but give each test at least two minutes
  cfg.timeout = Math.max(Number(rc.timeout ?? 2000), 120_000);
  return { cfg, nodeFlags };
}

/** Sees the output as it arrives; stop() ends the child (run.sh then kills its qemu by PID). */
type Watcher = (chunk: Buffer, stop: () => void) => void;

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, echo: boolean, watch?: Watcher): Promise<{ code: number; output: string }> {
  return new Promise((resolveRun) => {
    const child = spawn(cmd, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    const stop = () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    };
    const take = (b: Buffer) => {
      chunks.push(b);
      if (echo) process.stdout.write(b);
      watch?.(b, stop);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    const forward = (sig: NodeJS.Signals) => () => {
      interrupted = true;
      child.kill(sig);
    };
    const onInt = forward('SIGINT');
    const onTerm = forward('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    child.on('close', (code, signal) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolveRun({ code: code ?? (signal ? 128 : 1), output: Buffer.concat(chunks).toString('utf8') });
    });
  });
}

function readResults(file: string): { suite: string; passed: number; failed: number; skipped: number }[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as { suite: string; passed: number; failed: number; skipped: number });
}

interface CrashSpec {
  marker: string;
  expect: string[];
  absent: string;
}

/** The @crash-* header lines of a *.crash.vm.ts file. */
function crashSpec(file: string): CrashSpec {
  const text = readFileSync(file, 'utf8');
  const lines = (tag: string) => [...text.matchAll(new RegExp(`^// @crash-${tag} (.+)$`, 'gm'))].map((m) => m[1]!.trim());
  const [marker] = lines('marker');
  const expect = lines('expect');
  if (!marker || expect.length === 0) throw new Error(`${basename(file)}: a crash suite needs '// @crash-marker' and '// @crash-expect' header lines`);
  return { marker, expect, absent: lines('absent')[0] ?? 'the expected kernel crash did not happen' };
}

/** Watches a crash suite's console: the marker, then every expected line; stops the VM when done or late. */
function crashWatcher(spec: CrashSpec): { watch: Watcher; result: () => { marker: boolean; missing: string[]; late: boolean } } {
  let text = '';
  let markerAt = -1;
  let deadline: NodeJS.Timeout | undefined;
  let late = false;
  let done = false;
  // only kernel console lines count ("[  23.3] ..."): the guest's own output (a test title, an
  // error message) cannot satisfy an expectation
  const kernelLines = () =>
    text
      .slice(markerAt)
      .split('\n')
      .filter((l) => /^\[\s*\d+\.\d+\] /.test(l));
  const missing = () => {
    if (markerAt < 0) return spec.expect;
    const lines = kernelLines();
    return spec.expect.filter((e) => !lines.some((l) => l.includes(e)));
  };
  const watch: Watcher = (chunk, stop) => {
    if (done) return;
    text += chunk.toString('utf8');
    if (markerAt < 0) {
      const i = text.indexOf(spec.marker);
      if (i < 0) return;
      markerAt = i + spec.marker.length;
      deadline = setTimeout(() => {
        late = true;
        done = true;
        stop();
      }, CRASH_WAIT_MS);
    }
    if (missing().length === 0) {
      done = true;
      clearTimeout(deadline);
      setTimeout(stop, CRASH_GRACE_MS);
    }
  };
  return {
    watch,
    result: () => {
      clearTimeout(deadline);
      return { marker: markerAt >= 0, missing: missing(), late };
    },
  };
}

async function runSuite(file: string, work: string, echo = true): Promise<SuiteOutcome> {
  const buffered: string[] = [];
  const say = echo ? out : (line: string) => void buffered.push(line);
  try {
    return await runSuiteSaying(file, work, echo, say);
  } finally {
    if (!echo) out(buffered.join('\n'));
  }
}

/** How many VMs a suite boots. */
function vmsOf(file: string): number {
  return file.endsWith('.three.vm.ts') ? 3 : file.endsWith('.two.vm.ts') ? 2 : 1;
}

async function runSuiteSaying(file: string, work: string, echo: boolean, out: (s: string) => void): Promise<SuiteOutcome> {
  const name = basename(file).replace(/\.vm\.ts$/, '');
  // *.two.vm.ts / *.three.vm.ts: that many VMs (vm/run-cluster.sh), else one (vm/run.sh)
  const vms = vmsOf(file);
  const nodes = Array.from({ length: vms }, (_, i) => i + 1);
  const crash = file.endsWith('.crash.vm.ts') ? crashWatcher(crashSpec(file)) : undefined;
  // one results file per VM (guests appending to one file over 9p could overwrite each other)
  const results = join(work, `${name}.results`);
  const cfgPath = join(work, `${name}.mocharc.json`);
  const { cfg, nodeFlags } = mochaConfig(file);
  writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));
  const mocha = [process.execPath, ...nodeFlags, join(root, 'node_modules', 'mocha', 'lib', 'cli', 'cli.js'), '--config', cfgPath];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    O2STACK_RESULTS: results,
    O2STACK_SUITE: name,
    O2STACK_VM_TSX_CACHE: tsxCache ?? '',
    VM_SHARE: [work, tsxCache ?? '', process.env.VM_SHARE ?? ''].join(' ').trim(),
    VM_ENV: ['O2STACK_RESULTS', 'O2STACK_SUITE', 'O2STACK_VM_TSX_CACHE', process.env.VM_ENV ?? ''].join(' ').trim(),
    VM_TIMEOUT: String(crash ? Math.min(suiteTimeout, CRASH_VM_SECONDS) : Math.max(suiteTimeout, Number(/^\/\/ @vm-timeout (\d+)$/m.exec(readFileSync(file, 'utf8'))?.[1] ?? 0))),
  };
  const guest = [join(root, 'test', 'vm', 'support', 'guest-mocha.sh'), ...mocha];
  // every suite gets a fresh blank (sparse) disk as /dev/vda; in a multi-VM suite all VMs share it
  const disk = join(work, `${name}.img`);
  closeSync(openSync(disk, 'w'));
  truncateSync(disk, DISK_BYTES);
  let cmd: string;
  let args: string[];
  if (vms > 1) {
    cmd = join(root, 'vm', 'run-cluster.sh');
    args = [String(vms), disk, ...guest]; // each node reports as <suite>[nN] (guest-mocha.sh)
  } else {
    cmd = join(root, 'vm', 'run.sh');
    args = guest;
    // `// @vm-disks N` in a one-VM suite's header: N blank disks, /dev/vda, /dev/vdb, ...
    const wanted = Number(/^\/\/ @vm-disks (\d+)$/m.exec(readFileSync(file, 'utf8'))?.[1] ?? 1);
    const disks = [disk];
    for (let i = 1; i < Math.min(wanted, 8); i++) {
      const extra = join(work, `${name}-${i}.img`);
      closeSync(openSync(extra, 'w'));
      truncateSync(extra, DISK_BYTES);
      disks.push(extra);
    }
    env.VM_DISKS = [...disks, process.env.VM_DISKS ?? ''].join(' ').trim();
  }
  out(`\n=== ${name} (${vms > 1 ? `${['', '', 'two', 'three'][vms]} VMs` : crash ? 'one VM, crashed on purpose' : 'one VM'}) ===`);
  const t0 = Date.now();
  const { code, output } = await run(cmd, args, env, echo, crash?.watch);
  if (!echo) out(output.trimEnd());
  const ms = Date.now() - t0;
  if (crash) return crashOutcome(name, crash.result(), crashSpec(file), code, ms, readResults(results), output, out);
  const wanted = vms > 1 ? nodes.map((n) => `${name}[n${n}]`) : [name];
  const lines = (vms > 1 ? nodes.flatMap((n) => readResults(`${results}.n${n}`)) : readResults(results)).filter((r) => wanted.includes(r.suite));
  const o: SuiteOutcome = { name, vms, exitCode: code, ms, passed: 0, failed: 0, skipped: 0 };
  for (const l of lines) {
    o.passed += l.passed;
    o.failed += l.failed;
    o.skipped += l.skipped;
  }
  const missing = wanted.filter((w) => !lines.some((l) => l.suite === w));
  if (code === 125 || missing.length > 0 || (code !== 0 && o.failed === 0)) {
    // the VM died, timed out, or mocha did not finish: one failed suite, with the console tail
    o.failed += 1;
    o.note = code === 125 ? 'VM died or timed out' : missing.length > 0 ? `no results from ${missing.join(', ')}` : `exit status ${code}`;
    out(`\n--- ${name}: ${o.note} (exit ${code}); console tail:`);
    out(output.split('\n').slice(-TAIL_LINES).join('\n'));
  }
  out(`--- ${name}: ${o.passed} passed, ${o.failed} failed, ${o.skipped} skipped in ${secs(ms)}${o.note ? ` (${o.note})` : ''}`);
  return o;
}

/** A crash suite passes only on the expected console lines; the guest's own results explain a miss. */
function crashOutcome(
  name: string,
  seen: { marker: boolean; missing: string[]; late: boolean },
  spec: CrashSpec,
  code: number,
  ms: number,
  guest: { passed: number; failed: number }[],
  output: string,
  out: (s: string) => void,
): SuiteOutcome {
  const o: SuiteOutcome = { name, vms: 1, exitCode: 0, ms, passed: 0, failed: 0, skipped: 0 };
  if (seen.marker && seen.missing.length === 0) {
    o.passed = 1;
    o.note = 'kernel crashed as expected; VM killed';
  } else {
    o.failed = 1;
    o.exitCode = code === 0 ? 1 : code;
    const guestFailed = guest.reduce((a, r) => a + r.failed, 0);
    o.note = !seen.marker
      ? `the marker line never appeared (exit ${code}${guestFailed ? `, ${guestFailed} guest test(s) failed` : ''})`
      : `${spec.absent} (missing after the marker: ${seen.missing.map((m) => JSON.stringify(m)).join(', ')}${seen.late ? `; VM stopped ${CRASH_WAIT_MS / 1000} s after the marker` : `; VM exit ${code}`})`;
    out(`\n--- ${name}: ${o.note}; console tail:`);
    out(output.split('\n').slice(-TAIL_LINES).join('\n'));
  }
  out(`--- ${name}: ${o.passed} passed, ${o.failed} failed, 0 skipped in ${secs(ms)} (${o.note})`);
  return o;
}

/** dist/o2stack-cli.cjs (the bundle dist/o2stack.cjs runs) is missing or older than a file of lib/ (or ocf/, package.json). */
function bundleStale(): boolean {
  const bundle = join(root, 'dist', 'o2stack-cli.cjs');
  if (!existsSync(bundle)) return true;
  const built = statSync(bundle).mtimeMs;
  const newer = (dir: string): boolean =>
    readdirSync(dir, { withFileTypes: true }).some((e) => (e.isDirectory() ? newer(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs > built));
  return newer(join(root, 'lib')) || (existsSync(join(root, 'ocf')) && newer(join(root, 'ocf'))) || statSync(join(root, 'package.json')).mtimeMs > built;
}

async function main(): Promise<number> {
  const filters = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const all = readdirSync(suitesDir).filter((f) => f.endsWith('.vm.ts')).sort();
  const chosen = all.filter((f) => filters.length === 0 || filters.some((n) => f.includes(n)));
  if (chosen.length === 0) {
    out(`no VM suite matches ${filters.join(' ')}; suites: ${all.join(' ')}`);
    return 2;
  }

  const t0 = Date.now();
  // suites that run the package's bin (dist/, as users install it) must not run a stale one
  if (bundleStale()) {
    out('dist/ is older than lib/: npm run build');
    const b = spawnSync('npm', ['run', '-s', 'build'], { cwd: root, stdio: 'inherit' });
    if (b.status !== 0) {
      out(`npm run build failed (status ${b.status ?? b.signal})`);
      return 2;
    }
  }
  const setup = spawnSync('bash', [join(root, 'vm', 'setup.sh')], { cwd: root, stdio: 'inherit' });
  if (setup.status !== 0) {
    out(`vm/setup.sh failed (status ${setup.status ?? setup.signal})`);
    return 2;
  }
  const setupMs = Date.now() - t0;

  if (tsxCache) mkdirSync(tsxCache, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'o2stack-vm-'));
  const outcomes: SuiteOutcome[] = [];
  const parallel = Math.min(3, Math.max(1, Math.floor(Number(process.env.O2STACK_VM_PARALLEL ?? 1)) || 1));
  const timesFile = join(vmCache, 'suite-times.json');
  const lastTimes = ((): Record<string, number> => {
    try {
      return JSON.parse(readFileSync(timesFile, 'utf8')) as Record<string, number>;
    } catch {
      return {};
    }
  })();
  // the longest first, so that the short ones fill in beside them at the end
  const queue = process.env.O2STACK_VM_ORDER === 'long' ? [...chosen].sort((a, b) => (lastTimes[basename(b)] ?? 0) * vmsOf(b) - (lastTimes[basename(a)] ?? 0) * vmsOf(a)) : [...chosen];
  try {
    if (parallel === 1) {
      for (const f of queue) {
        if (interrupted) break;
        outcomes.push(await runSuite(join(suitesDir, f), work));
      }
    } else {
      // a pool measured in VMs: start whatever fits (in queue order), wait for one to end
      let busy = 0;
      const running = new Map<string, Promise<void>>();
      while ((queue.length > 0 || running.size > 0) && !interrupted) {
        const i = queue.findIndex((f) => busy + vmsOf(f) <= parallel || (running.size === 0 && vmsOf(f) > parallel));
        if (i >= 0) {
          const f = queue.splice(i, 1)[0]!;
          const vms = Math.min(vmsOf(f), parallel);
          busy += vms;
          running.set(f, runSuite(join(suitesDir, f), work, false).then((o) => {
            outcomes.push(o);
            busy -= vms;
            running.delete(f);
          }));
          continue;
        }
        await Promise.race(running.values());
      }
      await Promise.all(running.values());
    }
  } finally {
    try {
      for (const o of outcomes) lastTimes[`${o.name}.vm.ts`] = Math.round(o.ms / 1000);
      writeFileSync(timesFile, JSON.stringify(lastTimes, null, 1));
    } catch {
      /* the times only order the next run */
    }
    if (process.env.O2STACK_VM_KEEP === '1') out(`results kept in ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }

  out('\n=== VM suites ===');
  out(`setup ${secs(setupMs)}${parallel > 1 ? `; up to ${parallel} VMs at once` : ''}`);
  for (const o of [...outcomes].sort((a, b) => a.name.localeCompare(b.name))) {
    out(`${o.name.padEnd(24)} ${String(o.vms)} VM  ${secs(o.ms).padStart(8)}  ${o.passed} passed, ${o.failed} failed, ${o.skipped} skipped${o.note ? `  (${o.note})` : ''}`);
  }
  out(`total ${secs(Date.now() - t0)}`);
  const total = outcomes.reduce((a, o) => ({ passed: a.passed + o.passed, failed: a.failed + o.failed, skipped: a.skipped + o.skipped }),
    { passed: 0, failed: 0, skipped: 0 });
  out(`${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
  if (interrupted) {
    out('interrupted');
    return 130;
  }
  const died = outcomes.some((o) => o.exitCode === 125);
  return total.failed > 0 || died || outcomes.some((o) => o.exitCode !== 0) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    out(`run-suites: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(2);
  },
);
