// Helpers for tests that need real kernel uevents: writing "change <uuid> KEY=VALUE" to a
// device's sysfs `uevent` file makes the kernel broadcast a synthetic uevent carrying
// SYNTH_UUID=<uuid> and SYNTH_ARG_KEY=VALUE (lib/kobject_uevent.c, kobject_synth_uevent).
import { randomUUID } from 'node:crypto';
import { accessSync, constants, writeFileSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';

export const SYNTH_DEVICE = '/sys/devices/virtual/mem/null';
export const SYNTH_FILE = `${SYNTH_DEVICE}/uevent`;

/** Why real-kernel uevent tests cannot run here, or undefined when they can. */
export function synthUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root: writing sysfs uevent files and sending to uevent groups needs root';
  try {
    accessSync(SYNTH_FILE, constants.W_OK);
  } catch (e) {
    return `${SYNTH_FILE} not writable (${(e as Error).message})`;
  }
  return undefined;
}

/** Emits one synthetic "change" uevent on /dev/null's device; returns its SYNTH_UUID. */
export function synthUevent(args: Record<string, string> = {}, action: 'change' | 'add' = 'change', uuid = randomUUID()): string {
  const kv = Object.entries(args).map(([k, v]) => `${k}=${v}`);
  writeFileSync(SYNTH_FILE, [action, uuid, ...kv].join(' '));
  return uuid;
}

/** Polls `cond` every few ms until true or `timeoutMs` passes (bounded). */
export async function waitFor(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Resolves with the exit code (or signal) of a child, killing it by PID after timeoutMs. */
export function exitOf(child: ChildProcess, timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; timedOut: boolean }> {
  return new Promise((resolve) => {
    let timedOut = false;
    const t = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    }, timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal, timedOut });
    });
  });
}

/** Runs `node --import tsx -e <code>` (ESM) from the repository root; the caller waits with exitOf. */
export function spawnTsx(code: string, extraNodeArgs: string[] = []): ChildProcess {
  return spawn(process.execPath, [...extraNodeArgs, '--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: new URL('../..', import.meta.url).pathname,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Collects a child's stdout and stderr as text. */
export function collect(child: ChildProcess): { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  return { out: () => out, err: () => err };
}
