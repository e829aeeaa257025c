// fs/dlm by hand for one-node user-stack suites inside a test VM: the configuration a control
// daemon writes at start, and the answers to the lockspace `online`/`offline` uevents
// (docs/kernel-interfaces.md#fs-dlm-configfs, docs/user-stack-daemon.md#lockspace-sequence), all
// through NativeBackend; plus a log of the dlm uevents
// UeventListener delivers, which can answer them from the event handler.
import { execFileSync } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import type { AttrOp, NativeBackend } from '../../../lib/kernel/backend.js';
import { inspectVolume } from '../../../lib/kernel/blockdev.js';
import type { ReceivedUevent, UeventListener } from '../../../lib/kernel/uevent.js';
import { dlmLockspaceEvent, type DlmLockspaceEvent } from '../../../lib/model/uevent.js';
import { DLM_CLUSTER, dlmStartOps, joinOps as dlmJoinOps, leaveOps as dlmLeaveOps, lockspaceId } from '../../../lib/model/dlm.js';

export const DLMC = DLM_CLUSTER;
/** The local dlm nodeid (and SETN number) the suites use. */
export const NODE = 1;

export { lockspaceId };

/** The join answer for a one-member lockspace (lib/model/dlm.ts): members, id, start, event_done 0. */
export const joinOps = (ls: string): AttrOp[] => dlmJoinOps(ls, [NODE]);

/** The leave answer: remove the member and the space, event_done 0. */
export const leaveOps = (ls: string): AttrOp[] => dlmLeaveOps(ls, [NODE]);

/**
 * mkfs.ocfs2 a user-stack (pcmk, cluster "demo") volume; returns its UUID (32 uppercase hex).
 * Run it while no user stack is configured: mkfs then cannot reach a cluster, asks, and gets 'y'.
 */
export function mkfsUserStack(disk: string): string {
  execFileSync('mkfs.ocfs2', ['-q', '-F', '-b', '4K', '-C', '4K', '-N', '4', '--cluster-stack=pcmk', '--cluster-name=demo', disk], { input: 'y\n', stdio: 'pipe' });
  const v = inspectVolume(disk);
  if (v.superblock.stack?.name !== 'pcmk' || v.superblock.stack.clusterName !== 'demo') throw new Error(`mkfs.ocfs2 made ${JSON.stringify(v.superblock.stack)}`);
  return v.superblock.uuid;
}

/**
 * Another VM made the pcmk volume on the shared disk: waits (bounded) until this VM sees it
 * (flushing its buffer cache each time) and returns its UUID, or undefined.
 */
export async function awaitUserStackVolume(disk: string, timeoutMs: number): Promise<string | undefined> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    execFileSync('blockdev', ['--flushbufs', disk]);
    try {
      const v = inspectVolume(disk);
      if (v.superblock.stack?.name === 'pcmk') return v.superblock.uuid;
    } catch {
      /* not made yet */
    }
    if (Date.now() > end) return undefined;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/**
 * Selects the user stack and writes the one-node dlm configuration (what a control daemon writes
 * at start), /dev/dlm-monitor opened first and kept open for the life of the process (closing it
 * stops every lockspace). cluster_name is written without a newline (stored verbatim).
 */
export function configureDlm(k: NativeBackend, recoverCallbacks: 0 | 1): number {
  k.write('/sys/fs/ocfs2/cluster_stack', 'pcmk');
  const monitor = openSync('/dev/dlm-monitor', 'r');
  k.batch(dlmStartOps({ clusterName: 'demo', recoverCallbacks: recoverCallbacks === 1, localNodeId: NODE, members: [{ nodeid: NODE, addresses: ['127.0.0.1'] }] }));
  return monitor;
}

export interface LoggedDlmEvent {
  raw: ReceivedUevent;
  dlm: DlmLockspaceEvent;
  /** process.hrtime.bigint() when the listener delivered it */
  at: bigint;
  /** auto-answered: when the answer's last write (event_done) returned */
  answeredAt?: bigint;
  answerError?: unknown;
}

/**
 * Every dlm lockspace uevent the listener delivers, timestamped. With `auto` set, `online` and
 * `offline` are answered right in the event handler (a one-node control daemon).
 */
export class DlmEventLog {
  readonly entries: LoggedDlmEvent[] = [];
  auto = false;
  private waiters: (() => void)[] = [];
  constructor(
    readonly listener: UeventListener,
    private readonly k: NativeBackend,
  ) {
    listener.on('event', (ev: ReceivedUevent) => {
      const at = process.hrtime.bigint();
      const dlm = dlmLockspaceEvent(ev);
      if (!dlm) return;
      const e: LoggedDlmEvent = { raw: ev, dlm, at };
      if (this.auto && (dlm.action === 'online' || dlm.action === 'offline')) {
        try {
          this.k.batch(dlm.action === 'online' ? joinOps(dlm.lockspace) : leaveOps(dlm.lockspace));
          e.answeredAt = process.hrtime.bigint();
        } catch (err) {
          e.answerError = err;
        }
      }
      this.entries.push(e);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** The first entry from index `from` on with this action and lockspace, waiting up to timeoutMs. */
  async wait(action: DlmLockspaceEvent['action'], ls: string, from: number, timeoutMs: number): Promise<LoggedDlmEvent> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.entries.slice(from).find((e) => e.dlm.action === action && e.dlm.lockspace === ls);
      if (hit) return hit;
      const left = end - Date.now();
      if (left <= 0) {
        const seen = this.entries.map((e) => `${e.dlm.action}@${e.dlm.lockspace}`).join(', ') || 'none';
        throw new Error(`no dlm '${action}' uevent for ${ls} within ${timeoutMs} ms (dlm events seen: ${seen}; listener stats ${JSON.stringify(this.listener.stats())})`);
      }
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 1000));
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }
}

/** Rejects if p has not settled within ms (the kernel call itself cannot be interrupted). */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, rej) => {
      t = setTimeout(() => rej(new Error(`${what} did not finish within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

/** The /proc/mounts line whose mount point is dir, if any. */
export const mountLine = (dir: string) =>
  readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .find((l) => l.split(' ')[1] === dir);
