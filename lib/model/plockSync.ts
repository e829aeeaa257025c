// Cluster-wide POSIX locks: one PlockTable per lockspace, replicated over the lockspace's process
// group. Pure: no I/O, no clock. The daemon feeds it the kernel's requests (/dev/dlm_plock), the
// group's member changes and messages; it returns what to multicast and what to answer.
//
// Replication: every request is multicast in the group and applied when delivered, in the group's
// one delivery order, on every member; only the node the request came from answers its kernel. A
// waiter (F_SETLKW) is answered when it is granted, by whatever delivery frees it. A member that
// leaves or dies loses its locks and waiters at the member change (delivered in the same order
// everywhere), and the waiters behind them are granted.
//
// A member that joins must get the table before it applies anything. As dlm_controld does (START
// with HAVEPLOCK, then plock data from the lowest holder), each member multicasts a plock-state
// message for every change, saying whether it holds the table. When every member's state for the
// change has been delivered (a point in the delivery order that all members share), the lowest
// member that holds the table multicasts a snapshot of it as of that point; a joiner keeps every
// request delivered since it joined, and when the snapshot comes it loads it and applies only the
// requests delivered after that point. If no member holds a table at that point (a new group, or
// the only holder left before its snapshot went out), everybody starts from an empty table there:
// the holders' locks are gone with them. A joiner's own requests delivered before that point were
// either applied by the snapshot's sender (and are in it) or dropped: it multicasts them again
// (lock, unlock and get are idempotent for one owner, and a waiter is queued once).
import { GroupBarrier } from './lockspaceGroup.js';
import { compareMembers, type GroupMember, type MembersChangedEvent } from './membership.js';
import { PlockTable, type Plock, type PlockGrant } from './plockTable.js';
import { decodePlockWire, encodePlockWire, isPlockWire, PLOCK_WIRE_VERSION, type PlockOp, type PlockWireOp } from './plockWire.js';

export type { PlockOp, PlockWireOp } from './plockWire.js';

export const ENOSYS = 38;
export const ENOLCK = 37;
export const EAGAIN = 11;
export const ENOENT = 2;

/** What the model needs of a kernel request (lib/kernel/plock.ts PlockRequest has it all). */
export interface PlockKernelRequest {
  /** 1 lock, 2 unlock, 3 get, 4 cancel */
  optype: number;
  ex: boolean;
  wait: boolean;
  flags: number;
  pid: number;
  fsid: number;
  number: bigint;
  start: bigint;
  end: bigint;
  owner: bigint;
  /** false for CLOSE requests: no answer is expected */
  answerable: boolean;
}

/**
 * The request as multicast in JSON (u64s as decimal strings), the form every daemon reads; the
 * binary form (lib/model/plockWire.ts) is used only where every member announced it reads that.
 */
export interface PlockOpMessage {
  type: 'plock';
  ls: string;
  op: PlockWireOp;
  /** the sender's request id: its answer is matched by it */
  rid: number;
  ex: boolean;
  wait: boolean;
  pid: number;
  number: string;
  start: string;
  end: string;
  owner: string;
}
export interface PlockStateMessage {
  type: 'plock-state';
  ls: string;
  tag: string;
  have: boolean;
  /** the binary plock format version this member reads (absent: JSON only, daemons before it) */
  bin?: number;
}
export interface PlockDataMessage {
  type: 'plock-data';
  ls: string;
  tag: string;
  table: unknown;
}
/** A delivered plock request, from either form: JSON names its lockspace, binary its fsid. */
export type PlockOpDelivered = PlockOp & { ls?: string; fsid?: number };
/** A message with the binary magic that is not a binary plock request this daemon reads. */
export interface PlockRefusedMessage {
  type: 'plock-refused';
  why: string;
}
export type PlockMessage = PlockOpDelivered | PlockStateMessage | PlockDataMessage | PlockRefusedMessage;

export type PlockAction<R> =
  /** rid: set for a request's own message (tracing; its failure is answered through notSent) */
  | { type: 'send'; ls: string; data: string | Uint8Array; rid?: number }
  | { type: 'answer'; req: R; rv: number; fields?: { ex: boolean; pid: number; nodeid: number; start: bigint; end: bigint } }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; msg: string; data?: Record<string, unknown> };

