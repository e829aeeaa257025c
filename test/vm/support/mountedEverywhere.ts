// The first step of the multi-VM partition suites (merge-wait.two, partition.three): every VM of
// the run ends up with the pcmk volume mounted through `o2stack daemon` on corosync, the lockspace
// running with all of them, and a file of its own written; then each says so on the flag board and
// waits for the others.
import { strict as assert } from 'node:assert';
import type { ChildProcess } from 'node:child_process';
import type { NativeBackend } from '../../../lib/kernel/backend.js';
import { nativeSystem } from '../../../lib/kernel/system.js';
import { selectStack } from '../../../lib/stack/select.js';
import { type CorosyncOptions, FENCE_OK_AGENT, startCorosync } from './corosync.js';
import { awaitUserStackVolume, mkfsUserStack } from './dlm.js';
import type { FlagBoard } from './flags.js';
import { waitFor } from './kernel.js';
import { cli, figure, lockspaceRows, sh, spawnDaemonInBackground } from './run.js';

export interface MountedEverywhere {
  me: number;
  /** the VMs of the run, 1..nodes */
  nodes: number;
  k: NativeBackend;
  flags: FlagBoard;
  disk: string;
  mnt: string;
  sock: string;
  daemonLog: string;
  /** where FENCE_OK_AGENT logs its runs (O2STACK_FENCE_LOG) */
  fenceLog: string;
  corosync: CorosyncOptions;
  /** more `o2stack daemon` arguments (it always gets the fence agent, --no-startup-fencing and the socket) */
  daemonArgs?: string[];
  /** the daemon, as soon as it runs: the suite's teardown kills it by PID whatever happens next */
  onDaemon: (daemon: ChildProcess) => void;
}

/** Brings this VM up as described above; returns the volume's UUID. n1 makes the volume. */
export async function mountedEverywhere(o: MountedEverywhere): Promise<string> {
  let uuid: string;
  if (o.me === 1) uuid = mkfsUserStack(o.disk);
  else {
    uuid = (await awaitUserStackVolume(o.disk, 180_000)) ?? '';
    assert.ok(uuid, `no pcmk volume on ${o.disk} within 180 s`);
  }
  assert.ok(await selectStack(o.k, nativeSystem, 'pcmk'));
  const cs = await startCorosync(o.corosync);
  figure(`n${o.me} corosync: ${o.nodes} of ${o.nodes} members after ${cs.ms} ms`);
  o.onDaemon(await spawnDaemonInBackground(['--fence-agent', FENCE_OK_AGENT, '--no-startup-fencing', ...(o.daemonArgs ?? []), '--socket', o.sock], o.daemonLog, 180_000, { ...process.env, O2STACK_FENCE_LOG: o.fenceLog }));
  process.env.O2STACK_DAEMON_SOCKET = o.sock;
  const m = cli(['mount', '--json', o.disk, o.mnt], 240_000);
  assert.equal(m.code, 0, `o2stack mount failed: ${m.out}${m.err}`);
  const everyone = Array.from({ length: o.nodes }, (_, i) => i + 1);
  const all = await waitFor(async () => JSON.stringify(await lockspaceRows(o.sock)) === JSON.stringify([[uuid, 'running', everyone]]), 300_000, 500);
  assert.ok(all, `lockspaces: ${JSON.stringify(await lockspaceRows(o.sock))}`);
  const w = await sh(`echo before-${o.me} > ${o.mnt}/before-n${o.me} && sync`, 60_000);
  assert.ok(w.ok, w.out);
  o.flags.raise('mounted');
  for (const n of everyone) assert.ok(await o.flags.awaitFlag(n, 'mounted', 300_000), `n${n} never mounted`);
  return uuid;
}
