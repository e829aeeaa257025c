// One CPG process group per lockspace, as dlm_controld runs them
// (docs/user-stack-daemon.md#lockspace-groups): the group's members are the lockspace's members.
// On every member change each member stops the lockspace and multicasts a "start" message tagged
// with that change; only when every current member's start for the same change has been delivered
// (the barrier) does a member write the member list to configfs and start the lockspace again.
// Pure: no I/O, no clock.
//
// The tag is the change itself (members with pids, joined, left, reasons): CPG delivers the same
// confchg to every member, so every member computes the same tag for it without a shared counter —
// a node that joins a running group tags its first change as the old members do. A start for an
// older change (sent before the newer change reached its sender) is stale and ignored; the sender
// sends a new one for the newer change. A start delivered before the change it names (a membership
// source weaker than CPG's virtual synchrony) is kept for the next change only.
import { compareMembers, type GroupMember, type GroupMemberChange, type MembersChangedEvent } from './membership.js';

export const LOCKSPACE_GROUP_PREFIX = 'dlm:ls:';
/** CPG group names are at most 128 bytes; fs/dlm lockspace names at most 64. */
export const lockspaceGroupName = (ls: string): string => `${LOCKSPACE_GROUP_PREFIX}${ls}`;
export function lockspaceOfGroup(group: string): string | undefined {
  return group.startsWith(LOCKSPACE_GROUP_PREFIX) ? group.slice(LOCKSPACE_GROUP_PREFIX.length) : undefined;
}

/** The message every member multicasts after stopping for a change. */
export interface StartMessage {
  type: 'start';
  ls: string;
  tag: string;
}

const key = (m: { nodeid: number; pid: number }) => `${m.nodeid}:${m.pid}`;
const list = (ms: { nodeid: number; pid: number; reason?: string }[]) =>
  [...ms].sort(compareMembers).map((m) => `${key(m)}${m.reason ? `/${m.reason}` : ''}`).join(',');

/** The same string on every member for the same confchg. */
export function changeTag(c: Pick<MembersChangedEvent, 'members' | 'joined' | 'left'>): string {
  return `m=${list(c.members)};j=${list(c.joined)};l=${list(c.left)}`;
}

export function encodeStart(m: StartMessage): string {
  return JSON.stringify(m);
}

/** A group message as a StartMessage, or undefined (another daemon's message kind, or garbage). */
export function decodeStart(data: string): StartMessage | undefined {
  try {
    const m = JSON.parse(data) as Partial<StartMessage>;
    if (m.type === 'start' && typeof m.ls === 'string' && typeof m.tag === 'string') return { type: 'start', ls: m.ls, tag: m.tag };
  } catch {
    /* not JSON */
  }
  return undefined;
}

export type StartVerdict = 'counted' | 'duplicate' | 'stale' | 'early' | 'not-a-member';

/** The barrier of one lockspace group: the current change and whose starts have come in for it. */
export class GroupBarrier {
  tag: string | undefined;
  members: GroupMember[] = [];
  joined: GroupMemberChange[] = [];
  left: GroupMemberChange[] = [];
  /** changes seen since this node joined the group */
  changes = 0;
  private readonly have = new Set<string>();
  /** starts delivered before any change that matched them: kept for the next change only */
  private early: { from: string; tag: string }[] = [];
  /** tags of changes already superseded here (a start naming one is stale, not early) */
  private readonly past = new Set<string>();

  /** A new change: a fresh barrier. Returns the tag to send a start with. */
  change(c: Pick<MembersChangedEvent, 'members' | 'joined' | 'left'>): string {
    if (this.tag !== undefined) this.past.add(this.tag);
    if (this.past.size > 64) this.past.delete(this.past.values().next().value as string);
    this.tag = changeTag(c);
    this.members = [...c.members].sort(compareMembers);
    this.joined = [...c.joined];
    this.left = [...c.left];
    this.changes++;
    this.have.clear();
    const keep = this.early;
    this.early = [];
    for (const e of keep) if (e.tag === this.tag && this.members.some((m) => key(m) === e.from)) this.have.add(e.from);
    return this.tag;
  }

  /** A start delivered from member `from` carrying `tag`. */
  start(from: { nodeid: number; pid: number }, tag: string): StartVerdict {
    const k = key(from);
    if (tag !== this.tag) {
      if (this.past.has(tag)) return 'stale';
      if (this.early.length < 64) this.early.push({ from: k, tag });
      return 'early';
    }
    if (!this.members.some((m) => key(m) === k)) return 'not-a-member';
    if (this.have.has(k)) return 'duplicate';
    this.have.add(k);
    return 'counted';
  }

  complete(): boolean {
    return this.tag !== undefined && this.members.every((m) => this.have.has(key(m)));
  }

  /** Node ids of the current change (a node with two processes in the group counts once). */
  nodeIds(): number[] {
    return [...new Set(this.members.map((m) => m.nodeid))].sort((a, b) => a - b);
  }

  /** Members whose start for the current change is still missing. */
  missing(): number[] {
    return [...new Set(this.members.filter((m) => !this.have.has(key(m))).map((m) => m.nodeid))].sort((a, b) => a - b);
  }
}
