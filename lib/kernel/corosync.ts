// corosync membership as typed objects on the Node event loop: CPG groups, quorum, cmap reads.
//
// The native side (native/corosync.cc) owns the corosync IPC connections, watches their fds with
// uv_poll on this thread's loop, runs *_dispatch(CS_DISPATCH_ALL) when they are readable and
// hands the recorded callbacks to one JS function as an array. This file turns them into events.
//
//   CpgGroup  (one CPG connection, one group — corosync allows one group per connection)
//     'confchg' (CpgConfchg)   the group's members changed: members, joined, left with reasons
//     'message' (CpgMessage)   a message multicast to the group (agreed order, sender included)
//     'totem'   (TotemChange)  the corosync ring (all nodes, not only the group) changed
//     'down'    (CorosyncError) corosync went away; the group is closed
//   Quorum
//     'change'  (QuorumChange) quorate flag and cluster node list; the first state comes at open
//     'down'    (CorosyncError)
//
// Errors are CorosyncError with a code like 'CS_ERR_LIBRARY' and a hint ("is corosync running?
// systemctl start corosync"). CS_ERR_TRY_AGAIN (corosync starting, syncing, flow control) is
// retried here from a timer, a bounded number of times, never by blocking the loop.
//
// A client reaches only the corosync of its own network namespace: corosync's IPC (libqb) is
// addressed by abstract unix socket names, which belong to the network namespace.
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  loadNative,
  type NativeCmapValue,
  type NativeCorosync,
  type NativeCorosyncAvailable,
  type NativeCpgAddress,
  type NativeCsEvent,
  type NativeCsHandle,
  type NativeRingId,
} from './native.js';

export const COROSYNC_HINT = 'is corosync running? systemctl start corosync';

import { CorosyncError, type CorosyncErrorFields } from './errors.js';

export { CorosyncError, type CorosyncErrorFields };

/** Turns an error thrown by the corosync surface into a CorosyncError; others pass through. */
export function toCorosyncError(e: unknown): unknown {
  if (e instanceof CorosyncError) return e;
  if (e instanceof Error) {
    const x = e as Error & Partial<CorosyncErrorFields>;
    if (typeof x.code === 'string' && x.code.startsWith('CS_') && typeof x.csError === 'number') {
      return new CorosyncError({ code: x.code, csError: x.csError, call: x.call ?? '', subject: x.subject, hint: x.hint }, x.message);
    }
  }
  return e;
}

export type CorosyncAvailability = { available: true } | { available: false; reason: string };

function nativeSurface(): NativeCorosync {
  const s = loadNative().corosync;
  return s ?? { available: false, reason: 'the addon has no corosync surface (rebuild it: npm rebuild ocfs2-stack)' };
}

/** Whether corosync's client libraries are loaded (loads them on first call: dlopen, no IPC), and if not why. */
export function corosyncAvailability(native: NativeCorosync = nativeSurface()): CorosyncAvailability {
  return native.available ? { available: true } : { available: false, reason: native.reason };
}

function surface(native?: NativeCorosync): NativeCorosyncAvailable {
  const s = native ?? nativeSurface();
  if (!s.available) throw new CorosyncError({ code: 'E_NO_COROSYNC', csError: 0, call: 'load', hint: s.reason }, `corosync support unavailable: ${s.reason}`);
  return s;
}

function call<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw toCorosyncError(e);
  }
}

export interface RetryOptions {
  /** Attempts in all (default 50). */
  attempts?: number;
  /** Delay between attempts in ms (default 100): 50 × 100 ms covers corosync's sync phase. */
  delayMs?: number;
}

/** Runs fn, retrying from a timer while it throws CS_ERR_TRY_AGAIN; bounded by attempts. */
export async function retryTryAgain<T>(fn: () => T, options: RetryOptions = {}): Promise<T> {
  const attempts = Math.max(1, options.attempts ?? 50);
  const delayMs = options.delayMs ?? 100;
  for (let i = 1; ; i++) {
    try {
      return call(fn);
    } catch (e) {
      if (!(e instanceof CorosyncError) || e.code !== 'CS_ERR_TRY_AGAIN' || i >= attempts) throw e;
    }
    await sleep(delayMs);
  }
}

