// The o2stack daemon in standalone mode (no dlm_controld): runs lib/model/dlmDaemon.ts against the
// kernel. It keeps /dev/dlm-monitor open for life (opened before configfs is filled), answers the
// kernel's lockspace `online`/`offline` uevents (rescanning /sys/kernel/dlm at start and after an
// overflow), takes membership from a MembershipSource (quorum events: nodes that left are dead,
// nodes that joined are back; the quorate flag gates starts and fencing), runs the fence agent,
// and serves a control socket. One structured JSON line per event goes to the log sink.
// With groups (the default for every source but the static one) each lockspace's members are its
// process group's (lib/model/lockspaceGroup.ts): group changes and start messages are fed to the
// model, and its group-join/leave/send actions go to the source. 'group' events tell API users
// which nodes have which lockspace (ocfs2: volume UUID) mounted.
// Legacy mode (recover_callbacks 0, kernels whose DOWN is safe): /dev/ocfs2_control is handshaken
// at start and held for the daemon's life; the model's `down` actions are written on it. Closing
// that handle while user-stack volumes are mounted restarts the machine
// (docs/kernel-interfaces.md#ocfs2_control-close), and so does this process's exit, which closes
// it: stop() then refuses and keeps running.
import { EventEmitter } from 'node:events';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { BatchError, type KernelBackend } from '../../kernel/backend.js';
import { ControlGuardError, downHazard, openControl, userStackMounts, type ControlDevice, type ControlOpenOptions, type DownHazard, type DownHazardOptions } from '../../kernel/control.js';
import { KernelError } from '../../kernel/errors.js';
import type { ReceivedUevent } from '../../kernel/uevent.js';
import { DLM_CLUSTER, failEventOps, type DlmMember } from '../../model/dlm.js';
import { daemonStartPlan, DlmControlModel, ENOTCONN, ESHUTDOWN, type DaemonAction, type DaemonEvent, type DlmConfigState } from '../../model/dlmDaemon.js';
import { heldUserStackLocks } from '../../model/heldLocks.js';
import { warmUpDaemonModel } from '../../model/daemonWarmUp.js';
import { LatencySamples } from '../../model/latency.js';
import { lockspaceOfGroup } from '../../model/lockspaceGroup.js';
import { DAEMON_GROUP } from '../../model/mountTracker.js';
import { decodeFenceResult, decodeStartupFence, decodeStartupUnseen, encodeFenceResult, encodeStartupFence, encodeStartupUnseen } from '../../model/fenceMessage.js';
import type { MembershipSource, MembersChangedEvent, QuorumChangedEvent } from '../../model/membership.js';
import { dlmLockspaceEvent } from '../../model/uevent.js';
import { StaticMembership } from '../membership/static.js';
import { findDlmControld } from './controld.js';
import { runFenceAgent, type FenceOutcome } from './fence.js';
import { runPacemakerFence } from './pacemakerFence.js';
import { LivenessProbe } from './liveness.js';
import { PlockService } from './plocks.js';
import { checkSocketPath, DEFAULT_SOCKET, SocketInUseError } from './controlSocket.js';
import { readInputFile } from '../inputFile.js';
import { sdNotify } from './notify.js';
import { DaemonRuntime, GroupAnnouncer, groupRows, type DaemonEvents, type LockspaceEventSource, type LogEntry, type Teardown } from './runtime.js';

export type { DaemonEvents, GroupEvent, LockspaceEventSource, LogEntry } from './runtime.js';

export interface DaemonOptions {
  backend: KernelBackend;
  clusterName: string;
  /** every node with its addresses (static: the members file; corosync: its nodelist) */
  nodes: (DlmMember & { name?: string })[];
  membership: MembershipSource;
  /** fence agent path: the fence method when set */
  fenceAgent?: string;
  /**
   * without an agent: 'manual' (the default: a dead node's recovery waits for `fence-ack`) or
   * 'unsafe-off' (no fencing: a dead node counts as fenced at once; tests only) or 'pacemaker'
   * (Pacemaker's fencer through stonith_admin: lib/stack/daemon/pacemakerFence.ts)
   */
  fencing?: 'manual' | 'unsafe-off' | 'pacemaker';
  /** --fence-pacemaker: the programs (tests put fakes here); default stonith_admin and crm_node on PATH */
  pacemakerTools?: { stonithAdmin?: string; crmNode?: string; crmAttribute?: string };
  fenceArgs?: Record<string, string>;
  fenceTimeoutMs?: number;
  maxFenceRounds?: number;
  fenceRetryDelayMs?: number;
  /** a join waiting (quorum, fencing) longer than this is answered -ETIMEDOUT; default 120 s */
  joinTimeoutMs?: number;
  /**
   * legacy WITH_CONTROLD mode (recover_callbacks 0): node deaths go to ocfs2 as DOWN on
   * /dev/ocfs2_control. Refused on kernels where DOWN crashes (downHazard()).
   */
  legacy?: boolean;
  /** legacy mode: the control device (tests inject openIo and the mount table); default the kernel's */
  control?: Pick<ControlOpenOptions, 'path' | 'openIo' | 'mounts'>;
  /** legacy mode: where downHazard() reads the kernel's config (tests inject one) */
  downHazard?: DownHazardOptions;
  socketPath?: string | null;
  /** TCP liveness probe between static members (see liveness.ts); undefined = off */
  liveness?: { port?: number; intervalMs?: number; deadMs?: number };
  log?: (line: string) => void;
  quorumGating?: boolean;
  /** lockspace members from per-lockspace process groups (default: every source but 'static') */
  groups?: boolean;
  /** the dlm monitor device; null: none (a fake kernel tree in tests). Default: the kernel's */
  monitorPath?: string | null;
  /** where lockspace uevents come from; default: the kernel's uevent netlink socket */
  uevents?: LockspaceEventSource;
  /**
   * POSIX locks (/dev/dlm_plock): served cluster-wide in groups mode (default true). false
   * (--no-plocks), or static membership: every request is answered at once with -ENOSYS.
   */
  plocks?: boolean;
  /** the plock device: default the kernel's; {fd} adopts one (tests); null: none (a fake kernel tree) */
  plockDevice?: { paths?: string[]; fd?: number } | null;
  /**
   * startup fencing (dlm_controld's enable_startup_fencing, default true): configured nodes not
   * in the membership when this daemon saw the cluster form are fenced after postJoinDelayMs
   * unless they join first; no lockspace starts meanwhile
   */
  startupFencing?: boolean;
  /** dlm_controld's post_join_delay; also the model's merge wait (a node back after a partition this node lost: its daemon must show within it); default 30000 ms */
  postJoinDelayMs?: number;
}

export class DaemonRefusal extends Error {
  readonly code = 'E_DAEMON_REFUSED';
}

/** The daemon stopped by itself and must exit non-zero (membership lost). */
export class DaemonFatal extends Error {
  readonly code = 'E_DAEMON_FATAL';
}