const U64_TEXT = /^(0|[1-9][0-9]{0,19})$/;
const U64_MAX = 0xffffffffffffffffn;
/** A u64 as decimal text, or undefined (anything else: a message is refused, never thrown on). */
function u64(s: unknown): bigint | undefined {
  if (typeof s !== 'string' || !U64_TEXT.test(s)) return undefined;
  const v = BigInt(s);
  return v <= U64_MAX ? v : undefined;
}
const utf8 = new TextDecoder();
const OPS = new Set<string>(['lock', 'unlock', 'get', 'close', 'cancel']);
const isU32 = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffffffff;

/**
 * A group message (as delivered: bytes, or its text) as a plock message, or undefined (a start,
 * another kind, garbage). Binary plock messages it cannot read come back as 'plock-refused'.
 */
export function decodePlockMessage(data: string | Uint8Array): PlockMessage | undefined {
  if (typeof data !== 'string') {
    if (isPlockWire(data)) {
      const d = decodePlockWire(data);
      return d.ok ? d.op : { type: 'plock-refused', why: d.why };
    }
    // cheap test before the text: start messages are the other kind on these groups
    if (data.length < 14 || data[0] !== 0x7b || data[9] !== 0x70) return undefined;
    data = utf8.decode(data);
  }
  if (!data.startsWith('{"type":"plock')) return undefined;
  try {
    const m = JSON.parse(data) as Record<string, unknown>;
    if (typeof m.ls !== 'string') return undefined;
    if (m.type === 'plock') {
      const number = u64(m.number);
      const start = u64(m.start);
      const end = u64(m.end);
      const owner = u64(m.owner);
      if (typeof m.op !== 'string' || !OPS.has(m.op) || !isU32(m.rid) || !isU32(m.pid) || number === undefined || start === undefined || end === undefined || owner === undefined) return undefined;
      return { type: 'plock', ls: m.ls, op: m.op as PlockWireOp, rid: m.rid, ex: m.ex === true, wait: m.wait === true, pid: m.pid, number, start, end, owner };
    }
    if (m.type === 'plock-state' && typeof m.tag === 'string' && typeof m.have === 'boolean') return { type: 'plock-state', ls: m.ls, tag: m.tag, have: m.have, ...(typeof m.bin === 'number' && Number.isInteger(m.bin) && m.bin > 0 ? { bin: m.bin } : {}) };
    if (m.type === 'plock-data' && typeof m.tag === 'string' && m.table !== undefined) return { type: 'plock-data', ls: m.ls, tag: m.tag, table: m.table };
  } catch {
    /* not JSON */
  }
  return undefined;
}

/** A request in the JSON form (what daemons before the binary form read), as they encode it. */
export function encodePlockJson(ls: string, m: PlockOp): string {
  return JSON.stringify({ type: 'plock', ls, op: m.op, rid: m.rid, ex: m.ex, wait: m.wait, pid: m.pid, number: m.number.toString(), start: m.start.toString(), end: m.end.toString(), owner: m.owner.toString() } satisfies PlockOpMessage);
}

function wireOp(r: PlockKernelRequest): PlockWireOp | undefined {
  if (r.optype === 1) return 'lock';
  if (r.optype === 2) return r.answerable ? 'unlock' : 'close';
  if (r.optype === 3) return 'get';
  if (r.optype === 4) return 'cancel';
  return undefined;
}

const memberKey = (m: { nodeid: number; pid: number }) => `${m.nodeid}:${m.pid}`;
// a waiter's identity on this node: its lockspace (fsid), inode and lock (the same process may wait
// on two volumes for files with the same inode number)
const waitKey = (fsid: number, number: bigint, l: { owner: bigint; pid: number; start: bigint; end: bigint; ex: boolean }) => `${fsid}:${number}:${l.owner}:${l.pid}:${l.start}:${l.end}:${l.ex ? 1 : 0}`;

