// fs/dlm's POSIX-lock device, /dev/dlm_plock (native/plock.cc moves the records; this decodes
// them). Every fcntl/lockf lock on a user-stack volume mounted without `localflocks` comes here as
// one `struct dlm_plock_info`, and the process that asked sleeps until a daemon writes the answer:
// a request read and never answered hangs that process for good. Layout (64 bytes, native
// endianness, include/uapi/linux/dlm_plock.h): version u32[3], optype u8, ex u8, wait u8, flags u8,
// pid u32, nodeid s32, rv s32, fsid u32, number u64, start u64, end u64, owner u64.
//
// How the kernel matches an answer (fs/dlm/plock.c dev_write, 6.1): an answer with `wait` set is
// matched by all its fields, so waiters may be answered in any order; an answer without `wait` is
// matched to the OLDEST unanswered non-waiting request of the same fsid, so those must be answered
// in the order they were read (PlockDevice.answer keeps that order per fsid). Requests with the
// CLOSE flag (the unlock the kernel makes at close(2), or for a killed waiter) expect no answer.
import { EventEmitter } from 'node:events';
import { endianness } from 'node:os';
import { loadNative, type NativePlock, type NativePlockHandle, type NativePlockStats } from './native.js';

export const PLOCK_RECORD_BYTES = 64;
/** The protocol this code speaks: the kernel's major must equal it. */
export const PLOCK_VERSION_MAJOR = 1;
export const DLM_PLOCK_OP = { lock: 1, unlock: 2, get: 3, cancel: 4 } as const;
export const DLM_PLOCK_FL_CLOSE = 1;
export const PLOCK_DEVICES = ['/dev/dlm_plock', '/dev/misc/dlm_plock'];

export type PlockOp = 'lock' | 'unlock' | 'get' | 'cancel';

/** One struct dlm_plock_info. */
export interface PlockInfo {
  version: readonly [number, number, number];
  /** 1 lock, 2 unlock, 3 get, 4 cancel (kernels after 6.1); anything else as read */
  optype: number;
  ex: boolean;
  wait: boolean;
  flags: number;
  pid: number;
  nodeid: number;
  rv: number;
  fsid: number;
  number: bigint;
  start: bigint;
  end: bigint;
  owner: bigint;
}

export function plockOpName(optype: number): PlockOp | undefined {
  return optype === 1 ? 'lock' : optype === 2 ? 'unlock' : optype === 3 ? 'get' : optype === 4 ? 'cancel' : undefined;
}

const LE = endianness() === 'LE';
// no closures in these two: they run for every POSIX lock on every volume

/**
 * Decodes the record at `offset` (native endianness, as the kernel writes it). Through a DataView:
 * its 64-bit reads are native code, Buffer's readBigUInt64* are JavaScript (the daemon runs this
 * cold, often interpreted, for every POSIX lock).
 */
export function decodePlockInfo(b: Buffer, offset = 0): PlockInfo {
  if (b.length < offset + PLOCK_RECORD_BYTES) throw new RangeError(`a plock record is ${PLOCK_RECORD_BYTES} bytes; ${b.length - offset} left at offset ${offset}`);
  const v = new DataView(b.buffer, b.byteOffset + offset, PLOCK_RECORD_BYTES);
  return {
    version: versionOf(v),
    optype: v.getUint8(12),
    ex: v.getUint8(13) !== 0,
    wait: v.getUint8(14) !== 0,
    flags: v.getUint8(15),
    pid: v.getUint32(16, LE),
    nodeid: v.getInt32(20, LE),
    rv: v.getInt32(24, LE),
    fsid: v.getUint32(28, LE),
    number: v.getBigUint64(32, LE),
    start: v.getBigUint64(40, LE),
    end: v.getBigUint64(48, LE),
    owner: v.getBigUint64(56, LE),
  };
}

