// One lockspace's POSIX record locks (fcntl/lockf on an ocfs2 volume), as every member of the
// lockspace's group holds them: the daemon applies each request, in the group's delivery order, to
// its copy (lib/model/plockSync.ts). Pure and deterministic: the same calls in the same order give
// the same table on every node.
//
// Semantics (POSIX as Linux implements it, with an owner being (nodeid, owner) since owners are
// only unique per node): locks of different owners conflict when their ranges overlap and one is
// exclusive; an owner never conflicts with itself, and a new lock replaces the overlapped parts of
// its owner's locks (splitting them), after which adjacent or overlapping locks of the owner with
// the same mode merge. A request that conflicts either fails (F_SETLK) or queues FIFO (F_SETLKW);
// queued waiters are granted, in queue order, whenever the locks of their inode change.
//
// Per inode the granted locks are kept sorted by start, with a running maximum of `end`
// (maxEnd[i] = max end of locks[0..i]): the locks that overlap [s, e] are found by a binary search
// for the last lock starting at or before e, walking back only while maxEnd >= s — no scan of the
// whole inode when ranges are disjoint.

/** The kernel's "to end of file". */
export const OFFSET_MAX = 0x7fffffffffffffffn;

export interface PlockOwnerId {
  nodeid: number;
  owner: bigint;
}
export interface Plock {
  nodeid: number;
  owner: bigint;
  pid: number;
  start: bigint;
  /** inclusive */
  end: bigint;
  ex: boolean;
}
export interface PlockGrant {
  number: bigint;
  lock: Plock;
}
export type LockResult =
  | { result: 'granted'; granted: PlockGrant[] }
  | { result: 'conflict'; conflict: Plock; granted: PlockGrant[] }
  | { result: 'waiting'; granted: PlockGrant[] };

/** JSON-safe: u64s as decimal strings. A lock is [nodeid, owner, pid, start, end, ex 0|1]. */
export interface PlockTableSnapshot {
  v: 1;
  inodes: [string, PlockTuple[], PlockTuple[]][];
}
type PlockTuple = [number, string, number, string, string, 0 | 1];

interface Inode {
  /** sorted by start, then nodeid, then owner */
  locks: Plock[];
  /** maxEnd[i]: the largest end among locks[0..i] */
  maxEnd: bigint[];
  waiters: Plock[];
}

const sameOwner = (a: PlockOwnerId, b: PlockOwnerId) => a.nodeid === b.nodeid && a.owner === b.owner;
const overlaps = (a: { start: bigint; end: bigint }, s: bigint, e: bigint) => a.start <= e && a.end >= s;
const conflicts = (l: Plock, r: Plock) => !sameOwner(l, r) && (l.ex || r.ex) && overlaps(l, r.start, r.end);
const order = (a: Plock, b: Plock) => (a.start < b.start ? -1 : a.start > b.start ? 1 : a.nodeid - b.nodeid || (a.owner < b.owner ? -1 : a.owner > b.owner ? 1 : 0));
const sameWaiter = (a: Plock, b: Plock) => sameOwner(a, b) && a.pid === b.pid && a.start === b.start && a.end === b.end && a.ex === b.ex;

function checkRange(start: bigint, end: bigint): void {
  if (start < 0n || end > OFFSET_MAX || start > end) throw new RangeError(`plock range ${start}-${end}: start and end within 0..${OFFSET_MAX}, start <= end`);
}

export class PlockTable {
  private readonly inodes = new Map<bigint, Inode>();

  lock(number: bigint, req: Plock, wait: boolean): LockResult {
    checkRange(req.start, req.end);
    const ino = this.inode(number);
    const c = this.firstConflict(ino, req);
    if (c) {
      if (!wait) {
        this.drop(number, ino);
        return { result: 'conflict', conflict: { ...c }, granted: [] };
      }
      if (!ino.waiters.some((w) => sameWaiter(w, req))) ino.waiters.push({ ...req });
      return { result: 'waiting', granted: [] };
    }
    this.apply(ino, req);
    const granted = this.grantWaiters(number, ino);
    this.drop(number, ino);
    return { result: 'granted', granted };
  }

  unlock(number: bigint, who: PlockOwnerId, start: bigint, end: bigint): PlockGrant[] {
    checkRange(start, end);
    const ino = this.inodes.get(number);
    if (!ino) return [];
    const changed = this.remove(ino, who, start, end);
    const granted = changed ? this.grantWaiters(number, ino) : [];
    this.drop(number, ino);
    return granted;
  }

  get(number: bigint, req: Plock): Plock | undefined {
    checkRange(req.start, req.end);
    const ino = this.inodes.get(number);
    const c = ino ? this.firstConflict(ino, req) : undefined;
    return c ? { ...c } : undefined;
  }