type Buffered = { kind: 'op'; from: { nodeid: number; pid: number }; msg: PlockOp } | { kind: 'purge'; nodeids: number[] };

/** One lockspace's replica. */
class Replica {
  table = new PlockTable();
  synced = false;
  readonly barrier = new GroupBarrier();
  /** plock-state flags by tag and member: holds the table, binary format version read */
  readonly haves = new Map<string, Map<string, { have: boolean; bin: number }>>();
  /** every member of the current change announced the binary form: requests go out binary */
  bin = false;
  /** unsynced: what was delivered since this node joined, and where each completed barrier fell in it */
  buffer: Buffered[] = [];
  readonly marks = new Map<string, number>();
  members: GroupMember[] = [];
  constructor(
    readonly ls: string,
    readonly fsid: number,
    readonly self: GroupMember,
  ) {}
}

export interface PlockModelOptions {
  localNodeId: number;
  /** fsid of a lockspace (what the kernel puts in requests: the id the daemon wrote to sysfs) */
  fsidOf: (ls: string) => number;
  /** off: every request is answered at once with -ENOSYS (why: said in logs and status) */
  off?: string;
}

/** Every lockspace's plock replica on this node, and this node's requests in flight. */
export class PlockModel<R extends PlockKernelRequest> {
  private readonly replicas = new Map<string, Replica>();
  private readonly byFsid = new Map<number, Replica>();
  /** own requests multicast and not yet answered, by request id */
  private readonly inFlight = new Map<number, { req: R; ls: string; op: PlockOp }>();
  /** own waiters queued in a table, by their lock's fields, for the answer when granted */
  private readonly waiting = new Map<string, R[]>();
  private rid = 0;
  private off: string | undefined;
  readonly counters = { requests: 0, applied: 0, granted: 0, conflicts: 0, waits: 0, answered: 0, enosys: 0, unknownFs: 0, snapshotsSent: 0, synced: 0, resent: 0, sentBinary: 0, sentJson: 0 };

  constructor(private readonly o: PlockModelOptions) {
    this.off = o.off;
  }

  get mode(): 'cluster' | 'off' {
    return this.off === undefined ? 'cluster' : 'off';
  }

  get offReason(): string | null {
    return this.off ?? null;
  }

  /** From now on every request is answered -ENOSYS (and pending ones -ENOLCK): membership is gone, the daemon stops. */
  switchOff(why: string): PlockAction<R>[] {
    this.off = why;
    return [...this.failPending(ENOLCK, why)];
  }

  /** Requests read from the kernel, in order. */
  requests(reqs: R[]): PlockAction<R>[] {
    const out: PlockAction<R>[] = [];
    for (const r of reqs) out.push(...this.request(r));
    return out;
  }

  private request(r: R): PlockAction<R>[] {
    this.counters.requests++;
    if (this.off !== undefined) {
      this.counters.enosys++;
      return r.answerable ? [{ type: 'answer', req: r, rv: -ENOSYS }] : [];
    }
    const rep = this.byFsid.get(r.fsid);
    const op = wireOp(r);
    if (!rep || !op) {
      this.counters.unknownFs++;
      const why = !op ? `unknown plock operation ${r.optype}` : `no lockspace with id ${r.fsid} in a process group here`;
      return [{ type: 'log', level: 'warn', msg: `plock request refused (-ENOLCK): ${why}`, data: { fsid: r.fsid, optype: r.optype } }, ...(r.answerable ? [{ type: 'answer' as const, req: r, rv: -ENOLCK }] : [])];
    }
    // a u32 on the wire; wraps after 4 billion requests (long answered by then)
    const rid = (this.rid = (this.rid + 1) >>> 0 || 1);
    const msg: PlockOp = { type: 'plock', op, rid, ex: r.ex, wait: r.wait, pid: r.pid, number: r.number, start: r.start, end: r.end, owner: r.owner };
    this.inFlight.set(rid, { req: r, ls: rep.ls, op: msg });
    return [{ type: 'send', ls: rep.ls, data: this.encode(rep, msg), rid }];
  }

