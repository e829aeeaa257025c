// In two VMs (bench/vm-plock.sh runs it through vm/run-two.sh): POSIX lock+unlock pairs on a
// user-stack volume, served by dlm_controld and/or the o2stack daemon in the same boot, with the
// per-stage trace of ours (O2STACK_PLOCK_TRACE) and optional strace -c / --cpu-prof.
//   env: PLOCK_MODES=dlm,ours  PLOCK_SECONDS=5  PLOCK_WARMUP=0  PLOCK_STRACE=1  PLOCK_PROF=1  PLOCK_PERF=1  PLOCK_OUT=dir
//        PLOCK_TRACE=0 (ours without the per-stage trace, as 'base' runs)
//   ours may carry suffixes, combined, then a digit: -b (from the bundle, dist/o2stack.cjs, as
//   installed; needs npm run build), and diagnostics: -st (V8 --single-threaded), -jl (--jitless),
//   -nt (--no-turbofan), -mr (--no-memory-reducer), -ss (fixed 4 MB semi-spaces), -m (glibc malloc
//   keeps freed memory): ours-b1,dlm1,ours-b-nt1,ours1,...
//   Printed per phase: pairs, CPU per request (daemon, corosync; the daemon's user/sys and minor faults)
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { selectStack } from '../lib/stack/select.js';
import { nativeSystem } from '../lib/kernel/system.js';
import { request } from '../lib/stack/daemon/controlSocket.js';
import { awaitUserStackVolume, mkfsUserStack, within } from '../test/vm/support/dlm.js';
import { clusterLogs, corosyncPid, dlmControldPid, startCorosync, startDlmControld, stopDlmControld, stopCorosync } from '../test/vm/support/corosync.js';
import { realBackend, requireTestVm, vmNode, waitFor } from '../test/vm/support/kernel.js';
import { FlagBoard } from '../test/vm/support/flags.js';
import { CLI, root } from '../test/vm/support/run.js';
import { benchArgs } from './args.js';

benchArgs(import.meta.url, {}); // no options (the env above): --help prints the header
requireTestVm();
const me = vmNode(2);
const peer = 3 - me;
const DISK = '/dev/vda';
const MNT = '/mnt/shared';
const SOCK = '/run/o2stack-bench.sock';
const modes = (process.env.PLOCK_MODES ?? 'dlm,ours').split(',');
const secs = Number(process.env.PLOCK_SECONDS ?? 5);
const out = process.env.PLOCK_OUT ?? join(root, 'build', 'vm-plock');
mkdirSync(out, { recursive: true });
const say = (s: string) => {
  console.log(`vm-plock n${me}: ${s}`);
  appendFileSync(join(out, `n${me}.txt`), `${s}\n`);
};
const BIN = '/tmp/plock-pairs';
execFileSync('gcc', ['-O2', '-o', BIN, join(root, 'bench/plock-pairs.c')]);
const flags = new FlagBoard(me);
await flags.serve();
const barrier = async (name: string) => {
  flags.raise(name);
  if (!(await flags.awaitFlag(peer, name, 300_000))) throw new Error(`n${peer} never reached ${name}`);
};

function pairs(file: string, seconds = secs): string {
  return execFileSync(BIN, [file, '0', String(seconds)], { encoding: 'utf8', timeout: (seconds + 120) * 1000 }).trim();
}
// PLOCK_WARMUP=S: n1 runs S seconds of uncontended pairs before each daemon's measured phases and
// prints them as that daemon's cold figure (a daemon that has served for a while has its request
// path compiled by V8's optimising tiers; a 5-second phase of a new daemon measures cold code)
const warmup = Number(process.env.PLOCK_WARMUP ?? 0);

/**
 * The diagnostic suffixes that give the daemon's node V8 flags (suffixes combine: ours-b-nt1):
 * -st single-threaded (no background compiler or GC threads); -jl jitless (bytecode interpreter
 * only: no machine code written, which TCG must retranslate); -nt no TurboFan (bytecode and
 * Sparkplug only); -mr no memory reducer; -ss new space fixed at 4 MB semi-spaces (neither shrinks
 * nor grows). Besides them: -b (the bundle) and -m (MALLOC_KEEP).
 */
