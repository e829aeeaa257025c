// The one runtime both daemons run on (DlmDaemon: the full control model; TrackingDaemon: tracking
// beside dlm_controld). It owns what they share:
//   - the event queue: every event is handled to the end before the next one starts (handlers may
//     await kernel or corosync calls; nothing else interleaves), and nothing runs once stopped;
//   - the structured log (one JSON line per entry, the last ones for `dump`, the 'log' event);
//   - timers, cleared at stop;
//   - an ordered setup: each step returns its teardown; if a later step throws, the earlier ones
//     are undone in reverse, and at stop all are (dlm_controld's setup-then-`out:` shape);
//   - the control socket (the commands each daemon serves, plus `dump`);
//   - the group announcements in the daemon group (lib/model/mountTracker.ts): which volumes each
//     node has mounted, reported as 'group' events.
import type { EventEmitter } from 'node:events';
import { UeventListener, type ReceivedUevent } from '../../kernel/uevent.js';
import { DAEMON_GROUP, encodeMounts, MountTracker } from '../../model/mountTracker.js';
import { ControlServer, DEFAULT_SOCKET, type CommandHandler } from './controlSocket.js';
import { StructuredLog } from './log.js';
import { watchdogIntervalMs } from './notify.js';

export interface LogEntry {
  t: string;
  level: 'info' | 'warn' | 'error';
  event: string;
  msg: string;
  [k: string]: unknown;
}

/** The API's 'group' event: the nodes that have lockspace `uuid` (an ocfs2 volume's UUID) now. */
export interface GroupEvent {
  uuid: string;
  nodes: number[];
  joined: number[];
  left: number[];
}

export interface DaemonEvents {
  group: [GroupEvent];
  log: [LogEntry];
}

/** What the daemons need of a uevent listener (UeventListener, or a test's injector). */
export interface LockspaceEventSource extends EventEmitter {
  close(): void;
  stats?(): unknown;
}

/** Undoes one setup step. */
export type Teardown = () => void | Promise<void>;

/** One setup step: what it is (for the log when undoing fails) and the work, returning its teardown. */
export interface SetupStep {
  name: string;
  run: () => Teardown | void | Promise<Teardown | void>;
}

/** This node's lockspaces that count, with the nodes in each (as the hosting daemon sees them). */
export type LocalGroups = { ls: string; nodes: number[] }[];

export class DaemonRuntime {
  private readonly logBook: StructuredLog;
  private queue: Promise<void> = Promise.resolve();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly teardowns: { name: string; undo: Teardown }[] = [];
  private control: ControlServer | undefined;
  private stoppedFlag = false;
  readonly startedAt = Date.now();

  constructor(
    private readonly emitter: EventEmitter<DaemonEvents>,
    sink?: (line: string, level: LogEntry['level']) => void,
  ) {
    this.logBook = new StructuredLog((e) => emitter.emit('log', e), sink);
  }

  get stopped(): boolean {
    return this.stoppedFlag;
  }

  log(level: LogEntry['level'], event: string, msg: string, data: Record<string, unknown> = {}): void {
    this.logBook.write(level, event, msg, data);
  }

  recentLog(n: number): LogEntry[] {
    return this.logBook.recent(n);
  }

  /** Queues one event's handling; a failure is logged, never thrown into the queue. */
  enqueue(fn: () => Promise<void> | void): void {
    this.queue = this.queue.then(() => (this.stoppedFlag ? undefined : fn())).catch((e: unknown) => this.log('error', 'internal', `event handling failed: ${(e as Error).stack ?? String(e)}`));
  }

  /** Resolves when everything queued so far has been handled. */
  idle(): Promise<void> {
    return this.queue;
  }

  /**
   * systemd's watchdog (WatchdogSec=): WATCHDOG=1 at half the interval, sent through the event
   * queue, so a daemon whose event handling is stuck stops pinging and systemd restarts it.
   * Returns the interval, or undefined when no watchdog is asked for.
   */
  startWatchdog(notify: (state: string) => boolean, env: NodeJS.ProcessEnv = process.env): number | undefined {
    const ms = watchdogIntervalMs(env);
    if (ms === undefined) return undefined;
    this.every(ms, () =>
      this.enqueue(() => {
        notify('WATCHDOG=1');
      }),
    );
    this.log('info', 'watchdog', `systemd watchdog: WATCHDOG=1 every ${ms} ms through the event queue`);
    return ms;
  }

