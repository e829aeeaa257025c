// The tracking daemon's model (pure): this node's lockspaces as seen beside dlm_controld, which
// owns fs/dlm. A lockspace is `joining` from its `online` uevent (or a rescan that finds it in
// /sys/kernel/dlm) until dlm_controld writes this node into its configfs member list; then
// `running`, with the members that list names, until it leaves /sys/kernel/dlm (offline, or a
// failed join). The daemon reads the kernel and feeds what it read; the model answers with notes
// the daemon logs and counts.

export interface TrackedLockspace {
  name: string;
  /** joining: `online` seen, dlm_controld has not written this node into its members yet */
  state: 'joining' | 'running';
  /** from configfs spaces/<name>/nodes (dlm_controld's writing) */
  members: number[];
  /** when it entered this state (ms since the epoch) */
  since: number;
}

export type TrackingNote =
  | { kind: 'joined'; ls: string; members: number[]; ms: number }
  | { kind: 'join-slow'; ls: string; waitedMs: number }
  | { kind: 'members'; ls: string; members: number[]; was: number[] }
  | { kind: 'left'; ls: string; why: string; wasRunning: boolean };

const sortedIds = (ids: number[]) => [...new Set(ids)].sort((a, b) => a - b);

export class TrackingModel {
  private readonly lockspaces = new Map<string, TrackedLockspace>();
  private readonly slowWarned = new Set<string>();

  constructor(
    private readonly localNodeId: number,
    /** a join not done by dlm_controld within this is noted as slow (once) */
    private readonly joinWarnMs = 60_000,
  ) {}

  get size(): number {
    return this.lockspaces.size;
  }

  state(ls: string): TrackedLockspace['state'] | undefined {
    return this.lockspaces.get(ls)?.state;
  }

  names(): string[] {
    return [...this.lockspaces.keys()];
  }

  /** `online` seen: joining (again, if it was known: the old one's offline was lost). */
  online(ls: string, now: number): void {
    this.lockspaces.set(ls, { name: ls, state: 'joining', members: [], since: now });
    this.slowWarned.delete(ls);
  }

  /** A rescan found these in /sys/kernel/dlm: the new ones are joining. */
  found(sysfs: Iterable<string>, now: number): void {
    for (const ls of sysfs) if (!this.lockspaces.has(ls)) this.lockspaces.set(ls, { name: ls, state: 'joining', members: [], since: now });
  }

  /**
   * What was read of one known lockspace: whether /sys/kernel/dlm still has it, and (read only
   * then) its configfs members.
   */
  observe(ls: string, present: boolean, readMembers: () => number[], now: number): TrackingNote[] {
    const l = this.lockspaces.get(ls);
    if (!l) return [];
    if (!present) return this.drop(ls, l.state === 'joining' ? 'gone from /sys/kernel/dlm before dlm_controld joined it (the join failed)' : 'gone from /sys/kernel/dlm (its offline was not seen)');
    const members = sortedIds(readMembers());
    if (l.state === 'joining') {
      if (members.includes(this.localNodeId)) {
        const ms = now - l.since;
        Object.assign(l, { state: 'running', members, since: now });
        return [{ kind: 'joined', ls, members, ms }];
      }
      if (now - l.since > this.joinWarnMs && !this.slowWarned.has(ls)) {
        this.slowWarned.add(ls);
        return [{ kind: 'join-slow', ls, waitedMs: now - l.since }];
      }
      return [];
    }
    if (members.join() === l.members.join()) return [];
    const was = l.members;
    l.members = members;
    return [{ kind: 'members', ls, members, was }];
  }

  /** It is gone (offline, removed, or no longer in /sys/kernel/dlm). */
  drop(ls: string, why: string): TrackingNote[] {
    const l = this.lockspaces.get(ls);
    if (!l) return [];
    this.lockspaces.delete(ls);
    this.slowWarned.delete(ls);
    return [{ kind: 'left', ls, why, wasRunning: l.state === 'running' }];
  }

  /** This node's lockspaces that count (dlm_controld joined them), with their members. */
  localView(): { ls: string; nodes: number[] }[] {
    return [...this.lockspaces.values()].filter((l) => l.state === 'running').map((l) => ({ ls: l.name, nodes: l.members.length ? [...l.members] : [this.localNodeId] }));
  }

  list(): TrackedLockspace[] {
    return [...this.lockspaces.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map((l) => ({ ...l, members: [...l.members] }));
  }
}
