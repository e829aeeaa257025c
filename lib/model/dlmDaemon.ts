// The fs/dlm control daemon as a pure state machine (docs/kernel-interfaces.md#fs-dlm-configfs,
// docs/user-stack-daemon.md#lockspace-sequence and #node-death): events in (lockspace uevents,
// membership changes, fencing results, quorum, timers), actions out (configfs/sysfs operation
// lists from lib/model/dlm.ts, fence requests). No I/O and no clock: the executor
// (lib/stack/daemon/daemon.ts) runs the actions and feeds results back.
//
// Membership rule, one of two:
//   static  (like a dlm_controld without CPG) every lockspace gets every configured node that is
//           up as a member; fs/dlm recovery itself waits until each member's kernel has joined.
//   groups  (dlm_controld with CPG) a lockspace's members are the members of its process group
//           (lib/model/lockspaceGroup.ts): `online` joins the group; on every member change the
//           lockspace is stopped, a start message tagged with the change is sent, and the members
//           are written and the lockspace started only when every member's start is in (the
//           barrier). A member that leaves the group cleanly (its unmount) is removed without
//           fencing; one that leaves with nodedown/procdown is a dead node (below).
// A node declared dead is stopped out of every lockspace it was in, fenced, its comm removed (so the
// kernel calls ocfs2's recover_slot and its journal is replayed) and the lockspaces started again.
// Legacy mode (recover_callbacks 0, lib/model/legacyDown.ts): no recover_slot; once the fence has
// succeeded, a `down` action per volume the dead node had mounted here tells ocfs2 through
// /dev/ocfs2_control, before any of those lockspaces starts again (ocfs2 must have the node in its
// recovery map before the dlm grants the dead node's locks to anyone).
//
// Lockspace states:
//   joining  the kernel sent `online` and waits (uninterruptibly) for event_done; we wait for
//            quorum and for every failed node to be fenced. Always answered: event_done 0 after
//            the join, or -ETIMEDOUT when the executor's join timer fires first, or -errno when the
//            join's own operations failed.
//   running  started (control 1) with `members`
//   stopped  control 0 after a member died: waits for that member's fencing
//   leaving  the kernel sent `offline`: members removed, event_done 0, then forgotten
import { isIP } from 'node:net';
import type { AttrOp } from '../kernel/backend.js';
import { commOps, DLM_CLUSTER, dlmPaths, dlmStartOps, failEventOps, joinOps, memberDeathOps, type DlmMember } from './dlm.js';
import { legacyDownMessages } from './legacyDown.js';
import { decodeStart, encodeStart, GroupBarrier, lockspaceGroupName } from './lockspaceGroup.js';
import type { GroupMember, GroupMemberChange } from './membership.js';

export type LockspaceState = 'joining' | 'running' | 'stopped' | 'leaving';
/** up: a member; failed: declared dead, not yet fenced; down: fenced, comm removed, not a member */
export type NodeState = 'up' | 'failed' | 'down';

export const ETIMEDOUT = 110;
export const EEXIST = 17;
export const ENOTCONN = 107;
export const ESHUTDOWN = 108;
export const EPROTO = 71;

export interface LockspaceEntry {
  name: string;
  state: LockspaceState;
  /** the configfs members (spaces/<ls>/nodes/<id>) as we wrote them */
  members: number[];
  /** when the current state began (the time of the event that set it) */
  since: number;
  /** joining: what it waits for */
  waitingFor?: string;
  /** a node in its group runs dlm_controld (reported once) */
  foreign?: number;
  /** legacy mode: a DOWN for it could not be written, so it must never start again here (why) */
  frozen?: string;
  /** legacy mode: dead nodes whose DOWN for it was requested and not yet answered (it does not start meanwhile) */
  downsPending?: number[];
  /** groups mode: the nodes in the lockspace's process group now (they have it mounted) */
  groupNodes?: number[];
  /** groups mode: nodes whose start for the current change is still missing */
  barrierMissing?: number[];
}

/** Group tracking: which nodes have a lockspace (an ocfs2 volume: its UUID) now. */
export interface GroupView {
  ls: string;
  nodes: number[];
  joined: number[];
  left: number[];
}

export interface NodeEntry {
  nodeid: number;
  name?: string;
  addresses: string[];
  state: NodeState;
  local: boolean;
  /** configfs comms/<id> exists (as far as our own operations go) */
  comm: boolean;
  /** failed: when it was declared dead (ms since the epoch) */
  failTime?: number;
  /** a fence round is in progress: run here, or (shared fencing) awaited from `fencer` */
  fencing: boolean;
  fenceRounds: number;
  /** shared fencing: the node that runs the agent for this one (the lowest live daemon-group member) */
  fencer?: number;
  /**
   * groups mode: its lockspace groups said nodedown, but the quorum service has not dropped it yet.
   * Fencing waits for that (as dlm_controld does): the quorum event that drops it may be the one
   * that also says the partition is no longer quorate, and an inquorate partition must not fence.
   */
  awaitingQuorum?: boolean;
  /** legacy mode, failed: the lockspaces here with their members when it died (uuid → node ids) */
  viewAtDeath?: Record<string, number[]>;
  /**
   * failed: this node was without quorum at some time while that node was gone — the partition
   * this node was in lost, so if the node comes back by a merge, this node is the one that yields
   */
  inquorateWhileFailed?: boolean;
  /** failed and back in the quorum membership before it was fenced: merged back, or restarted */
  returned?: boolean;
  /** when it returned (the merge wait's timer carries it: a timer of an earlier return is void) */
  returnedAt?: number;
  /** failed: its merge back was logged (a group change per group reports it) */
  mergeSeen?: boolean;
  /**
   * merged back with the state it had before a partition: even once fenced it is not taken back
   * (in the quorum membership) until a new daemon of its joins the daemon group (it restarted)
   */
  stale?: boolean;
}

export type DaemonEvent =
  | { type: 'online'; ls: string; at: number }
  | { type: 'offline'; ls: string; at: number }
  | { type: 'node-down'; nodeid: number; at: number; why?: string }
  | { type: 'node-up'; nodeid: number; at: number }
  /** `from`: the node whose agent ran (shared fencing: delivered in the daemon group); absent: this node's */
  | { type: 'fence-result'; nodeid: number; ok: boolean; at: number; manual?: boolean; detail?: string; from?: number }
  /**
   * the nodes whose daemons are in the daemon group now: fencing is shared (one fencer, results
   * multicast). `joined`: the change's joiners with CPG's reason ('nodeup': a merge)
   */
  | { type: 'daemon-members'; nodes: number[]; at: number; joined?: GroupMemberChange[] }
  /**
   * startup fencing: configured nodes not seen as members since the cluster formed. Until each is
   * seen (a 'seen' event) or fenced, no lockspace starts; the executor declares the rest dead after
   * the post-join delay.
   */
  | { type: 'startup-unseen'; nodes: number[]; at: number }
  /** nodes in the cluster membership now (each quorum event): they are no longer unseen */
  | { type: 'seen'; nodes: number[]; at: number }
  | { type: 'quorum'; quorate: boolean; at: number }
  /** the executor's join timer for ls fired */
  | { type: 'join-timeout'; ls: string; at: number }
  /** an `ops` action that answers a join failed at some step: errno of the failure */
  | { type: 'ops-failed'; ls: string; answers: 'join' | 'leave'; errno: number; at: number; eventDoneWritten: boolean }
  /** /sys/kernel/dlm/* now, and configfs spaces/<ls>/nodes/* (after an overflow, or at start) */
  | { type: 'rescan'; sysfs: string[]; spaces: Record<string, number[]>; at: number }
  /** groups mode: a member change of the lockspace's process group */
  | { type: 'group-change'; ls: string; members: GroupMember[]; joined: GroupMemberChange[]; left: GroupMemberChange[]; at: number }
  /** groups mode: a message delivered in the lockspace's group (the sender's own included) */
  | { type: 'group-message'; ls: string; nodeid: number; pid: number; data: string; at: number }
  /** groups mode: joining the lockspace's group failed (errno to answer the kernel with) */
  | { type: 'group-failed'; ls: string; errno: number; detail: string; at: number }
  /** the membership source is gone for good (corosync stopped) */
  | { type: 'membership-down'; detail: string; at: number }
  /** legacy mode: the answer to a `down` request — written, or failed (detail says why) */
  | { type: 'down-result'; uuid: string; nodeid: number; ok: boolean; detail?: string; at: number }
  /** a `timer` action's time is up */
  | { type: 'timer'; timer: ModelTimer; at: number };