  /** A repeating timer, not keeping the process alive, silent once stopped. */
  every(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setInterval(() => {
      if (!this.stoppedFlag) fn();
    }, ms);
    t.unref();
    this.timers.add(t);
    return t;
  }

  /** A one-shot timer, not keeping the process alive, silent once stopped. */
  after(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stoppedFlag) fn();
    }, ms);
    t.unref();
    this.timers.add(t);
    return t;
  }

  cancel(t: NodeJS.Timeout | undefined): void {
    if (t === undefined) return;
    clearTimeout(t);
    this.timers.delete(t);
  }

  /**
   * Runs the steps in order, keeping each one's teardown. When one throws, those already done are
   * undone in reverse (failures to undo are logged) and the error is thrown on.
   */
  async setUp(steps: SetupStep[]): Promise<void> {
    try {
      for (const s of steps) {
        const undo = await s.run();
        if (undo) this.teardowns.push({ name: s.name, undo });
      }
    } catch (e) {
      await this.tearDown();
      throw e;
    }
  }

  /** Adds a teardown outside setUp (a step that is set up later, e.g. a timer armed on an event). */
  onStop(name: string, undo: Teardown): void {
    this.teardowns.push({ name, undo });
  }

  /** Undoes every step, last first; each failure is logged and the rest still run. */
  async tearDown(): Promise<void> {
    for (const t of this.teardowns.splice(0).reverse()) {
      try {
        await t.undo();
      } catch (e) {
        this.log('error', 'teardown', `undoing '${t.name}' failed: ${(e as Error).message}`);
      }
    }
  }

  /** The control socket with these commands and `dump` (the last log entries); null: none. Its teardown closes it. */
  async serve(path: string | null | undefined, handlers: Record<string, CommandHandler>): Promise<Teardown | void> {
    if (path === null) return;
    const control = new ControlServer(path ?? DEFAULT_SOCKET, { ...handlers, dump: (args) => this.recentLog(dumpCount(args[0])) });
    await control.listen();
    this.control = control;
    return () => this.closeControl();
  }

  /**
   * fs/dlm's lockspace uevents (the kernel's netlink socket, or the source given): each event to
   * onEvent; lost ones (overflow) counted by onOverflow after a warning, which must rescan
   * /sys/kernel/dlm. Returns the listener and its teardown.
   */
  listenLockspaceUevents(
    source: LockspaceEventSource | undefined,
    h: { onEvent: (ev: ReceivedUevent) => void; onOverflow: () => void; errorConsequence?: string },
  ): { listener: LockspaceEventSource; teardown: Teardown } {
    const listener = source ?? new UeventListener({ kernel: true, filter: { devpathPrefix: '/kernel/dlm/' }, ref: true });
    listener.on('event', h.onEvent);
    listener.on('overflow', () => {
      this.log('warn', 'overflow', 'uevents were lost: rescanning /sys/kernel/dlm');
      h.onOverflow();
    });
    listener.on('error', (e: Error) => this.log('error', 'uevent-error', `uevent socket failed: ${e.message}${h.errorConsequence ? `; ${h.errorConsequence}` : ''}`));
    return { listener, teardown: () => listener.close() };
  }

  /** Stops answering requests (the first thing a stop does). */
  closeControl(): void {
    this.control?.close();
    this.control = undefined;
  }

  /** Marks the runtime stopped: queued work is skipped, timers are cleared. Then waits for the event being handled. */
  async halt(): Promise<void> {
    this.stoppedFlag = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await this.queue;
  }
}

/** `dump [N]`: N entries, 1–500 (what the log keeps), default 200. */
function dumpCount(arg: string | undefined): number {
  if (arg === undefined) return 200;
  const n = /^\d{1,9}$/.test(arg) ? Number(arg) : NaN;
  if (!(n >= 1 && n <= 500)) throw new Error(`dump ${JSON.stringify(arg.slice(0, 32))}: expected a count of log entries from 1 to 500`);
  return n;
}

/** One row per volume: the nodes that have it (cluster-wide with an announcer in the daemon group, else this node's), sorted by UUID; state: this node's. */
export function groupRows(announcer: GroupAnnouncer | undefined, local: LocalGroups, stateHere: (uuid: string) => string | undefined): { uuid: string; nodes: number[]; state: string }[] {
  const view = announcer?.view(local) ?? new Map(local.map((l) => [l.ls, l.nodes]));
  return [...view].sort(([a], [b]) => (a < b ? -1 : 1)).map(([uuid, nodes]) => ({ uuid, nodes, state: stateHere(uuid) ?? 'not mounted here' }));
}