/** Resolves with p's value, or 'timeout' after ms; the timer never outlives the race. */
async function raceTimeout<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------
// CPG

/** Why a process is in a joined or left list (CPG_REASON_*); 'undefined' in member lists. */
export type CpgReason = 'undefined' | 'join' | 'leave' | 'nodedown' | 'nodeup' | 'procdown';

const REASONS: CpgReason[] = ['undefined', 'join', 'leave', 'nodedown', 'nodeup', 'procdown'];

export function cpgReason(n: number): CpgReason {
  return REASONS[n] ?? 'undefined';
}

export interface CpgMember {
  nodeid: number;
  pid: number;
  reason: CpgReason;
}

export interface CpgConfchg {
  group: string;
  members: CpgMember[];
  joined: CpgMember[];
  left: CpgMember[];
}

export interface CpgMessage {
  group: string;
  nodeid: number;
  pid: number;
  data: Buffer;
}

export type RingId = NativeRingId;

export interface TotemChange {
  ringId: RingId;
  /** Every node in the corosync ring. */
  members: number[];
}

const member = (a: NativeCpgAddress): CpgMember => ({ nodeid: a.nodeid, pid: a.pid, reason: cpgReason(a.reason) });

export interface CpgGroupEvents {
  confchg: [CpgConfchg];
  message: [CpgMessage];
  totem: [TotemChange];
  down: [CorosyncError];
}

export interface CpgJoinOptions extends RetryOptions {
  /** Keep the process alive while joined (default true, like a socket). */
  ref?: boolean;
  /** Native surface (tests). */
  native?: NativeCorosync;
}

/**
 * One CPG group on its own corosync connection. All members see the same sequence of confchgs
 * and messages (virtual synchrony) unless the cluster partitions.
 */
export class CpgGroup extends EventEmitter<CpgGroupEvents> {
  readonly name: string;
  readonly localNodeId: number;
  private readonly cs: NativeCorosyncAvailable;
  private handle: NativeCsHandle | undefined;
  private current: CpgMember[] = [];
  private sendChain: Promise<void> = Promise.resolve();
  /** sends waiting in sendChain (flow control): a new send goes behind them */
  private queued = 0;
  private leaving: (() => void) | undefined;
  private isDown = false;

