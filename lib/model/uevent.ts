// Kernel uevent datagrams (NETLINK_KOBJECT_UEVENT) as typed events. Pure: no I/O, never throws on
// input bytes. Two wire forms (docs/kernel-interfaces.md#uevent-socket):
//   kernel:  "ACTION@DEVPATH\0" then "KEY=VALUE\0" pairs (ACTION, DEVPATH, SUBSYSTEM, ..., SEQNUM)
//   libudev: a 40-byte header ("libudev\0", magic 0xfeedcafe big-endian, header_size,
//            properties_off, properties_len in host order, four filter words), then the
//            properties as "KEY=VALUE\0" pairs; there is no "action@devpath" line.

/** Largest datagram accepted (the kernel's environment is at most 2048 bytes). */
export const MAX_UEVENT_BYTES = 16384;
/** The kernel's limit on environment variables per uevent is 64; libudev adds a few. */
export const MAX_UEVENT_KEYS = 256;

const LIBUDEV_PREFIX = 'libudev\0';
const LIBUDEV_MAGIC = 0xfeedcafe;
const LIBUDEV_HEADER_BYTES = 40;

export type UeventSource = 'kernel' | 'udev';

export interface Uevent {
  action: string;
  devpath: string;
  subsystem: string | undefined;
  seqnum: number | undefined;
  /** Every KEY=VALUE pair, in the order received (ACTION, DEVPATH, SUBSYSTEM, SEQNUM included). */
  env: Record<string, string>;
  /** Wire form: the kernel's, or udevd's re-broadcast (libudev header). */
  source: UeventSource;
}

export type MalformedReason =
  | 'empty'
  | 'too-large'
  | 'no-nul'
  | 'no-at'
  | 'bad-header'
  | 'bad-pair'
  | 'too-many-keys'
  | 'mismatch'
  | 'bad-libudev-header'
  | 'missing-key';

export interface MalformedUevent {
  malformed: true;
  reason: MalformedReason;
  detail: string;
  length: number;
}

export type ParsedUevent = ({ malformed: false } & Uevent) | MalformedUevent;

const decoder = new TextDecoder('utf-8', { fatal: false });
const ACTION_RE = /^[a-z_]+$/i;
const SEQNUM_RE = /^[0-9]{1,16}$/;

function malformed(reason: MalformedReason, detail: string, length: number): MalformedUevent {
  return { malformed: true, reason, detail, length };
}

/**
 * Splits NUL-terminated strings (the region ends with a NUL, checked by the caller): one UTF-8
 * decode of the whole region, then a split (NUL bytes decode to U+0000 and never occur inside a
 * multi-byte sequence). Empty strings are skipped.
 */
function splitStrings(bytes: Uint8Array, start: number, end: number): string[] {
  const parts = decoder.decode(bytes.subarray(start, end - 1)).split('\0');
  let empty = false;
  for (let i = 0; i < parts.length; i++) if (parts[i].length === 0) empty = true;
  return empty ? parts.filter((p) => p.length > 0) : parts;
}

function parsePairs(strings: string[], length: number): Record<string, string> | MalformedUevent {
  if (strings.length > MAX_UEVENT_KEYS) return malformed('too-many-keys', `${strings.length} variables`, length);
  // A plain object is about twice as fast to fill as Object.create(null); the one key that
  // would not become an own property (__proto__) is refused.
  const env: Record<string, string> = {};
  for (let i = 0; i < strings.length; i++) {
    const s = strings[i];
    const eq = s.indexOf('=');
    if (eq <= 0) return malformed('bad-pair', `not KEY=VALUE: ${JSON.stringify(s.slice(0, 64))}`, length);
    const key = s.slice(0, eq);
    if (key === '__proto__') return malformed('bad-pair', 'key __proto__', length);
    env[key] = s.slice(eq + 1);
  }
  return env;
}

function isMalformed(v: Record<string, string> | MalformedUevent): v is MalformedUevent {
  return (v as MalformedUevent).malformed === true;
}

function parseSeqnum(v: string | undefined): number | undefined {
  if (v === undefined || !SEQNUM_RE.test(v)) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : undefined;
}

function isLibudev(bytes: Uint8Array): boolean {
  if (bytes.length < LIBUDEV_PREFIX.length) return false;
  for (let i = 0; i < LIBUDEV_PREFIX.length; i++) if (bytes[i] !== LIBUDEV_PREFIX.charCodeAt(i)) return false;
  return true;
}