/**
 * The daemon group's volume announcements: each daemon multicasts the lockspaces (volumes) it has
 * when they change and when another daemon joins; everyone merges them into one cluster-wide view
 * and reports each change as a 'group' event.
 */
export class GroupAnnouncer {
  private tracker: MountTracker | undefined;
  private announced: string | undefined;
  /** joined the daemon group and not lost it since */
  private inGroup = false;

  constructor(
    private readonly rt: DaemonRuntime,
    private readonly emitter: EventEmitter<DaemonEvents>,
    private readonly localNodeId: number,
    /** multicasts in the daemon group (a daemon may time the call) */
    private readonly send: (data: string) => Promise<void>,
  ) {}

  /** in the daemon group: the view is cluster-wide and announcements are sent */
  get joined(): boolean {
    return this.inGroup;
  }

  /** Joins the daemon group; when that fails, the view is this node's only (said in the log). */
  async join(joinGroup: (group: string) => Promise<void>): Promise<boolean> {
    try {
      this.tracker = new MountTracker(this.localNodeId);
      await joinGroup(DAEMON_GROUP);
      this.inGroup = true;
      return true;
    } catch (e) {
      this.tracker = undefined;
      this.rt.log('warn', 'group-join-failed', `cannot join the daemon group ${DAEMON_GROUP} (${(e as Error).message}): groups show only the volumes mounted here`);
      return false;
    }
  }

  /** The daemon group lost (membership down): only this node's volumes count now. */
  lost(): void {
    this.inGroup = false;
    this.tracker?.daemonGroupChange([]);
  }

  /** Leaves the daemon group (at stop) within boundMs; false when it was not in it. */
  async leave(leaveGroup: (group: string) => Promise<void>, boundMs = 5000): Promise<boolean> {
    if (!this.inGroup) return false;
    this.inGroup = false;
    let bound: NodeJS.Timeout | undefined;
    try {
      await Promise.race([leaveGroup(DAEMON_GROUP), new Promise((_, reject) => (bound = setTimeout(() => reject(new Error(`no answer within ${boundMs} ms`)), boundMs)))]);
      this.rt.log('info', 'group-leave', `left the daemon group ${DAEMON_GROUP}`);
    } catch (e) {
      this.rt.log('warn', 'group-leave-failed', `leaving ${DAEMON_GROUP}: ${(e as Error).message} (closing the connection instead: the others see this daemon end)`);
    } finally {
      clearTimeout(bound);
    }
    return true;
  }

  /** An announcement delivered in the daemon group; true when it changed the view. */
  message(nodeid: number, data: string): boolean {
    return this.tracker?.message(nodeid, data) ?? false;
  }

  /** The daemon group's members changed; true when someone joined (announce again then). */
  membersChanged(nodes: number[]): boolean {
    return this.tracker?.daemonGroupChange(nodes) ?? false;
  }

  /** Each volume with the nodes that have it: cluster-wide when in the daemon group, else this node's. */
  view(local: LocalGroups): Map<string, number[]> {
    return this.tracker ? this.tracker.view(local) : new Map(local.map((l) => [l.ls, l.nodes]));
  }

  /** Announces this node's volumes when they changed (or when asked; a promise then), and reports group changes. */
  refresh(local: LocalGroups, announce: boolean): Promise<void> | void {
    const tracker = this.tracker;
    if (!tracker) return;
    const report = () => {
      for (const g of tracker.changes(tracker.view(local))) {
        const e: GroupEvent = { uuid: g.ls, nodes: g.nodes, joined: g.joined, left: g.left };
        this.rt.log('info', 'group', `${g.ls}: ${g.nodes.length ? `mounted on node ${g.nodes.join(',')}` : 'mounted on no node'}${g.joined.length ? ` (joined ${g.joined.join(',')})` : ''}${g.left.length ? ` (left ${g.left.join(',')})` : ''}`, { ...e });
        this.emitter.emit('group', e);
      }
    };
    const mine = encodeMounts(local.map((l) => l.ls));
    if (!this.inGroup || (!announce && mine === this.announced)) return report();
    this.announced = mine;
    return this.send(mine).then(report, (e: unknown) => {
      this.rt.log('warn', 'announce-failed', `could not announce this node's volumes in ${DAEMON_GROUP}: ${(e as Error).message}`);
      report();
    });
  }
}
