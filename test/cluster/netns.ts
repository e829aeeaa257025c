// A corosync cluster in network namespaces on this host (docs/user-stack-daemon.md#netns-test-cluster):
//   <p>-sw          a namespace holding the bridge br0
//   <p>-n1..n3      one namespace per node, eth0 = 192.0.2.<i>/24 (TEST-NET-1, never routed),
//                   its veth peer on the bridge
// Each node runs `corosync -f` in its namespace with a private tmpfs /run and /var/lib/corosync
// (corosync 3.1 has no pid-file option and would fight over /run/corosync.pid), knet transport,
// aes256/sha256 with one shared authkey from corosync-keygen. Processes are tracked by PID
// (`ip netns exec` and `sh -c 'exec …'` exec in place, so the spawned PID is corosync's or
// node's own) and killed by PID; the namespaces are deleted at the end, also on failure, and
// from process 'exit' and SIGINT/SIGTERM/SIGHUP hooks if the run is interrupted; a later run
// also removes namespaces of ours left by a run that was SIGKILLed.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

export const now = (): number => performance.timeOrigin + performance.now();
const repoRoot = resolve(import.meta.dirname, '..', '..');

export interface AgentEvent {
  event: string;
  t: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed JSON, narrowed by the tests
  data: any;
}

function run(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 15000 });
}

function tryRun(cmd: string, args: string[]): { ok: boolean; err: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 15000 });
  return { ok: r.status === 0, err: `${r.stderr ?? ''}${r.error ? String(r.error) : ''}`.trim() };
}

/** Waits for a child to exit, bounded; true if it did. */
function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((res) => {
    const t = setTimeout(() => res(false), ms);
    child.once('exit', () => {
      clearTimeout(t);
      res(true);
    });
  });
}

/** One agent process (test/cluster/agent.ts, or another script speaking its protocol) inside a node's namespace. */
export class Agent {
  readonly node: number;
  readonly child: ChildProcess;
  readonly events: AgentEvent[] = [];
  readonly stderrFile: string;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private waiters: (() => void)[] = [];
  exited = false;

