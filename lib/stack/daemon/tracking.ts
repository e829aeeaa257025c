// The o2stack daemon beside a running dlm_controld (tracking mode). fs/dlm has one control daemon
// and here it is dlm_controld: this one never opens /dev/dlm-monitor, never writes fs/dlm's
// configfs or sysfs, never answers a uevent. It only watches, and tells the cluster what it sees:
//   - this node's lockspaces: /sys/kernel/dlm (scanned at start and after a uevent overflow), then
//     the kernel's `online`/`offline` uevents, observed only. A lockspace counts as mounted here
//     once dlm_controld has joined it: its configfs member list (spaces/<ls>/nodes, which
//     dlm_controld writes before it starts the lockspace) names this node;
//   - each such lockspace's members: that configfs list, re-read every membersPollMs (dlm_controld
//     rewrites it on every member change and sends no event for it);
//   - the rest of the cluster: the daemon group DAEMON_GROUP through MountTracker, with the same
//     announcements as DlmDaemon, so tracking and standalone daemons can share one cluster.
// It serves the control socket commands the CLI uses (status, lockspaces, groups, dump) and
// refuses the recovery ones (dlm_controld's job), and emits DlmDaemon's 'group' events. If
// dlm_controld goes away it says so loudly and keeps tracking; it never takes fs/dlm over.
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import type { KernelBackend } from '../../kernel/backend.js';
import type { ReceivedUevent } from '../../kernel/uevent.js';
import { DLM_CLUSTER } from '../../model/dlm.js';
import { TrackingModel, type TrackedLockspace, type TrackingNote } from '../../model/trackingModel.js';
import { DAEMON_GROUP } from '../../model/mountTracker.js';
import type { MembershipSource, MembersChangedEvent, QuorumChangedEvent } from '../../model/membership.js';
import { dlmLockspaceEvent } from '../../model/uevent.js';
import { findDlmControld } from './controld.js';
import { checkSocket, DaemonRefusal } from './daemon.js';
import { sdNotify } from './notify.js';
import { DaemonRuntime, GroupAnnouncer, groupRows, type DaemonEvents, type LockspaceEventSource, type LogEntry } from './runtime.js';

export type { TrackedLockspace } from '../../model/trackingModel.js';

/** The kernel as the tracking daemon may use it: reads only (no write, mkdir, rmdir or batch). */
export type KernelReader = Pick<KernelBackend, 'tryList' | 'tryRead'>;

export interface ControldProcess {
  pid: number;
  /** where it was seen (/proc/<pid>/comm, or its lockfile) */
  how: string;
}

export interface TrackingDaemonOptions {
  backend: KernelReader;
  /** corosync's (the membership dlm_controld uses); tests use a StaticCluster hub as CPG */
  membership: MembershipSource;
  /** for status when fs/dlm's configfs has no cluster_name (yet) */
  clusterName?: string;
  socketPath?: string | null;
  log?: (line: string) => void;
  /** where lockspace uevents come from; default: the kernel's uevent netlink socket */
  uevents?: LockspaceEventSource;
  /** finds the running dlm_controld; default findDlmControld() (/proc, its lockfile) */
  findControld?: () => ControldProcess | undefined;
  /** how often dlm_controld is looked for while running; default 2000 ms */
  controldCheckMs?: number;
  /** how often this node's lockspaces are re-read (members, still there); default 1000 ms */
  membersPollMs?: number;
  /** an `online` not joined by dlm_controld within this is logged as slow (once); default 60 s */
  joinWarnMs?: number;
}

// quick re-reads after an `online`: dlm_controld's join takes 0.1–2 s (more while it waits for
// quorum or fencing, then the regular poll takes over)
const CONFIRM_STEPS_MS = [50, 150, 300, 600, 1200];

const sortedIds = (ids: number[]) => [...new Set(ids)].sort((a, b) => a - b);