const DLM_MONITOR = ['/dev/dlm-monitor', '/dev/misc/dlm-monitor'];

export class DlmDaemon extends EventEmitter<DaemonEvents> {
  readonly model: DlmControlModel;
  private readonly o: DaemonOptions;
  private monitorFd: number | undefined;
  /** legacy mode: the handshaken /dev/ocfs2_control, held for the daemon's life */
  private controlDevice: ControlDevice | undefined;
  private listener: LockspaceEventSource | undefined;
  private probe: LivenessProbe | undefined;
  /** the queue, the log, timers, the ordered setup and its teardowns, the control socket */
  private readonly rt: DaemonRuntime;
  private readonly joinTimers = new Map<string, NodeJS.Timeout>();
  /** groups mode: cluster-wide group tracking through the daemon group (lib/model/mountTracker.ts) */
  private announcer: GroupAnnouncer | undefined;
  private readonly ownTime = new LatencySamples(1024);
  private outsideNs = 0n;
  readonly counters = { online: 0, offline: 0, joinsAnswered: 0, joinsFailed: 0, leavesAnswered: 0, deaths: 0, fences: 0, overflows: 0 };
  private closedResolve: (() => void) | undefined;
  /** POSIX locks: the device, the replicated tables (lib/stack/daemon/plocks.ts) */
  readonly plocks: PlockService;
  /** resolves when stop() ran */
  readonly closed: Promise<void>;

  constructor(o: DaemonOptions) {
    super();
    this.o = o;
    this.rt = new DaemonRuntime(this, o.log);
    const local = o.membership.localNodeId();
    this.model = new DlmControlModel({
      localNodeId: local,
      nodes: o.nodes,
      quorate: o.membership.isQuorate(),
      ...(o.quorumGating !== undefined ? { quorumGating: o.quorumGating } : {}),
      ...(o.maxFenceRounds !== undefined ? { maxFenceRounds: o.maxFenceRounds } : {}),
      ...(o.fenceRetryDelayMs !== undefined ? { fenceRetryDelayMs: o.fenceRetryDelayMs } : {}),
      // the same wait for a node to show up, after a partition: its daemon, once it is back
      ...(o.postJoinDelayMs !== undefined ? { mergeWaitMs: o.postJoinDelayMs } : {}),
      membership: (o.groups ?? o.membership.kind !== 'static') ? 'groups' : 'static',
      legacy: o.legacy ?? false,
    });
    this.closed = new Promise((r) => (this.closedResolve = r));
    const plocksOff =
      o.plocks === false
        ? 'switched off with --no-plocks'
        : this.model.mode !== 'groups'
          ? 'static membership of several nodes has no process groups to order POSIX locks across them: run the daemon on corosync, or mount with -o localflocks'
          : undefined;
    this.plocks = new PlockService({
      localNodeId: local,
      membership: o.membership,
      ...(o.plockDevice !== undefined ? { device: o.plockDevice } : o.monitorPath === null ? { device: null } : {}),
      ...(plocksOff ? { off: plocksOff } : {}),
      log: (level, event, msg, data) => this.log(level, event, msg, data ?? {}),
    });
  }

  log(level: LogEntry['level'], event: string, msg: string, data: Record<string, unknown> = {}): void {
    this.rt.log(level, event, msg, data);
  }

  /**
   * Checks, then the ordered setup (each step's teardown undone in reverse if a later one throws,
   * and at stop): the legacy control device, the dlm monitor, uevents, membership, the plock
   * device, the daemon group, fs/dlm's configfs, the lockspaces found, the control socket, the
   * liveness probe; then READY=1.
   */
  async start(): Promise<void> {
    const k = this.o.backend;
    const m = this.o.membership;
    await this.rt.setUp([
      { name: 'checks', run: () => this.checkStart() },
      // before any uevent is answered: a legacy mount whose join completes with no VALID handle fails -ESRCH
      { name: 'control device', run: () => this.openControlDevice() },
      // the monitor before the local comm: the kernel treats "nodeid set, monitor never opened" as
      // an old daemon, and closing it (our exit) stops every lockspace. Closed last at stop.
      { name: 'dlm monitor', run: () => this.openMonitor() },
      // uevents before the rescan in 'configfs': nothing sent in between can be lost
      { name: 'uevents', run: () => this.listenUevents() },
      {
        name: 'membership',
        run: async () => {
          await m.start();
          m.on('quorum', (q) => this.onQuorum(q));
          m.on('down', (e) => this.membershipLost(e));
          if (this.model.mode === 'groups') {
            m.on('members', (c) => this.onGroupChange(c));
            m.on('message', (msg) => this.onMessage(msg));
          }
          return () => m.close();
        },
      },
      // before any lockspace can start: a mounted volume's POSIX locks must never find nobody
      // reading the device. Undone before membership goes: pending requests answered -ENOLCK.
      {
        name: 'plock device',
        run: () => {
          const undo = this.plocks.start();
          this.warnHeldLocks();
          return undo;
        },
      },
      { name: 'startup fencing', run: () => this.armStartupFencing() },
      {
        name: 'daemon group',
        run: async () => {
          if (this.model.mode !== 'groups') return;
          const announcer = new GroupAnnouncer(this.rt, this, this.model.localNodeId, (data) => this.outside(() => m.send(DAEMON_GROUP, data)));
          if (await announcer.join((g) => m.joinGroup(g))) this.announcer = announcer;
        },
      },
      {
        name: 'configfs',
        run: async () => {
          const state = this.readConfigState();
          let plan;
          try {
            plan = daemonStartPlan({ clusterName: this.o.clusterName, localNodeId: this.model.localNodeId, members: this.o.nodes, recoverCallbacks: !this.o.legacy }, state);
          } catch (e) {
            const x = e as Error & { hint?: string };
            throw new DaemonRefusal(`${x.message}${x.hint ? `: ${x.hint}` : ''}`, { cause: e });
          }
          const existingName = k.tryRead(`${DLM_CLUSTER}/cluster_name`)?.replace(/\n$/, '');
          if (state.clusterDir && existingName && existingName !== this.o.clusterName && state.sysfs.length > 0) {
            throw new DaemonRefusal(`fs/dlm runs cluster '${existingName}' with ${state.sysfs.length} lockspace(s); refusing to switch to '${this.o.clusterName}'`);
          }
          await k.batchAsync(plan.ops);
          this.log('info', 'configured', `fs/dlm configured: cluster ${this.o.clusterName}, local node ${this.model.localNodeId}, ${this.o.nodes.length} comm(s)`, {
            ops: plan.ops.length,
            nodes: this.o.nodes.map((n) => `${n.nodeid}@${n.addresses.join(',')}`),
          });
          for (const a of plan.adopt) {
            this.log('info', 'adopt', `lockspace ${a.ls} already running with members ${a.members.join(',')}`);
            const acts = this.model.adopt(a.ls, a.members, Date.now());
            this.enqueue(async () => {
              for (const x of acts) await this.execute(x);
            });
          }
          for (const ls of plan.pending) {
            // a join found waiting at start is bounded like one seen live
            this.armJoinTimer(ls);
            this.enqueue(() => this.feed({ type: 'online', ls, at: Date.now() }));
          }
          if (this.fencingMode === 'manual') this.log('warn', 'fencing', 'manual fencing (no agent): a dead node is recovered only after `o2stack daemon-ctl fence-ack ID`');
          if (this.fencingMode === 'pacemaker') this.log('info', 'fencing', "fencing through Pacemaker's fencer: stonith_admin --reboot NODENAME (--fence when the cluster's stonith-action is off; node names from corosync's nodelist, else crm_node -l); a node Pacemaker already fenced after it failed is not fenced again");
          if (this.fencingMode === 'unsafe-off') this.log('warn', 'fencing', 'fencing is OFF (--unsafe-skip-fencing): a node that stops answering is taken as dead at once and its locks handed out; if it was only cut off and still writes, the volumes get corrupted');
        },
      },
      {
        name: 'control socket',
        run: () =>
          this.rt.serve(this.o.socketPath, {
            status: () => this.status(),
            lockspaces: () => this.model.snapshot().lockspaces,
            groups: () => this.groups(),
            plocks: (args) => this.plocks.model.view(args[0]),
            'node-down': (args) => this.declare('down', args),
            'node-up': (args) => this.declare('up', args),
            'fence-ack': (args) => this.fenceAck(args),
          }),
      },
      { name: 'liveness probe', run: () => this.startProbe() },
    ]);
    await this.rt.idle();
    this.warmUp();
    const notified = sdNotify(`READY=1\nSTATUS=fs/dlm configured for cluster ${this.o.clusterName}; node ${this.model.localNodeId}\nMAINPID=${process.pid}`);
    this.log('info', 'ready', `ready${notified ? ' (READY=1 sent to systemd)' : ''}`, { quorate: this.model.quorate });
    this.rt.startWatchdog(sdNotify);
  }