/**
 * The version triple, shared with the last record decoded when equal (one kernel sends one
 * version, and the daemon decodes a record for every POSIX lock): read-only.
 */
let lastVersion: readonly [number, number, number] = [0, 0, 0];
function versionOf(v: DataView): readonly [number, number, number] {
  const a = v.getUint32(0, LE);
  const b = v.getUint32(4, LE);
  const c = v.getUint32(8, LE);
  if (lastVersion[0] !== a || lastVersion[1] !== b || lastVersion[2] !== c) lastVersion = [a, b, c];
  return lastVersion;
}

export function encodePlockInfo(i: PlockInfo): Buffer {
  const b = Buffer.allocUnsafe(PLOCK_RECORD_BYTES);
  b[12] = i.optype;
  b[13] = i.ex ? 1 : 0;
  b[14] = i.wait ? 1 : 0;
  b[15] = i.flags;
  if (LE) {
    b.writeUInt32LE(i.version[0] >>> 0, 0);
    b.writeUInt32LE(i.version[1] >>> 0, 4);
    b.writeUInt32LE(i.version[2] >>> 0, 8);
    b.writeUInt32LE(i.pid >>> 0, 16);
    b.writeInt32LE(i.nodeid | 0, 20);
    b.writeInt32LE(i.rv | 0, 24);
    b.writeUInt32LE(i.fsid >>> 0, 28);
    b.writeBigUInt64LE(BigInt.asUintN(64, i.number), 32);
    b.writeBigUInt64LE(BigInt.asUintN(64, i.start), 40);
    b.writeBigUInt64LE(BigInt.asUintN(64, i.end), 48);
    b.writeBigUInt64LE(BigInt.asUintN(64, i.owner), 56);
  } else {
    b.writeUInt32BE(i.version[0] >>> 0, 0);
    b.writeUInt32BE(i.version[1] >>> 0, 4);
    b.writeUInt32BE(i.version[2] >>> 0, 8);
    b.writeUInt32BE(i.pid >>> 0, 16);
    b.writeInt32BE(i.nodeid | 0, 20);
    b.writeInt32BE(i.rv | 0, 24);
    b.writeUInt32BE(i.fsid >>> 0, 28);
    b.writeBigUInt64BE(BigInt.asUintN(64, i.number), 32);
    b.writeBigUInt64BE(BigInt.asUintN(64, i.start), 40);
    b.writeBigUInt64BE(BigInt.asUintN(64, i.end), 48);
    b.writeBigUInt64BE(BigInt.asUintN(64, i.owner), 56);
  }
  return b;
}

/** The answer record as encodePlockInfo would make it from the request: the request's fields with rv and, for F_GETLK, the conflicting lock. */
export function answerInfo(req: PlockInfo, rv: number, fields: PlockAnswerFields = {}): PlockInfo {
  // number, owner, fsid, optype and wait stay the request's, which the kernel matches and checks
  return fields.nodeid === undefined
    ? { version: req.version, optype: req.optype, ex: req.ex, wait: req.wait, flags: req.flags, pid: req.pid, nodeid: req.nodeid, rv, fsid: req.fsid, number: req.number, start: req.start, end: req.end, owner: req.owner }
    : { version: req.version, optype: req.optype, ex: fields.ex ?? req.ex, wait: req.wait, flags: req.flags, pid: fields.pid ?? req.pid, nodeid: fields.nodeid, rv, fsid: req.fsid, number: req.number, start: fields.start ?? req.start, end: fields.end ?? req.end, owner: req.owner };
}

/**
 * The answer written over the request's own 64 bytes (as read, so version, optype, wait, fsid,
 * number and owner are exactly the kernel's): rv, and for F_GETLK's conflict ex, pid, nodeid, start
 * and end. Same bytes as encodePlockInfo(answerInfo(...)) but no decode/encode round trip.
 */