export type DaemonAction =
  | {
      type: 'ops';
      why: string;
      ops: AttrOp[];
      /** the lockspace whose pending uevent this answers (a failure is fed back as ops-failed) */
      ls?: string;
      answers?: 'join' | 'leave';
      /** run every op even if some fail (cleanup of entries that may be gone) */
      bestEffort?: boolean;
    }
  | { type: 'fence'; nodeid: number; failTime: number; round: number; delayMs: number }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; msg: string; data?: Record<string, unknown> }
  /** groups mode: join / leave the lockspace's process group, multicast to it */
  | { type: 'group-join'; ls: string; group: string }
  | { type: 'group-leave'; ls: string; group: string }
  | { type: 'group-send'; ls: string; group: string; data: string }
  /** groups mode: the nodes that have ls changed (for the API's 'group' event) */
  | ({ type: 'group' } & GroupView)
  /**
   * legacy mode: write `DOWN <uuid> <nodeid>` on /dev/ocfs2_control, then feed back its
   * `down-result` (after the rest of this event's actions). The lockspace does not start before.
   */
  | { type: 'down'; uuid: string; nodeid: number }
  /**
   * a stateful merge this node loses (it was cut off without quorum, and nodes it saw die came
   * back with their old state): every lockspace is stopped by the ops before this action; the
   * daemon exits non-zero and the others fence this node
   */
  | { type: 'exit'; reason: 'stateful-merge'; detail: string }
  /** call back with a `timer` event carrying `timer` after `afterMs` */
  | { type: 'timer'; afterMs: number; timer: ModelTimer };

/** What a model timer is for (fed back as a `timer` event when it fires). */
export type ModelTimer = { kind: 'merge-wait'; nodeid: number; since: number };

export interface DaemonModelConfig {
  localNodeId: number;
  nodes: (DlmMember & { name?: string })[];
  /** no lockspace start and no fencing while the membership source says inquorate (default true) */
  quorumGating?: boolean;
  /** fence rounds before giving up (then only a manual fence-ack restarts recovery); default 5 */
  maxFenceRounds?: number;
  /** delay before a fence round after a failed one; default 2000 ms */
  fenceRetryDelayMs?: number;
  /** quorate at start (default true: the source's first quorum event corrects it) */
  quorate?: boolean;
  /** 'static' (default) or 'groups': see the file comment */
  membership?: 'static' | 'groups';
  /** legacy WITH_CONTROLD mode (recover_callbacks 0): `down` actions after each successful fence */
  legacy?: boolean;
  /**
   * after a partition this node was on the side without quorum: how long a node it saw die may be
   * back in the quorum membership before its daemon shows in the daemon group how it came back
   * (a merge: this node yields; a new daemon: it is fenced). Past it, it is fenced as a node that
   * came back without a daemon. Default 30000 ms.
   */
  mergeWaitMs?: number;
}

/** Current configfs/sysfs state as the executor reads it before start. */
export interface DlmConfigState {
  clusterDir: boolean;
  comms: number[];
  /** configfs spaces/<ls>/nodes/* */
  spaces: Record<string, number[]>;
  /** /sys/kernel/dlm/* */
  sysfs: string[];
  /** each existing comm's addresses (its addr_list), where readable */
  commAddrs?: Record<number, string[]>;
}

/** The daemon's start cannot go on: fs/dlm holds something this configuration contradicts. */
export class DaemonStartError extends Error {
  readonly code = 'E_DAEMON_START';
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}

/**
 * The daemon's start: fs/dlm settings and the comms that are missing (nodeid, local, the 128-byte
 * sockaddr), `protocol` 0 (TCP) only while no lockspace exists (the kernel refuses it once lowcomms
 * runs). Lockspaces already in sysfs with configfs members are adopted as running; those without
 * are joins still waiting for an answer (a daemon restarted while a mount waited).
 */
export function daemonStartPlan(
  c: { clusterName: string; localNodeId: number; members: DlmMember[]; recoverCallbacks?: boolean },
  state: DlmConfigState,
): { ops: AttrOp[]; adopt: { ls: string; members: number[] }[]; pending: string[] } {
  if (c.clusterName.length === 0 || c.clusterName.length > 63 || /\s/.test(c.clusterName)) throw new Error(`cluster name '${c.clusterName}': 1 to 63 characters, no spaces`);
  // a comm left by an earlier run with other addresses than the members' now: made again (a
  // restart after an address change), which drops the node's connection — refused while any
  // lockspace runs, since it could be in use
  const stale = c.members.filter((m) => {
    const have = state.commAddrs?.[m.nodeid];
    return state.comms.includes(m.nodeid) && have !== undefined && sameAddresses(have, m.addresses) === false;
  });
  if (stale.length > 0 && state.sysfs.length > 0) {
    const what = stale.map((m) => `node ${m.nodeid}: ${state.commAddrs![m.nodeid]!.join(',') || 'none'} in fs/dlm, ${m.addresses.join(',')} now`).join('; ');
    throw new DaemonStartError(`fs/dlm holds other addresses than the members' (${what}) and ${state.sysfs.length} lockspace(s) run, which may be talking to them`, 'unmount the user-stack volumes on this node (o2stack umount DIR), then start the daemon again: the comms are made afresh with the new addresses');
  }
  const keep = state.comms.filter((id) => !stale.some((m) => m.nodeid === id));
  const all = dlmStartOps({ clusterName: c.clusterName, recoverCallbacks: c.recoverCallbacks ?? true, localNodeId: c.localNodeId, members: c.members }, keep);
  const ops = [
    ...all.filter((o) => !(o.op === 'mkdir' && o.path === DLM_CLUSTER && state.clusterDir)),
  ];
  if (stale.length > 0) {
    // the removals before the comms are made again (after the cluster settings)
    const at = ops.findIndex((o) => o.op === 'mkdir' && o.path.startsWith(`${DLM_CLUSTER}/comms/`));
    ops.splice(at < 0 ? ops.length : at, 0, ...stale.map((m) => ({ op: 'rmdir' as const, path: dlmPaths.comm(m.nodeid) })));
  }
  if (state.sysfs.length === 0) {
    const at = ops.findIndex((o) => o.path === `${DLM_CLUSTER}/recover_callbacks`);
    ops.splice(at + 1, 0, { op: 'write', path: `${DLM_CLUSTER}/protocol`, data: '0' });
  }
  const adopt = state.sysfs.filter((ls) => state.spaces[ls] !== undefined).map((ls) => ({ ls, members: [...state.spaces[ls]!].sort((a, b) => a - b) }));
  const pending = state.sysfs.filter((ls) => state.spaces[ls] === undefined);
  return { ops, adopt, pending };
}