  private constructor(cs: NativeCorosyncAvailable, name: string) {
    super();
    this.cs = cs;
    this.name = name;
    this.handle = call(() => cs.cpgOpen((events) => this.onEvents(events)));
    try {
      this.localNodeId = call(() => cs.cpgLocalNodeId(this.handle as NativeCsHandle));
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /**
   * Connects to corosync and joins `name` (at most 127 bytes; joined with its terminating NUL,
   * as dlm_controld does). Listeners added right after the promise resolves see the first
   * confchg: events arrive from the event loop, never synchronously.
   */
  static async join(name: string, options: CpgJoinOptions = {}): Promise<CpgGroup> {
    const cs = surface(options.native);
    const g = await retryTryAgain(() => new CpgGroup(cs, name), options);
    try {
      await retryTryAgain(() => cs.cpgJoin(g.handle as NativeCsHandle, name), options);
    } catch (e) {
      g.close();
      throw e;
    }
    if (options.ref === false) g.unref();
    return g;
  }

  /** Members as of the last confchg (this process included once its join was delivered). */
  members(): CpgMember[] {
    return this.current.map((m) => ({ ...m }));
  }

  /** Members as corosync reports them now (cpg_membership_get). */
  queryMembers(): CpgMember[] {
    return call(() => this.cs.cpgMembers(this.open(), this.name)).map(member);
  }

  maxMessageSize(): number {
    return call(() => this.cs.cpgMaxMessageSize(this.open()));
  }

  /**
   * Multicasts now when nothing is queued before it: true once sent; false when it must wait (sends
   * queued, flow control's CS_ERR_TRY_AGAIN, or the group closed): send() then queues it in order.
   * Throws any other error as send() would reject. No promise: every POSIX lock comes through here.
   */
  sendNow(data: Buffer | string): boolean {
    if (this.queued !== 0 || !this.handle) return false;
    try {
      this.cs.cpgSend(this.handle, data);
      return true;
    } catch (e) {
      const x = toCorosyncError(e);
      if (x instanceof CorosyncError && x.code === 'CS_ERR_TRY_AGAIN') return false;
      throw x;
    }
  }

  /**
   * Multicasts one message in agreed (total) order; it is delivered to this process too.
   * Sends are queued, so they leave in call order even when flow control makes one wait.
   */
  send(data: Buffer | string, options: RetryOptions = {}): Promise<void> {
    // nothing queued: multicast now; CS_ERR_TRY_AGAIN (flow control) falls back to the retrying queue below
    try {
      if (this.sendNow(data)) return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
    this.queued++;
    const p = this.sendChain.then(() => retryTryAgain(() => this.cs.cpgSend(this.open(), data), { attempts: 200, delayMs: 20, ...options }));
    this.sendChain = p.then(
      () => void this.queued--,
      () => void this.queued--,
    );
    return p;
  }

  /**
   * Leaves the group (the others see reason 'leave'), waits until corosync has delivered our
   * own leave (bounded by timeoutMs), then closes the connection.
   */
  async leave(options: RetryOptions & { timeoutMs?: number } = {}): Promise<void> {
    if (!this.handle) return;
    const left = new Promise<void>((resolve) => {
      this.leaving = resolve;
    });
    await retryTryAgain(() => this.cs.cpgLeave(this.open(), this.name), options);
    await raceTimeout(left, options.timeoutMs ?? 5000);
    this.close();
  }

  /** Closes the connection at once (the others see reason 'procdown'). Idempotent. */
  close(): void {
    if (!this.handle) return;
    const h = this.handle;
    this.handle = undefined;
    this.cs.close(h);
    this.leaving?.();
    this.leaving = undefined;
  }

  get closed(): boolean {
    return this.handle === undefined;
  }

  get down(): boolean {
    return this.isDown;
  }

  ref(): void {
    if (this.handle) this.cs.ref(this.handle);
  }

  unref(): void {
    if (this.handle) this.cs.unref(this.handle);
  }

  private open(): NativeCsHandle {
    if (!this.handle) throw new CorosyncError({ code: 'CS_ERR_BAD_HANDLE', csError: 9, call: 'closed', subject: this.name, hint: 'the group was left or closed' });
    return this.handle;
  }

  private onEvents(events: NativeCsEvent[]): void {
    for (const e of events) {
      if (!this.handle) return;
      switch (e.type) {
        case 'confchg': {
          const c: CpgConfchg = { group: e.group, members: e.members.map(member), joined: e.joined.map(member), left: e.left.map(member) };
          this.current = c.members;
          this.emit('confchg', c);
          if (this.leaving && c.left.some((m) => m.nodeid === this.localNodeId && m.pid === process.pid)) {
            const done = this.leaving;
            this.leaving = undefined;
            done();
          }
          break;
        }
        case 'message':
          // the native event as it is (it has group, nodeid, pid, data): one object per message
          this.emit('message', e);
          break;
        case 'totem':
          this.emit('totem', { ringId: e.ringId, members: e.members });
          break;
        case 'down': {
          this.isDown = true;
          const err = toCorosyncError(e.error) as CorosyncError;
          this.close();
          this.emit('down', err);
          break;
        }
        default:
          break;
      }
    }
  }
}

/** This node's corosync node id (cpg_local_get on a short-lived CPG connection). */
export function corosyncLocalNodeId(options: RetryOptions & { native?: NativeCorosync } = {}): Promise<number> {
  const cs = surface(options.native);
  return retryTryAgain(() => {
    const h = cs.cpgOpen(() => undefined);
    try {
      return cs.cpgLocalNodeId(h);
    } finally {
      cs.close(h);
    }
  }, options);
}

// ---------------------------------------------------------------------------------------------
// Quorum

export interface QuorumChange {
  quorate: boolean;
  ringId: RingId;
  /** Cluster nodes in the current membership. */
  members: number[];
  /** Since the previous change (all members on the first). */
  joined: number[];
  left: number[];
}

export interface QuorumEvents {
  change: [QuorumChange];
  down: [CorosyncError];
}

export interface QuorumOpenOptions extends RetryOptions {
  /** Keep the process alive while open (default true). */
  ref?: boolean;
  /** How long to wait for the initial state (default 5000 ms). */
  timeoutMs?: number;
  native?: NativeCorosync;
}

/** corosync's quorum service: quorate flag and node list, tracked. */
export class Quorum extends EventEmitter<QuorumEvents> {
  /** 'set' when a quorum provider (votequorum) is configured; 'free' means always quorate. */
  readonly quorumType: 'set' | 'free';
  private readonly cs: NativeCorosyncAvailable;
  private handle: NativeCsHandle | undefined;
  private state: QuorumChange | undefined;
  private first: (() => void) | undefined;
  private isDown = false;

  private constructor(cs: NativeCorosyncAvailable) {
    super();
    this.cs = cs;
    this.handle = call(() => cs.quorumOpen((events) => this.onEvents(events)));
    this.quorumType = cs.info(this.handle).quorumType === 1 ? 'set' : 'free';
  }

  /** Connects and resolves with the current state (CS_TRACK_CURRENT) in place. */
  static async open(options: QuorumOpenOptions = {}): Promise<Quorum> {
    const cs = surface(options.native);
    const q = await retryTryAgain(() => new Quorum(cs), options);
    if (!q.state) {
      const got = new Promise<void>((resolve) => {
        q.first = resolve;
      });
      const r = await raceTimeout(got, options.timeoutMs ?? 5000);
      if (r === 'timeout' || !q.state) {
        q.close();
        throw new CorosyncError({ code: 'CS_ERR_TIMEOUT', csError: 5, call: 'quorum_trackstart', hint: 'corosync did not report the quorum state in time' });
      }
    }
    if (options.ref === false) q.unref();
    return q;
  }

  get quorate(): boolean {
    return this.state?.quorate ?? false;
  }

  get members(): number[] {
    return [...(this.state?.members ?? [])];
  }

  get ringId(): RingId | undefined {
    return this.state ? { ...this.state.ringId } : undefined;
  }

  get current(): QuorumChange | undefined {
    return this.state ? { ...this.state, members: [...this.state.members], joined: [...this.state.joined], left: [...this.state.left] } : undefined;
  }

  get down(): boolean {
    return this.isDown;
  }

  /** Asks corosync now (quorum_getquorate). */
  queryQuorate(): boolean {
    if (!this.handle) throw new CorosyncError({ code: 'CS_ERR_BAD_HANDLE', csError: 9, call: 'closed' });
    const h = this.handle;
    return call(() => this.cs.quorumGetQuorate(h));
  }

  close(): void {
    if (!this.handle) return;
    const h = this.handle;
    this.handle = undefined;
    this.cs.close(h);
  }

  ref(): void {
    if (this.handle) this.cs.ref(this.handle);
  }

  unref(): void {
    if (this.handle) this.cs.unref(this.handle);
  }

  private onEvents(events: NativeCsEvent[]): void {
    for (const e of events) {
      if (!this.handle) return;
      if (e.type === 'quorum') {
        const prev = new Set(this.state?.members ?? []);
        const now = new Set(e.members);
        const change: QuorumChange = {
          quorate: e.quorate,
          ringId: e.ringId,
          members: [...e.members].sort((a, b) => a - b),
          joined: e.members.filter((n) => !prev.has(n)).sort((a, b) => a - b),
          left: [...prev].filter((n) => !now.has(n)).sort((a, b) => a - b),
        };
        this.state = change;
        if (this.first) {
          const f = this.first;
          this.first = undefined;
          f();
        }
        this.emit('change', change);
      } else if (e.type === 'down') {
        this.isDown = true;
        const err = toCorosyncError(e.error) as CorosyncError;
        this.close();
        this.emit('down', err);
      }
      // 'nodelist' events carry the same list with joined/left; 'change' is computed from the
      // quorum events alone so that it always carries the quorate flag that goes with it.
    }
  }
}

// ---------------------------------------------------------------------------------------------
// cmap

export interface CorosyncNodeConfig {
  /** Position in the nodelist (order in corosync.conf). */
  index: number;
  nodeid: number;
  name?: string;
  ring0Addr?: string;
  /** ring0_addr … ring7_addr (knet links), by link number; absent links are missing. */
  ringAddrs: string[];
}

export interface CorosyncConfig {
  /** totem.cluster_name (the ocfs2 cluster name on the user stack). */
  clusterName: string | undefined;
  nodes: CorosyncNodeConfig[];
  /** nodelist.local_node_pos and the node there, when corosync knows it. */
  localNodePos?: number;
  localNodeId?: number;
  quorumProvider?: string;
  twoNode?: boolean;
}

/** Builds the config from cmap key/value pairs (pure; exported for tests). */
export function corosyncConfigFromCmap(kv: Record<string, NativeCmapValue>): CorosyncConfig {
  const str = (k: string) => (typeof kv[k] === 'string' ? (kv[k] as string) : undefined);
  const num = (k: string) => (typeof kv[k] === 'number' ? (kv[k] as number) : typeof kv[k] === 'bigint' ? Number(kv[k]) : undefined);
  const nodes: CorosyncNodeConfig[] = [];
  // As dlm_controld does: positions 0, 1, … until the first without a nodeid (bounded).
  for (let i = 0; i < 1024; i++) {
    const p = `nodelist.node.${i}.`;
    const nodeid = num(`${p}nodeid`);
    if (nodeid === undefined) break;
    const ringAddrs: string[] = [];
    for (let l = 0; l < 8; l++) {
      const a = str(`${p}ring${l}_addr`);
      if (a !== undefined) ringAddrs[l] = a;
    }
    const n: CorosyncNodeConfig = { index: i, nodeid, ringAddrs };
    const name = str(`${p}name`);
    if (name !== undefined) n.name = name;
    if (ringAddrs[0] !== undefined) n.ring0Addr = ringAddrs[0];
    nodes.push(n);
  }
  const cfg: CorosyncConfig = { clusterName: str('totem.cluster_name'), nodes };
  const pos = num('nodelist.local_node_pos');
  if (pos !== undefined) {
    cfg.localNodePos = pos;
    const local = nodes.find((n) => n.index === pos);
    if (local) cfg.localNodeId = local.nodeid;
  }
  const provider = str('quorum.provider');
  if (provider !== undefined) cfg.quorumProvider = provider;
  const twoNode = num('quorum.two_node');
  if (twoNode !== undefined) cfg.twoNode = twoNode !== 0;
  return cfg;
}

/** Every cmap key under prefix with its value (retries CS_ERR_TRY_AGAIN). */
export function readCmap(prefix: string, options: RetryOptions & { native?: NativeCorosync } = {}): Promise<Record<string, NativeCmapValue>> {
  const cs = surface(options.native);
  return retryTryAgain(() => cs.cmapGetPrefix(prefix), options);
}

/** The running corosync's cluster name and nodelist, read from cmap. */
export async function readCorosyncConfig(options: RetryOptions & { native?: NativeCorosync } = {}): Promise<CorosyncConfig> {
  const kv = {
    ...(await readCmap('totem.cluster_name', options)),
    ...(await readCmap('nodelist.', options)),
    ...(await readCmap('quorum.', options)),
  };
  return corosyncConfigFromCmap(kv);
}