export class TrackingDaemon extends EventEmitter<DaemonEvents> {
  readonly mode = 'beside-dlm_controld';
  private readonly o: TrackingDaemonOptions;
  /** this node's lockspaces (lib/model/trackingModel.ts); made at start, with this node's id */
  private lockspaces = new TrackingModel(0);
  private readonly rt: DaemonRuntime;
  /** made at start, with this node's id */
  private announcer: GroupAnnouncer | undefined;
  private daemonGroupMembers: number[] = [];
  private controld: ControldProcess & { running: boolean; since: number };
  private listener: LockspaceEventSource | undefined;
  private localNodeId = 0;
  private started = false;
  readonly counters = { online: 0, offline: 0, joined: 0, left: 0, overflows: 0, controldLost: 0 };
  private closedResolve: (() => void) | undefined;
  /** resolves when stop() ran */
  readonly closed: Promise<void>;

  constructor(o: TrackingDaemonOptions) {
    super();
    this.o = o;
    this.rt = new DaemonRuntime(this, o.log);
    this.controld = { pid: 0, how: '', running: false, since: Date.now() };
    this.closed = new Promise((r) => (this.closedResolve = r));
  }

  log(level: LogEntry['level'], event: string, msg: string, data: Record<string, unknown> = {}): void {
    this.rt.log(level, event, msg, data);
  }

  /** dlm_controld found; membership and the daemon group; uevents, then the rescan; the socket; READY=1. Undone in reverse if a step fails. */
  async start(): Promise<void> {
    const m = this.o.membership;
    let found: ControldProcess | undefined;
    await this.rt.setUp([
      {
        name: 'dlm_controld',
        run: () => {
          found = this.findControld();
          if (!found) throw new DaemonRefusal('dlm_controld is not running: the tracking mode runs only beside it (run `o2stack daemon` without it for the standalone daemon, which configures fs/dlm itself)');
          this.controld = { ...found, running: true, since: Date.now() };
        },
      },
      { name: 'socket path', run: () => checkSocket(this.o.socketPath) },
      {
        name: 'membership',
        run: async () => {
          await m.start();
          this.localNodeId = m.localNodeId();
          this.lockspaces = new TrackingModel(this.localNodeId, this.o.joinWarnMs ?? 60_000);
          this.checkLocalComm();
          m.on('quorum', (q) => this.onQuorum(q));
          m.on('members', (c) => this.onMembers(c));
          m.on('message', (msg) => {
            if (msg.group !== DAEMON_GROUP) return;
            const data = msg.data.toString('utf8');
            this.enqueue(() => {
              if (this.announcer?.message(msg.nodeid, data)) return this.refreshGroups(false);
            });
          });
          m.on('down', (e) => {
            this.log('error', 'membership-down', `membership source lost: ${e.message}; groups show only the volumes mounted here`);
            this.announcer?.lost();
            this.enqueue(() => this.refreshGroups(false));
          });
          return () => m.close();
        },
      },
      {
        name: 'daemon group',
        run: async () => {
          const announcer = new GroupAnnouncer(this.rt, this, this.localNodeId, (data) => m.send(DAEMON_GROUP, data));
          this.announcer = announcer;
          await announcer.join((g) => m.joinGroup(g));
          return async () => void (await announcer.leave((g) => m.leaveGroup(g)));
        },
      },
      {
        // uevents before the scan: a lockspace made in between is seen by one or the other
        name: 'uevents',
        run: () => {
          const { listener, teardown } = this.rt.listenLockspaceUevents(this.o.uevents, {
            onEvent: (ev) => this.onUevent(ev),
            onOverflow: () => {
              this.counters.overflows++;
              this.enqueue(() => this.rescan());
            },
            errorConsequence: `lockspaces are still re-read every ${this.pollMs} ms, new ones are not seen`,
          });
          this.listener = listener;
          this.enqueue(() => this.rescan());
          return teardown;
        },
      },
      {
        name: 'control socket',
        run: () =>
          this.rt.serve(this.o.socketPath, {
            status: () => this.status(),
            lockspaces: () => this.lockspaceList(),
            groups: () => this.groups(),
            'node-down': () => this.refuseRecovery('node-down'),
            'node-up': () => this.refuseRecovery('node-up'),
            'fence-ack': (args) => this.refuseRecovery('fence-ack', args[0]),
          }),
      },
    ]);
    this.rt.every(this.pollMs, () => this.enqueue(() => this.poll()));
    this.rt.every(this.o.controldCheckMs ?? 2000, () => this.checkControld());
    this.started = true;
    await this.rt.idle();
    let notified = false;
    try {
      notified = sdNotify(`READY=1\nSTATUS=beside dlm_controld (pid ${found!.pid}): tracking volumes; node ${this.localNodeId}\nMAINPID=${process.pid}`);
    } catch (e) {
      this.log('warn', 'notify', `sd_notify failed: ${(e as Error).message}`);
    }
    this.log('info', 'ready', `ready beside dlm_controld (pid ${found!.pid}, seen in ${found!.how}): tracking only, fs/dlm is left to it${notified ? ' (READY=1 sent to systemd)' : ''}`, { quorate: m.isQuorate(), lockspaces: this.lockspaceList().length, dlmControldPid: found!.pid });
    this.rt.startWatchdog(sdNotify);
  }

