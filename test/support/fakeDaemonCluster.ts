// Several o2stack daemons in one process, each on its own fake kernel tree (a directory), sharing a
// StaticCluster hub as their membership (process groups, messages and node deaths as CPG gives
// them), with lockspace uevents injected. The fence agent appends what it is given (and `by=` when
// fenceArgs set it) to fence.log. Used by the daemon tests in test/stack/.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NativeBackend } from '../../lib/kernel/backend.js';
import { DlmDaemon, type DaemonOptions } from '../../lib/stack/daemon/daemon.js';
import { InjectedUevents } from '../../lib/stack/daemon/injectedUevents.js';
import { StaticCluster } from '../../lib/stack/membership/static.js';

const CLUSTER = 'sys/kernel/config/dlm/cluster';

export class FakeDaemonCluster {
  readonly dir: string;
  readonly cluster: StaticCluster;
  readonly daemons = new Map<number, DlmDaemon>();
  readonly uevents = new Map<number, InjectedUevents>();

  constructor(
    prefix: string,
    readonly ids: number[] = [1, 2, 3],
    opts: { down?: number[] } = {},
  ) {
    this.dir = mkdtempSync(join(tmpdir(), prefix));
    writeFileSync(join(this.dir, 'fence.sh'), `#!/bin/sh\n{ cat; if [ -n "$by" ]; then echo "by=$by"; fi; } >> ${join(this.dir, 'fence.log')}\n`);
    chmodSync(join(this.dir, 'fence.sh'), 0o755);
    this.cluster = new StaticCluster({ nodes: ids.map((i) => ({ nodeid: i, name: `n${i}`, addr: `192.0.2.${i}` })), ...(opts.down ? { down: opts.down } : {}) });
  }

  root(id: number): string {
    return join(this.dir, `n${id}`);
  }

  socket(id: number): string {
    return join(this.dir, `n${id}.sock`);
  }

  /** A file of node id's fake kernel tree, or undefined. */
  read(id: number, p: string): string | undefined {
    try {
      return readFileSync(join(this.root(id), p), 'utf8');
    } catch {
      return undefined;
    }
  }

  /** The configfs members node id's daemon wrote for lockspace ls. */
  members(id: number, ls: string): number[] {
    const p = join(this.root(id), CLUSTER, 'spaces', ls, 'nodes');
    return existsSync(p) ? readdirSync(p).map(Number).sort((a, b) => a - b) : [];
  }

  fenceLog(): string {
    return existsSync(join(this.dir, 'fence.log')) ? readFileSync(join(this.dir, 'fence.log'), 'utf8') : '';
  }

  /** Starts node id's daemon (groups mode, the fence agent, a socket, join timeout 1.5 s) with these options on top. */
  async start(id: number, o: Partial<DaemonOptions> = {}): Promise<DlmDaemon> {
    mkdirSync(join(this.root(id), 'sys/kernel/config/dlm'), { recursive: true });
    const ue = new InjectedUevents();
    const d = new DlmDaemon({
      backend: new NativeBackend({ root: this.root(id), fakeTree: true }),
      clusterName: 'demo',
      nodes: this.ids.map((i) => ({ name: `n${i}`, nodeid: i, addresses: [`192.0.2.${i}`] })),
      membership: this.cluster.source(id),
      groups: true,
      monitorPath: null,
      uevents: ue,
      socketPath: this.socket(id),
      fenceAgent: join(this.dir, 'fence.sh'),
      fenceTimeoutMs: 5000,
      joinTimeoutMs: 1500,
      log: () => undefined,
      ...o,
    });
    await d.start();
    this.daemons.set(id, d);
    this.uevents.set(id, ue);
    return d;
  }

  /** The kernel of node id makes lockspace ls and sends `online`. */
  mount(id: number, ls: string): void {
    mkdirSync(join(this.root(id), 'sys/kernel/dlm', ls), { recursive: true });
    rmSync(join(this.root(id), 'sys/kernel/dlm', ls, 'event_done'), { force: true });
    this.uevents.get(id)!.lockspace('online', ls);
  }

  /** The kernel of node id releases lockspace ls: `offline`. */
  umount(id: number, ls: string): void {
    rmSync(join(this.root(id), 'sys/kernel/dlm', ls, 'event_done'), { force: true });
    this.uevents.get(id)!.lockspace('offline', ls);
  }

  async close(): Promise<void> {
    for (const d of this.daemons.values()) await d.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