/** Members file: one node a line, `NAME=ID@ADDR[,ADDR...]` (or `ID@ADDR`), '#' comments. */
export function parseMembersFile(text: string): (DlmMember & { name?: string })[] {
  const out: (DlmMember & { name?: string })[] = [];
  const ids = new Set<number>();
  const names = new Set<string>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') return;
    const m = /^(?:([A-Za-z0-9][A-Za-z0-9._-]*)\s*=\s*)?(\d+)\s*@\s*([0-9A-Fa-f.:,\s]+)$/.exec(line);
    if (!m) throw new Error(`members file line ${i + 1}: '${line}' is not NAME=ID@ADDR[,ADDR...]`);
    const nodeid = Number(m[2]);
    if (!Number.isSafeInteger(nodeid) || nodeid <= 0 || nodeid > 0x7fffffff) throw new Error(`members file line ${i + 1}: node id ${m[2]} must be 1..2147483647`);
    const addresses = m[3]!.split(',').map((s) => s.trim()).filter(Boolean);
    if (addresses.length === 0 || addresses.length > 3) throw new Error(`members file line ${i + 1}: 1 to 3 addresses`);
    const bad = addresses.find((a) => isIP(a) === 0);
    if (bad !== undefined) throw new Error(`members file line ${i + 1}: '${bad}' is not an IPv4 or IPv6 address`);
    if (ids.has(nodeid)) throw new Error(`members file line ${i + 1}: node id ${nodeid} is listed twice`);
    if (m[1] && names.has(m[1])) throw new Error(`members file line ${i + 1}: name ${m[1]} is listed twice`);
    ids.add(nodeid);
    if (m[1]) names.add(m[1]);
    out.push({ ...(m[1] ? { name: m[1] } : {}), nodeid, addresses });
  });
  if (out.length === 0) throw new Error('members file: no nodes');
  return out;
}

const sorted = (a: Iterable<number>) => [...a].sort((x, y) => x - y);

/** Whether fs/dlm's addr_list entries are these addresses (same set; IPv6 compared in one spelling); undefined when one cannot be parsed. */
function sameAddresses(have: string[], want: string[]): boolean | undefined {
  const norm = (a: string) => (isIP(a) === 6 ? new URL(`http://[${a}]/`).hostname : isIP(a) === 4 ? a : undefined);
  const h = have.map(norm);
  const w = want.map(norm);
  if (h.includes(undefined) || w.includes(undefined)) return undefined;
  return [...new Set(h)].sort().join() === [...new Set(w)].sort().join();
}

export class DlmControlModel {
  readonly localNodeId: number;
  readonly nodes = new Map<number, NodeEntry>();
  readonly lockspaces = new Map<string, LockspaceEntry>();
  quorate: boolean;
  readonly mode: 'static' | 'groups';
  readonly legacy: boolean;
  /** groups mode: the barrier of each lockspace's group */
  private readonly barriers = new Map<string, GroupBarrier>();
  private membershipLost = false;
  /** set when this node lost a stateful merge: why nothing starts here any more */
  private yielded: string | undefined;
  private readonly gating: boolean;
  private readonly maxFenceRounds: number;
  private readonly retryDelay: number;
  private readonly mergeWaitMs: number;
  /** shared fencing: the daemon group's nodes (undefined: not in it, every node fences for itself) */
  private daemonMembers: number[] | undefined;
  /** startup fencing: configured nodes not seen since the cluster formed */
  readonly unseen = new Set<number>();

  constructor(c: DaemonModelConfig) {
    this.localNodeId = c.localNodeId;
    for (const n of c.nodes) {
      this.nodes.set(n.nodeid, {
        nodeid: n.nodeid,
        ...(n.name !== undefined ? { name: n.name } : {}),
        addresses: [...n.addresses],
        state: 'up',
        local: n.nodeid === c.localNodeId,
        comm: true,
        fencing: false,
        fenceRounds: 0,
      });
    }
    if (!this.nodes.has(c.localNodeId)) throw new Error(`the local node ${c.localNodeId} is not in the node list`);
    this.gating = c.quorumGating ?? true;
    this.quorate = c.quorate ?? true;
    this.maxFenceRounds = c.maxFenceRounds ?? 5;
    this.retryDelay = c.fenceRetryDelayMs ?? 2000;
    this.mergeWaitMs = c.mergeWaitMs ?? 30_000;
    this.mode = c.membership ?? 'static';
    this.legacy = c.legacy ?? false;
  }

  /** Lockspaces found running at start (configfs members present); groups mode: rejoin the group. */
  adopt(ls: string, members: number[], at: number): DaemonAction[] {
    this.lockspaces.set(ls, { name: ls, state: 'running', members: sorted(members), since: at });
    if (this.mode === 'groups') {
      // joining its group makes a barrier with the other members, then a restart (tryStartGroup)
      this.barriers.set(ls, new GroupBarrier());
      return [{ type: 'group-join', ls, group: lockspaceGroupName(ls) }];
    }
    // The previous daemon's exit closed /dev/dlm-monitor, and the kernel stopped every lockspace
    // then: start it again (on a lockspace still running the kernel refuses with EINVAL, harmless,
    // hence best effort) — at once when nothing blocks and its members are up, else where stopped
    // lockspaces restart (after the fence, on quorum).
    const e = this.lockspaces.get(ls)!;
    const blocked = this.blockedBy() ?? (e.members.some((id) => this.nodes.get(id)?.state !== 'up') ? `members ${e.members.filter((id) => this.nodes.get(id)?.state !== 'up').join(', ')} to be up or fenced` : undefined);
    if (blocked) {
      e.state = 'stopped';
      return this.waiting(e, blocked);
    }
    return [
      this.log('info', `${ls}: adopted with members ${e.members.join(',')}; started again (the previous daemon's exit stopped it)`, { ls }),
      { type: 'ops', why: `start adopted ${ls}`, ops: [{ op: 'write', path: dlmPaths.sysfs(ls, 'control'), data: '1' }], bestEffort: true },
    ];
  }

  /** Why starts are held back now, or undefined when a lockspace may start. */
  blockedBy(): string | undefined {
    if (this.yielded) return this.yielded;
    if (this.membershipLost) return 'the membership service (it stopped)';
    if (this.gating && !this.quorate) return 'quorum';
    if (this.unseen.size > 0) return `startup fencing of node ${sorted(this.unseen).join(', ')} (never seen since the cluster formed: fenced after the post-join delay unless it joins first)`;
    const failed = [...this.nodes.values()].filter((n) => n.state === 'failed').map((n) => n.nodeid);
    if (failed.length > 0) return `fencing of node ${failed.join(', ')}`;
    return undefined;
  }

  /** The members a lockspace gets now: every configured node that is up. */
  currentMembers(): number[] {
    return sorted([...this.nodes.values()].filter((n) => n.state === 'up').map((n) => n.nodeid));
  }

  handle(ev: DaemonEvent): DaemonAction[] {
    switch (ev.type) {
      case 'online':
        return this.online(ev.ls, ev.at);
      case 'offline':
        return this.offline(ev.ls, ev.at);
      case 'node-down':
        return this.nodeDown(ev.nodeid, ev.at, ev.why);
      case 'node-up':
        return this.nodeUp(ev.nodeid, ev.at);
      case 'fence-result':
        return this.fenceResult(ev);
      case 'daemon-members':
        return this.daemonMembersChanged(ev.nodes, ev.joined ?? [], ev.at);
      case 'startup-unseen':
        return this.startupUnseen(ev.nodes, ev.at);
      case 'seen':
        return this.seen(ev.nodes, ev.at);
      case 'quorum':
        return this.quorum(ev.quorate, ev.at);
      case 'join-timeout':
        return this.joinTimeout(ev.ls, ev.at);
      case 'ops-failed':
        return this.opsFailed(ev);
      case 'rescan':
        return this.rescan(ev.sysfs, ev.spaces, ev.at);
      case 'group-change':
        return this.groupChange(ev);
      case 'group-message':
        return this.groupMessage(ev);
      case 'group-failed':
        return this.groupFailed(ev.ls, ev.errno, ev.detail);
      case 'membership-down':
        return this.membershipDown(ev.detail, ev.at);
      case 'down-result':
        return this.downResult(ev);
      case 'timer':
        return this.mergeWaitOver(ev.timer);
    }
  }