  constructor(node: number, ns: string, logDir: string, script = 'test/cluster/agent.ts') {
    this.node = node;
    this.stderrFile = join(logDir, `agent-n${node}-${Date.now()}.err`);
    const errFd = openSync(this.stderrFile, 'w');
    this.child = spawn('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', join(repoRoot, script)], {
      cwd: repoRoot,
      stdio: ['pipe', 'pipe', errFd],
    });
    closeSync(errFd);
    createInterface({ input: this.child.stdout! }).on('line', (line) => this.onLine(line));
    this.child.on('exit', () => {
      this.exited = true;
      for (const p of this.pending.values()) p.reject(new Error(`agent n${node} exited (stderr: ${this.stderr().slice(-800)})`));
      this.pending.clear();
      this.wake();
    });
  }

  get pid(): number {
    return this.child.pid as number;
  }

  stderr(): string {
    try {
      return readFileSync(this.stderrFile, 'utf8');
    } catch {
      return '';
    }
  }

  /** Sends one request; resolves with its result, rejects with its error (bounded). */
  request<T = unknown>(cmd: string, args: Record<string, unknown> = {}, timeoutMs = 20000): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`agent n${this.node} has exited`));
    const id = this.nextId++;
    return new Promise<T>((res, rej) => {
      const t = setTimeout(() => {
        this.pending.delete(id);
        rej(new Error(`agent n${this.node}: '${cmd}' got no reply in ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(t);
          res(v as T);
        },
        reject: (e) => {
          clearTimeout(t);
          rej(e);
        },
      });
      this.child.stdin!.write(JSON.stringify({ id, cmd, ...args }) + '\n');
    });
  }

  /** Resolves with the first event (from index `from`) matching pred; rejects after timeoutMs. */
  async waitFor(pred: (e: AgentEvent) => boolean, timeoutMs: number, what: string, from = 0): Promise<AgentEvent> {
    const deadline = now() + timeoutMs;
    for (let scanned = from; ; ) {
      for (; scanned < this.events.length; scanned++) {
        const e = this.events[scanned] as AgentEvent;
        if (pred(e)) return e;
      }
      const left = deadline - now();
      if (left <= 0 || this.exited) {
        const tail = this.events.slice(-8).map((e) => JSON.stringify(e)).join('\n    ');
        throw new Error(`agent n${this.node}: no ${what} within ${timeoutMs} ms${this.exited ? ' (agent exited)' : ''}; last events:\n    ${tail}`);
      }
      await new Promise<void>((res) => {
        const t = setTimeout(res, Math.min(left, 1000));
        this.waiters.push(() => {
          clearTimeout(t);
          res();
        });
      });
    }
  }

  /** Closes stdin (the agent exits) and waits; SIGKILL by PID if it does not. */
  async stop(): Promise<void> {
    if (this.exited) return;
    this.child.stdin!.end();
    if (!(await waitExit(this.child, 5000))) {
      this.kill('SIGKILL');
      await waitExit(this.child, 5000);
    }
  }

  kill(signal: NodeJS.Signals): void {
    if (this.exited || this.child.pid === undefined) return;
    try {
      process.kill(this.child.pid, signal);
    } catch {
      // already gone
    }
  }

  private onLine(line: string): void {
    let m: { id?: number; ok?: boolean; result?: unknown; error?: Record<string, unknown> } & Partial<AgentEvent>;
    try {
      m = JSON.parse(line);
    } catch {
      return;
    }
    if (typeof m.id === 'number') {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.result);
      else p.reject(Object.assign(new Error(String(m.error?.message)), m.error ?? {}));
    } else if (typeof m.event === 'string') {
      this.events.push(m as AgentEvent);
      this.wake();
    }
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

export interface NetnsClusterOptions {
  /** Namespace name prefix: <prefix>-sw, <prefix>-n1 … (default 'cs', as in docs/user-stack-daemon.md#netns-test-cluster). */
  prefix?: string;
  nodes?: number;
  clusterName?: string;
  /** totem.token in ms (default 1000). */
  tokenMs?: number;
}

export class NetnsCluster {
  readonly prefix: string;
  readonly size: number;
  readonly clusterName: string;
  readonly tokenMs: number;
  readonly dir: string;
  private readonly corosyncs = new Map<number, ChildProcess>();
  /** every corosync PID started (also those killed and restarted): their /dev/shm files go at teardown */
  private readonly corosyncPids = new Set<number>();
  private readonly agents = new Set<Agent>();
  private readonly namespaces: string[] = [];
  private readonly exitHook = () => this.teardownSync();
  /** Ctrl-C / kill of the test run: clean up, then die of the same signal. */
  private readonly signalHook = (signal: NodeJS.Signals) => {
    this.teardownSync();
    process.kill(process.pid, signal);
  };

  constructor(options: NetnsClusterOptions = {}) {
    this.prefix = options.prefix ?? 'cs';
    this.size = options.nodes ?? 3;
    this.clusterName = options.clusterName ?? 'o2stest';
    this.tokenMs = options.tokenMs ?? 1000;
    this.dir = mkdtempSync(join(tmpdir(), 'o2s-cluster-'));
  }

  ns(i: number): string {
    return `${this.prefix}-n${i}`;
  }

  get switchNs(): string {
    return `${this.prefix}-sw`;
  }

  addr(i: number): string {
    return `192.0.2.${i}`;
  }

  /** Creates the namespaces, links, key and configs. Throws with the command's stderr. */
  setup(): void {
    process.once('exit', this.exitHook);
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, this.signalHook);
    const all = [this.switchNs, ...Array.from({ length: this.size }, (_x, k) => this.ns(k + 1))];
    for (const n of all) this.removeStale(n);
    run('ip', ['netns', 'add', this.switchNs]);
    this.namespaces.push(this.switchNs);
    run('ip', ['-n', this.switchNs, 'link', 'add', 'br0', 'type', 'bridge']);
    run('ip', ['-n', this.switchNs, 'link', 'set', 'br0', 'up']);
    for (let i = 1; i <= this.size; i++) {
      const ns = this.ns(i);
      run('ip', ['netns', 'add', ns]);
      this.namespaces.push(ns);
      // Created inside the node namespace, so no interface ever appears in the host's.
      run('ip', ['-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', `veth${i}`, 'netns', this.switchNs]);
      run('ip', ['-n', this.switchNs, 'link', 'set', `veth${i}`, 'master', 'br0', 'up']);
      run('ip', ['-n', ns, 'addr', 'add', `${this.addr(i)}/24`, 'dev', 'eth0']);
      run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
      run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    run('corosync-keygen', ['-k', join(this.dir, 'authkey')]);
    for (let i = 1; i <= this.size; i++) {
      mkdirSync(join(this.dir, `n${i}`), { recursive: true });
      writeFileSync(join(this.dir, `n${i}`, 'corosync.conf'), this.config());
    }
  }

  /** corosync.conf: one "key: value" per line (the parser rejects "node { name: x }"). */
  config(): string {
    const nodes = Array.from(
      { length: this.size },
      (_x, k) => `  node {\n    name: n${k + 1}\n    nodeid: ${k + 1}\n    ring0_addr: ${this.addr(k + 1)}\n  }\n`,
    ).join('');
    return (
      `totem {\n  version: 2\n  cluster_name: ${this.clusterName}\n  transport: knet\n  token: ${this.tokenMs}\n` +
      `  crypto_cipher: aes256\n  crypto_hash: sha256\n  keyfile: ${join(this.dir, 'authkey')}\n}\n` +
      `logging {\n  to_stderr: yes\n  to_logfile: no\n  to_syslog: no\n  timestamp: on\n}\n` +
      `quorum {\n  provider: corosync_votequorum\n}\n` +
      `nodelist {\n${nodes}}\n`
    );
  }

  corosyncLog(i: number): string {
    try {
      return readFileSync(join(this.dir, `n${i}`, 'corosync.log'), 'utf8');
    } catch {
      return '';
    }
  }

  corosyncPid(i: number): number | undefined {
    const c = this.corosyncs.get(i);
    return c && c.exitCode === null && c.signalCode === null ? c.pid : undefined;
  }

  /** Starts node i's corosync in the foreground in its namespace; returns its PID. */
  startCorosync(i: number): number {
    if (this.corosyncPid(i) !== undefined) throw new Error(`corosync n${i} is already running`);
    const logFd = openSync(join(this.dir, `n${i}`, 'corosync.log'), 'a');
    const sh =
      'mount -t tmpfs tmpfs /run && mkdir -p /var/lib/corosync && mount -t tmpfs tmpfs /var/lib/corosync && ' +
      `exec corosync -f -c ${join(this.dir, `n${i}`, 'corosync.conf')}`;
    const child = spawn('ip', ['netns', 'exec', this.ns(i), 'sh', '-c', sh], { stdio: ['ignore', logFd, logFd] });
    closeSync(logFd);
    if (child.pid === undefined) throw new Error(`could not spawn corosync for n${i}`);
    this.corosyncs.set(i, child);
    this.corosyncPids.add(child.pid);
    return child.pid;
  }

  /** Signals node i's corosync by PID; with wait, waits (bounded) until it has exited. */
  async killCorosync(i: number, signal: NodeJS.Signals, wait = true): Promise<void> {
    const c = this.corosyncs.get(i);
    const pid = this.corosyncPid(i);
    if (!c || pid === undefined) return;
    process.kill(pid, signal);
    if (wait && !(await waitExit(c, 10000))) throw new Error(`corosync n${i} (pid ${pid}) did not exit after ${signal}`);
  }

  /** Exits early (bad config, cannot bind)? Resolves with the log when it died within ms. */
  async corosyncDiedWithin(i: number, ms: number): Promise<string | undefined> {
    const c = this.corosyncs.get(i);
    if (!c) return 'not started';
    return (await waitExit(c, ms)) ? `corosync n${i} exited (${c.exitCode ?? c.signalCode}): ${this.corosyncLog(i).slice(-1500)}` : undefined;
  }

  startAgent(i: number, script?: string): Agent {
    const a = new Agent(i, this.ns(i), this.dir, script);
    this.agents.add(a);
    return a;
  }

  /** Stops agents, kills corosyncs by PID (TERM, then KILL), deletes namespaces and files. */
  async teardown(): Promise<void> {
    await Promise.all([...this.agents].map((a) => a.stop()));
    for (const i of this.corosyncs.keys()) {
      const c = this.corosyncs.get(i) as ChildProcess;
      if (this.corosyncPid(i) === undefined) continue;
      try {
        process.kill(c.pid as number, 'SIGTERM');
      } catch {
        continue;
      }
      if (!(await waitExit(c, 10000))) {
        process.kill(c.pid as number, 'SIGKILL');
        await waitExit(c, 5000);
      }
    }
    this.teardownSync();
  }

  /** The synchronous part (also the process 'exit' hook): KILL what is left, delete namespaces. */
  teardownSync(): void {
    for (const a of this.agents) a.kill('SIGKILL');
    for (const i of this.corosyncs.keys()) {
      const pid = this.corosyncPid(i);
      if (pid !== undefined) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
    for (const n of this.namespaces.splice(0).reverse()) tryRun('ip', ['netns', 'del', n]);
    // kept with the logs: a corosync's blackbox is its flight recorder (corosync-blackbox reads it)
    if (process.env.O2S_KEEP_CLUSTER_LOGS !== '1') {
      rmSync(this.dir, { recursive: true, force: true });
      for (const pid of this.corosyncPids) removeCorosyncShm(pid);
    }
    this.corosyncPids.clear();
    process.removeListener('exit', this.exitHook);
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.removeListener(sig, this.signalHook);
  }

  /**
   * A namespace of ours left by an interrupted run: kill the processes in it (by the PIDs that
   * `ip netns pids` lists) and delete it.
   */
  private removeStale(n: string): void {
    const pids = spawnSync('ip', ['netns', 'pids', n], { encoding: 'utf8' });
    if (pids.status !== 0) return; // no such namespace
    for (const p of pids.stdout.split(/\s+/).filter(Boolean)) {
      try {
        process.kill(Number(p), 'SIGKILL');
      } catch {
        // gone
      }
    }
    tryRun('ip', ['netns', 'del', n]);
  }
}

/**
 * What a corosync leaves in the host's /dev/shm (namespaces here share it: its clients must see its
 * libqb IPC files) when it does not clean up itself — killed, as the tests do on purpose: its IPC
 * connection directories (`qb-PID-CLIENTPID-…`) and its 8 MB blackbox (`qb-corosync-PID-blackbox-*`).
 * Left, they piled up run after run in a RAM-backed tmpfs.
 */
export function removeCorosyncShm(pid: number, shm = '/dev/shm'): string[] {
  let names: string[];
  try {
    names = readdirSync(shm);
  } catch {
    return [];
  }
  const ours = names.filter((n) => n.startsWith(`qb-${pid}-`) || n.startsWith(`qb-corosync-${pid}-`));
  for (const n of ours) rmSync(join(shm, n), { recursive: true, force: true });
  return ours;
}

/** Why the cluster suite cannot run here, or undefined when it can. */
export function clusterPrerequisites(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, mounts, corosync)';
  for (const tool of ['ip', 'corosync', 'corosync-keygen', 'unshare']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
      return `${tool} is not installed: run test/cluster/setup.sh (apt-installs corosync and iproute2)`;
    }
  }
  const probe = tryRun('unshare', ['-n', 'ip', 'link', 'add', 'o2s-probe0', 'type', 'bridge']);
  if (!probe.ok) return `cannot create network namespaces and links here: ${probe.err}`;
  return undefined;
}
