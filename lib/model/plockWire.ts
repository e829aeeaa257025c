// The binary form of a plock request in a lockspace group (format version 1): 56 bytes, little
// endian whatever the host, instead of the JSON text earlier daemons multicast. Every POSIX lock
// crosses it twice (encode at the sender, decode on every member), so it is a fixed layout read
// and written through a DataView (whose 64-bit accessors are native, unlike Buffer's readBigUInt64*
// which run as JavaScript: the daemon runs them cold, often interpreted).
//
//   0  '{' 0x00 'P' 'L'   magic: '{' so that a daemon that speaks only JSON takes it for one of
//                         ours it does not know and ignores it (not for dlm_controld's binary
//                         protocol); NUL never occurs in JSON text, so no JSON message starts so
//   4  u8  format version (1)
//   5  u8  op: 1 lock, 2 unlock, 3 get, 4 close, 5 cancel
//   6  u8  flags: bit 0 ex, bit 1 wait (other bits 0)
//   7  u8  0
//   8  u32 rid (the sender's request id)
//  12  u32 pid
//  16  u32 fsid of the lockspace (checked against the group's)
//  20  u32 0
//  24  u64 number (inode), 32 u64 start, 40 u64 end, 48 u64 owner
//
// Who may send it: a member multicasts the binary form only while every member of the group (as of
// the last change whose plock-state messages have all been delivered) announced `bin` >= 1 in its
// plock-state; otherwise JSON (lib/model/plockSync.ts). Pure: no I/O.

export const PLOCK_WIRE_VERSION = 1;
export const PLOCK_WIRE_BYTES = 56;
const MAGIC0 = 0x7b;
const MAGIC1 = 0x00;
const MAGIC2 = 0x50;
const MAGIC3 = 0x4c;

export type PlockWireOp = 'lock' | 'unlock' | 'get' | 'close' | 'cancel';
const OPS: readonly PlockWireOp[] = ['lock', 'unlock', 'get', 'close', 'cancel'];
const OP_CODE: Record<PlockWireOp, number> = { lock: 1, unlock: 2, get: 3, close: 4, cancel: 5 };

/** A plock request as multicast, decoded (from either form). The sender's node comes from the delivery. */
export interface PlockOp {
  type: 'plock';
  op: PlockWireOp;
  /** the sender's request id: its answer is matched by it */
  rid: number;
  ex: boolean;
  wait: boolean;
  pid: number;
  number: bigint;
  start: bigint;
  end: bigint;
  owner: bigint;
}

/** Does this group message carry the binary magic (a binary plock message, well-formed or not)? */
export function isPlockWire(b: Uint8Array): boolean {
  return b.length >= 4 && b[0] === MAGIC0 && b[1] === MAGIC1 && b[2] === MAGIC2 && b[3] === MAGIC3;
}

const U64_MAX = 0xffffffffffffffffn;

export function encodePlockWire(m: PlockOp, fsid: number): Uint8Array {
  // from Node's buffer pool (a new ArrayBuffer per message costs more than the encoding)
  const b = Buffer.allocUnsafe(PLOCK_WIRE_BYTES);
  const v = new DataView(b.buffer, b.byteOffset, PLOCK_WIRE_BYTES);
  b[0] = MAGIC0;
  b[1] = MAGIC1;
  b[2] = MAGIC2;
  b[3] = MAGIC3;
  b[4] = PLOCK_WIRE_VERSION;
  b[5] = OP_CODE[m.op];
  b[6] = (m.ex ? 1 : 0) | (m.wait ? 2 : 0);
  b[7] = 0;
  v.setUint32(20, 0, true);
  v.setUint32(8, m.rid >>> 0, true);
  v.setUint32(12, m.pid >>> 0, true);
  v.setUint32(16, fsid >>> 0, true);
  v.setBigUint64(24, m.number & U64_MAX, true);
  v.setBigUint64(32, m.start & U64_MAX, true);
  v.setBigUint64(40, m.end & U64_MAX, true);
  v.setBigUint64(48, m.owner & U64_MAX, true);
  return b;
}

/** A decoded request with the fsid it names. */
export type PlockOpWithFsid = PlockOp & { fsid: number };
export type PlockWireDecoded = { ok: true; op: PlockOpWithFsid } | { ok: false; why: string };

/** Decodes a binary plock message; malformed input (any length, any bytes) gives { ok: false, why }. */
export function decodePlockWire(b: Uint8Array): PlockWireDecoded {
  if (!isPlockWire(b)) return { ok: false, why: 'no binary plock magic' };
  if (b.length < 5) return { ok: false, why: `${b.length} bytes: no format version` };
  if (b[4] !== PLOCK_WIRE_VERSION) return { ok: false, why: `format version ${b[4]} (this daemon speaks ${PLOCK_WIRE_VERSION})` };
  if (b.length !== PLOCK_WIRE_BYTES) return { ok: false, why: `${b.length} bytes, not ${PLOCK_WIRE_BYTES}` };
  const op = OPS[b[5]! - 1];
  if (op === undefined) return { ok: false, why: `unknown op ${b[5]}` };
  const flags = b[6]!;
  if (flags > 3 || b[7] !== 0) return { ok: false, why: `unknown flags ${flags}/${b[7]}` };
  const v = new DataView(b.buffer, b.byteOffset, PLOCK_WIRE_BYTES);
  if (v.getUint32(20, true) !== 0) return { ok: false, why: 'reserved bytes 20-23 not zero' };
  return {
    ok: true,
    op: {
      type: 'plock',
      fsid: v.getUint32(16, true),
      op,
      rid: v.getUint32(8, true),
      ex: (flags & 1) !== 0,
      wait: (flags & 2) !== 0,
      pid: v.getUint32(12, true),
      number: v.getBigUint64(24, true),
      start: v.getBigUint64(32, true),
      end: v.getBigUint64(40, true),
      owner: v.getBigUint64(48, true),
    },
  };
}