function parseLibudev(bytes: Uint8Array): ParsedUevent {
  const len = bytes.length;
  if (len < LIBUDEV_HEADER_BYTES) return malformed('bad-libudev-header', `${len} bytes, header is ${LIBUDEV_HEADER_BYTES}`, len);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(8, false) !== LIBUDEV_MAGIC) return malformed('bad-libudev-header', 'bad magic', len);
  // header_size, properties_off and properties_len are in host order (little-endian on every
  // platform this package supports).
  const headerSize = view.getUint32(12, true);
  const off = view.getUint32(16, true);
  const plen = view.getUint32(20, true);
  if (headerSize < LIBUDEV_HEADER_BYTES || off < headerSize || plen === 0 || off + plen > len)
    return malformed('bad-libudev-header', `header_size ${headerSize}, properties ${off}+${plen} of ${len}`, len);
  if (bytes[off + plen - 1] !== 0) return malformed('no-nul', 'properties not NUL-terminated', len);
  const env = parsePairs(splitStrings(bytes, off, off + plen), len);
  if (isMalformed(env)) return env;
  const action = env.ACTION;
  const devpath = env.DEVPATH;
  if (!action || !devpath) return malformed('missing-key', 'libudev message without ACTION or DEVPATH', len);
  return { malformed: false, action, devpath, subsystem: env.SUBSYSTEM, seqnum: parseSeqnum(env.SEQNUM), env, source: 'udev' };
}

/** Parses one datagram. Malformed input gives a MalformedUevent; this never throws. */
export function parseUevent(data: Uint8Array): ParsedUevent {
  const len = data.length;
  if (len === 0) return malformed('empty', 'zero-length datagram', 0);
  if (len > MAX_UEVENT_BYTES) return malformed('too-large', `${len} bytes (limit ${MAX_UEVENT_BYTES})`, len);
  if (isLibudev(data)) return parseLibudev(data);
  const firstNul = data.indexOf(0);
  if (firstNul < 0) return malformed('no-nul', 'no NUL terminator', len);
  if (data[len - 1] !== 0) return malformed('no-nul', 'last string not NUL-terminated', len);
  const strings = splitStrings(data, 0, len);
  const header = firstNul === 0 ? '' : strings.shift()!;
  const at = header.indexOf('@');
  if (at < 0) return malformed('no-at', `first string has no '@': ${JSON.stringify(header.slice(0, 64))}`, len);
  const action = header.slice(0, at);
  const devpath = header.slice(at + 1);
  if (!ACTION_RE.test(action) || devpath.charCodeAt(0) !== 0x2f /* / */)
    return malformed('bad-header', `not ACTION@/DEVPATH: ${JSON.stringify(header.slice(0, 64))}`, len);
  const env = parsePairs(strings, len);
  if (isMalformed(env)) return env;
  if (env.ACTION !== undefined && env.ACTION !== action) return malformed('mismatch', `header action ${action}, ACTION=${env.ACTION}`, len);
  if (env.DEVPATH !== undefined && env.DEVPATH !== devpath) return malformed('mismatch', `header devpath ${devpath}, DEVPATH=${env.DEVPATH}`, len);
  return { malformed: false, action, devpath, subsystem: env.SUBSYSTEM, seqnum: parseSeqnum(env.SEQNUM), env, source: 'kernel' };
}

