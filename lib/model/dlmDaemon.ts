// The fs/dlm control daemon as a pure state machine (kernel-interfaces.md §5, dlm-corosync.md
// §2.4–2.8): events in (lockspace uevents, membership changes, fencing results, quorum, timers),
// actions out (configfs/sysfs operation lists from lib/model/dlm.ts, fence requests). No I/O and no
// clock: the executor (lib/stack/daemon/daemon.ts) runs the actions and feeds results back.
//
// Membership rule (static, like a dlm_controld without CPG): every lockspace gets every configured
// node that is up as a member; fs/dlm recovery itself waits until each member's kernel has joined.
// A node declared dead is stopped out of every lockspace it was in, fenced, its comm removed (so the
// kernel calls ocfs2's recover_slot and its journal is replayed) and the lockspaces started again.
//
// Lockspace states:
//   joining  the kernel sent `online` and waits (uninterruptibly) for event_done; we wait for
//            quorum and for every failed node to be fenced. Always answered: event_done 0 after
//            the join, or -ETIMEDOUT when the executor's join timer fires first, or -errno when the
//            join's own operations failed.
//   running  started (control 1) with `members`
//   stopped  control 0 after a member died: waits for that member's fencing
//   leaving  the kernel sent `offline`: members removed, event_done 0, then forgotten
import type { AttrOp } from '../kernel/backend.js';
import { commOps, DLM_CLUSTER, dlmPaths, dlmStartOps, failEventOps, joinOps, memberDeathOps, type DlmMember } from './dlm.js';

export type LockspaceState = 'joining' | 'running' | 'stopped' | 'leaving';
/** up: a member; failed: declared dead, not yet fenced; down: fenced, comm removed, not a member */
export type NodeState = 'up' | 'failed' | 'down';

export const ETIMEDOUT = 110;
export const EEXIST = 17;

export interface LockspaceEntry {
  name: string;
  state: LockspaceState;
  /** the configfs members (spaces/<ls>/nodes/<id>) as we wrote them */
  members: number[];
  /** when the current state began (the time of the event that set it) */
  since: number;
  /** joining: what it waits for */
  waitingFor?: string;
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
  fencing: boolean;
  fenceRounds: number;
}

export type DaemonEvent =
  | { type: 'online'; ls: string; at: number }
  | { type: 'offline'; ls: string; at: number }
  | { type: 'node-down'; nodeid: number; at: number; why?: string }
  | { type: 'node-up'; nodeid: number; at: number }
  | { type: 'fence-result'; nodeid: number; ok: boolean; at: number; manual?: boolean; detail?: string }
  | { type: 'quorum'; quorate: boolean; at: number }
  /** the executor's join timer for ls fired */
  | { type: 'join-timeout'; ls: string; at: number }
  /** an `ops` action that answers a join failed at some step: errno of the failure */
  | { type: 'ops-failed'; ls: string; answers: 'join' | 'leave'; errno: number; at: number; eventDoneWritten: boolean }
  /** /sys/kernel/dlm/* now, and configfs spaces/<ls>/nodes/* (after an overflow, or at start) */
  | { type: 'rescan'; sysfs: string[]; spaces: Record<string, number[]>; at: number };

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
  | { type: 'log'; level: 'info' | 'warn' | 'error'; msg: string; data?: Record<string, unknown> };

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
}

/** Current configfs/sysfs state as the executor reads it before start. */
export interface DlmConfigState {
  clusterDir: boolean;
  comms: number[];
  /** configfs spaces/<ls>/nodes/* */
  spaces: Record<string, number[]>;
  /** /sys/kernel/dlm/* */
  sysfs: string[];
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
  const all = dlmStartOps({ clusterName: c.clusterName, recoverCallbacks: c.recoverCallbacks ?? true, localNodeId: c.localNodeId, members: c.members }, state.comms);
  const ops = all.filter((o) => !(o.op === 'mkdir' && o.path === DLM_CLUSTER && state.clusterDir));
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
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') return;
    const m = /^(?:([A-Za-z0-9][A-Za-z0-9._-]*)\s*=\s*)?(\d+)\s*@\s*([0-9A-Fa-f.:,\s]+)$/.exec(line);
    if (!m) throw new Error(`members file line ${i + 1}: '${line}' is not NAME=ID@ADDR[,ADDR...]`);
    const nodeid = Number(m[2]);
    if (!Number.isSafeInteger(nodeid) || nodeid <= 0 || nodeid > 0x7fffffff) throw new Error(`members file line ${i + 1}: node id ${m[2]} must be 1..2147483647`);
    const addresses = m[3]!.split(',').map((s) => s.trim()).filter(Boolean);
    if (addresses.length === 0 || addresses.length > 3) throw new Error(`members file line ${i + 1}: 1 to 3 addresses`);
    if (out.some((n) => n.nodeid === nodeid)) throw new Error(`members file line ${i + 1}: node id ${nodeid} is listed twice`);
    if (m[1] && out.some((n) => n.name === m[1])) throw new Error(`members file line ${i + 1}: name ${m[1]} is listed twice`);
    out.push({ ...(m[1] ? { name: m[1] } : {}), nodeid, addresses });
  });
  if (out.length === 0) throw new Error('members file: no nodes');
  return out;
}

