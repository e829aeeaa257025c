// The end of a user-stack suite on one node, shared by the suites that run corosync and the
// o2stack daemon: a failed test is said at once (the other VMs may wait long for this one's
// flags), and the cleanup prints the logs when something failed, then unmounts, stops the daemon
// and stops corosync — each step bounded, none throwing.
import { existsSync, readFileSync } from 'node:fs';
import { nativeSystem } from '../../../lib/kernel/system.js';
import { clusterLogs, corosyncPid, stopCorosync } from './corosync.js';
import { mountLine, within } from './dlm.js';
import { waitFor } from './kernel.js';

/** Registers an afterEach that records a failed test (read `.failed` in after()) and says which. */
export function watchFailures(me: number): { readonly failed: boolean } {
  const state = { failed: false };
  afterEach(function () {
    if (this.currentTest?.state !== 'failed') return;
    state.failed = true;
    console.log(`n${me} FAILED: ${this.currentTest.title}: ${this.currentTest.err?.message ?? ''}`);
  });
  return state;
}

export interface UserStackTeardown {
  /** print corosync's and the daemon's logs (and `logs`) first */
  failed: boolean;
  /** files whose tails are printed when failed (the daemon's JSON log, a fence log) */
  logs?: string[];
  /** lines of each tail (default 120) */
  tail?: number;
  /** unmounted when mounted */
  umount?: string;
  umountTimeoutMs?: number;
  /** the daemon: SIGTERM, then up to 20 s for it to go */
  daemonPid?: number;
}

export async function tearDownUserStack(o: UserStackTeardown): Promise<void> {
  if (o.failed) {
    console.log(await clusterLogs());
    for (const f of o.logs ?? []) {
      if (existsSync(f)) console.log(`--- ${f} (last ${o.tail ?? 120} lines)\n${readFileSync(f, 'utf8').split('\n').slice(-(o.tail ?? 120)).join('\n')}`);
    }
  }
  if (o.umount !== undefined && mountLine(o.umount)) {
    await within(nativeSystem.umount(o.umount), o.umountTimeoutMs ?? 60_000, 'cleanup umount').catch((e: unknown) => console.log(String(e)));
  }
  const pid = o.daemonPid;
  if (pid !== undefined) {
    try {
      process.kill(pid, 'SIGTERM');
      await waitFor(() => !existsSync(`/proc/${pid}`), 20_000, 200);
    } catch {
      /* already gone */
    }
  }
  if (corosyncPid()) await stopCorosync().catch((e: unknown) => console.log(String(e)));
}