  /** Binary only while every member reads it (else a daemon of the previous version would miss it). */
  private encode(rep: Replica, m: PlockOp): string | Uint8Array {
    if (rep.bin) {
      this.counters.sentBinary++;
      return encodePlockWire(m, rep.fsid);
    }
    this.counters.sentJson++;
    return encodePlockJson(rep.ls, m);
  }

  /** A change of lockspace ls's group (every change, in delivery order). */
  groupChange(ls: string, c: Pick<MembersChangedEvent, 'members' | 'joined' | 'left'>): PlockAction<R>[] {
    let rep = this.replicas.get(ls);
    const me = c.members.find((m) => m.nodeid === this.o.localNodeId && (!rep || m.pid === rep.self.pid));
    if (!rep) {
      const joinedMe = c.joined.find((m) => m.nodeid === this.o.localNodeId);
      if (!joinedMe || !me) return [];
      rep = new Replica(ls, this.o.fsidOf(ls), { nodeid: joinedMe.nodeid, pid: joinedMe.pid });
      this.replicas.set(ls, rep);
      this.byFsid.set(rep.fsid, rep);
    } else if (!me) {
      return this.leave(ls, 'this node left the group');
    }
    const out: PlockAction<R>[] = [];
    rep.members = [...c.members].sort(compareMembers);
    const stillThere = new Set(c.members.map((m) => m.nodeid));
    const gone = [...new Set(c.left.map((m) => m.nodeid))].filter((id) => !stillThere.has(id)).sort((a, b) => a - b);
    if (gone.length) {
      if (rep.synced) out.push(...this.purge(rep, gone));
      else rep.buffer.push({ kind: 'purge', nodeids: gone });
    }
    const tag = rep.barrier.change(c);
    // JSON until every member of this change has said it reads the binary form
    rep.bin = false;
    out.push({ type: 'send', ls, data: JSON.stringify({ type: 'plock-state', ls, tag, have: rep.synced, bin: PLOCK_WIRE_VERSION } satisfies PlockStateMessage) });
    // states delivered before this change (a weaker source than CPG) may already complete it
    if (rep.barrier.complete()) out.push(...this.barrierComplete(rep, tag));
    return out;
  }

  /** This node is out of ls's group (its unmount, or the group failed): its table is dropped. */
  leave(ls: string, why: string): PlockAction<R>[] {
    const rep = this.replicas.get(ls);
    if (!rep) return [];
    this.replicas.delete(ls);
    this.byFsid.delete(rep.fsid);
    return this.failPending(ENOLCK, why, ls);
  }

  /** A message delivered in a lockspace group (returns [] for messages that are not plock's). */
  message(ls: string, from: { nodeid: number; pid: number }, m: PlockMessage): PlockAction<R>[] {
    const rep = this.replicas.get(ls);
    if (!rep) return [];
    if (m.type === 'plock-refused') return [{ type: 'log', level: 'error', msg: `plock message in ${ls} from node ${from.nodeid} not read (${m.why}): ignored; the members' tables may differ from here on`, data: { ls, nodeid: from.nodeid } }];
    if (m.type === 'plock') {
      if ((m.fsid !== undefined && m.fsid !== rep.fsid) || (m.ls !== undefined && m.ls !== ls)) return [{ type: 'log', level: 'error', msg: `plock message in ${ls} from node ${from.nodeid} names another lockspace (${m.ls ?? `id ${m.fsid}`}): ignored`, data: { ls, nodeid: from.nodeid } }];
      if (!rep.synced) {
        rep.buffer.push({ kind: 'op', from, msg: m });
        return [];
      }
      return this.apply(rep, from, m);
    }
    if (m.type === 'plock-state') {
      let h = rep.haves.get(m.tag);
      if (!h) {
        rep.haves.set(m.tag, (h = new Map()));
        if (rep.haves.size > 16) rep.haves.delete(rep.haves.keys().next().value as string);
      }
      h.set(memberKey(from), { have: m.have, bin: m.bin ?? 0 });
      if (rep.barrier.start(from, m.tag) === 'counted' && rep.barrier.complete()) return this.barrierComplete(rep, m.tag);
      return [];
    }
    // plock-data
    if (rep.synced) return [];
    const mark = rep.marks.get(m.tag);
    if (mark === undefined) return [{ type: 'log', level: 'info', msg: `plock data for ${ls} from node ${from.nodeid} ignored: taken at a point this node has not passed`, data: { ls } }];
    let table: PlockTable;
    try {
      table = PlockTable.fromSnapshot(m.table);
    } catch (e) {
      return [{ type: 'log', level: 'error', msg: `plock data for ${ls} from node ${from.nodeid} is malformed (${(e as Error).message}): waiting for the next change`, data: { ls } }];
    }
    return this.becomeSynced(rep, table, mark, `from node ${from.nodeid}`);
  }