  /**
   * POSIX locks granted before this daemon started (its predecessor crashed or was killed with
   * volumes mounted) are in the kernel's lists but not in this daemon's table, which cannot be
   * rebuilt from them (the kernel does not show the lock owners it sends). Said loudly, with who
   * holds them and the fix, instead of silently granting conflicting locks later.
   */
  private warnHeldLocks(): void {
    if (this.plocks.model.mode !== 'cluster') return;
    const k = this.o.backend;
    const held = heldUserStackLocks(k.tryRead('/proc/locks') ?? '', k.tryRead('/proc/self/mountinfo') ?? '');
    if (held.length === 0) return;
    const pids = [...new Set(held.map((l) => l.pid))].sort((a, b) => a - b);
    const dirs = [...new Set(held.map((l) => l.dir))];
    this.log(
      'error',
      'plocks-unknown',
      `${held.length} POSIX lock(s) on ${dirs.join(', ')} were granted before this daemon started (held by pid ${pids.join(', ')}): they are not in its lock table, so a conflicting lock from another process or node could be granted; restart those programs (or unmount and mount the volumes) to bring the table and the kernel back in step`,
      { locks: held.length, pids, dirs },
    );
  }

  /** What must hold before anything is touched: no dlm_controld, a free socket path, a safe kernel for legacy mode, fs/dlm's configfs. */
  private async checkStart(): Promise<void> {
    const controld = findDlmControld();
    if (controld) throw new DaemonRefusal(`dlm_controld is running (pid ${controld.pid}, seen in ${controld.how}): fs/dlm is left to it; the o2stack daemon does not start`);
    await checkSocket(this.o.socketPath);
    if (this.o.legacy) {
      const hazard = downHazard(this.o.downHazard);
      if (hazard.hazardous) throw new DaemonRefusal(`legacy mode (recover_callbacks 0) refused on this kernel: node death would have to be sent as DOWN on /dev/ocfs2_control, and ${hazard.reason}. Use the dlm recovery callbacks instead: run \`o2stack daemon\` without --legacy (it writes recover_callbacks 1 before any lockspace exists; ocfs2 then learns of node deaths from the dlm, no DOWN needed)`);
      this.hazard = hazard;
    }
    if (!this.o.backend.exists('/sys/kernel/config/dlm')) throw new DaemonRefusal('/sys/kernel/config/dlm is missing: load the dlm module (modprobe dlm) and mount configfs');
  }

  /** legacy mode: the kernel's DOWN hazard as checked at start */
  private hazard: DownHazard | undefined;

  private openMonitor(): () => void {
    const dev = this.o.monitorPath === null ? 'no monitor (fake kernel tree)' : [...(this.o.monitorPath ? [this.o.monitorPath] : DLM_MONITOR)].find((p) => {
      try {
        this.monitorFd = openSync(p, 'r');
        return true;
      } catch {
        return false;
      }
    });
    if (!dev) throw new DaemonRefusal(`cannot open ${this.o.monitorPath ?? DLM_MONITOR.join(' or ')}: is the dlm module loaded? (modprobe dlm)`);
    this.log('info', 'monitor', `${dev} open (kept open for the daemon's life)`);
    return () => {
      const running = this.model.snapshot().lockspaces.length;
      if (running > 0) this.log('warn', 'stop', `stopping with ${running} lockspace(s) still running: the kernel stops them when the monitor closes`);
      if (this.monitorFd !== undefined) closeSync(this.monitorFd);
      this.monitorFd = undefined;
    };
  }

  private listenUevents(): Teardown {
    const { listener, teardown } = this.rt.listenLockspaceUevents(this.o.uevents, {
      onEvent: (ev) => this.onUevent(ev),
      onOverflow: () => {
        this.counters.overflows++;
        this.enqueue(() => this.feed({ type: 'rescan', ...this.readState(), at: Date.now() }));
      },
    });
    this.listener = listener;
    return teardown;
  }