  /** Group tracking: every lockspace this node is in, with the nodes in its group. */
  groups(): GroupView[] {
    return [...this.lockspaces.values()]
      .filter((l) => l.groupNodes !== undefined)
      .map((l) => ({ ls: l.name, nodes: [...l.groupNodes!], joined: [], left: [] }));
  }

  private log(level: 'info' | 'warn' | 'error', msg: string, data?: Record<string, unknown>): DaemonAction {
    return { type: 'log', level, msg, ...(data ? { data } : {}) };
  }

  private online(ls: string, at: number): DaemonAction[] {
    const out: DaemonAction[] = [];
    const old = this.lockspaces.get(ls);
    if (old && old.state !== 'joining') {
      // the kernel made the lockspace again: our entry is stale (a lost offline); start afresh
      out.push(this.log('warn', `online for ${ls}, which we had as ${old.state}: stale entry replaced`, { ls }));
      out.push({ type: 'ops', why: `clean stale members of ${ls}`, ops: staleCleanup(ls, old.members), bestEffort: true });
    } else if (old) {
      return [this.log('info', `online for ${ls} again while it waits: still joining`, { ls })];
    }
    this.lockspaces.set(ls, { name: ls, state: 'joining', members: [], since: at });
    if (this.mode === 'groups') {
      const group = lockspaceGroupName(ls);
      if (this.membershipLost) {
        this.lockspaces.delete(ls);
        return [...out, this.log('error', `join of ${ls} refused: the membership service stopped (answered -ENOTCONN; start corosync and the daemon again)`, { ls }), { type: 'ops', why: `fail join ${ls}`, ops: failEventOps(ls, ENOTCONN), ls, answers: 'join' }];
      }
      // a stale entry was still in the group: leave it first, then join afresh
      if (this.barriers.has(ls)) out.push({ type: 'group-leave', ls, group });
      this.barriers.set(ls, new GroupBarrier());
      this.lockspaces.get(ls)!.waitingFor = `the first change of group ${group}`;
      return [...out, { type: 'group-join', ls, group }];
    }
    return [...out, ...this.tryJoin(ls, at)];
  }

  /** Start (or join) whatever may start now. */
  private retry(ls: string, at: number): DaemonAction[] {
    return this.mode === 'groups' ? this.tryStartGroup(ls, at) : this.tryJoin(ls, at);
  }

  private waiting(e: LockspaceEntry, why: string): DaemonAction[] {
    if (e.waitingFor === why) return [];
    e.waitingFor = why;
    return [this.log('info', `${e.name} ${e.state === 'joining' ? 'join' : 'restart'} waits for ${why}`, { ls: e.name })];
  }

  /** groups mode: the barrier is complete, nothing blocks, every member is up: write and start. */
  private tryStartGroup(ls: string, at: number): DaemonAction[] {
    const e = this.lockspaces.get(ls);
    const b = this.barriers.get(ls);
    if (!e || !b || (e.state !== 'joining' && e.state !== 'stopped')) return [];
    if (e.frozen) return this.waiting(e, e.frozen);
    if (e.downsPending?.length) return this.waiting(e, `ocfs2 to be told of node ${e.downsPending.join(', ')}'s death (DOWN)`);
    if (b.tag === undefined) return this.waiting(e, `the first change of group ${lockspaceGroupName(ls)}`);
    e.barrierMissing = b.missing();
    if (!b.complete()) return this.waiting(e, `start messages from node ${e.barrierMissing.join(', ')}`);
    const blocked = this.blockedBy();
    if (blocked) return this.waiting(e, blocked);
    const members = b.nodeIds();
    // a dead member still listed: the group change that removes it comes (CPG), then it restarts
    const notUp = members.filter((id) => this.nodes.get(id)?.state !== 'up');
    if (notUp.length > 0) return this.waiting(e, `the group change removing node ${notUp.join(', ')} (not up here)`);
    delete e.waitingFor;
    const was = e.members;
    e.members = members;
    e.since = at;
    if (e.state === 'joining') {
      e.state = 'running';
      return [{ type: 'ops', why: `join ${ls} with members ${members.join(',')} (all started)`, ops: joinOps(ls, members), ls, answers: 'join' }];
    }
    e.state = 'running';
    const gone = was.filter((id) => !members.includes(id));
    const added = members.filter((id) => !was.includes(id));
    const ops: AttrOp[] = [
      ...gone.map((id) => ({ op: 'rmdir' as const, path: dlmPaths.spaceNode(ls, id) })),
      ...added.flatMap((id) => [
        { op: 'mkdir' as const, path: dlmPaths.spaceNode(ls, id) },
        { op: 'write' as const, path: `${dlmPaths.spaceNode(ls, id)}/nodeid`, data: String(id) },
      ]),
      { op: 'write', path: dlmPaths.sysfs(ls, 'control'), data: '1' },
    ];
    const what = [...(added.length ? [`+${added.join(',+')}`] : []), ...(gone.length ? [`-${gone.join(',-')}`] : [])].join(' ') || 'same members';
    return [{ type: 'ops', why: `restart ${ls} with members ${members.join(',')} (${what}; all started)`, ops }];
  }

  private groupChange(ev: { ls: string; members: GroupMember[]; joined: GroupMemberChange[]; left: GroupMemberChange[]; at: number }): DaemonAction[] {
    const e = this.lockspaces.get(ev.ls);
    const b = this.barriers.get(ev.ls);
    if (!e || !b) return [this.log('info', `change of group ${lockspaceGroupName(ev.ls)} ignored: not a lockspace here`)];
    if (!ev.members.some((m) => m.nodeid === this.localNodeId)) return [];
    const nodes = [...new Set(ev.members.map((m) => m.nodeid))].sort((a, b2) => a - b2);
    const out: DaemonAction[] = [];
    const joinedIds = [...new Set(ev.joined.map((m) => m.nodeid))].sort((a, b2) => a - b2);
    const leftIds = [...new Set(ev.left.map((m) => m.nodeid))].sort((a, b2) => a - b2);
    e.groupNodes = nodes;
    out.push({ type: 'group', ls: ev.ls, nodes, joined: joinedIds, left: leftIds });
    for (const j of ev.joined) if (j.reason === 'nodeup') out.push(...this.merged(j.nodeid, `group ${lockspaceGroupName(ev.ls)}`, ev.at));
    if (this.yielded) return out;
    out.push(this.log('info', `group ${lockspaceGroupName(ev.ls)}: members ${nodes.join(',')}${joinedIds.length ? `, joined ${joinedIds.join(',')}` : ''}${ev.left.length ? `, left ${ev.left.map((l) => `${l.nodeid} (${l.reason})`).join(', ')}` : ''}`, { ls: ev.ls, nodes }));
    // a member that did not leave by itself is a dead node: stop, fence, remove its comm (the
    // quorum event may say the same later; nodeDown is idempotent)
    for (const l of ev.left) {
      if (l.reason === 'leave' || l.nodeid === this.localNodeId || nodes.includes(l.nodeid)) continue;
      // procdown: the node is still in the cluster (its daemon died), so no quorum event will follow
      out.push(...this.nodeDown(l.nodeid, ev.at, `left group ${lockspaceGroupName(ev.ls)} (${l.reason})`, l.reason === 'nodedown'));
    }
    if (e.state === 'running') {
      e.state = 'stopped';
      e.since = ev.at;
      out.push({ type: 'ops', why: `stop ${ev.ls} for a member change`, ops: [{ op: 'write', path: dlmPaths.sysfs(ev.ls, 'control'), data: '0' }] });
    }
    const tag = b.change(ev);
    delete e.waitingFor;
    out.push({ type: 'group-send', ls: ev.ls, group: lockspaceGroupName(ev.ls), data: encodeStart({ type: 'start', ls: ev.ls, tag }) });
    out.push(...this.tryStartGroup(ev.ls, ev.at));
    return out;
  }

