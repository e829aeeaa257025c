// What the two-VM user-stack suites share: the CLI run from the TypeScript sources, a shell
// command with a time limit, the o2stack daemon's JSON log, and the figure lines the runner shows.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

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