  /** A message delivered in the daemon group or a lockspace group. */
  private onMessage(m: { group: string; nodeid: number; pid: number; data: Buffer }): void {
    if (m.group === DAEMON_GROUP) {
      const data = m.data.toString('utf8');
      const su = decodeStartupUnseen(data);
      if (su) {
        if (m.nodeid !== this.model.localNodeId && this.inheritUnseen) {
          this.inheritUnseen = false;
          const at = Date.now();
          this.log('info', 'startup-unseen', `startup fencing as node ${m.nodeid} sees it: ${su.nodes.length ? `node ${su.nodes.join(', ')} not seen since the cluster formed` : 'every node seen'}`, { from: m.nodeid, nodes: su.nodes });
          this.enqueue(() => this.feed({ type: 'startup-unseen', nodes: su.nodes.filter((id) => !this.o.membership.quorum().nodes.includes(id)), at }));
        }
        return;
      }
      const sf = decodeStartupFence(data);
      if (sf) {
        const at = Date.now();
        this.enqueue(() => this.startupFence(sf.nodes, m.nodeid, at));
        return;
      }
      const fr = decodeFenceResult(data);
      if (fr) {
        const at = Date.now();
        this.enqueue(() => this.fenceResultEvent({ nodeid: fr.nodeid, ok: fr.ok, at, from: m.nodeid, ...(fr.manual ? { manual: true } : {}), ...(fr.detail ? { detail: fr.detail } : {}) }));
        return;
      }
      this.enqueue(() => {
        if (this.announcer?.message(m.nodeid, data)) return this.refreshGroups(false);
      });
      return;
    }
    const ls = lockspaceOfGroup(m.group);
    if (ls === undefined) return;
    // plock messages are applied as delivered (their order against member changes matters); they
    // are read from the bytes (most are binary), the rest as text
    if (this.plocks.message(ls, { nodeid: m.nodeid, pid: m.pid }, m.data)) return;
    const data = m.data.toString('utf8');
    this.enqueue(() => this.feed({ type: 'group-message', ls, nodeid: m.nodeid, pid: m.pid, data, at: Date.now() }));
  }

  private async fenceAck(args: string[]): Promise<string> {
    const id = nodeArg(args);
    if (!this.model.nodes.has(id)) throw new Error(`node ${id} is not a node of cluster ${this.o.clusterName} (its nodes: ${[...this.model.nodes.keys()].join(', ')}): nothing acknowledged`);
    if (id === this.model.localNodeId) throw new Error(`node ${id} is this node: nothing acknowledged`);
    if (this.model.sharedFencing) {
      // cluster-wide: every daemon acts on it when it is delivered in the daemon group
      await this.outside(() => this.o.membership.send(DAEMON_GROUP, encodeFenceResult({ nodeid: id, ok: true, manual: true })));
      return `fence of node ${id} acknowledged on every node of the daemon group`;
    }
    this.enqueue(() => this.feed({ type: 'fence-result', nodeid: id, ok: true, manual: true, at: Date.now() }));
    return `fence of node ${id} acknowledged`;
  }

  private async startProbe(): Promise<(() => void) | void> {
    if (!this.o.liveness || !(this.o.membership instanceof StaticMembership)) return;
    const cluster = this.o.membership.cluster;
    const me = this.o.nodes.find((n) => n.nodeid === this.model.localNodeId)!;
    const probe = new LivenessProbe({
      localNodeId: me.nodeid,
      bind: me.addresses[0]!,
      peers: this.o.nodes.filter((n) => n.nodeid !== me.nodeid).map((n) => ({ nodeid: n.nodeid, address: n.addresses[0]! })),
      ...this.o.liveness,
      onDead: (id, silent) => {
        this.log('warn', 'probe-dead', `node ${id} has not answered the liveness probe for ${silent} ms`, { nodeid: id });
        void cluster.nodeDown(id);
      },
      onBack: (id) => {
        this.log('info', 'probe-back', `node ${id} answers the liveness probe again`, { nodeid: id });
        void cluster.nodeUp(id);
      },
    });
    this.probe = probe;
    await probe.start();
    this.log('info', 'liveness', `TCP liveness probe on ${me.addresses[0]}:${probe.port}`);
    return () => probe.close();
  }

  /** Rehearses recovery on a scratch model (lib/model/daemonWarmUp.ts): the first death then runs compiled code. */
  private warmUp(): void {
    const t0 = process.hrtime.bigint();
    try {
      const r = warmUpDaemonModel({ legacy: this.model.legacy });
      this.log('info', 'warm-up', `recovery rehearsed on a scratch model (${r.events} events) in ${msSince(t0)} ms`, { ms: msSince(t0), recovered: r.recovered });
    } catch (e) {
      this.log('warn', 'warm-up', `recovery rehearsal failed (the first recovery will only be slower): ${(e as Error).message}`);
    }
  }

  /**
   * Legacy mode: T01, SETN (this node), SETV 1.0 on /dev/ocfs2_control. Refused while user-stack
   * volumes are mounted already: the handle could then never be closed until they are unmounted,
   * and a start that failed after it would end this process, close it and restart the machine.
   */
  private openControlDevice(): (() => void) | void {
    const hazard = this.hazard;
    if (!hazard) return;
    const mounts = this.o.control?.mounts ?? (() => readFileSync('/proc/mounts', 'utf8'));
    let mounted;
    try {
      mounted = userStackMounts(mounts());
    } catch (e) {
      throw new DaemonRefusal(`legacy mode: cannot read the mount table (${(e as Error).message}), so user-stack mounts cannot be ruled out before the /dev/ocfs2_control handshake`);
    }
    if (mounted.length > 0) {
      throw new DaemonRefusal(`legacy mode refused: user-stack ocfs2 volumes are mounted (${mounted.map((m) => m.mountpoint).join(', ')}); a handshaken /dev/ocfs2_control could not be closed before they are unmounted, and the daemon's exit closes it (the kernel then restarts the machine). Unmount them first (o2stack umount DIR), or run the daemon without --legacy`);
    }
    try {
      this.controlDevice = openControl({ ...this.o.control, hazard: () => hazard, node: this.model.localNodeId, major: 1, minor: 0 });
    } catch (e) {
      const x = e as Error & { code?: string; hint?: string };
      throw new DaemonRefusal(`legacy mode: the /dev/ocfs2_control handshake for node ${this.model.localNodeId} failed: ${x.message}${x.hint ? ` (${x.hint})` : ''}`, { cause: e });
    }
    const dev = this.controlDevice;
    this.log('info', 'control-device', `${dev.path} handshaken (T01, node ${this.model.localNodeId}, protocol 1.0): held for the daemon's life; node deaths go to ocfs2 as DOWN after fencing`, { path: dev.path, fd: dev.fd });
    // a start that failed later: no volume was mounted at the handshake, so closing it is safe
    // (the guard still refuses if one is now). stop() closes it itself, and never after a fatal stop.
    return () => {
      if (dev.state !== 'closed' && !this.exitError) dev.close();
    };
  }

  /**
   * Legacy mode: one DOWN through the device's guards (never the local node, never on a hazardous
   * kernel). Returns why it failed, or undefined once written.
   */
  private sendDown(a: Extract<DaemonAction, { type: 'down' }>): string | undefined {
    const dev = this.controlDevice;
    try {
      if (!dev) throw new Error('the control device is not open (the daemon is not in legacy mode)');
      dev.notifyNodeDown(a.uuid, a.nodeid);
    } catch (e) {
      const x = e as Error & { code?: string; hint?: string };
      this.log('error', 'down-failed', `DOWN ${a.uuid} ${a.nodeid} not sent: ${x.message}. ocfs2 does not know node ${a.nodeid} died on that volume, so its journal is not replayed: the volume's lockspace stays stopped (the volume frozen here) rather than hand out the dead node's locks; restart this machine (the next mount replays the journal)`, { uuid: a.uuid, nodeid: a.nodeid, code: x.code ?? null, hint: x.hint ?? null });
      return x.code ?? x.message;
    }
    this.log('info', 'down', `DOWN ${a.uuid} ${a.nodeid} sent on ${dev.path}: ocfs2 recovers node ${a.nodeid}'s journal on that volume`, { uuid: a.uuid, nodeid: a.nodeid });
    return undefined;
  }