  private barrierComplete(rep: Replica, tag: string): PlockAction<R>[] {
    const h = rep.haves.get(tag) ?? new Map<string, { have: boolean; bin: number }>();
    rep.bin = rep.barrier.members.every((m) => (h.get(memberKey(m))?.bin ?? 0) >= PLOCK_WIRE_VERSION);
    const holders = rep.barrier.members.filter((m) => h.get(memberKey(m))?.have === true);
    if (holders.length === 0) {
      if (rep.synced) return [{ type: 'log', level: 'error', msg: `plocks of ${rep.ls}: no member says it holds the table, though this node does (a member runs another version?)`, data: { ls: rep.ls } }];
      return this.becomeSynced(rep, new PlockTable(), rep.buffer.length, 'empty: no member held locks');
    }
    if (!rep.synced) {
      rep.marks.set(tag, rep.buffer.length);
      if (rep.marks.size > 16) rep.marks.delete(rep.marks.keys().next().value as string);
      return [];
    }
    const needers = rep.barrier.members.filter((m) => h.get(memberKey(m))?.have !== true);
    if (needers.length === 0) return [];
    const sender = holders[0]!;
    if (sender.nodeid !== rep.self.nodeid || sender.pid !== rep.self.pid) return [];
    this.counters.snapshotsSent++;
    const c = rep.table.counts();
    return [
      { type: 'send', ls: rep.ls, data: JSON.stringify({ type: 'plock-data', ls: rep.ls, tag, table: rep.table.snapshot() } satisfies PlockDataMessage) },
      { type: 'log', level: 'info', msg: `plocks of ${rep.ls}: table sent to node ${[...new Set(needers.map((n) => n.nodeid))].join(',')} (${c.locks} lock(s), ${c.waiters} waiter(s))`, data: { ls: rep.ls, ...c } },
    ];
  }

  private becomeSynced(rep: Replica, table: PlockTable, mark: number, how: string): PlockAction<R>[] {
    const out: PlockAction<R>[] = [];
    rep.table = table;
    rep.synced = true;
    this.counters.synced++;
    const buffered = rep.buffer;
    rep.buffer = [];
    rep.marks.clear();
    const c = table.counts();
    out.push({ type: 'log', level: 'info', msg: `plocks of ${rep.ls}: table loaded (${how}; ${c.locks} lock(s), ${c.waiters} waiter(s)); ${buffered.length - mark} request(s) delivered since applied`, data: { ls: rep.ls, ...c } });
    // own requests before the mark: in the snapshot or dropped; multicast again
    for (const b of buffered.slice(0, mark)) {
      if (b.kind !== 'op' || b.from.nodeid !== rep.self.nodeid || b.from.pid !== rep.self.pid) continue;
      const f = this.inFlight.get(b.msg.rid);
      if (!f) continue;
      this.counters.resent++;
      // in the form the members now read (one may have joined that reads only JSON)
      out.push({ type: 'send', ls: rep.ls, data: this.encode(rep, f.op), rid: b.msg.rid });
    }
    for (const b of buffered.slice(mark)) out.push(...(b.kind === 'op' ? this.apply(rep, b.from, b.msg) : this.purge(rep, b.nodeids)));
    return out;
  }