const V8_FLAVOURS: Record<string, string[]> = {
  st: ['--single-threaded'],
  jl: ['--jitless'],
  nt: ['--no-turbofan'],
  mr: ['--no-memory-reducer'],
  ss: ['--min-semi-space-size=4', '--max-semi-space-size=4'],
};
/** A phase's flavour suffixes at its end: the V8 ones, -b and -m. */
const FLAVOUR_SUFFIXES = new RegExp(`(-(${[...Object.keys(V8_FLAVOURS), 'm', 'b'].join('|')}))+$`);

/** '-m': malloc's thresholds raised, so freed memory (V8's compiler zones, buffers) is reused, not returned and faulted in again. */
const MALLOC_KEEP = { MALLOC_MMAP_THRESHOLD_: String(64 << 20), MALLOC_TRIM_THRESHOLD_: String(128 << 20), MALLOC_TOP_PAD_: String(16 << 20) };

/** utime and stime (ms) and minor faults of a process, all threads: where a request's CPU goes (JS, or the kernel: syscalls, page faults). */
function cpuSplit(pid: number): [number, number, number] {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const x = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return [(Number(x[11]) * 1000) / 100, (Number(x[12]) * 1000) / 100, Number(x[7])];
}

/** CPU ms (utime+stime) of a process, all threads. */
function cpuMs(pid: number): number {
  const [user, sys] = cpuSplit(pid);
  return user + sys;
}

/** Per thread: name and CPU ms (utime+stime) since it started. */
function threads(pid: number): string {
  const hz = 100;
  const out: string[] = [];
  for (const t of execFileSync('ls', [`/proc/${pid}/task`], { encoding: 'utf8' }).trim().split('\n')) {
    try {
      const st = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
      const name = st.slice(st.indexOf('(') + 1, st.lastIndexOf(')'));
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      const ms = ((Number(f[11]) + Number(f[12])) * 1000) / hz;
      if (ms > 0) out.push(`${name}=${ms}`);
    } catch {
      /* gone */
    }
  }
  return out.join(',');
}

function strace(pid: number, label: string): ChildProcess | undefined {
  if (process.env.PLOCK_STRACE !== '1') return undefined;
  return spawn('strace', ['-c', '-f', '-p', String(pid), '-o', join(out, `n${me}-${label}-strace-${pid}.txt`)], { stdio: 'ignore' });
}
/** PLOCK_PERF=1: the daemon's page faults with their call chains (perf record -e page-faults), reported to a text file at stop. */
function perfFaults(pid: number, label: string): ChildProcess | undefined {
  if (process.env.PLOCK_PERF !== '1') return undefined;
  try {
    execFileSync('perf', ['--version'], { stdio: 'ignore' });
  } catch (e) {
    // a missing perf would end the bench with an unhandled spawn error
    say(`PLOCK_PERF=1 ignored: perf does not run here (${(e as Error).message}); install linux-perf on the host (the guests use its binaries)`);
    return undefined;
  }
  return spawn('perf', ['record', '-q', '-e', 'page-faults', '-c', '1', '-g', '-p', String(pid), '-o', `/tmp/perf-${label}.data`], { stdio: 'ignore' });
}
async function stopPerfFaults(c: ChildProcess | undefined, label: string): Promise<void> {
  if (!c) return;
  await stopStrace(c);
  const txt = join(out, `n${me}-${label}-faults.txt`);
  try {
    writeFileSync(txt, execFileSync('perf', ['report', '-i', `/tmp/perf-${label}.data`, '--stdio', '--no-children', '--sort', 'dso,sym', '-g', 'caller,0.5,callee', '--percent-limit', '2'], { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 600_000 }));
  } catch (e) {
    writeFileSync(txt, `perf report failed: ${(e as Error).message}\n`);
  }
}
const stopStrace = async (c: ChildProcess | undefined) => {
  if (!c) return;
  c.kill('SIGINT');
  await new Promise((r) => c.once('exit', r));
};

const k = realBackend();
writeFileSync('/proc/sys/fs/ocfs2/nm/hb_ctl_path', '/bin/true');
if (me === 1) mkfsUserStack(DISK);
else if (!(await awaitUserStackVolume(DISK, 240_000))) throw new Error('no volume');
if (!(await selectStack(k, nativeSystem, 'pcmk'))) throw new Error('selectStack');
await startCorosync({ clusterName: 'demo' });
mkdirSync(MNT, { recursive: true });