const sorted = (a: Iterable<number>) => [...a].sort((x, y) => x - y);

export class DlmControlModel {
  readonly localNodeId: number;
  readonly nodes = new Map<number, NodeEntry>();
  readonly lockspaces = new Map<string, LockspaceEntry>();
  quorate: boolean;
  private readonly gating: boolean;
  private readonly maxFenceRounds: number;
  private readonly retryDelay: number;

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
  }

  /** Lockspaces found running at start (configfs members present). */
  adopt(ls: string, members: number[], at: number): void {
    this.lockspaces.set(ls, { name: ls, state: 'running', members: sorted(members), since: at });
  }

  /** Why starts are held back now, or undefined when a lockspace may start. */
  blockedBy(): string | undefined {
    if (this.gating && !this.quorate) return 'quorum';
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
      case 'quorum':
        return this.quorum(ev.quorate, ev.at);
      case 'join-timeout':
        return this.joinTimeout(ev.ls, ev.at);
      case 'ops-failed':
        return this.opsFailed(ev);
      case 'rescan':
        return this.rescan(ev.sysfs, ev.spaces, ev.at);
    }
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
    return [...out, ...this.tryJoin(ls, at)];
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
    return [
      ...(e ? [] : [this.log('warn', `offline for ${ls}, which we did not know: answered anyway`, { ls })]),
      { type: 'ops', why: `leave ${ls}: remove its members`, ops: staleCleanup(ls, members), bestEffort: true },
      { type: 'ops', why: `leave ${ls}: event_done 0`, ops: [{ op: 'write', path: dlmPaths.sysfs(ls, 'event_done'), data: '0' }], ls, answers: 'leave' },
    ];
  }

  private nodeDown(nodeid: number, at: number, why?: string): DaemonAction[] {
    const n = this.nodes.get(nodeid);
    if (!n) return [this.log('warn', `node-down ${nodeid}: not a configured node`)];
    if (n.local) return [this.log('warn', `node-down ${nodeid}: that is this node; ignored`)];
    if (n.state !== 'up') return [this.log('info', `node-down ${nodeid}: already ${n.state}`)];
    n.state = 'failed';
    n.failTime = at;
    n.fenceRounds = 0;
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

  private maybeFence(n: NodeEntry, delayMs = 0): DaemonAction[] {
    if (n.state !== 'failed' || n.fencing) return [];
    if (this.gating && !this.quorate) return [this.log('info', `fencing of node ${n.nodeid} waits for quorum`)];
    n.fencing = true;
    n.fenceRounds++;
    return [{ type: 'fence', nodeid: n.nodeid, failTime: n.failTime ?? 0, round: n.fenceRounds, delayMs }];
  }

  private fenceResult(ev: { nodeid: number; ok: boolean; at: number; manual?: boolean; detail?: string }): DaemonAction[] {
    const n = this.nodes.get(ev.nodeid);
    if (!n || n.state !== 'failed') return [this.log('info', `fence result for node ${ev.nodeid} ignored: it is ${n?.state ?? 'unknown'}`)];
    if (!ev.manual && !n.fencing) return [this.log('info', `fence result for node ${ev.nodeid} ignored: no fencing in progress`)];
    n.fencing = false;
    if (!ev.ok) {
      if (n.fenceRounds >= this.maxFenceRounds) {
        return [this.log('error', `fencing node ${n.nodeid} failed ${n.fenceRounds} times: its lockspaces stay stopped until 'o2stack daemon-ctl fence-ack ${n.nodeid}' (only once the node is surely off)`, { nodeid: n.nodeid, detail: ev.detail })];
      }
      return [this.log('warn', `fencing node ${n.nodeid} failed (round ${n.fenceRounds}): retrying`, { detail: ev.detail }), ...this.maybeFence(n, this.retryDelay)];
    }
    n.state = 'down';
    n.comm = false;
    delete n.failTime;
    const withIt = [...this.lockspaces.values()].filter((l) => l.state === 'stopped' && l.members.includes(n.nodeid));
    for (const l of withIt) l.members = l.members.filter((m) => m !== n.nodeid);
    const stillFailed = (l: LockspaceEntry) => l.members.some((m) => this.nodes.get(m)?.state === 'failed');
    const restart = this.blockedBy() === 'quorum' ? [] : [...this.lockspaces.values()].filter((l) => l.state === 'stopped' && !stillFailed(l));
    const ops: AttrOp[] = [
      { op: 'rmdir', path: dlmPaths.comm(n.nodeid) },
      ...withIt.map((l) => ({ op: 'rmdir' as const, path: dlmPaths.spaceNode(l.name, n.nodeid) })),
      ...restart.map((l) => ({ op: 'write' as const, path: dlmPaths.sysfs(l.name, 'control'), data: '1' })),
    ];
    for (const l of restart) {
      l.state = 'running';
      l.since = ev.at;
    }
    const out: DaemonAction[] = [
      this.log('info', `node ${n.nodeid} fenced${ev.manual ? ' (acknowledged by hand)' : ''}: comm removed, ${restart.length} lockspace(s) restarted`, { nodeid: n.nodeid, restarted: restart.map((l) => l.name) }),
      { type: 'ops', why: `recover from node ${n.nodeid}: remove its comm and memberships, restart`, ops },
    ];
    for (const l of [...this.lockspaces.values()]) out.push(...this.tryJoin(l.name, ev.at));
    return out;
  }

  private nodeUp(nodeid: number, at: number): DaemonAction[] {
    const n = this.nodes.get(nodeid);
    if (!n) return [this.log('warn', `node-up ${nodeid}: not a configured node`)];
    if (n.state === 'up') return [];
    if (n.state === 'failed') return [this.log('warn', `node ${nodeid} is back but was never fenced: it stays failed until fenced`)];
    n.state = 'up';
    n.comm = true;
    const out: DaemonAction[] = [
      this.log('info', `node ${nodeid} is back: comm recreated (it joins lockspaces created from now on)`),
      { type: 'ops', why: `comm for node ${nodeid}`, ops: commOps(n, false) },
    ];
    for (const l of [...this.lockspaces.values()]) out.push(...this.tryJoin(l.name, at));
    return out;
  }

  private quorum(quorate: boolean, at: number): DaemonAction[] {
    const was = this.quorate;
    this.quorate = quorate;
    if (was === quorate) return [];
    const out: DaemonAction[] = [this.log(quorate ? 'info' : 'warn', quorate ? 'quorum regained' : 'quorum lost: no lockspace starts and no fencing until it is back')];
    if (!quorate) return out;
    for (const n of this.nodes.values()) out.push(...this.maybeFence(n));
    // lockspaces whose dead members were fenced while inquorate
    const startable = [...this.lockspaces.values()].filter((l) => l.state === 'stopped' && !l.members.some((m) => this.nodes.get(m)?.state !== 'up'));
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
    return [
      this.log('error', `join of ${ls} waited too long for ${e.waitingFor ?? '?'} (since ${new Date(e.since).toISOString()}): answered -ETIMEDOUT, the mount fails`, { ls, at }),
      { type: 'ops', why: `fail join ${ls}`, ops: failEventOps(ls, ETIMEDOUT), ls, answers: 'join' },
    ];
  }

  private opsFailed(ev: { ls: string; answers: 'join' | 'leave'; errno: number; eventDoneWritten: boolean }): DaemonAction[] {
    if (ev.answers === 'leave') return [this.log('error', `could not answer the leave of ${ev.ls} (errno ${ev.errno})`)];
    const e = this.lockspaces.get(ev.ls);
    this.lockspaces.delete(ev.ls);
    const out: DaemonAction[] = [this.log('error', `join of ${ev.ls} failed (errno ${ev.errno}): answering -${ev.errno}`)];
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
        out.push(this.log('warn', `rescan: ${ls} is gone from the kernel (a lost offline/remove): forgotten`));
        if (spaces[ls]) out.push({ type: 'ops', why: `clean ${ls}`, ops: staleCleanup(ls, e.members), bestEffort: true });
      }
    }
    for (const ls of sysfs) {
      if (this.lockspaces.has(ls)) continue;
      if (spaces[ls]) {
        this.adopt(ls, spaces[ls]!, at);
        out.push(this.log('info', `rescan: adopted running lockspace ${ls}`));
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
      lockspaces: [...this.lockspaces.values()].map((l) => ({ ...l, members: [...l.members] })),
    };
  }
}

/** rmdir each member entry, then the space (entries that may already be gone: run best-effort). */
function staleCleanup(ls: string, members: number[]): AttrOp[] {
  return [...members.map((id) => ({ op: 'rmdir' as const, path: dlmPaths.spaceNode(ls, id) })), { op: 'rmdir', path: dlmPaths.space(ls) }];
}