  private purge(rep: Replica, nodeids: number[]): PlockAction<R>[] {
    const out: PlockAction<R>[] = [];
    for (const id of nodeids) {
      const before = rep.table.counts();
      const granted = rep.table.purgeNode(id);
      const after = rep.table.counts();
      if (before.locks !== after.locks || before.waiters !== after.waiters || granted.length) {
        out.push({ type: 'log', level: 'info', msg: `plocks of ${rep.ls}: node ${id} left: its ${before.locks - after.locks + granted.length} lock(s) and waiters dropped, ${granted.length} waiter(s) granted`, data: { ls: rep.ls, nodeid: id } });
      }
      out.push(...this.grants(rep, granted));
    }
    return out;
  }

  /** Applies one delivered request to the table; answers this node's own. */
  private apply(rep: Replica, from: { nodeid: number; pid: number }, m: PlockOp): PlockAction<R>[] {
    this.counters.applied++;
    const mine = from.nodeid === rep.self.nodeid && from.pid === rep.self.pid;
    const own = mine ? this.inFlight.get(m.rid) : undefined;
    if (own) this.inFlight.delete(m.rid);
    const number = m.number;
    const owner = m.owner;
    const lock: Plock = { nodeid: from.nodeid, owner, pid: m.pid, start: m.start, end: m.end, ex: m.ex };
    const out: PlockAction<R>[] = [];
    // own answerable request: answered below (no closure here: this runs for every POSIX lock)
    const req = own && own.req.answerable ? own.req : undefined;
    switch (m.op) {
      case 'lock': {
        const r = rep.table.lock(number, lock, m.wait);
        if (r.result === 'granted') {
          this.counters.granted++;
          if (req) this.answerOwn(out, req, 0);
        } else if (r.result === 'conflict') {
          this.counters.conflicts++;
          if (req) this.answerOwn(out, req, -EAGAIN);
        } else {
          this.counters.waits++;
          if (own) {
            const k = waitKey(rep.fsid, number, lock);
            const list = this.waiting.get(k) ?? [];
            list.push(own.req);
            this.waiting.set(k, list);
          }
        }
        if (r.granted.length) out.push(...this.grants(rep, r.granted));
        break;
      }
      case 'unlock': {
        const granted = rep.table.unlock(number, lock, lock.start, lock.end);
        if (granted.length) out.push(...this.grants(rep, granted));
        if (req) this.answerOwn(out, req, 0);
        break;
      }
      case 'close': {
        if (mine) this.dropWaiting(rep.fsid, number, owner);
        out.push(...this.grants(rep, rep.table.closeOwner(number, lock)));
        break;
      }
      case 'get': {
        const c = rep.table.get(number, lock);
        if (req) this.answerOwn(out, req, c ? 1 : 0, c ? { ex: c.ex, pid: c.pid, nodeid: c.nodeid, start: c.start, end: c.end } : undefined);
        break;
      }
      case 'cancel': {
        const removed = rep.table.cancelWaiter(number, lock);
        if (mine && removed) this.takeWaiting(waitKey(rep.fsid, number, lock));
        if (req) this.answerOwn(out, req, removed ? 0 : -ENOENT);
        break;
      }
    }
    return out;
  }

  private answerOwn(out: PlockAction<R>[], req: R, rv: number, fields?: Extract<PlockAction<R>, { type: 'answer' }>['fields']): void {
    this.counters.answered++;
    out.push(fields ? { type: 'answer', req, rv, fields } : { type: 'answer', req, rv });
  }

  /** Waiters granted: this node answers its own. */
  private grants(rep: Replica, granted: PlockGrant[]): PlockAction<R>[] {
    const out: PlockAction<R>[] = [];
    for (const g of granted) {
      if (g.lock.nodeid !== rep.self.nodeid) continue;
      for (const req of this.takeWaiting(waitKey(rep.fsid, g.number, g.lock))) {
        this.counters.answered++;
        out.push({ type: 'answer', req, rv: 0 });
      }
    }
    return out;
  }

  private takeWaiting(k: string): R[] {
    const l = this.waiting.get(k) ?? [];
    this.waiting.delete(k);
    return l;
  }