for (const phase of modes) {
  // dlm | ours | base (the daemon of PLOCK_BASE, another checkout, without the trace); a digit may follow (dlm,ours1,base1,ours2)
  const flavour = phase.replace(/\d+$/, '');
  const mode = flavour.replace(FLAVOUR_SUFFIXES, '');
  const suffixes = flavour.slice(mode.length).split('-').filter(Boolean);
  // -b: the bin users run (dist/o2stack.cjs: the esbuild bundle and its V8 code cache), not the
  // sources through tsx (whose transform keeps function names with a helper call per definition)
  const bundled = suffixes.includes('b');
  const v8flags = suffixes.flatMap((x) => V8_FLAVOURS[x] ?? []);
  // SIGUSR2 dumps the trace; without it (base, PLOCK_TRACE=0) the signal's default would end the daemon
  const traced = mode !== 'base' && (process.env.PLOCK_TRACE ?? '1') === '1';
  const cli = mode === 'base' ? join(process.env.PLOCK_BASE ?? '/work/wt-plock-base', 'lib/cli/main.ts') : CLI;
  await barrier(`start-${phase}`);
  let daemon: ChildProcess | undefined;
  let dpid: number;
  const dlog = `/tmp/o2stack-bench-${phase}.log`;
  if (mode === 'dlm') {
    await startDlmControld('none');
    dpid = dlmControldPid()!;
    // dlm_tool status answers before dlm_controld has written this node's comm: a mount in that
    // window fails with ENOTCONN ("no local IP address has been set"), seen when it follows our
    // daemon, whose stop removed the comms
    const localComm = `/sys/kernel/config/dlm/cluster/comms/${me}/local`;
    if (!(await waitFor(() => existsSync(localComm) && readFileSync(localComm, 'utf8').trim() === '1', 120_000))) throw new Error(`dlm_controld did not configure ${localComm} in 120 s`);
  } else {
    const fd = openSync(dlog, 'w');
    const args = bundled ? [...v8flags] : [...v8flags, '--import', 'tsx'];
    if (process.env.PLOCK_PROF === '1') args.push('--cpu-prof', '--cpu-prof-interval=4000', `--cpu-prof-dir=${join(out, `prof-n${me}`)}`);
    daemon = spawn(process.execPath, [...args, bundled ? join(root, 'dist', 'o2stack.cjs') : cli, 'daemon', '--unsafe-skip-fencing', '--socket', SOCK], { cwd: mode === 'base' ? join(cli, '../../..') : root, stdio: ['ignore', fd, fd], env: { ...process.env, O2STACK_PLOCK_TRACE: process.env.PLOCK_TRACE ?? '1', ...(suffixes.includes('m') ? MALLOC_KEEP : {}) } });
    closeSync(fd);
    dpid = daemon.pid!;
    if (!(await waitFor(() => readFileSync(dlog, 'utf8').includes('"ready"'), 180_000))) throw new Error(`daemon not ready: ${readFileSync(dlog, 'utf8')}`);
  }
  await within(nativeSystem.mount(DISK, MNT, 'ocfs2', 'cluster_stack=pcmk'), 180_000, 'mount').catch(async (e: Error) => {
    // what fs/dlm was given and what the kernel and the daemons said (a dlm_controld after ours got ENOTCONN once)
    const state = execFileSync('sh', ['-c', 'for f in $(find /sys/kernel/config/dlm -type f 2>/dev/null); do echo "$f: $(head -c 200 "$f" 2>&1 | tr "\\n" " ")"; done; dmesg | tail -n 40'], { encoding: 'utf8' });
    say(`${phase} mount failed: ${e.message}\n${state}\n${mode === 'dlm' ? (await clusterLogs()).slice(-4000) : readFileSync(dlog, 'utf8').slice(-4000)}`);
    throw e;
  });
  const dir = `${MNT}/${phase}`;
  if (me === 1) mkdirSync(dir, { recursive: true });
  await barrier(`mounted-${phase}`);
  const file = `${dir}/bench.dat`;
  if (me === 1) {
    writeFileSync(file, 'x');
    if (warmup > 0) {
      const c0 = cpuMs(dpid);
      const r = pairs(file, warmup);
      const n = Number(/^pairs (\d+)/.exec(r)?.[1] ?? 0);
      say(`${phase} warm-up (cold, first ${warmup} s): ${r}; CPU per request (ms): daemon ${((cpuMs(dpid) - c0) / (2 * n)).toFixed(2)}`);
    }
    const st = [strace(dpid, `${phase}-solo`), strace(corosyncPid()!, `${phase}-solo-corosync`)];
    const pf = perfFaults(dpid, `${phase}-solo`);
    const c0 = [cpuMs(dpid), cpuMs(corosyncPid()!)];
    const s0 = cpuSplit(dpid);
    const r = pairs(file);
    const c1 = [cpuMs(dpid), cpuMs(corosyncPid()!)];
    const s1 = cpuSplit(dpid);
    for (const s of st) await stopStrace(s);
    await stopPerfFaults(pf, `${phase}-solo`);
    const n = Number(/^pairs (\d+)/.exec(r)?.[1] ?? 0);
    say(`${phase} uncontended: ${r}; CPU per request (ms, 2 requests a pair): daemon ${((c1[0]! - c0[0]!) / (2 * n)).toFixed(2)}, corosync ${((c1[1]! - c0[1]!) / (2 * n)).toFixed(2)}; daemon user ${((s1[0] - s0[0]) / (2 * n)).toFixed(2)} sys ${((s1[1] - s0[1]) / (2 * n)).toFixed(2)} ms, minor faults ${((s1[2] - s0[2]) / (2 * n)).toFixed(1)} per request; clocksource ${readFileSync('/sys/devices/system/clocksource/clocksource0/current_clocksource', 'utf8').trim()}`);
  }
  if (daemon && traced) {
    process.kill(dpid, 'SIGUSR2');
    await new Promise((r) => setTimeout(r, 2000));
  }
  await barrier(`solo-done-${phase}`);
  const r2 = pairs(file);
  say(`${phase} contended n${me}: ${r2}`);
  if (daemon && traced) {
    process.kill(dpid, 'SIGUSR2');
    await new Promise((r) => setTimeout(r, 2000));
  }
  if (daemon && mode !== 'base') {
    const pl = ((await request(SOCK, 'status')) as { plocks: { device: unknown; counters: unknown } }).plocks;
    say(`${phase} device stats: ${JSON.stringify(pl.device)}; plock counters: ${JSON.stringify(pl.counters)}`);
  }
  say(`${phase} threads: ${threads(dpid)}; corosync: ${threads(corosyncPid()!)} ${execFileSync('chrt', ['-p', String(corosyncPid())], { encoding: 'utf8' }).trim()}`);
  await barrier(`contended-done-${phase}`);
  await within(nativeSystem.umount(MNT), 60_000, 'umount');
  await barrier(`unmounted-${phase}`);
  if (daemon) {
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon!.once('exit', r));
    if (existsSync('/tmp/plock-trace.json')) execFileSync('mv', ['/tmp/plock-trace.json', `/tmp/plock-trace-${phase}.json`]);
    if (existsSync(`/tmp/plock-trace-${phase}.json`)) say(`${phase} trace:\n${readFileSync(`/tmp/plock-trace-${phase}.json`, 'utf8')}`);
  } else await stopDlmControld();
  await barrier(`stopped-${phase}`);
}
await barrier('end');
await stopCorosync();
if (me === 1 && process.env.PLOCK_HOSTBENCH !== '0') {
  // the daemon's whole path without corosync (a one-node static cluster, a socketpair for the device), under TCG
  // with PLOCK_BASE, that checkout's daemon too (its bench/plock-daemon.ts, against its lib), each run a new process (cold)
  const base = process.env.PLOCK_BASE;
  for (const n of ['300', '3000']) {
    if (base && existsSync(join(base, 'bench/plock-daemon.ts'))) say(`plock-daemon.ts base ${n}: ${execFileSync(process.execPath, ['--import', 'tsx', join(base, 'bench/plock-daemon.ts'), '--pairs', n], { cwd: base, encoding: 'utf8', timeout: 600_000 }).trim()}`);
    say(`plock-daemon.ts ${n}: ${execFileSync(process.execPath, ['--import', 'tsx', join(root, 'bench/plock-daemon.ts'), '--pairs', n], { cwd: root, encoding: 'utf8', timeout: 600_000 }).trim()}`);
  }
}
flags.close();
say('done');
process.exit(0);
