// What bench/plock-daemon.ts and bench/daemon-cycles.ts run against: one o2stack daemon on a fake
// kernel tree (tmpfs or /tmp) with a one-node static group, its plock device one end of a
// SOCK_SEQPACKET socketpair whose other end plays the kernel. Not a bench itself (no header usage).
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NativeBackend } from '../lib/kernel/backend.js';
import { encodePlockInfo, PlockDevice, plockSocketpairForTest } from '../lib/kernel/plock.js';
import { loadNative, type NativePlockHandle } from '../lib/kernel/native.js';
import { lockspaceId } from '../lib/model/dlm.js';
import { DlmDaemon } from '../lib/stack/daemon/daemon.js';
import { InjectedUevents } from '../lib/stack/daemon/injectedUevents.js';
import { StaticCluster } from '../lib/stack/membership/static.js';
import { until } from '../test/support/until.js';

export interface PlockDaemonRig {
  dir: string;
  daemon: DlmDaemon;
  uevents: InjectedUevents;
  /** The fake kernel mounts: ls appears in sysfs, `online`; resolves once the daemon's plock table for it is synced. */
  join(): Promise<void>;
  /** The fake kernel unmounts: `offline`; resolves once the daemon has removed ls's configfs space. */
  leave(): Promise<void>;
  /** The fake kernel sends a lock (1) or unlock (2) of byte 0 of inode 7 on ls and waits for the answer. */
  ask(optype: 1 | 2): Promise<void>;
  close(): Promise<void>;
}

export async function startPlockDaemonRig(prefix: string, ls: string): Promise<PlockDaemonRig> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  mkdirSync(join(dir, 'sys/kernel/config/dlm'), { recursive: true });
  const cluster = new StaticCluster({ nodes: [{ nodeid: 1, name: 'n1', addr: '192.0.2.1' }] });
  const [a, b] = plockSocketpairForTest();
  const uevents = new InjectedUevents();
  const daemon = new DlmDaemon({ backend: new NativeBackend({ root: dir, fakeTree: true }), clusterName: 'demo', nodes: [{ nodeid: 1, addresses: ['192.0.2.1'] }], membership: cluster.source(1), groups: true, monitorPath: null, plockDevice: { fd: a }, uevents, socketPath: null, log: () => undefined, fencing: 'manual' });
  await daemon.start();
  const k = new PlockDevice({ fd: b });
  const h = (k as unknown as { handle: NativePlockHandle }).handle;
  const n = loadNative().plock!;
  let answered: (() => void) | undefined;
  k.on('requests', () => answered?.());
  // the two records made once: the fake kernel's own cost stays out of the daemon's figure
  const rec = [1, 2].map((optype) => encodePlockInfo({ version: [1, 2, 0], optype, ex: true, wait: true, flags: 0, pid: 5, nodeid: 0, rv: 0, fsid: lockspaceId(ls), number: 7n, start: 0n, end: 0n, owner: 9n }));
  const sysfs = join(dir, 'sys/kernel/dlm', ls);
  const space = join(dir, 'sys/kernel/config/dlm/cluster/spaces', ls);
  return {
    dir,
    daemon,
    uevents,
    join: async () => {
      mkdirSync(sysfs, { recursive: true });
      rmSync(join(sysfs, 'event_done'), { force: true });
      uevents.lockspace('online', ls);
      await until(() => daemon.plocks.model.view(ls)[0]?.synced === true, `the join of ${ls}`);
    },
    leave: async () => {
      rmSync(join(sysfs, 'event_done'), { force: true });
      uevents.lockspace('offline', ls);
      await until(() => !existsSync(space), `the leave of ${ls}`);
    },
    ask: (optype) =>
      new Promise<void>((r) => {
        answered = r;
        n.write(h, rec[optype - 1]!);
      }),
    close: async () => {
      await daemon.stop();
      k.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
