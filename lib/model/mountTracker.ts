// Cluster-wide group tracking: which nodes have each lockspace (an ocfs2 volume, named by its
// UUID), including volumes this node has not mounted. A node learns the members of a lockspace's
// own process group only while it is in that group; for the rest every daemon announces the
// lockspaces it is in, in one daemon-wide process group: after each change of its own set, and
// again whenever a daemon joins that group (so a newcomer learns everything). A daemon that leaves
// the group (its node died, or the daemon stopped) takes its announcement with it. Pure.
import type { GroupView } from './dlmDaemon.js';

export const DAEMON_GROUP = 'o2stack:daemon';

export interface MountsMessage {
  type: 'mounts';
  lockspaces: string[];
}

export function encodeMounts(lockspaces: Iterable<string>): string {
  return JSON.stringify({ type: 'mounts', lockspaces: [...lockspaces].sort() } satisfies MountsMessage);
}

export function decodeMounts(data: string): MountsMessage | undefined {
  try {
    const m = JSON.parse(data) as Partial<MountsMessage>;
    if (m.type === 'mounts' && Array.isArray(m.lockspaces) && m.lockspaces.every((x) => typeof x === 'string')) return { type: 'mounts', lockspaces: m.lockspaces };
  } catch {
    /* not JSON */
  }
  return undefined;
}

const sortedIds = (s: Iterable<number>) => [...new Set(s)].sort((a, b) => a - b);

export class MountTracker {
  /** what each daemon in the daemon group last announced */
  private readonly announced = new Map<number, Set<string>>();
  private members = new Set<number>();
  /** the view last reported (for the joined/left of the next change) */
  private reported = new Map<string, number[]>();

  constructor(readonly localNodeId: number) {}

  /** A change of the daemon group. True when a daemon joined: every member announces again. */
  daemonGroupChange(nodes: number[]): boolean {
    const joined = nodes.some((n) => !this.members.has(n));
    this.members = new Set(nodes);
    for (const id of [...this.announced.keys()]) if (!this.members.has(id)) this.announced.delete(id);
    return joined;
  }

  /** An announcement delivered in the daemon group. */
  message(from: number, data: string): boolean {
    const m = decodeMounts(data);
    if (!m || !this.members.has(from)) return false;
    this.announced.set(from, new Set(m.lockspaces));
    return true;
  }

  /**
   * The whole view: the lockspaces this node is in, with their groups' members (exact), and every
   * other announced lockspace with the nodes that announced it.
   */
  view(local: { ls: string; nodes: number[] }[]): Map<string, number[]> {
    const out = new Map<string, number[]>();
    for (const l of local) out.set(l.ls, sortedIds(l.nodes));
    const remote = new Map<string, number[]>();
    for (const [id, set] of this.announced) {
      if (id === this.localNodeId) continue;
      for (const ls of set) if (!out.has(ls)) remote.set(ls, [...(remote.get(ls) ?? []), id]);
    }
    for (const [ls, ids] of remote) out.set(ls, sortedIds(ids));
    return out;
  }

  /** The changes since the last call, as 'group' events (a lockspace no node has: nodes []). */
  changes(now: Map<string, number[]>): GroupView[] {
    const out: GroupView[] = [];
    for (const ls of new Set([...this.reported.keys(), ...now.keys()])) {
      const was = this.reported.get(ls) ?? [];
      const is = now.get(ls) ?? [];
      if (was.join() === is.join()) continue;
      out.push({ ls, nodes: is, joined: is.filter((n) => !was.includes(n)), left: was.filter((n) => !is.includes(n)) });
    }
    this.reported = new Map(now);
    return out.sort((a, b) => (a.ls < b.ls ? -1 : a.ls > b.ls ? 1 : 0));
  }
}