export function patchPlockAnswer(raw: Buffer, rv: number, fields: PlockAnswerFields = {}): Buffer {
  const b = raw;
  if (LE) b.writeInt32LE(rv | 0, 24);
  else b.writeInt32BE(rv | 0, 24);
  if (fields.nodeid === undefined) return b;
  if (fields.ex !== undefined) b[13] = fields.ex ? 1 : 0;
  if (LE) {
    if (fields.pid !== undefined) b.writeUInt32LE(fields.pid >>> 0, 16);
    b.writeInt32LE(fields.nodeid | 0, 20);
    if (fields.start !== undefined) b.writeBigUInt64LE(BigInt.asUintN(64, fields.start), 40);
    if (fields.end !== undefined) b.writeBigUInt64LE(BigInt.asUintN(64, fields.end), 48);
  } else {
    if (fields.pid !== undefined) b.writeUInt32BE(fields.pid >>> 0, 16);
    b.writeInt32BE(fields.nodeid | 0, 20);
    if (fields.start !== undefined) b.writeBigUInt64BE(BigInt.asUintN(64, fields.start), 40);
    if (fields.end !== undefined) b.writeBigUInt64BE(BigInt.asUintN(64, fields.end), 48);
  }
  return b;
}

/** A request read from the device. `answerable` is false for CLOSE requests (no answer expected). */
export interface PlockRequest extends PlockInfo {
  /** read order on this device: answers without `wait` go back in this order per fsid */
  seq: number;
  answerable: boolean;
  /** the 64 bytes as read: the answer is this record with rv (and F_GETLK's fields) patched in */
  raw?: Buffer;
}

/** What an answer may carry besides rv: F_GETLK's conflicting lock (owner and number stay the request's). */
export interface PlockAnswerFields {
  ex?: boolean;
  pid?: number;
  nodeid?: number;
  start?: bigint;
  end?: bigint;
}

export interface PlockDeviceEvents {
  /** requests in the order read */
  requests: [PlockRequest[]];
  /** reading stopped (the device failed or was closed by the other side): requests can no longer come */
  error: [Error & { code?: string }];
}

/**
 * An open /dev/dlm_plock. Emits 'requests' batches; answer() writes answers, holding an answer
 * without `wait` until every older non-waiting request of its fsid is answered.
 */
export class PlockDevice extends EventEmitter<PlockDeviceEvents> {
  readonly path: string;
  private readonly n: NativePlock;
  private handle: NativePlockHandle | undefined;
  private seq = 0;
  /** per fsid: the non-waiting requests not yet written, in read order, with their answer once known */
  private readonly ordered = new Map<number, { req: PlockRequest; answer?: Buffer }[]>();
  readonly counters = { requests: 0, answers: 0, closeRequests: 0, badVersion: 0 };

  /** Opens the first of `paths` that exists (default /dev/dlm_plock, /dev/misc/dlm_plock), or adopts `fd`. */
  constructor(o: { paths?: string[]; fd?: number; native?: NativePlock } = {}) {
    super();
    const n = o.native ?? loadNative().plock;
    if (!n) throw new Error('the native addon has no plock surface: rebuild it (npm run build:native)');
    this.n = n;
    const onBatch = (records: Buffer, error: (Error & { code?: string }) | null) => this.onBatch(records, error);
    if (o.fd !== undefined) {
      this.handle = n.open({ fd: o.fd }, onBatch);
      this.path = `fd ${o.fd}`;
      return;
    }
    let last: (Error & { code?: string }) | undefined;
    for (const p of o.paths ?? PLOCK_DEVICES) {
      try {
        this.handle = n.open({ path: p }, onBatch);
        this.path = p;
        return;
      } catch (e) {
        last = e as Error & { code?: string };
        if (last.code !== 'ENOENT') throw last;
      }
    }
    throw last ?? new Error('no plock device path given');
  }

  get open(): boolean {
    return this.handle !== undefined;
  }