  private groupMessage(ev: { ls: string; nodeid: number; pid: number; data: string; at: number }): DaemonAction[] {
    const b = this.barriers.get(ev.ls);
    const m = decodeStart(ev.data);
    // every message of ours is JSON: anything else in a dlm:ls: group is dlm_controld's binary protocol
    if (b && !m && !ev.data.startsWith('{')) return this.foreignMember(ev.ls, ev.nodeid);
    if (!b || !m || m.ls !== ev.ls) return [this.log('info', `message in group ${lockspaceGroupName(ev.ls)} from node ${ev.nodeid} ignored: ${!b ? 'not a lockspace here' : 'not a start for it'}`)];
    const v = b.start({ nodeid: ev.nodeid, pid: ev.pid }, m.tag);
    if (v !== 'counted') return v === 'early' ? [] : [this.log('info', `start from node ${ev.nodeid} for ${ev.ls}: ${v}, ignored`, { ls: ev.ls })];
    return this.tryStartGroup(ev.ls, ev.at);
  }

  /**
   * A member of ls's group speaks dlm_controld's protocol: the two daemons never complete each
   * other's start barrier, so the lockspace could never start with both in it. A join waiting here
   * is answered -EPROTO (the mount fails at once, with this log line saying why).
   */
  private foreignMember(ls: string, nodeid: number): DaemonAction[] {
    const e = this.lockspaces.get(ls);
    const why = `node ${nodeid} runs dlm_controld, not the o2stack daemon: its messages in ${lockspaceGroupName(ls)} are dlm_controld's protocol, so neither daemon's start barrier can complete. Run one control daemon on every node: on node ${nodeid}, systemctl stop dlm and start o2stack-daemon (or run dlm_controld everywhere)`;
    if (e?.state === 'joining') {
      this.lockspaces.delete(ls);
      this.barriers.delete(ls);
      return [
        this.log('error', `join of ${ls} refused (-EPROTO): ${why}`, { ls, nodeid }),
        { type: 'ops', why: `fail join ${ls}: dlm_controld in its group`, ops: failEventOps(ls, EPROTO), ls, answers: 'join' },
        { type: 'group-leave', ls, group: lockspaceGroupName(ls) },
      ];
    }
    if (e?.foreign === nodeid) return [];
    if (e) e.foreign = nodeid;
    return [this.log('error', `${ls}: ${why}; this lockspace stays stopped while both are in the group`, { ls, nodeid })];
  }

  private groupFailed(ls: string, errno: number, detail: string): DaemonAction[] {
    const e = this.lockspaces.get(ls);
    this.barriers.delete(ls);
    if (!e) return [];
    this.lockspaces.delete(ls);
    if (e.state !== 'joining') return [this.log('error', `could not rejoin the group of running lockspace ${ls}: ${detail}; it is forgotten here`, { ls })];
    return [
      this.log('error', `join of ${ls}: cannot join its group ${lockspaceGroupName(ls)} (${detail}): answered -${errno}, the mount fails`, { ls }),
      { type: 'ops', why: `fail join ${ls}`, ops: failEventOps(ls, errno), ls, answers: 'join' },
    ];
  }

  private membershipDown(detail: string, at: number, what = 'membership lost'): DaemonAction[] {
    this.membershipLost = true;
    // without membership this node cannot know who else writes: no lock may be granted any more.
    // Every lockspace is stopped (I/O on the volumes waits); the daemon then exits, and the other
    // nodes, which see this node leave, fence it.
    const running = [...this.lockspaces.values()].filter((e) => e.state === 'running' || e.state === 'stopped');
    const out: DaemonAction[] = [this.log('error', `${what} (${detail}): stopping ${running.length} lockspace(s); no lock is granted here any more`, { lockspaces: running.map((e) => e.name) })];
    for (const e of running) {
      e.state = 'stopped';
      e.since = at;
      e.waitingFor = 'the membership service (it stopped): this node is fenced by the others';
    }
    if (running.length) out.push({ type: 'ops', why: 'membership lost: stop every lockspace', ops: running.map((e) => ({ op: 'write' as const, path: dlmPaths.sysfs(e.name, 'control'), data: '0' })), bestEffort: true });
    for (const e of [...this.lockspaces.values()]) {
      if (e.state !== 'joining') continue;
      this.lockspaces.delete(e.name);
      this.barriers.delete(e.name);
      out.push({ type: 'ops', why: `fail join ${e.name}: membership lost`, ops: failEventOps(e.name, ENOTCONN), ls: e.name, answers: 'join' });
    }
    return out;
  }

  private tryJoin(ls: string, at: number): DaemonAction[] {
    const e = this.lockspaces.get(ls);
    if (!e || e.state !== 'joining') return [];
    const blocked = this.blockedBy();
    if (blocked) {
      const changed = e.waitingFor !== blocked;
      e.waitingFor = blocked;
      return changed ? [this.log('info', `join of ${ls} waits for ${blocked}`, { ls })] : [];
    }
    const members = this.currentMembers();
    delete e.waitingFor;
    e.state = 'running';
    e.members = members;
    e.since = at;
    return [{ type: 'ops', why: `join ${ls} with members ${members.join(',')}`, ops: joinOps(ls, members), ls, answers: 'join' }];
  }

  private offline(ls: string, at: number): DaemonAction[] {
    const e = this.lockspaces.get(ls);
    const members = e?.members ?? [];
    if (e) {
      e.state = 'leaving';
      e.since = at;
    }
    this.lockspaces.delete(ls);
    const inGroup = this.barriers.delete(ls);
    return [
      ...(e ? [] : [this.log('warn', `offline for ${ls}, which we did not know: answered anyway`, { ls })]),
      { type: 'ops', why: `leave ${ls}: remove its members`, ops: staleCleanup(ls, members), bestEffort: true },
      { type: 'ops', why: `leave ${ls}: event_done 0`, ops: [{ op: 'write', path: dlmPaths.sysfs(ls, 'event_done'), data: '0' }], ls, answers: 'leave' },
      // the others see a clean 'leave' and remove this node without fencing it
      ...(inGroup ? [{ type: 'group-leave' as const, ls, group: lockspaceGroupName(ls) }] : []),
    ];
  }

  private nodeDown(nodeid: number, at: number, why?: string, fromGroupNodedown = false): DaemonAction[] {
    const n = this.nodes.get(nodeid);
    if (!n) return [this.log('warn', `node-down ${nodeid}: not a configured node`)];
    if (n.local) return [this.log('warn', `node-down ${nodeid}: that is this node; ignored`)];
    if (n.state !== 'up') {
      if (n.state === 'failed' && n.awaitingQuorum && !fromGroupNodedown) {
        delete n.awaitingQuorum;
        return [this.log('info', `node ${nodeid} left the quorum membership too`), ...this.maybeFence(n)];
      }
      // gone again before its daemon showed up: a merge wait for that return is void
      if (n.state === 'failed' && !fromGroupNodedown) {
        delete n.returned;
        delete n.returnedAt;
      }
      return [this.log('info', `node-down ${nodeid}: already ${n.state}`)];
    }
    n.state = 'failed';
    this.unseen.delete(nodeid);
    if (fromGroupNodedown) n.awaitingQuorum = true;
    if (this.gating && !this.quorate) n.inquorateWhileFailed = true;
    n.failTime = at;
    n.fenceRounds = 0;
    // the members as the kernel has them: a lockspace still joining has none yet
    if (this.legacy) n.viewAtDeath = Object.fromEntries([...this.lockspaces.values()].filter((l) => l.members.length > 0).map((l) => [l.name, [...l.members]]));
    const affected = [...this.lockspaces.values()].filter((l) => l.state === 'running' && l.members.includes(nodeid));
    for (const l of affected) {
      l.state = 'stopped';
      l.since = at;
    }
    const out: DaemonAction[] = [this.log('warn', `node ${nodeid} is dead${why ? ` (${why})` : ''}: stopping ${affected.length} lockspace(s)`, { nodeid, lockspaces: affected.map((l) => l.name) })];
    if (affected.length > 0) out.push({ type: 'ops', why: `stop lockspaces of dead node ${nodeid}`, ops: memberDeathOps(affected.map((l) => l.name), nodeid).stop });
    out.push(...this.maybeFence(n));
    return out;
  }