  private get pollMs(): number {
    return this.o.membersPollMs ?? 1000;
  }

  private refuseRecovery(cmd: 'node-down' | 'node-up' | 'fence-ack', id?: string): never {
    const who = this.controld.running ? `dlm_controld (pid ${this.controld.pid})` : 'dlm_controld (now gone: restart it, systemctl start dlm)';
    if (cmd === 'fence-ack') throw new Error(`dlm_controld owns recovery here: ${who} does the fencing; acknowledge a manual fence with \`dlm_tool fence_ack ${id ?? 'ID'}\` (this o2stack daemon only tracks, beside it)`);
    throw new Error(`dlm_controld owns recovery here: ${who} takes node deaths and returns from corosync itself, ${cmd} is for the standalone daemon's static membership; see \`dlm_tool status\` (this o2stack daemon only tracks, beside it)`);
  }

  /** The node id dlm_controld gave fs/dlm (its local comm) should be corosync's: said if not. */
  private checkLocalComm(): void {
    const k = this.o.backend;
    for (const c of k.tryList(`${DLM_CLUSTER}/comms`) ?? []) {
      if (c.type !== 'dir' || k.tryRead(`${DLM_CLUSTER}/comms/${c.name}/local`)?.trim() !== '1') continue;
      if (Number(c.name) !== this.localNodeId) this.log('warn', 'node-id-mismatch', `fs/dlm's local comm is node ${c.name} but the membership says this node is ${this.localNodeId}: the groups shown may be wrong`);
    }
  }

  /** this node's members of lockspace ls in configfs (dlm_controld's), sorted */
  private readMembers(ls: string): number[] {
    const entries = this.o.backend.tryList(`${DLM_CLUSTER}/spaces/${ls}/nodes`) ?? [];
    return sortedIds(entries.filter((e) => e.type === 'dir').map((e) => Number(e.name)).filter((n) => Number.isInteger(n) && n > 0));
  }

  private sysfsLockspaces(): Set<string> {
    return new Set((this.o.backend.tryList('/sys/kernel/dlm') ?? []).filter((e) => e.type === 'dir').map((e) => e.name));
  }

  private onUevent(ev: ReceivedUevent): void {
    const d = dlmLockspaceEvent(ev);
    if (!d || d.action === 'add') return;
    const ls = d.lockspace;
    if (d.action === 'online') {
      this.counters.online++;
      this.log('info', 'uevent-online', `online ${ls} (observed: dlm_controld answers it)`, { ls, seqnum: d.seqnum ?? null });
      this.enqueue(() => {
        this.lockspaces.online(ls, Date.now());
        return this.check(ls);
      });
      let at = 0;
      for (const step of CONFIRM_STEPS_MS) {
        at += step;
        this.rt.after(at, () => this.enqueue(() => (this.lockspaces.state(ls) === 'joining' ? this.check(ls) : undefined)));
      }
      return;
    }
    if (d.action === 'offline') {
      this.counters.offline++;
      this.log('info', 'uevent-offline', `offline ${ls} (observed: dlm_controld answers it)`, { ls, seqnum: d.seqnum ?? null });
    }
    // offline: this node leaves it now; remove: it is gone (a failed join sends no offline)
    this.enqueue(() => {
      this.note(this.lockspaces.drop(ls, d.action === 'offline' ? 'offline' : 'removed'));
      return this.refreshGroups(false);
    });
  }

