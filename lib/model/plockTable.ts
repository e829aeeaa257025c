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
// Per inode the granted locks are kept sorted by start, with an upper bound of their lengths
// (maxLen: raised by every insert, reset when the inode empties): the locks that overlap [s, e] are
// found by a binary search for the last lock starting at or before e, walking back only while
// start + maxLen >= s — a few steps when ranges are short, whatever the number of locks.

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
  number: bigint;
  /** sorted by start, then nodeid, then owner */
  locks: SortedLocks;
  /** >= end - start of every lock in locks (an upper bound: not lowered on removal) */
  maxLen: bigint;
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
  /** by keyOf(number): a Map hashes small numbers much faster than bigints */
  private readonly inodes = new Map<number | string, Inode>();
  /** emptied inodes kept for reuse: a file locked and unlocked over and over allocates nothing */
  private readonly spare: Inode[] = [];

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
    const ino = this.inodes.get(keyOf(number));
    if (!ino) return [];
    const changed = this.remove(ino, who, start, end);
    const granted = changed ? this.grantWaiters(number, ino) : [];
    this.drop(number, ino);
    return granted;
  }

  get(number: bigint, req: Plock): Plock | undefined {
    checkRange(req.start, req.end);
    const ino = this.inodes.get(keyOf(number));
    const c = ino ? this.firstConflict(ino, req) : undefined;
    return c ? { ...c } : undefined;
  }

  closeOwner(number: bigint, who: PlockOwnerId): PlockGrant[] {
    const ino = this.inodes.get(keyOf(number));
    if (!ino) return [];
    ino.waiters = ino.waiters.filter((w) => !sameOwner(w, who));
    const changed = this.remove(ino, who, 0n, OFFSET_MAX);
    const granted = changed ? this.grantWaiters(number, ino) : [];
    this.drop(number, ino);
    return granted;
  }

  purgeNode(nodeid: number): PlockGrant[] {
    const granted: PlockGrant[] = [];
    for (const number of this.sortedNumbers()) {
      const ino = this.inodes.get(keyOf(number))!;
      ino.waiters = ino.waiters.filter((w) => w.nodeid !== nodeid);
      const all = ino.locks.toArray();
      const keep = all.filter((l) => l.nodeid !== nodeid);
      if (keep.length !== all.length) {
        ino.locks = SortedLocks.from(keep);
        if (keep.length === 0) ino.maxLen = 0n;
        granted.push(...this.grantWaiters(number, ino));
      }
      this.drop(number, ino);
    }
    return granted;
  }

  cancelWaiter(number: bigint, w: Plock): boolean {
    const ino = this.inodes.get(keyOf(number));
    if (!ino) return false;
    const i = ino.waiters.findIndex((x) => sameWaiter(x, w));
    if (i < 0) return false;
    ino.waiters.splice(i, 1);
    this.drop(number, ino);
    return true;
  }

  locks(): { number: bigint; lock: Plock }[] {
    return this.sortedNumbers().flatMap((n) => this.inodes.get(keyOf(n))!.locks.toArray().map((l) => ({ number: n, lock: { ...l } })));
  }

  waiters(): { number: bigint; lock: Plock }[] {
    return this.sortedNumbers().flatMap((n) => this.inodes.get(keyOf(n))!.waiters.map((l) => ({ number: n, lock: { ...l } })));
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
    return { v: 1, inodes: this.sortedNumbers().map((n) => [n.toString(), this.inodes.get(keyOf(n))!.locks.toArray().map(t), this.inodes.get(keyOf(n))!.waiters.map(t)]) };
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
      if (t.inodes.has(keyOf(number))) throw bad(`inode ${number} twice`);
      const ls = (e[1] as unknown[]).map(lock).sort(order);
      for (let i = 0; i < ls.length; i++) for (let j = i + 1; j < ls.length && ls[j]!.start <= ls[i]!.end; j++) if (conflicts(ls[i]!, ls[j]!) || sameOwner(ls[i]!, ls[j]!)) throw bad(`inode ${number}: locks overlap that cannot`);
      const ino: Inode = { number, locks: SortedLocks.from(ls), maxLen: 0n, waiters: (e[2] as unknown[]).map(lock) };
      for (const l of ls) if (l.end - l.start > ino.maxLen) ino.maxLen = l.end - l.start;
      if (ino.locks.length || ino.waiters.length) t.inodes.set(keyOf(number), ino);
    }
    return t;
  }

  private sortedNumbers(): bigint[] {
    return [...this.inodes.values()].map((i) => i.number).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  private inode(number: bigint): Inode {
    const k = keyOf(number);
    let i = this.inodes.get(k);
    if (!i) {
      i = this.spare.pop() ?? { number, locks: new SortedLocks(), maxLen: 0n, waiters: [] };
      i.number = number;
      this.inodes.set(k, i);
    }
    return i;
  }

  private drop(number: bigint, ino: Inode): void {
    if (ino.locks.length === 0 && ino.waiters.length === 0) {
      this.inodes.delete(keyOf(number));
      ino.maxLen = 0n;
      if (this.spare.length < 256) this.spare.push(ino);
    }
  }

  /**
   * Indexes of the locks of `who` overlapping [s, e], ascending; with `ex` given, only those of that mode.
   * One array and no closure: this runs for every POSIX lock.
   */
  private ownedOverlapping(ino: Inode, who: PlockOwnerId, s: bigint, e: bigint, ex?: boolean): number[] {
    const out: number[] = [];
    const locks = ino.locks;
    // a lock starting before s - maxLen ends before s
    const floor = s - ino.maxLen;
    for (let i = locks.lastStartingBy(e); i >= 0; i--) {
      const l = locks.at(i);
      if (l.start < floor) break;
      if (l.end >= s && sameOwner(l, who) && (ex === undefined || l.ex === ex)) out.push(i);
    }
    return out.reverse();
  }

  /** The first (lowest start, then nodeid, owner) lock of another owner that conflicts with req. */
  private firstConflict(ino: Inode, req: Plock): Plock | undefined {
    const locks = ino.locks;
    const floor = req.start - ino.maxLen;
    let found: Plock | undefined;
    for (let i = locks.lastStartingBy(req.end); i >= 0; i--) {
      const l = locks.at(i);
      if (l.start < floor) break;
      if (l.end >= req.start && conflicts(l, req)) found = l;
    }
    return found;
  }

  private grow(ino: Inode, l: Plock): void {
    const len = l.end - l.start;
    if (len > ino.maxLen) ino.maxLen = len;
  }

  /** Removes who's coverage of [s, e] (splitting partly covered locks). True if anything changed. */
  private remove(ino: Inode, who: PlockOwnerId, s: bigint, e: bigint): boolean {
    const hit = this.ownedOverlapping(ino, who, s, e);
    if (hit.length === 0) return false;
    const pieces: Plock[] = [];
    for (const i of hit) {
      const l = ino.locks.at(i);
      if (l.start < s) pieces.push({ ...l, end: s - 1n });
      if (l.end > e) pieces.push({ ...l, start: e + 1n });
    }
    for (let j = hit.length - 1; j >= 0; j--) ino.locks.removeAt(hit[j]!);
    for (const p of pieces) ino.locks.insert(p);
    if (ino.locks.length === 0) ino.maxLen = 0n;
    return true;
  }

  /** Grants req (no conflict checked here): replaces the owner's overlapped parts, merges same-mode neighbours. */
  private apply(ino: Inode, req: Plock): void {
    this.remove(ino, req, req.start, req.end);
    let lock: Plock = { ...req };
    // merge with the owner's same-mode locks that touch it (end + 1 == start counts)
    const lo = lock.start > 0n ? lock.start - 1n : 0n;
    const hi = lock.end < OFFSET_MAX ? lock.end + 1n : OFFSET_MAX;
    const merge = this.ownedOverlapping(ino, req, lo, hi, req.ex);
    if (merge.length) {
      for (const i of merge) {
        const l = ino.locks.at(i);
        lock = { ...lock, start: l.start < lock.start ? l.start : lock.start, end: l.end > lock.end ? l.end : lock.end };
      }
      for (let j = merge.length - 1; j >= 0; j--) ino.locks.removeAt(merge[j]!);
    }
    ino.locks.insert(lock);
    this.grow(ino, lock);
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

/** A Map key for an inode number: the number itself while exact, else its decimal text. */
function keyOf(n: bigint): number | string {
  return n <= 0x1fffffffffffffn ? Number(n) : n.toString();
}

const CHUNK = 128;

/**
 * Locks sorted by `order`, in chunks of at most 2 * CHUNK: an insert or a removal moves at most a
 * chunk, not the whole inode (10,000 locks on one file stay cheap). Addressed by global index.
 */
class SortedLocks {
  private chunks: Plock[][] = [];
  /** offsets[c]: global index of chunks[c][0] (recomputed after a change, when next needed) */
  private offsets: number[] = [];
  private stale = false;
  length = 0;

  static from(sorted: Plock[]): SortedLocks {
    const s = new SortedLocks();
    for (let i = 0; i < sorted.length; i += CHUNK) s.chunks.push(sorted.slice(i, i + CHUNK));
    s.length = sorted.length;
    s.stale = true;
    return s;
  }

  toArray(): Plock[] {
    return this.chunks.flat();
  }

  private fix(): void {
    if (!this.stale) return;
    let o = 0;
    this.offsets.length = this.chunks.length;
    for (let c = 0; c < this.chunks.length; c++) {
      this.offsets[c] = o;
      o += this.chunks[c]!.length;
    }
    this.stale = false;
  }

  /** [chunk, index in it] of global index i */
  private locate(i: number): [number, number] {
    this.fix();
    let lo = 0;
    let hi = this.offsets.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.offsets[mid]! <= i) lo = mid;
      else hi = mid - 1;
    }
    return [lo, i - this.offsets[lo]!];
  }

  at(i: number): Plock {
    const [c, j] = this.locate(i);
    return this.chunks[c]![j]!;
  }

  removeAt(i: number): void {
    const [c, j] = this.locate(i);
    const chunk = this.chunks[c]!;
    chunk.splice(j, 1);
    if (chunk.length === 0) this.chunks.splice(c, 1);
    this.length--;
    this.stale = true;
  }

  insert(l: Plock): void {
    const chunks = this.chunks;
    if (chunks.length === 0) {
      chunks.push([l]);
    } else {
      // the last chunk whose first lock sorts at or before l (or the first chunk)
      let lo = 0;
      let hi = chunks.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >>> 1;
        if (order(chunks[mid]![0]!, l) <= 0) lo = mid;
        else hi = mid - 1;
      }
      const chunk = chunks[lo]!;
      insertSorted(chunk, l);
      if (chunk.length > 2 * CHUNK) chunks.splice(lo + 1, 0, chunk.splice(CHUNK));
    }
    this.length++;
    this.stale = true;
  }

  /** Global index of the last lock with start <= x, or -1. */
  lastStartingBy(x: bigint): number {
    const chunks = this.chunks;
    if (chunks.length === 0 || chunks[0]![0]!.start > x) return -1;
    let lo = 0;
    let hi = chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (chunks[mid]![0]!.start <= x) lo = mid;
      else hi = mid - 1;
    }
    const chunk = chunks[lo]!;
    let a = 0;
    let b = chunk.length;
    while (a < b) {
      const mid = (a + b) >>> 1;
      if (chunk[mid]!.start <= x) a = mid + 1;
      else b = mid;
    }
    this.fix();
    return this.offsets[lo]! + a - 1;
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
