// What the two-VM user-stack suites share: the CLI run from the TypeScript sources, a shell
// command with a time limit, the o2stack daemon's JSON log, the figure lines the runner shows, and
// the handshake before n2 dies.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { request } from '../../../lib/stack/daemon/controlSocket.js';
import { waitFor } from './kernel.js';

export const root = resolve(new URL('../../..', import.meta.url).pathname);
/** The CLI's entry in the sources (run with `node --import tsx`). */
export const CLI = join(root, 'lib/cli/main.ts');

/** A line the runner prints among the suite's figures. */
export const figure = (s: string) => console.log(`o2stack-figure: ${s}`);

/** The CLI from the source (`node --import tsx lib/cli/main.ts`), bounded; never throws. */
export function cli(args: string[], timeoutMs = 120_000): { code: number | null; out: string; err: string; ms: number } {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: root, encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status, out: r.stdout, err: r.stderr + (r.error ? String(r.error) : ''), ms: Date.now() - t0 };
}

/**
 * A shell command in a child with a time limit (a write that blocks on the dlm blocks only the
 * child). At the limit the child's process group is killed (a task blocked in the kernel dies
 * when it wakes) and the result says it was still running.
 */
export function sh(cmd: string, timeoutMs: number): Promise<{ ok: boolean; ms: number; out: string }> {
  const t0 = Date.now();
  return new Promise((res) => {
    const c = spawn('sh', ['-c', cmd], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const t = setTimeout(() => {
      try {
        if (c.pid !== undefined) process.kill(-c.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
      res({ ok: false, ms: Date.now() - t0, out: `${out}(still running after ${timeoutMs} ms; killed)` });
    }, timeoutMs);
    c.on('close', (code) => {
      clearTimeout(t);
      res({ ok: code === 0, ms: Date.now() - t0, out });
    });
  });
}

export interface DaemonLogLine {
  t: string;
  level: string;
  event: string;
  msg: string;
  [k: string]: unknown;
}

/** The o2stack daemon's JSON log lines in `path` (none while it does not exist). */
export function readDaemonLog(path: string): DaemonLogLine[] {
  return existsSync(path)
    ? readFileSync(path, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as DaemonLogLine)
    : [];
}

/** The first model, stateful-merge or quorum line of the daemon's log matching `re`. */
export const daemonSaid = (log: string, re: RegExp) => readDaemonLog(log).find((l) => (l.event === 'model' || l.event === 'stateful-merge' || l.event === 'quorum') && re.test(l.msg));

/** Runs of test/vm/support/fence-ok.sh recorded in its log: for `node`, or all of them. */
export function fenceRunsIn(log: string, node?: number): number {
  if (!existsSync(log)) return 0;
  return (readFileSync(log, 'utf8').match(node === undefined ? /^node=\d+$/gm : new RegExp(`^node=${node}$`, 'gm')) ?? []).length;
}

/** `o2stack lockspaces` through the daemon's socket, as [name, state, members] rows. */
export async function lockspaceRows(sock: string): Promise<[string, string, number[]][]> {
  return ((await request(sock, 'lockspaces')) as { name: string; state: string; members: number[] }[]).map((l) => [l.name, l.state, l.members]);
}

/*
 * The death handshake. n2 dies holding a cluster flock on MNT/lockfile (an ocfs2 flock(2) is a dlm
 * lock: n1 can take it only after n2's recovery). From the moment n2 may die, n1 must stay off the
 * shared volume: a lookup there can wait for a lock n2 holds and sleep through the whole death, and
 * every figure after it is then wrong (the demo measured that way once in CI). n2 leaves dying-n2
 * and waits for n1's watching-n1 before its suite ends (and its VM powers off); n1 sees dying-n2
 * while n2 is alive and answering lock requests, checks that the flock is busy, leaves watching-n1,
 * and touches the volume again only to write after the death.
 */

/**
 * n2: take the flock (in a detached child that outlives nothing: the VM powers off), announce the
 * death, then wait (bounded) until n1 watches. False when n1 never did.
 */
export async function announceDeathHoldingFlock(mnt: string, timeoutMs: number): Promise<boolean> {
  const holder = spawn('flock', ['-x', `${mnt}/lockfile`, '-c', 'echo held; exec sleep 600'], { stdio: ['ignore', 'pipe', 'ignore'], detached: true });
  await new Promise<void>((r) => holder.stdout.once('data', () => r()));
  holder.stdout.destroy(); // nothing may keep this process (and the VM) alive
  holder.unref();
  writeFileSync(`${mnt}/dying-n2`, String(Date.now()));
  execFileSync('sync');
  return waitFor(() => existsSync(`${mnt}/watching-n1`), timeoutMs, 200);
}

/**
 * n1: wait (bounded) for n2's announcement; while n2 is alive, try its flock without blocking
 * (`flockBusy`: it must be); then say it is watching.
 */
export async function awaitDeathAnnounced(mnt: string, timeoutMs: number): Promise<{ announced: boolean; flockBusy: boolean }> {
  if (!(await waitFor(() => existsSync(`${mnt}/dying-n2`), timeoutMs, 200))) return { announced: false, flockBusy: false };
  const flockBusy = spawnSync('flock', ['-n', '-x', `${mnt}/lockfile`, 'true']).status !== 0;
  writeFileSync(`${mnt}/watching-n1`, '');
  return { announced: true, flockBusy };
}

/**
 * `o2stack daemon ARGS` from the sources in the background (its own process group, output to
 * `log`, truncated first), until its log says ready (bounded by timeoutMs). Returns its pid;
 * throws with the log when it exits or does not get ready.
 */
export async function startDaemonInBackground(args: string[], log: string, timeoutMs: number, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return (await spawnDaemonInBackground(args, log, timeoutMs, env)).pid!;
}

/**
 * startDaemonInBackground, with the child (its exitCode tells how the daemon ended). `append`: the
 * log is kept (a restart), and readiness is a new ready line.
 */
export async function spawnDaemonInBackground(args: string[], log: string, timeoutMs: number, env: NodeJS.ProcessEnv = process.env, o: { append?: boolean } = {}): Promise<ChildProcess> {
  const readies = () => (existsSync(log) ? readDaemonLog(log).filter((l) => l.event === 'ready').length : 0);
  const before = o.append ? readies() : 0;
  const fd = openSync(log, o.append ? 'a' : 'w');
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'daemon', ...args], { cwd: root, stdio: ['ignore', fd, fd], detached: true, env });
  closeSync(fd);
  child.unref();
  const ready = await waitFor(() => readies() > before || child.exitCode !== null, timeoutMs);
  if (!ready || child.exitCode !== null) throw new Error(`daemon not ready (exit ${child.exitCode}): ${readFileSync(log, 'utf8').split('\n').slice(-40).join('\n')}`);
  return child;
}