  /** Fencing is shared: this node is in the daemon group, whose lowest live member runs the agent. */
  get sharedFencing(): boolean {
    return this.daemonMembers !== undefined;
  }

  /** Nodes a daemon joining now must not trust: unseen since the cluster formed, or being fenced. */
  untrusted(): number[] {
    return sorted(new Set([...this.unseen, ...[...this.nodes.values()].filter((n) => n.state === 'failed').map((n) => n.nodeid)]));
  }

  /** Shared fencing: the lowest daemon-group member whose node is up (this node counts: it is up). */
  private electFencer(): number | undefined {
    if (!this.daemonMembers?.includes(this.localNodeId)) return undefined;
    return this.daemonMembers.filter((id) => this.nodes.get(id)?.state === 'up').sort((a, b) => a - b)[0];
  }

  private maybeFence(n: NodeEntry, delayMs = 0): DaemonAction[] {
    if (n.state !== 'failed' || n.fencing) return [];
    if (this.gating && !this.quorate) return [this.log('info', `fencing of node ${n.nodeid} waits for quorum`)];
    if (n.awaitingQuorum) return [this.log('info', `fencing of node ${n.nodeid} waits for the quorum service to drop it`)];
    // back before it was fenced, while this node had no quorum: it may be the majority coming
    // back (a healed partition), which this node must not fence; its daemon group join says
    if (n.returned && n.inquorateWhileFailed) return [];
    const fencer = this.electFencer();
    n.fencing = true;
    if (fencer !== undefined && fencer !== this.localNodeId) {
      const was = n.fencer;
      n.fencer = fencer;
      return was === fencer ? [] : [this.log('info', `node ${n.nodeid} is fenced by node ${fencer} (the lowest live member of the daemon group): waiting for its result`, { nodeid: n.nodeid, fencer })];
    }
    n.fencer = this.localNodeId;
    n.fenceRounds++;
    return [{ type: 'fence', nodeid: n.nodeid, failTime: n.failTime ?? 0, round: n.fenceRounds, delayMs }];
  }

  private startupUnseen(nodes: number[], at: number): DaemonAction[] {
    const before = sorted(this.unseen);
    this.unseen.clear();
    for (const id of nodes) if (id !== this.localNodeId && this.nodes.get(id)?.state === 'up') this.unseen.add(id);
    const now = sorted(this.unseen);
    if (before.join() === now.join()) return [];
    const out: DaemonAction[] = [this.log(now.length ? 'warn' : 'info', now.length ? `startup fencing: node ${now.join(', ')} not seen since the cluster formed; no lockspace starts until each joins or is fenced` : 'startup fencing: no unseen node to wait for', { nodes: now })];
    for (const l of [...this.lockspaces.values()]) out.push(...this.retry(l.name, at));
    return out;
  }

  private seen(nodes: number[], at: number): DaemonAction[] {
    const came = nodes.filter((id) => this.unseen.delete(id));
    if (came.length === 0) return [];
    const out: DaemonAction[] = [this.log('info', `startup fencing: node ${came.join(', ')} joined the cluster, no fencing needed${this.unseen.size ? `; still unseen: ${sorted(this.unseen).join(', ')}` : ''}`, { nodes: came })];
    for (const l of [...this.lockspaces.values()]) out.push(...this.retry(l.name, at));
    return out;
  }

  /** The daemon group changed: a fencer that left is replaced by the next lowest member. */
  private daemonMembersChanged(nodes: number[], joined: GroupMemberChange[], at: number): DaemonAction[] {
    this.daemonMembers = [...new Set(nodes)].sort((a, b) => a - b);
    const out: DaemonAction[] = [];
    for (const j of joined) {
      if (j.reason === 'nodeup') {
        out.push(...this.merged(j.nodeid, 'the daemon group', at));
        continue;
      }
      const n = this.nodes.get(j.nodeid);
      if (n?.stale) {
        delete n.stale;
        out.push(this.log('info', `node ${n.nodeid}, failed by a stateful merge, rejoined the daemon group with a new daemon`, { nodeid: n.nodeid }));
        if (n.state === 'down') out.push(...this.nodeUp(n.nodeid, at));
        continue;
      }
      // came back with a new daemon (restarted, not merged): fenced as usual, now that it is known
      if (n?.state === 'failed' && n.returned && n.inquorateWhileFailed) {
        delete n.inquorateWhileFailed;
        out.push(this.log('info', `node ${n.nodeid} rejoined the daemon group with a new daemon (not a merge): it is fenced`, { nodeid: n.nodeid }), ...this.maybeFence(n));
      }
    }
    if (this.yielded) return out;
    for (const n of this.nodes.values()) {
      if (n.state !== 'failed' || !n.fencing || n.fencer === undefined || n.fencer === this.localNodeId || this.daemonMembers.includes(n.fencer)) continue;
      const gone = n.fencer;
      n.fencing = false;
      delete n.fencer;
      out.push(this.log('warn', `node ${gone}, which was fencing node ${n.nodeid}, left the daemon group: the next member takes over`, { nodeid: n.nodeid, fencer: gone }));
      out.push(...this.maybeFence(n));
    }
    return out;
  }

  /**
   * A node came back into a group by a merge (CPG reason nodeup): its daemon ran on through a
   * partition, keeping its state. The side that lost the partition yields — this node, if it was
   * without quorum while that node was gone: it stops everything and exits, and the others fence
   * it. Otherwise this node stays, and the merged node is failed (again, if it had been fenced
   * meanwhile: what it holds is stale) and fenced; its own daemon yields on its side.
   */
  private merged(nodeid: number, where: string, at: number): DaemonAction[] {
    if (nodeid === this.localNodeId || this.yielded || this.membershipLost) return [];
    const n = this.nodes.get(nodeid);
    if (!n) return [this.log('warn', `node ${nodeid} merged into ${where}: not a configured node`)];
    if (n.inquorateWhileFailed) return this.yieldToMerge(n, where, at);
    if (n.state === 'failed') {
      if (n.mergeSeen) return [];
      n.mergeSeen = true;
      return [this.log('warn', `node ${nodeid} merged back into ${where} (a partition healed) before it was fenced: it stays failed and is fenced`, { nodeid }), ...this.maybeFence(n)];
    }
    // fenced meanwhile and not yet back in the quorum membership: failed again from 'down'
    if (n.state === 'down') n.state = 'up';
    const out = this.nodeDown(nodeid, at, `merged back into ${where} with the state it had before a partition: a stateful merge`);
    n.mergeSeen = true;
    n.stale = true;
    return out;
  }

  /**
   * A node that came back while this node had been without quorum never showed its daemon in the
   * daemon group (no merge, no new daemon) within the merge wait: it came back without a daemon
   * (stopped, or not started after a reboot) and may hold lockspace state its kernel kept. It is
   * fenced like any failed node: waiting longer would keep every lockspace here stopped.
   */
  private mergeWaitOver(t: ModelTimer): DaemonAction[] {
    const n = this.nodes.get(t.nodeid);
    if (!n || n.state !== 'failed' || !n.returned || !n.inquorateWhileFailed || n.returnedAt !== t.since || this.yielded || this.membershipLost) return [];
    delete n.inquorateWhileFailed;
    return [
      this.log('warn', `node ${n.nodeid} has been back in the membership for ${this.mergeWaitMs} ms without its daemon in the daemon group (neither a merge nor a new daemon): it is fenced`, { nodeid: n.nodeid }),
      ...this.maybeFence(n),
    ];
  }