  /** node-down / node-up from the control socket (static membership only). */
  private declare(what: 'down' | 'up', args: string[]): string {
    const id = nodeArg(args);
    const m = this.o.membership;
    if (!(m instanceof StaticMembership)) throw new Error(`membership is ${m.kind}: it decides who is up, node-${what} is for static membership`);
    if (id === this.model.localNodeId) throw new Error(`node ${id} is this node`);
    void (what === 'down' ? m.cluster.nodeDown(id) : m.cluster.nodeUp(id));
    return `node ${id} declared ${what}`;
  }

  status(): Record<string, unknown> {
    const s = this.model.snapshot();
    return {
      pid: process.pid,
      uptimeMs: Date.now() - this.rt.startedAt,
      cluster: this.o.clusterName,
      membership: this.o.membership.kind,
      fenceAgent: this.o.fenceAgent ?? null,
      fencing: { mode: this.fencingMode, agent: this.o.fenceAgent ?? null, shared: this.model.sharedFencing },
      legacy: this.controlDevice ? { controlDevice: this.controlDevice.path, state: this.controlDevice.state, downs: this.controlDevice.downs } : null,
      ...s,
      liveness: this.probe?.state() ?? null,
      counters: { ...this.counters },
      // per event type: the daemon's own time (kernel operations and corosync calls taken out)
      ownTimeMs: this.ownTime.summary(),
      groups: this.model.mode === 'groups' ? this.groups() : null,
      plocks: this.plocks.status(),
      listener: this.listener?.stats?.() ?? null,
      // MB: RSS alone cannot tell a leak from V8's heap growing until its next major collection
      memory: memoryMB(),
    };
  }

  private onQuorum(q: QuorumChangedEvent): void {
    const at = Date.now();
    this.log('info', 'quorum', `membership: nodes ${q.nodes.join(',')}${q.quorate ? ', quorate' : ', NOT quorate'}`, { ...q });
    this.enqueue(async () => {
      if (this.model.unseen.size > 0) await this.feed({ type: 'seen', nodes: q.nodes, at });
      // quorum lost: said first, so that nodes leaving in the same event are not fenced
      if (!q.quorate) await this.feed({ type: 'quorum', quorate: false, at });
      for (const id of q.left) await this.feed({ type: 'node-down', nodeid: id, at, why: 'left the membership' });
      for (const id of q.joined) if (this.model.nodes.get(id)?.state !== 'up') await this.feed({ type: 'node-up', nodeid: id, at });
      if (q.quorate) await this.feed({ type: 'quorum', quorate: true, at });
    });
  }

  /**
   * Group tracking: each lockspace (ocfs2: volume UUID) with the nodes that have it, cluster-wide
   * (those not mounted here from the daemon group's announcements); state: this node's.
   */
  groups(): { uuid: string; nodes: number[]; state: string }[] {
    const here = this.model.snapshot().lockspaces.filter((l) => l.groupNodes);
    return groupRows(
      this.announcer,
      here.map((l) => ({ ls: l.name, nodes: l.groupNodes! })),
      (uuid) => here.find((l) => l.name === uuid)?.state,
    );
  }

  /** Announces this node's volumes when they changed (a promise then), and reports group changes. */
  private refreshGroups(announce: boolean): Promise<void> | void {
    return this.announcer?.refresh(this.model.groups().map((g) => ({ ls: g.ls, nodes: g.nodes })), announce);
  }

  private onGroupChange(c: MembersChangedEvent): void {
    if (c.group === DAEMON_GROUP) {
      const nodes = [...new Set(c.members.map((m) => m.nodeid))];
      const at = Date.now();
      // this node joined a group others were in: the cluster formed before, without us. The
      // members that saw it form do the startup fencing, and each tells the joiner which nodes it
      // has still not seen; until the first of them has, this node's own list stands (and blocks)
      const local = this.model.localNodeId;
      const joinedRunning = c.joined.some((m) => m.nodeid === local) && c.members.some((m) => !c.joined.some((j) => j.nodeid === m.nodeid));
      const othersJoined = !c.joined.some((m) => m.nodeid === local) && c.joined.some((m) => m.nodeid !== local);
      // set as delivered: the members' startup-unseen messages follow this change
      if (joinedRunning && this.announcer) {
        this.rt.cancel(this.startupTimer);
        this.startupTimer = undefined;
        this.inheritUnseen = true;
      }
      this.enqueue(async () => {
        if (!this.announcer) return;
        if (othersJoined && this.o.startupFencing !== false) {
          await this.outside(() => this.o.membership.send(DAEMON_GROUP, encodeStartupUnseen(this.model.untrusted()))).catch((e: unknown) => this.log('warn', 'startup-unseen', `could not tell the joiner which nodes are unseen: ${(e as Error).message}`));
        }
        // one fencer for the cluster: the lowest member of this group
        if (nodes.includes(this.model.localNodeId)) await this.feed({ type: 'daemon-members', nodes, at, joined: c.joined });
        const someoneJoined = this.announcer.membersChanged(nodes);
        return this.refreshGroups(someoneJoined);
      });
      return;
    }
    const ls = lockspaceOfGroup(c.group);
    if (ls === undefined) return;
    this.plocks.groupChange(ls, c);
    const at = Date.now();
    this.enqueue(() => this.feed({ type: 'group-change', ls, members: c.members, joined: c.joined, left: c.left, at }));
  }

  private onUevent(ev: ReceivedUevent): void {
    const d = dlmLockspaceEvent(ev);
    if (!d || (d.action !== 'online' && d.action !== 'offline')) return;
    this.counters[d.action]++;
    this.log('info', `uevent-${d.action}`, `${d.action} ${d.lockspace}`, { ls: d.lockspace, seqnum: d.seqnum ?? null });
    // a join arriving while the daemon stops would wait in mount(2) forever: refused now
    if (this.rt.stopped && d.action === 'online') return this.refuseJoinWhileStopping(d.lockspace);
    const at = Date.now();
    if (d.action === 'online') this.armJoinTimer(d.lockspace);
    this.enqueue(() => this.feed({ type: d.action as 'online' | 'offline', ls: d.lockspace, at }));
  }

  /** Answers a join -ESHUTDOWN (the mount fails at once with that errno) because this daemon is stopping. */
  private refuseJoinWhileStopping(ls: string): void {
    try {
      this.o.backend.batch(failEventOps(ls, ESHUTDOWN));
      this.log('warn', 'join-refused', `join of ${ls} refused (-ESHUTDOWN): the daemon is stopping; mount again once a control daemon runs`, { ls });
    } catch (e) {
      this.log('error', 'join-refused', `join of ${ls} could not be refused: ${(e as Error).message}`, { ls });
    }
  }