  closeOwner(number: bigint, who: PlockOwnerId): PlockGrant[] {
    const ino = this.inodes.get(number);
    if (!ino) return [];
    ino.waiters = ino.waiters.filter((w) => !sameOwner(w, who));
    const changed = this.remove(ino, who, 0n, OFFSET_MAX);
    const granted = changed ? this.grantWaiters(number, ino) : [];
    this.drop(number, ino);
    return granted;
  }

  purgeNode(nodeid: number): PlockGrant[] {
    const granted: PlockGrant[] = [];
    for (const number of [...this.inodes.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
      const ino = this.inodes.get(number)!;
      ino.waiters = ino.waiters.filter((w) => w.nodeid !== nodeid);
      const keep = ino.locks.filter((l) => l.nodeid !== nodeid);
      if (keep.length !== ino.locks.length) {
        ino.locks = keep;
        this.reindex(ino);
        granted.push(...this.grantWaiters(number, ino));
      }
      this.drop(number, ino);
    }
    return granted;
  }

  cancelWaiter(number: bigint, w: Plock): boolean {
    const ino = this.inodes.get(number);
    if (!ino) return false;
    const i = ino.waiters.findIndex((x) => sameWaiter(x, w));
    if (i < 0) return false;
    ino.waiters.splice(i, 1);
    this.drop(number, ino);
    return true;
  }

  locks(): { number: bigint; lock: Plock }[] {
    return this.sortedNumbers().flatMap((n) => this.inodes.get(n)!.locks.map((l) => ({ number: n, lock: { ...l } })));
  }

  waiters(): { number: bigint; lock: Plock }[] {
    return this.sortedNumbers().flatMap((n) => this.inodes.get(n)!.waiters.map((l) => ({ number: n, lock: { ...l } })));
  }

  counts(): { inodes: number; locks: number; waiters: number } {
    let locks = 0;
    let waiters = 0;
    for (const i of this.inodes.values()) {
      locks += i.locks.length;
      waiters += i.waiters.length;
    }
    return { inodes: this.inodes.size, locks, waiters };
  }

  snapshot(): PlockTableSnapshot {
    const t = (l: Plock): PlockTuple => [l.nodeid, l.owner.toString(), l.pid, l.start.toString(), l.end.toString(), l.ex ? 1 : 0];
    return { v: 1, inodes: this.sortedNumbers().map((n) => [n.toString(), this.inodes.get(n)!.locks.map(t), this.inodes.get(n)!.waiters.map(t)]) };
  }

  static fromSnapshot(s: unknown): PlockTable {
    const bad = (why: string) => new Error(`plock table snapshot: ${why}`);
    if (typeof s !== 'object' || s === null || (s as { v?: unknown }).v !== 1 || !Array.isArray((s as { inodes?: unknown }).inodes)) throw bad('not a version 1 snapshot');
    const u64 = (x: unknown, what: string): bigint => {
      if (typeof x !== 'string' || !/^\d{1,20}$/.test(x)) throw bad(`${what} '${String(x)}' is not a decimal u64`);
      const v = BigInt(x);
      if (v > 0xffffffffffffffffn) throw bad(`${what} ${x} is larger than a u64`);
      return v;
    };
    const lock = (x: unknown): Plock => {
      if (!Array.isArray(x) || x.length !== 6) throw bad('a lock is [nodeid, owner, pid, start, end, ex]');
      const [nodeid, owner, pid, start, end, ex] = x as unknown[];
      if (!Number.isInteger(nodeid) || (nodeid as number) <= 0) throw bad(`nodeid ${String(nodeid)}`);
      if (!Number.isInteger(pid) || (pid as number) < 0) throw bad(`pid ${String(pid)}`);
      if (ex !== 0 && ex !== 1) throw bad(`ex ${String(ex)}`);
      const l: Plock = { nodeid: nodeid as number, owner: u64(owner, 'owner'), pid: pid as number, start: u64(start, 'start'), end: u64(end, 'end'), ex: ex === 1 };
      if (l.start > l.end || l.end > OFFSET_MAX) throw bad(`range ${l.start}-${l.end}`);
      return l;
    };
    const t = new PlockTable();
    for (const e of (s as { inodes: unknown[] }).inodes) {
      if (!Array.isArray(e) || e.length !== 3 || !Array.isArray(e[1]) || !Array.isArray(e[2])) throw bad('an inode is [number, locks, waiters]');
      const number = u64(e[0], 'inode number');
      if (t.inodes.has(number)) throw bad(`inode ${number} twice`);
      const ino: Inode = { locks: (e[1] as unknown[]).map(lock).sort(order), maxEnd: [], waiters: (e[2] as unknown[]).map(lock) };
      for (let i = 0; i < ino.locks.length; i++) for (let j = i + 1; j < ino.locks.length && ino.locks[j]!.start <= ino.locks[i]!.end; j++) if (conflicts(ino.locks[i]!, ino.locks[j]!) || sameOwner(ino.locks[i]!, ino.locks[j]!)) throw bad(`inode ${number}: locks overlap that cannot`);
      t.reindex(ino);
      if (ino.locks.length || ino.waiters.length) t.inodes.set(number, ino);
    }
    return t;
  }

  private sortedNumbers(): bigint[] {
    return [...this.inodes.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  private inode(number: bigint): Inode {
    let i = this.inodes.get(number);
    if (!i) this.inodes.set(number, (i = { locks: [], maxEnd: [], waiters: [] }));
    return i;
  }

  private drop(number: bigint, ino: Inode): void {
    if (ino.locks.length === 0 && ino.waiters.length === 0) this.inodes.delete(number);
  }

  /** Index of the last lock with start <= x, or -1. */
  private lastStartingBy(ino: Inode, x: bigint): number {
    let lo = 0;
    let hi = ino.locks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ino.locks[mid]!.start <= x) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  }

  /** Indexes of the locks overlapping [s, e], ascending. */
  private overlapping(ino: Inode, s: bigint, e: bigint): number[] {
    const out: number[] = [];
    for (let i = this.lastStartingBy(ino, e); i >= 0 && ino.maxEnd[i]! >= s; i--) if (ino.locks[i]!.end >= s) out.push(i);
    return out.reverse();
  }

  private firstConflict(ino: Inode, req: Plock): Plock | undefined {
    for (const i of this.overlapping(ino, req.start, req.end)) if (conflicts(ino.locks[i]!, req)) return ino.locks[i];
    return undefined;
  }

  private reindex(ino: Inode, from = 0): void {
    ino.maxEnd.length = ino.locks.length;
    let m = from > 0 ? ino.maxEnd[from - 1]! : -1n;
    for (let i = from; i < ino.locks.length; i++) {
      const e = ino.locks[i]!.end;
      if (e > m) m = e;
      ino.maxEnd[i] = m;
    }
  }

  /** Removes who's coverage of [s, e] (splitting partly covered locks). True if anything changed. */
  private remove(ino: Inode, who: PlockOwnerId, s: bigint, e: bigint): boolean {
    const hit = this.overlapping(ino, s, e).filter((i) => sameOwner(ino.locks[i]!, who));
    if (hit.length === 0) return false;
    const pieces: Plock[] = [];
    for (const i of hit) {
      const l = ino.locks[i]!;
      if (l.start < s) pieces.push({ ...l, end: s - 1n });
      if (l.end > e) pieces.push({ ...l, start: e + 1n });
    }
    const first = hit[0]!;
    const gone = new Set(hit);
    const rest = ino.locks.filter((_, i) => !gone.has(i));
    for (const p of pieces) insertSorted(rest, p);
    ino.locks = rest;
    this.reindex(ino, Math.min(first, rest.length));
    return true;
  }

  /** Grants req (no conflict checked here): replaces the owner's overlapped parts, merges same-mode neighbours. */
  private apply(ino: Inode, req: Plock): void {
    this.remove(ino, req, req.start, req.end);
    let lock: Plock = { ...req };
    // merge with the owner's same-mode locks that touch it (end + 1 == start counts)
    const lo = lock.start > 0n ? lock.start - 1n : 0n;
    const hi = lock.end < OFFSET_MAX ? lock.end + 1n : OFFSET_MAX;
    const merge = this.overlapping(ino, lo, hi).filter((i) => sameOwner(ino.locks[i]!, req) && ino.locks[i]!.ex === req.ex);
    if (merge.length) {
      for (const i of merge) {
        const l = ino.locks[i]!;
        lock = { ...lock, start: l.start < lock.start ? l.start : lock.start, end: l.end > lock.end ? l.end : lock.end };
      }
      const gone = new Set(merge);
      ino.locks = ino.locks.filter((_, i) => !gone.has(i));
    }
    const at = insertSorted(ino.locks, lock);
    this.reindex(ino, merge.length ? 0 : at);
  }

  /** Grants every waiter that now fits, in queue order, until nothing more does. */
  private grantWaiters(number: bigint, ino: Inode): PlockGrant[] {
    const granted: PlockGrant[] = [];
    for (let progress = true; progress && ino.waiters.length > 0; ) {
      progress = false;
      for (let i = 0; i < ino.waiters.length; i++) {
        const w = ino.waiters[i]!;
        if (this.firstConflict(ino, w)) continue;
        ino.waiters.splice(i, 1);
        this.apply(ino, w);
        granted.push({ number, lock: { ...w } });
        progress = true;
        break; // the queue changed: start again from its head
      }
    }
    return granted;
  }
}

/** Inserts l into locks sorted by `order`; returns its index. */
function insertSorted(locks: Plock[], l: Plock): number {
  let lo = 0;
  let hi = locks.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (order(locks[mid]!, l) <= 0) lo = mid + 1;
    else hi = mid;
  }
  locks.splice(lo, 0, l);
  return lo;
}