  /** This node lost the partition and the others are back: stop everything, then exit (fenced). */
  private yieldToMerge(n: NodeEntry, where: string, at: number): DaemonAction[] {
    const detail = `stateful merge: node ${n.nodeid} merged back into ${where} while this node, cut off without quorum, still holds the lockspace state from before the partition; this node yields`;
    const out = this.membershipDown(detail, at, 'partition lost');
    this.yielded = `nothing (${detail}: this daemon exits and the other nodes fence this node)`;
    for (const e of this.lockspaces.values()) e.waitingFor = this.yielded;
    return [...out, { type: 'exit', reason: 'stateful-merge', detail }];
  }

  private fenceResult(ev: { nodeid: number; ok: boolean; at: number; manual?: boolean; detail?: string; from?: number }): DaemonAction[] {
    const n = this.nodes.get(ev.nodeid);
    // startup fencing decided before this daemon joined: the node was never trusted here
    // (unseen), and is fenced now like a dead one
    if (n && ev.ok && n.state === 'up' && this.unseen.has(n.nodeid)) {
      n.state = 'failed';
      n.fencing = true;
    }
    if (!n || n.state !== 'failed') return [this.log('info', `fence result for node ${ev.nodeid} ignored: it is ${n?.state ?? 'unknown'}`)];
    const fromOther = ev.from !== undefined && ev.from !== this.localNodeId;
    // a failure counts only from the node fencing it now; a success (or a fence-ack) from anywhere
    if (!ev.ok && fromOther && n.fencer !== ev.from) return [this.log('info', `failed fence of node ${ev.nodeid} by node ${ev.from} ignored: node ${n.fencer ?? 'none'} fences it now`)];
    if (!ev.manual && !ev.ok && !n.fencing) return [this.log('info', `fence result for node ${ev.nodeid} ignored: no fencing in progress`)];
    if (!ev.manual && ev.ok && !n.fencing && !fromOther) return [this.log('info', `fence result for node ${ev.nodeid} ignored: no fencing in progress`)];
    n.fencing = false;
    if (!ev.ok) {
      if (fromOther) n.fenceRounds++;
      if (n.fenceRounds >= this.maxFenceRounds) {
        return [this.log('error', `fencing node ${n.nodeid} failed ${n.fenceRounds} times${fromOther ? ` (by node ${ev.from})` : ''}: its lockspaces stay stopped until 'o2stack daemon-ctl fence-ack ${n.nodeid}' (only once the node is surely off)`, { nodeid: n.nodeid, detail: ev.detail })];
      }
      if (fromOther) {
        // the fencer retries; this node keeps waiting for its result
        n.fencing = true;
        return [this.log('warn', `fencing node ${n.nodeid} by node ${ev.from} failed (round ${n.fenceRounds}): it retries`, { detail: ev.detail })];
      }
      return [this.log('warn', `fencing node ${n.nodeid} failed (round ${n.fenceRounds}): retrying`, { detail: ev.detail }), ...this.maybeFence(n, this.retryDelay)];
    }
    delete n.fencer;
    this.unseen.delete(n.nodeid);
    delete n.inquorateWhileFailed;
    delete n.returned;
    delete n.mergeSeen;
    n.state = 'down';
    // a node failed again by a merge after its first fence has no comm left to remove
    const commOp: AttrOp[] = n.comm ? [{ op: 'rmdir', path: dlmPaths.comm(n.nodeid) }] : [];
    n.comm = false;
    delete n.failTime;
    const downs = this.legacyDowns(n);
    if (this.mode === 'groups') {
      // members come from the groups: each lockspace restarts at its own barrier (tryStartGroup)
      const out: DaemonAction[] = [
        this.log('info', `node ${n.nodeid} fenced${ev.manual ? ' (acknowledged by hand)' : ''}${fromOther ? ` by node ${ev.from}` : ''}: comm removed`, { nodeid: n.nodeid, by: ev.from ?? this.localNodeId }),
        ...downs,
        ...(commOp.length ? [{ type: 'ops' as const, why: `recover from node ${n.nodeid}: remove its comm`, ops: commOp }] : []),
      ];
      for (const l of [...this.lockspaces.values()]) out.push(...this.retry(l.name, ev.at));
      return out;
    }
    const withIt = [...this.lockspaces.values()].filter((l) => l.state === 'stopped' && l.members.includes(n.nodeid));
    for (const l of withIt) l.members = l.members.filter((m) => m !== n.nodeid);
    const stillFailed = (l: LockspaceEntry) => l.members.some((m) => this.nodes.get(m)?.state === 'failed');
    const restart = this.blockedBy() === 'quorum' ? [] : [...this.lockspaces.values()].filter((l) => l.state === 'stopped' && !l.frozen && !l.downsPending?.length && !stillFailed(l));
    const ops: AttrOp[] = [
      ...commOp,
      ...withIt.map((l) => ({ op: 'rmdir' as const, path: dlmPaths.spaceNode(l.name, n.nodeid) })),
      ...restart.map((l) => ({ op: 'write' as const, path: dlmPaths.sysfs(l.name, 'control'), data: '1' })),
    ];
    for (const l of restart) {
      l.state = 'running';
      l.since = ev.at;
    }
    const out: DaemonAction[] = [
      this.log('info', `node ${n.nodeid} fenced${ev.manual ? ' (acknowledged by hand)' : ''}: comm removed, ${restart.length} lockspace(s) restarted`, { nodeid: n.nodeid, restarted: restart.map((l) => l.name) }),
      ...downs,
      { type: 'ops', why: `recover from node ${n.nodeid}: remove its comm and memberships, restart`, ops },
    ];
    for (const l of [...this.lockspaces.values()]) out.push(...this.retry(l.name, ev.at));
    return out;
  }

  /** Legacy mode, a fenced node: DOWN for each volume it had mounted here (lib/model/legacyDown.ts). */
  private legacyDowns(n: NodeEntry): DaemonAction[] {
    const view = n.viewAtDeath;
    delete n.viewAtDeath;
    if (!this.legacy || !view) return [];
    // a volume unmounted here since is no connection any more; one mounted again is still joining
    const still = Object.fromEntries(Object.entries(view).filter(([ls]) => { const st = this.lockspaces.get(ls)?.state; return st === 'running' || st === 'stopped'; }));
    const downs = legacyDownMessages({ dead: n.nodeid, localNodeId: this.localNodeId, view: still });
    for (const d of downs) {
      const e = this.lockspaces.get(d.uuid);
      if (e) e.downsPending = [...(e.downsPending ?? []).filter((id) => id !== d.nodeid), d.nodeid];
    }
    return downs.map((d) => ({ type: 'down' as const, ...d }));
  }

  /**
   * Legacy mode, the answer to a `down` request. Written: the lockspace may start once nothing
   * else holds it. Failed: ocfs2 was not told that a node died on this volume, so its journal is
   * not replayed and a start would hand the node's locks to others over unrecovered metadata: it
   * stays stopped for good (until it is unmounted, or the machine restarts).
   */
  private downResult(ev: { uuid: string; nodeid: number; ok: boolean; detail?: string; at: number }): DaemonAction[] {
    const e = this.lockspaces.get(ev.uuid);
    if (!e) return [];
    const pending = (e.downsPending ?? []).filter((id) => id !== ev.nodeid);
    if (pending.length) e.downsPending = pending;
    else delete e.downsPending;
    if (!ev.ok) {
      e.state = 'stopped';
      e.since = ev.at;
      e.frozen = `ocfs2 to learn that node ${ev.nodeid} died (DOWN failed: ${ev.detail ?? 'unknown error'}); it never will: restart this machine`;
      e.waitingFor = e.frozen;
      return [this.log('error', `${ev.uuid} stays stopped: ${e.frozen}`, { ls: ev.uuid, nodeid: ev.nodeid })];
    }
    if (this.mode === 'groups') return this.tryStartGroup(ev.uuid, ev.at);
    // static mode: what the fence result would have restarted, had the DOWN not been pending
    if (this.blockedBy() === 'quorum' || !this.restartableStatic(e)) return [];
    e.state = 'running';
    e.since = ev.at;
    delete e.waitingFor;
    return [{ type: 'ops', why: `restart ${ev.uuid} (ocfs2 told of node ${ev.nodeid}'s death)`, ops: [{ op: 'write', path: dlmPaths.sysfs(ev.uuid, 'control'), data: '1' }] }];
  }