  private armJoinTimer(ls: string): void {
    this.rt.cancel(this.joinTimers.get(ls));
    const t = this.rt.after(this.o.joinTimeoutMs ?? 120_000, () => {
      this.joinTimers.delete(ls);
      this.enqueue(() => this.feed({ type: 'join-timeout', ls, at: Date.now() }));
    });
    this.joinTimers.set(ls, t);
  }

  private enqueue(fn: () => Promise<void> | void): void {
    this.rt.enqueue(fn);
  }

  /** Runs one event through the model and executes its actions in order. */
  private async feed(ev: DaemonEvent): Promise<void> {
    if (this.rt.stopped) return;
    if (ev.type === 'node-down') this.counters.deaths++;
    const t0 = process.hrtime.bigint();
    const outside0 = this.outsideNs;
    const actions = this.model.handle(ev);
    // only real work is awaited: an await of a synchronous action would let other pending
    // continuations run inside this event's handling (and its measured time)
    const results: DaemonEvent[] = [];
    for (const a of actions) {
      // legacy: DOWN is a request; its result is fed back once this event's actions ran (the
      // model holds the volume's start until then, and freezes it for good if it failed)
      if (a.type === 'down') {
        const failed = this.sendDown(a);
        results.push({ type: 'down-result', uuid: a.uuid, nodeid: a.nodeid, ok: failed === undefined, ...(failed !== undefined ? { detail: failed } : {}), at: Date.now() });
        continue;
      }
      const pending = this.execute(a);
      if (pending) await pending;
    }
    for (const r of results) await this.feed(r);
    const refreshing = this.refreshGroups(false);
    if (refreshing) await refreshing;
    // every join waiting for an answer has a timer, however it began (a rescan after an overflow too)
    for (const l of this.model.lockspaces.values()) if (l.state === 'joining' && !this.joinTimers.has(l.name)) this.armJoinTimer(l.name);
    this.ownTime.record(ev.type, Number(process.hrtime.bigint() - t0 - (this.outsideNs - outside0)) / 1e6);
  }

  /** Time spent outside this process's own work (kernel operations, corosync calls). */
  private async outside<T>(fn: () => Promise<T>): Promise<T> {
    const t0 = process.hrtime.bigint();
    try {
      return await fn();
    } finally {
      this.outsideNs += process.hrtime.bigint() - t0;
    }
  }

  private execute(a: DaemonAction): Promise<void> | void {
    if (a.type === 'log') return this.log(a.level, 'model', a.msg, a.data ?? {});
    if (a.type === 'fence') return this.fence(a.nodeid, a.failTime, a.round, a.delayMs);
    if (a.type === 'group') return; // reported by refreshGroups, with the whole view
    if (a.type === 'down') throw new Error('a down action is handled by feed(), which returns its result to the model');
    if (a.type === 'group-join' || a.type === 'group-leave' || a.type === 'group-send') return this.groupAction(a);
    if (a.type === 'exit') return this.yieldToMerge(a.detail);
    if (a.type === 'timer') {
      const timer = a.timer;
      this.rt.after(a.afterMs, () => void this.feed({ type: 'timer', timer, at: Date.now() }));
      return;
    }
    return this.executeOps(a);
  }

  private async executeOps(a: Extract<DaemonAction, { type: 'ops' }>): Promise<void> {
    const k = this.o.backend;
    const t0 = process.hrtime.bigint();
    if (a.bestEffort) {
      const failed: string[] = [];
      for (const op of a.ops) {
        try {
          await this.outside(() => k.batchAsync([op]));
        } catch (e) {
          failed.push(`${op.op} ${op.path}: ${(e as Error & { code?: string }).code ?? (e as Error).message}`);
        }
      }
      this.log('info', 'ops', a.why, { ops: a.ops.length, ...(failed.length ? { skipped: failed } : {}), ms: msSince(t0) });
    } else {
      try {
        await this.outside(() => k.batchAsync(a.ops));
        this.log('info', 'ops', a.why, { ops: a.ops.length, ms: msSince(t0) });
      } catch (e) {
        const errno = e instanceof KernelError && typeof e.errno === 'number' ? Math.abs(e.errno) : 5;
        const failedOp = e instanceof BatchError ? e.failedOp : undefined;
        this.log('error', 'ops-failed', `${a.why}: ${(e as Error).message}`, { errno });
        if (a.ls && a.answers) {
          await this.feed({ type: 'ops-failed', ls: a.ls, answers: a.answers, errno, at: Date.now(), eventDoneWritten: failedOp?.path.endsWith('/event_done') ?? false });
        }
      }
    }
    if (a.ls && a.answers === 'join') {
      this.rt.cancel(this.joinTimers.get(a.ls));
      this.joinTimers.delete(a.ls);
      if (a.ops.some((o) => o.path.endsWith('/event_done') && o.data === '0')) this.counters.joinsAnswered++;
      else this.counters.joinsFailed++;
    }
    if (a.ls && a.answers === 'leave') this.counters.leavesAnswered++;
  }

  private async groupAction(a: Extract<DaemonAction, { type: 'group-join' | 'group-leave' | 'group-send' }>): Promise<void> {
    const m = this.o.membership;
    try {
      if (a.type === 'group-join') await this.outside(() => m.joinGroup(a.group));
      else if (a.type === 'group-leave') await this.outside(() => m.leaveGroup(a.group));
      else await this.outside(() => m.send(a.group, a.data));
      if (a.type !== 'group-send') this.log('info', a.type, `${a.type === 'group-join' ? 'joined' : 'left'} group ${a.group}`, { ls: a.ls });
      if (a.type === 'group-leave') this.plocks.left(a.ls);
    } catch (e) {
      const x = e as Error & { code?: string };
      this.log('error', `${a.type}-failed`, `${a.type} ${a.group}: ${x.message}`, { ls: a.ls, code: x.code ?? null });
      // a join that cannot get into its group is answered now; a lost start is caught by the join timer
      if (a.type === 'group-join') this.plocks.left(a.ls);
      if (a.type === 'group-join') await this.feed({ type: 'group-failed', ls: a.ls, errno: ENOTCONN, detail: x.message, at: Date.now() });
    }
  }

  /** 'agent', 'pacemaker' (stonith_admin), 'manual' (recovery waits for fence-ack) or 'unsafe-off' */
  get fencingMode(): 'agent' | 'pacemaker' | 'manual' | 'unsafe-off' {
    return this.o.fenceAgent ? 'agent' : (this.o.fencing ?? 'manual');
  }