// a string JSON needs no escape for (and safe on a terminal): no quote, backslash, C0/DEL/C1 control
// or surrogate; anything else goes through JSON.stringify, then DEL and C1 become \u00XX (what the
// CLI's safeJson does to every JSON it prints)
const PLAIN_JSON = /^[^"\\\x00-\x1f\x7f-\x9f\ud800-\udfff]*$/;
const jsonString = (s: string) => (PLAIN_JSON.test(s) ? `"${s}"` : JSON.stringify(s).replace(/[\x7f-\x9f]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`));

/**
 * The JSON line (with its newline) of a received event, as `o2stack monitor --json` prints it:
 * {time, action, devpath, subsystem, seqnum, source, sender, env}, absent subsystem and seqnum as
 * null, DEL and C1 controls escaped. Built by hand: JSON.stringify of a new object per event was
 * the largest cost at 150k events/s. native/uevent_jsonl.cc makes the same bytes for plain
 * kernel datagrams (test/kernel/ueventJsonl.test.ts holds them equal).
 */
export function ueventJsonLine(ev: Uevent & { sender: string }, time: number): string {
  let line = `{"time":${JSON.stringify(time)},"action":${jsonString(ev.action)},"devpath":${jsonString(ev.devpath)},"subsystem":${ev.subsystem === undefined ? 'null' : jsonString(ev.subsystem)},"seqnum":${ev.seqnum === undefined ? 'null' : JSON.stringify(ev.seqnum)},"source":${jsonString(ev.source)},"sender":${jsonString(ev.sender)},"env":{`;
  let first = true;
  for (const k of Object.keys(ev.env)) {
    line += `${first ? '' : ','}${jsonString(k)}:${jsonString(ev.env[k]!)}`;
    first = false;
  }
  return `${line}}}\n`;
}

/**
 * Builds a kernel-form datagram: "action@devpath\0ACTION=..\0DEVPATH=..\0" then env (SUBSYSTEM
 * first if given, SEQNUM last), as lib/kobject_uevent.c lays it out. For tests and benchmarks.
 */
export function encodeUevent(action: string, devpath: string, env: Record<string, string> = {}): Buffer {
  const parts = [`${action}@${devpath}`, `ACTION=${action}`, `DEVPATH=${devpath}`];
  const keys = Object.keys(env).filter((k) => k !== 'ACTION' && k !== 'DEVPATH');
  const ordered = [...keys.filter((k) => k === 'SUBSYSTEM'), ...keys.filter((k) => k !== 'SUBSYSTEM' && k !== 'SEQNUM'), ...keys.filter((k) => k === 'SEQNUM')];
  for (const k of ordered) parts.push(`${k}=${env[k]}`);
  return Buffer.from(parts.join('\0') + '\0', 'utf8');
}

/** Builds a libudev-form datagram (filter words zero). For tests. */
export function encodeLibudev(env: Record<string, string>): Buffer {
  const props = Buffer.from(Object.entries(env).map(([k, v]) => `${k}=${v}`).join('\0') + '\0', 'utf8');
  const h = Buffer.alloc(LIBUDEV_HEADER_BYTES);
  h.write(LIBUDEV_PREFIX, 0, 'latin1');
  h.writeUInt32BE(LIBUDEV_MAGIC, 8);
  h.writeUInt32LE(LIBUDEV_HEADER_BYTES, 12);
  h.writeUInt32LE(LIBUDEV_HEADER_BYTES, 16);
  h.writeUInt32LE(props.length, 20);
  return Buffer.concat([h, props]);
}

// ---- the events this package acts on ----

export type DlmLockspaceAction = 'add' | 'online' | 'offline' | 'remove';

export interface DlmLockspaceEvent {
  action: DlmLockspaceAction;
  /** The lockspace name (for ocfs2: the volume UUID, 32 uppercase hex). */
  lockspace: string;
  /** RELEASE_RECOVER=1 on offline (kernels after 6.1): recover the leaving node as if failed. */
  releaseRecover: boolean;
  seqnum: number | undefined;
}

const DLM_PREFIX = '/kernel/dlm/';

/**
 * A dlm lockspace uevent (DEVPATH /kernel/dlm/<name>, SUBSYSTEM dlm, LOCKSPACE=<name>), or
 * undefined. The daemon must answer `online` and `offline` (docs/kernel-interfaces.md#lockspace-uevents).
 */
export function dlmLockspaceEvent(ev: Uevent): DlmLockspaceEvent | undefined {
  if (!ev.devpath.startsWith(DLM_PREFIX)) return undefined;
  if (ev.subsystem !== undefined && ev.subsystem !== 'dlm') return undefined;
  const name = ev.devpath.slice(DLM_PREFIX.length);
  if (name.length === 0 || name.includes('/')) return undefined;
  const ls = ev.env.LOCKSPACE ?? name;
  if (ls !== name) return undefined;
  if (ev.action !== 'add' && ev.action !== 'online' && ev.action !== 'offline' && ev.action !== 'remove') return undefined;
  return { action: ev.action, lockspace: ls, releaseRecover: ev.env.RELEASE_RECOVER === '1', seqnum: ev.seqnum };
}

export function isDlmOnline(ev: Uevent): boolean {
  return dlmLockspaceEvent(ev)?.action === 'online';
}

export function isDlmOffline(ev: Uevent): boolean {
  return dlmLockspaceEvent(ev)?.action === 'offline';
}

export type BlockAction = 'add' | 'remove' | 'change';

export interface BlockDeviceEvent {
  action: BlockAction;
  devpath: string;
  /** DEVNAME as the kernel sends it ("sdb1"), or as udev sends it ("/dev/sdb1"). */
  devname: string | undefined;
  devtype: 'disk' | 'partition' | undefined;
  major: number | undefined;
  minor: number | undefined;
  /** DISK_MEDIA_CHANGE=1 / DISK_EJECT_REQUEST=1 on change events, and the kernel's DISKSEQ. */
  mediaChange: boolean;
  diskseq: number | undefined;
  seqnum: number | undefined;
}

function num(v: string | undefined): number | undefined {
  return v !== undefined && /^[0-9]{1,10}$/.test(v) ? Number(v) : undefined;
}

/** A block device add/remove/change uevent (SUBSYSTEM block), or undefined. */
export function blockDeviceEvent(ev: Uevent): BlockDeviceEvent | undefined {
  if (ev.subsystem !== 'block') return undefined;
  if (ev.action !== 'add' && ev.action !== 'remove' && ev.action !== 'change') return undefined;
  const dt = ev.env.DEVTYPE;
  return {
    action: ev.action,
    devpath: ev.devpath,
    devname: ev.env.DEVNAME,
    devtype: dt === 'disk' || dt === 'partition' ? dt : undefined,
    major: num(ev.env.MAJOR),
    minor: num(ev.env.MINOR),
    mediaChange: ev.env.DISK_MEDIA_CHANGE === '1',
    diskseq: parseSeqnum(ev.env.DISKSEQ),
    seqnum: ev.seqnum,
  };
}