  /** static mode: a stopped lockspace nothing holds any more (not frozen, no DOWN unanswered, every member up) */
  private restartableStatic(l: LockspaceEntry): boolean {
    return l.state === 'stopped' && !l.frozen && !l.downsPending?.length && l.members.every((m) => this.nodes.get(m)?.state === 'up');
  }

  private nodeUp(nodeid: number, at: number): DaemonAction[] {
    const n = this.nodes.get(nodeid);
    if (!n) return [this.log('warn', `node-up ${nodeid}: not a configured node`)];
    if (n.state === 'up') return [];
    if (n.state === 'down' && n.stale) return [this.log('info', `node ${nodeid} is in the membership, fenced after a stateful merge: taken back once a new daemon of its joins the daemon group`)];
    if (n.state === 'failed') {
      n.returned = true;
      n.returnedAt = at;
      if (n.inquorateWhileFailed) {
        return [
          this.log('warn', `node ${nodeid} is back in the membership, unfenced, and this node was without quorum since it went: no fencing of it until its daemon shows how it came back (merged with its old state: this node yields; restarted: it is fenced), for at most ${this.mergeWaitMs} ms`),
          { type: 'timer', afterMs: this.mergeWaitMs, timer: { kind: 'merge-wait', nodeid, since: at } },
        ];
      }
      return [this.log('warn', `node ${nodeid} is back but was never fenced: it stays failed until fenced`)];
    }
    n.state = 'up';
    n.comm = true;
    const out: DaemonAction[] = [
      this.log('info', `node ${nodeid} is back: comm recreated (it joins lockspaces created from now on)`),
      { type: 'ops', why: `comm for node ${nodeid}`, ops: commOps(n, false) },
    ];
    for (const l of [...this.lockspaces.values()]) out.push(...this.retry(l.name, at));
    return out;
  }

  private quorum(quorate: boolean, at: number): DaemonAction[] {
    const was = this.quorate;
    this.quorate = quorate;
    if (was === quorate) return [];
    const out: DaemonAction[] = [this.log(quorate ? 'info' : 'warn', quorate ? 'quorum regained' : 'quorum lost: no lockspace starts and no fencing until it is back')];
    if (!quorate) {
      for (const n of this.nodes.values()) if (n.state === 'failed' && this.gating) n.inquorateWhileFailed = true;
      return out;
    }
    for (const n of this.nodes.values()) out.push(...this.maybeFence(n));
    if (this.mode === 'groups') {
      for (const l of [...this.lockspaces.values()]) out.push(...this.retry(l.name, at));
      return out;
    }
    // lockspaces whose dead members were fenced while inquorate
    const startable = [...this.lockspaces.values()].filter((l) => this.restartableStatic(l));
    if (startable.length > 0) {
      for (const l of startable) {
        l.state = 'running';
        l.since = at;
      }
      out.push({ type: 'ops', why: 'restart after quorum', ops: startable.map((l) => ({ op: 'write' as const, path: dlmPaths.sysfs(l.name, 'control'), data: '1' })) });
    }
    for (const l of [...this.lockspaces.values()]) out.push(...this.tryJoin(l.name, at));
    return out;
  }

  private joinTimeout(ls: string, at: number): DaemonAction[] {
    const e = this.lockspaces.get(ls);
    if (!e || e.state !== 'joining') return [];
    this.lockspaces.delete(ls);
    const inGroup = this.barriers.delete(ls);
    return [
      ...(inGroup ? [{ type: 'group-leave' as const, ls, group: lockspaceGroupName(ls) }] : []),
      this.log('error', `join of ${ls} waited too long for ${e.waitingFor ?? '?'} (since ${new Date(e.since).toISOString()}): answered -ETIMEDOUT, the mount fails`, { ls, at }),
      { type: 'ops', why: `fail join ${ls}`, ops: failEventOps(ls, ETIMEDOUT), ls, answers: 'join' },
    ];
  }

  private opsFailed(ev: { ls: string; answers: 'join' | 'leave'; errno: number; eventDoneWritten: boolean }): DaemonAction[] {
    if (ev.answers === 'leave') return [this.log('error', `could not answer the leave of ${ev.ls} (errno ${ev.errno})`)];
    const e = this.lockspaces.get(ev.ls);
    this.lockspaces.delete(ev.ls);
    const out: DaemonAction[] = [this.log('error', `join of ${ev.ls} failed (errno ${ev.errno}): answering -${ev.errno}`)];
    if (this.barriers.delete(ev.ls)) out.push({ type: 'group-leave', ls: ev.ls, group: lockspaceGroupName(ev.ls) });
    out.push({ type: 'ops', why: `clean failed join ${ev.ls}`, ops: staleCleanup(ev.ls, e?.members ?? []), bestEffort: true });
    // a failed event_done write itself cannot be answered again (and a stray one would be latched)
    if (!ev.eventDoneWritten) out.push({ type: 'ops', why: `fail join ${ev.ls}`, ops: failEventOps(ev.ls, ev.errno || 5), bestEffort: true });
    return out;
  }

  private rescan(sysfs: string[], spaces: Record<string, number[]>, at: number): DaemonAction[] {
    const out: DaemonAction[] = [];
    for (const [ls, e] of [...this.lockspaces]) {
      if (!sysfs.includes(ls)) {
        this.lockspaces.delete(ls);
        if (this.barriers.delete(ls)) out.push({ type: 'group-leave', ls, group: lockspaceGroupName(ls) });
        out.push(this.log('warn', `rescan: ${ls} is gone from the kernel (a lost offline/remove): forgotten`));
        if (spaces[ls]) out.push({ type: 'ops', why: `clean ${ls}`, ops: staleCleanup(ls, e.members), bestEffort: true });
      }
    }
    for (const ls of sysfs) {
      if (this.lockspaces.has(ls)) continue;
      if (spaces[ls]) {
        out.push(this.log('info', `rescan: adopted running lockspace ${ls}`), ...this.adopt(ls, spaces[ls]!, at));
      } else {
        out.push(this.log('warn', `rescan: ${ls} waits for a join answer (a lost online): joining`));
        out.push(...this.online(ls, at));
      }
    }
    return out;
  }

  snapshot(): { localNodeId: number; quorate: boolean; blockedBy: string | null; nodes: NodeEntry[]; lockspaces: LockspaceEntry[] } {
    return {
      localNodeId: this.localNodeId,
      quorate: this.quorate,
      blockedBy: this.blockedBy() ?? null,
      nodes: [...this.nodes.values()].map((n) => ({ ...n, addresses: [...n.addresses] })),
      lockspaces: [...this.lockspaces.values()].map((l) => ({ ...l, members: [...l.members], ...(l.groupNodes ? { groupNodes: [...l.groupNodes] } : {}) })),
    };
  }
}

/** rmdir each member entry, then the space (entries that may already be gone: run best-effort). */
function staleCleanup(ls: string, members: number[]): AttrOp[] {
  return [...members.map((id) => ({ op: 'rmdir' as const, path: dlmPaths.spaceNode(ls, id) })), { op: 'rmdir', path: dlmPaths.space(ls) }];
}