  private fence(nodeid: number, failTime: number, round: number, delayMs: number): void {
    const run = async () => {
      if (this.rt.stopped) return;
      const mode = this.fencingMode;
      if (mode !== 'agent' && mode !== 'pacemaker') {
        if (mode === 'manual') {
          // no result comes until someone acknowledges: the fence round stays open
          this.log('error', 'fence', `node ${nodeid} must be fenced (manual fencing): make sure it is off, then run 'o2stack daemon-ctl fence-ack ${nodeid}' on any node; its lockspaces stay stopped until then`, { nodeid });
          return;
        }
        this.log('warn', 'fence', `node ${nodeid} taken as fenced WITHOUT fencing (--unsafe-skip-fencing)`, { nodeid });
        const ev = { nodeid, ok: true, detail: 'fencing skipped (--unsafe-skip-fencing)' };
        if (this.model.sharedFencing) {
          await this.outside(() => this.o.membership.send(DAEMON_GROUP, encodeFenceResult(ev))).then(
            () => undefined,
            () => this.enqueue(() => this.fenceResultEvent({ ...ev, at: Date.now() })),
          );
        } else this.enqueue(() => this.fenceResultEvent({ ...ev, at: Date.now() }));
        return;
      }
      this.counters.fences++;
      const timeoutMs = this.o.fenceTimeoutMs ?? 60_000;
      let r: FenceOutcome;
      if (mode === 'pacemaker') {
        this.log('info', 'fence', `fencing node ${nodeid} (round ${round}) through Pacemaker's fencer (stonith_admin)`, { nodeid, round, method: 'pacemaker' });
        r = await runPacemakerFence({ nodeid, failTime, nodes: this.o.nodes, timeoutMs, ...this.o.pacemakerTools });
      } else {
        this.log('info', 'fence', `fencing node ${nodeid} (round ${round}) with ${this.o.fenceAgent}`, { nodeid, round });
        r = await runFenceAgent({ agent: this.o.fenceAgent!, nodeid, failTime, ...(this.o.fenceArgs ? { args: this.o.fenceArgs } : {}), timeoutMs });
      }
      this.log(r.ok ? 'info' : 'warn', 'fence-result', `${mode === 'pacemaker' ? 'Pacemaker fencing' : 'fence agent'} for node ${nodeid}: ${r.ok ? 'success' : 'FAILED'} (${r.detail}, ${r.ms} ms)`, { nodeid, ok: r.ok, output: r.output.trim().slice(0, 500) });
      if (this.model.sharedFencing) {
        // every survivor acts on the result when it is delivered in the daemon group (this node too)
        try {
          await this.outside(() => this.o.membership.send(DAEMON_GROUP, encodeFenceResult({ nodeid, ok: r.ok, detail: r.detail })));
          return;
        } catch (e) {
          this.log('error', 'fence-result-send', `could not multicast the fence result for node ${nodeid} (${(e as Error).message}): acting on it here only`, { nodeid });
        }
      }
      const at = Date.now();
      this.enqueue(() => this.fenceResultEvent({ nodeid, ok: r.ok, at, detail: r.detail }));
    };
    // started on the next turn, not inside the event's handling: spawning the agent is the
    // system's work, and the fence result comes back as an event of its own
    if (delayMs <= 0) setImmediate(() => void run());
    else this.rt.after(delayMs, () => void run());
  }

  private async fenceResultEvent(ev: { nodeid: number; ok: boolean; at: number; detail?: string; manual?: boolean; from?: number }): Promise<void> {
    await this.feed({ type: 'fence-result', ...ev });
    // it rebooted and rejoined the cluster before the fence result came: its quorum join was
    // ignored while it was unfenced, so it is up now
    if (ev.ok && this.o.membership.quorum().nodes.includes(ev.nodeid) && this.model.nodes.get(ev.nodeid)?.state === 'down') await this.feed({ type: 'node-up', nodeid: ev.nodeid, at: Date.now() });
  }

  private readConfigState(): DlmConfigState {
    const k = this.o.backend;
    const clusterDir = k.tryList(DLM_CLUSTER) !== undefined;
    const comms = (k.tryList(`${DLM_CLUSTER}/comms`) ?? []).filter((e) => e.type === 'dir').map((e) => Number(e.name)).filter(Number.isInteger);
    // addr_list: one "AF_INET<TAB>ip" line per address (unreadable: not compared)
    const commAddrs: Record<number, string[]> = {};
    for (const id of comms) {
      const list = k.tryRead(`${DLM_CLUSTER}/comms/${id}/addr_list`);
      if (list !== undefined) commAddrs[id] = list.split('\n').map((l) => l.split('\t')[1]?.trim() ?? '').filter(Boolean);
    }
    return { clusterDir, comms, commAddrs, ...this.readState() };
  }

  private readState(): { sysfs: string[]; spaces: Record<string, number[]> } {
    const k = this.o.backend;
    const sysfs = (k.tryList('/sys/kernel/dlm') ?? []).filter((e) => e.type === 'dir').map((e) => e.name);
    const spaces: Record<string, number[]> = {};
    for (const s of k.tryList(`${DLM_CLUSTER}/spaces`) ?? []) {
      if (s.type !== 'dir') continue;
      spaces[s.name] = (k.tryList(`${DLM_CLUSTER}/spaces/${s.name}/nodes`) ?? []).map((e) => Number(e.name)).filter(Number.isInteger);
    }
    return { sysfs, spaces };
  }

  private startupTimer: NodeJS.Timeout | undefined;
  /** joined a running daemon group: the first member's startup-unseen message sets the list */
  private inheritUnseen = false;

  /**
   * Startup fencing: the configured nodes not in the membership now have never been seen since the
   * cluster formed (as far as this daemon knows). Lockspaces wait; after the post-join delay those
   * still missing are declared dead — through the daemon group, so that one fencer fences each once.
   */
  private armStartupFencing(): void {
    if (this.o.startupFencing === false) return;
    const members = new Set(this.o.membership.quorum().nodes);
    const unseen = this.o.nodes.map((n) => n.nodeid).filter((id) => id !== this.model.localNodeId && !members.has(id));
    if (unseen.length === 0) return;
    const delay = this.o.postJoinDelayMs ?? 30_000;
    this.enqueue(() => this.feed({ type: 'startup-unseen', nodes: unseen, at: Date.now() }));
    this.startupTimer = this.rt.after(delay, () => {
      this.startupTimer = undefined;
      this.enqueue(async () => {
        const still = [...this.model.unseen].sort((a, b) => a - b);
        if (still.length === 0) return;
        this.log('warn', 'startup-fence', `post-join delay (${delay} ms) over: node ${still.join(', ')} never joined since the cluster formed; fencing`, { nodes: still });
        if (this.model.sharedFencing) {
          try {
            await this.outside(() => this.o.membership.send(DAEMON_GROUP, encodeStartupFence(still)));
            return;
          } catch (e) {
            this.log('error', 'startup-fence', `could not multicast startup fencing (${(e as Error).message}): declaring them dead here`);
          }
        }
        await this.startupFence(still, this.model.localNodeId, Date.now());
      });
    });
  }