  private onBatch(records: Buffer, error: (Error & { code?: string }) | null): void {
    const out: PlockRequest[] = [];
    for (let off = 0; off + PLOCK_RECORD_BYTES <= records.length; off += PLOCK_RECORD_BYTES) {
      const req = decodePlockInfo(records, off) as PlockRequest;
      const answerable = (req.flags & DLM_PLOCK_FL_CLOSE) === 0;
      const info = req;
      req.seq = this.seq++;
      req.answerable = answerable;
      // the batch buffer is this callback's own copy: each request keeps its bytes for its answer
      req.raw = records.subarray(off, off + PLOCK_RECORD_BYTES);
      this.counters.requests++;
      if (!answerable) this.counters.closeRequests++;
      if (info.version[0] !== PLOCK_VERSION_MAJOR) this.counters.badVersion++;
      if (answerable && !info.wait) {
        let q = this.ordered.get(info.fsid);
        if (!q) this.ordered.set(info.fsid, (q = []));
        q.push({ req });
      }
      out.push(req);
    }
    if (out.length) this.emit('requests', out);
    if (error) this.emit('error', error);
  }

  /**
   * Answers `req` with rv (0, a negative errno, or for get: 1 = conflict with `fields`). The
   * record goes back with the kernel's own version, so the kernel's version check passes.
   * Returns how many records were written now (answers held for order count later).
   */
  answer(req: PlockRequest, rv: number, fields: PlockAnswerFields = {}): number {
    if (!req.answerable) return 0;
    // the request's own record with rv (and, for F_GETLK, the conflicting lock)
    if (req.wait) {
      this.write(this.answerRecord(req, rv, fields));
      return 1;
    }
    const q = this.ordered.get(req.fsid);
    const slot = q?.find((s) => s.req.seq === req.seq);
    if (!q || !slot) throw new Error(`plock request ${req.seq} (fsid ${req.fsid}) has no pending answer slot: answered twice?`);
    if (slot.answer) throw new Error(`plock request ${req.seq} (fsid ${req.fsid}) answered twice`);
    slot.answer = this.answerRecord(req, rv, fields);
    let written = 0;
    while (q.length > 0 && q[0]!.answer) {
      this.write(q.shift()!.answer!);
      written++;
    }
    if (q.length === 0) this.ordered.delete(req.fsid);
    return written;
  }

  private answerRecord(req: PlockRequest, rv: number, fields: PlockAnswerFields): Buffer {
    return req.raw && req.raw.length === PLOCK_RECORD_BYTES ? patchPlockAnswer(req.raw, rv, fields) : encodePlockInfo(answerInfo(req, rv, fields));
  }

  /** Non-waiting requests read but not yet written back (held or undecided). */
  pendingOrdered(): number {
    let n = 0;
    for (const q of this.ordered.values()) n += q.length;
    return n;
  }

  private write(rec: Buffer): void {
    if (!this.handle) throw Object.assign(new Error(`EBADF: ${this.path} is closed`), { code: 'EBADF', syscall: 'write', path: this.path });
    this.n.write(this.handle, rec);
    this.counters.answers++;
  }

  /** Keeps the event loop alive while open (a daemon), or not (default). */
  ref(): void {
    if (this.handle) this.n.ref(this.handle);
  }

  unref(): void {
    if (this.handle) this.n.unref(this.handle);
  }

  stats(): (NativePlockStats & { pendingOrdered: number }) | null {
    return this.handle ? { ...this.n.stats(this.handle), pendingOrdered: this.pendingOrdered() } : null;
  }

  close(): void {
    if (this.handle) this.n.close(this.handle);
    this.handle = undefined;
  }
}

/** TEST-ONLY: a SOCK_SEQPACKET socketpair [daemonSide, kernelSide] that keeps records whole, like the device. */
export function plockSocketpairForTest(): [number, number] {
  const n = loadNative().plock;
  if (!n) throw new Error('the native addon has no plock surface: rebuild it (npm run build:native)');
  return n.socketpairForTest();
}