  /** Re-reads one lockspace: gone from sysfs, joined by dlm_controld, members changed. */
  private check(ls: string, sysfs = this.sysfsLockspaces()): Promise<void> | void {
    this.update(ls, sysfs);
    return this.refreshGroups(false);
  }

  private update(ls: string, sysfs: Set<string>): void {
    this.note(this.lockspaces.observe(ls, sysfs.has(ls), () => this.readMembers(ls), Date.now()));
  }

  /** The model's notes, logged and counted. */
  private note(notes: TrackingNote[]): void {
    for (const n of notes) {
      if (n.kind === 'joined') {
        this.counters.joined++;
        this.log('info', 'joined', `${n.ls}: dlm_controld joined it with members ${n.members.join(',')} (${n.ms} ms after online)`, { ls: n.ls, members: n.members, ms: n.ms });
      } else if (n.kind === 'join-slow') {
        this.log('warn', 'join-slow', `${n.ls}: dlm_controld has not joined it ${Math.round(n.waitedMs / 1000)} s after online (quorum? fencing?): see dlm_tool status, dlm_tool ls`, { ls: n.ls });
      } else if (n.kind === 'members') {
        this.log('info', 'members', `${n.ls}: members ${n.members.join(',') || 'none'} (were ${n.was.join(',')}), from dlm_controld's configfs`, { ls: n.ls, members: n.members, was: n.was });
      } else {
        if (n.wasRunning) this.counters.left++;
        this.log('info', 'left', `${n.ls}: no longer mounted here (${n.why})`, { ls: n.ls });
      }
    }
  }

  /** At start and after an overflow: every lockspace in /sys/kernel/dlm, then each one checked. */
  private rescan(): Promise<void> | void {
    const sysfs = this.sysfsLockspaces();
    this.lockspaces.found(sysfs, Date.now());
    for (const ls of this.lockspaces.names()) this.update(ls, sysfs);
    this.log('info', 'rescan', `/sys/kernel/dlm: ${sysfs.size} lockspace(s)${sysfs.size ? ` (${[...sysfs].sort().join(', ')})` : ''}`, { lockspaces: [...sysfs].sort() });
    return this.refreshGroups(false);
  }

  /** The regular re-read of the lockspaces already known (their members change without an event). */
  private poll(): Promise<void> | void {
    if (this.lockspaces.size === 0) return;
    const sysfs = this.sysfsLockspaces();
    for (const ls of this.lockspaces.names()) this.update(ls, sysfs);
    return this.refreshGroups(false);
  }

  private findControld(): ControldProcess | undefined {
    if (this.o.findControld) return this.o.findControld();
    // the known process first: one small read, where a full look walks /proc
    if (this.controld.running) {
      try {
        if (readFileSync(`/proc/${this.controld.pid}/comm`, 'utf8').trim() === 'dlm_controld') return { pid: this.controld.pid, how: this.controld.how };
      } catch {
        /* gone */
      }
    }
    return findDlmControld();
  }