  /** Startup fencing decided (here, or by a daemon that saw the cluster form): those not members now are dead. */
  private async startupFence(nodes: number[], by: number, at: number): Promise<void> {
    const members = new Set(this.o.membership.quorum().nodes);
    for (const id of nodes) {
      if (members.has(id)) continue;
      if (this.model.nodes.get(id)?.state !== 'up') continue;
      await this.feed({ type: 'node-down', nodeid: id, at, why: `startup fencing (decided by node ${by}): not seen since the cluster formed` });
    }
    await this.feed({ type: 'seen', nodes, at });
  }

  /**
   * The membership service is gone (corosync stopped or crashed): this node can no longer know who
   * else writes, and the others see it leave and fence it. Every lockspace is stopped (no lock is
   * granted here any more), pending POSIX locks are answered, and the daemon stops with an error
   * (`exitError`; the CLI exits 1, so systemd or the cluster manager sees a failure).
   */
  private membershipLost(e: Error): void {
    if (this.exitError) return;
    const legacy = this.controlDevice !== undefined && this.controlDevice.state !== 'closed';
    const err = new DaemonFatal(`membership lost (${e.message}): every lockspace stopped, POSIX locks refused; the daemon exits and the other nodes fence this node${legacy ? ` (legacy mode: closing ${this.controlDevice!.path} with volumes mounted restarts this machine, which is the fence)` : ''}. Recover: once this node has been fenced (or its volumes unmounted), start corosync, then the daemon`);
    this.exitError = err;
    this.plocks.switchOff(`membership lost (${e.message})`);
    this.enqueue(async () => {
      await this.feed({ type: 'membership-down', detail: e.message, at: Date.now() });
      this.log('error', 'membership-down', err.message, { lockspaces: this.model.snapshot().lockspaces.map((l) => l.name) });
      setImmediate(() => void this.stop({ fatal: true }));
    });
  }

  /**
   * A stateful merge this node lost (the model has stopped every lockspace and answered pending
   * joins): as when membership is lost, POSIX locks are refused and the daemon exits non-zero;
   * the others, which see it leave, fence it.
   */
  private yieldToMerge(detail: string): void {
    if (this.exitError) return;
    const err = new DaemonFatal(`${detail}: every lockspace stopped, POSIX locks refused; the daemon exits and the other nodes fence this node. Recover: once this node has been fenced (restarted), start corosync and the daemon again; do not just restart the daemon on this node while its volumes are mounted`);
    this.exitError = err;
    this.plocks.switchOff('stateful merge lost');
    this.log('error', 'stateful-merge', err.message, { lockspaces: this.model.snapshot().lockspaces.map((l) => l.name) });
    setImmediate(() => void this.stop({ fatal: true }));
  }

  /** Why the daemon stopped by itself (membership lost, a stateful merge lost), or undefined. */
  exitError: DaemonFatal | undefined;

  /**
   * Stops answering and closes everything. The monitor is closed last: with lockspaces still
   * running, the kernel then stops them (mounted volumes freeze) — stop the daemon after unmounting.
   * Legacy mode: the control device is closed first, through its guard; while user-stack volumes
   * are mounted the guard refuses, and then the daemon does not stop at all (false): it keeps the
   * handle and goes on serving, since its exit would close the handle and restart the machine.
   */
  async stop(o: { fatal?: boolean } = {}): Promise<boolean> {
    if (this.rt.stopped) return true;
    if (o.fatal && this.controlDevice && this.controlDevice.state !== 'closed') {
      this.log('error', 'control-device', `exiting with ${this.controlDevice.path} held: the kernel restarts this machine if user-stack volumes are still mounted (self-fence; membership is lost)`);
    } else if (this.controlDevice && this.controlDevice.state !== 'closed') {
      try {
        this.controlDevice.close();
        this.log('info', 'control-device', `${this.controlDevice.path} closed (no user-stack volume mounted)`);
      } catch (e) {
        if (!(e instanceof ControlGuardError && e.code === 'E_CONTROL_MOUNTED')) throw e;
        this.log('error', 'stop-refused', `not stopping: ${e.message}. This process's exit would close it too, so the daemon keeps running and holds it; unmount the user-stack volumes (o2stack umount DIR), then stop the daemon again`, { ...(e.details ?? {}) });
        return false;
      }
    }
    this.rt.closeControl();
    // the event being handled ends; nothing queued after it runs, timers are cleared
    await this.rt.halt();
    // joins still waiting (for a barrier, quorum, a fence) get their answer: nothing stays asleep
    for (const e of this.model.lockspaces.values()) if (e.state === 'joining') this.refuseJoinWhileStopping(e.name);
    // the setup undone in reverse: probe, socket, plock device (pending POSIX locks answered
    // -ENOLCK) before membership goes, then uevents, and the monitor last
    await this.rt.tearDown();
    this.log('info', 'stop', 'daemon stopped');
    this.closedResolve?.();
    return true;
  }
}

/** Refuses (DaemonRefusal) when the control socket's path is taken: checked before anything is touched. */
export async function checkSocket(path: string | null | undefined): Promise<void> {
  if (path === null) return;
  try {
    await checkSocketPath(path ?? DEFAULT_SOCKET);
  } catch (e) {
    if (e instanceof SocketInUseError) throw new DaemonRefusal(e.message);
    throw e;
  }
}

function nodeArg(args: string[]): number {
  const id = Number(args[0]);
  if (!Number.isInteger(id) || id <= 0) throw new Error(`a node id is needed, not '${args[0] ?? ''}'`);
  return id;
}

function msSince(t0: bigint): number {
  return Number((process.hrtime.bigint() - t0) / 1000n) / 1000;
}

/** The local node of a members list: --node-id, else the entry named like this host. */
export function pickLocalNode(nodes: { nodeid: number; name?: string }[], nodeId: number | undefined, hostname: string): number {
  if (nodeId !== undefined) {
    if (!nodes.some((n) => n.nodeid === nodeId)) throw new Error(`--node-id ${nodeId} is not in the members list`);
    return nodeId;
  }
  const short = hostname.split('.')[0];
  const hit = nodes.find((n) => n.name === hostname || n.name === short);
  if (!hit) throw new Error(`this host (${hostname}) is not named in the members list (${nodes.map((n) => n.name ?? n.nodeid).join(', ')}): pass --node-id`);
  return hit.nodeid;
}

/** Reads a members file (lib/model/dlmDaemon.ts parseMembersFile). */
export function readMembers(path: string): string {
  return readInputFile(path);
}

/** This process's memory in MB (one decimal): RSS, V8's heap used and reserved, and external (Buffers). */
function memoryMB(): { rss: number; heapUsed: number; heapTotal: number; external: number } {
  const m = process.memoryUsage();
  const mb = (b: number) => Math.round(b / 104857.6) / 10;
  return { rss: mb(m.rss), heapUsed: mb(m.heapUsed), heapTotal: mb(m.heapTotal), external: mb(m.external) };
}