  private dropWaiting(fsid: number, number: bigint, owner: bigint): void {
    const prefix = `${fsid}:${number}:${owner}:`;
    for (const k of [...this.waiting.keys()]) if (k.startsWith(prefix)) this.waiting.delete(k);
  }

  /** Answers every own request still in flight or waiting (of one lockspace, or all) with -errno. */
  private failPending(errno: number, why: string, ls?: string): PlockAction<R>[] {
    const out: PlockAction<R>[] = [];
    for (const [rid, f] of [...this.inFlight]) {
      if (ls !== undefined && f.ls !== ls) continue;
      this.inFlight.delete(rid);
      if (f.req.answerable) out.push({ type: 'answer', req: f.req, rv: -errno });
    }
    const fsid = ls !== undefined ? this.o.fsidOf(ls) : undefined;
    for (const [k, reqs] of [...this.waiting]) {
      if (fsid !== undefined && reqs[0]?.fsid !== fsid) continue;
      this.waiting.delete(k);
      for (const req of reqs) out.push({ type: 'answer', req, rv: -errno });
    }
    if (out.length) out.unshift({ type: 'log', level: 'warn', msg: `${out.length} plock request(s) answered -${errno === ENOLCK ? 'ENOLCK' : errno}: ${why}`, data: { ...(ls ? { ls } : {}) } });
    return out;
  }

  /** An own request whose multicast failed: answered -errno (it was never delivered, so no table has it). */
  notSent(rid: number, errno: number, why: string): PlockAction<R>[] {
    const f = this.inFlight.get(rid);
    if (!f) return [];
    this.inFlight.delete(rid);
    return [{ type: 'log', level: 'warn', msg: `plock request answered -${errno}: ${why}`, data: { ls: f.ls } }, ...(f.req.answerable ? [{ type: 'answer' as const, req: f.req, rv: -errno }] : [])];
  }

  /** Answers everything pending: the daemon stops (the kernel would otherwise keep those processes asleep). */
  stop(why: string): PlockAction<R>[] {
    return this.failPending(ENOLCK, why);
  }

  /** For `o2stack plocks` and status. */
  view(ls?: string): PlockSpaceView[] {
    return [...this.replicas.values()]
      .filter((r) => ls === undefined || r.ls === ls)
      .sort((a, b) => (a.ls < b.ls ? -1 : 1))
      .map((r) => ({
        ls: r.ls,
        fsid: r.fsid,
        synced: r.synced,
        members: [...new Set(r.members.map((m) => m.nodeid))],
        locks: r.synced ? r.table.locks().map((x) => ({ number: x.number.toString(), lock: plockView(x.lock) })) : [],
        waiters: r.synced ? r.table.waiters().map((x) => ({ number: x.number.toString(), lock: plockView(x.lock) })) : [],
      }));
  }

  summary(): { mode: 'cluster' | 'off'; reason: string | null; lockspaces: number; inFlight: number; waiting: number; counters: PlockModel<R>['counters'] } {
    let waiting = 0;
    for (const l of this.waiting.values()) waiting += l.length;
    return { mode: this.mode, reason: this.offReason, lockspaces: this.replicas.size, inFlight: this.inFlight.size, waiting, counters: { ...this.counters } };
  }
}

/** One lockspace's table as `o2stack plocks` shows it. */
export interface PlockSpaceView {
  ls: string;
  fsid: number;
  synced: boolean;
  members: number[];
  locks: { number: string; lock: PlockView }[];
  waiters: { number: string; lock: PlockView }[];
}

/** A lock as JSON-safe text (u64s as decimal strings; OFFSET_MAX shown as "EOF"). */
export interface PlockView {
  nodeid: number;
  pid: number;
  owner: string;
  start: string;
  end: string;
  mode: 'ex' | 'sh';
}

export function plockView(l: Plock): PlockView {
  return { nodeid: l.nodeid, pid: l.pid, owner: `0x${l.owner.toString(16)}`, start: l.start.toString(), end: l.end === 0x7fffffffffffffffn ? 'EOF' : l.end.toString(), mode: l.ex ? 'ex' : 'sh' };
}