  private checkControld(): void {
    const now = this.findControld();
    const was = this.controld;
    if (was.running && now?.pid === was.pid) return;
    if (was.running && !now) {
      this.counters.controldLost++;
      this.controld = { ...was, running: false, since: Date.now() };
      this.log('error', 'dlm_controld-gone', `DLM_CONTROLD IS GONE (pid ${was.pid}): fs/dlm has no control daemon now — lockspace joins, leaves and recovery after a node death wait until it runs again (systemctl start dlm). The o2stack daemon keeps tracking and does NOT take over fs/dlm`, { pid: was.pid });
      this.notifyStatus(`dlm_controld (pid ${was.pid}) is GONE: fs/dlm has no control daemon; tracking only`);
      return;
    }
    if (!now) return;
    this.controld = { ...now, running: true, since: Date.now() };
    this.log('warn', 'dlm_controld-back', `dlm_controld runs again (pid ${now.pid}, seen in ${now.how}${was.running ? `; it was pid ${was.pid}` : ''})`, { pid: now.pid });
    this.notifyStatus(`beside dlm_controld (pid ${now.pid}): tracking volumes; node ${this.localNodeId}`);
  }

  private notifyStatus(text: string): void {
    try {
      sdNotify(`STATUS=${text}`);
    } catch {
      /* no notify surface: the log says it */
    }
  }

  private onQuorum(q: QuorumChangedEvent): void {
    this.log('info', 'quorum', `membership: nodes ${q.nodes.join(',')}${q.quorate ? ', quorate' : ', NOT quorate'} (dlm_controld acts on it)`, { ...q });
  }

  private onMembers(c: MembersChangedEvent): void {
    if (c.group !== DAEMON_GROUP) return;
    const nodes = [...new Set(c.members.map((m) => m.nodeid))];
    this.daemonGroupMembers = sortedIds(nodes);
    if (c.left.length) this.log('info', 'daemon-group', `daemon group: ${c.left.map((l) => `node ${l.nodeid} left (${l.reason})`).join(', ')}; members ${this.daemonGroupMembers.join(',')}`, { members: this.daemonGroupMembers });
    this.enqueue(() => {
      const someoneJoined = this.announcer?.membersChanged(nodes) ?? false;
      return this.refreshGroups(someoneJoined);
    });
  }

  /** This node's lockspaces that count (dlm_controld joined them), with their configfs members. */
  private localView(): { ls: string; nodes: number[] }[] {
    return this.lockspaces.localView();
  }

  /** Announces this node's volumes when they changed (or when asked), and reports group changes. */
  private refreshGroups(announce: boolean): Promise<void> | void {
    return this.announcer?.refresh(this.localView(), announce);
  }

  private enqueue(fn: () => Promise<void> | void): void {
    this.rt.enqueue(fn);
  }

  /** Each volume (lockspace UUID) with the nodes that have it, cluster-wide; state: this node's. */
  groups(): { uuid: string; nodes: number[]; state: string }[] {
    return groupRows(this.announcer, this.localView(), (uuid) => this.lockspaces.state(uuid));
  }

  lockspaceList(): TrackedLockspace[] {
    return this.lockspaces.list();
  }

  status(): Record<string, unknown> {
    const m = this.o.membership;
    const q = this.started ? m.quorum() : undefined;
    return {
      mode: this.mode,
      pid: process.pid,
      uptimeMs: Date.now() - this.rt.startedAt,
      cluster: this.o.backend.tryRead(`${DLM_CLUSTER}/cluster_name`)?.trim() || this.o.clusterName || null,
      dlmControld: { pid: this.controld.pid, how: this.controld.how, running: this.controld.running, since: this.controld.since },
      membership: m.kind,
      localNodeId: this.localNodeId,
      quorate: q?.quorate ?? false,
      nodes: q?.nodes ?? [],
      daemonGroup: { joined: this.announcer?.joined ?? false, members: this.daemonGroupMembers },
      lockspaces: this.lockspaceList(),
      groups: this.groups(),
      counters: { ...this.counters },
      listener: this.listener?.stats?.() ?? null,
    };
  }

  /** Stops watching, leaves the daemon group (the others drop this node's volumes), disconnects. */
  async stop(): Promise<void> {
    if (this.rt.stopped) return;
    this.rt.closeControl();
    await this.rt.halt();
    await this.rt.tearDown();
    this.log('info', 'stop', 'daemon stopped');
    this.closedResolve?.();
  }
}
