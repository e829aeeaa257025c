// The one typed door into the C++ addon. Loaded lazily: commands that never touch the kernel
// (config check, convert) do not pay for dlopen.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CorosyncError, KernelError } from './errors.js';

export interface NativeAttrOp {
  op: 'mkdir' | 'rmdir' | 'write' | 'read' | 'writefd';
  path: string;
  data?: string | Buffer;
  mode?: number;
  device?: string;
  /** read: a missing attribute reads as undefined instead of failing the batch */
  missingOk?: boolean;
  /** read: a configfs/sysfs attribute, returned whole by one read(2) (not for /proc seq files) */
  attribute?: boolean;
}

export interface NativeBatchResult {
  completed: number;
  reads: (Buffer | undefined)[];
}

export interface NativeDirEntry {
  name: string;
  type: 'dir' | 'file' | 'link' | 'other';
  /** readdir's d_ino */
  ino: number;
}

export interface NativeAttrOptions {
  createMissing?: boolean;
}

export interface NativeAttr {
  readAttr(path: string): Buffer;
  writeAttr(path: string, data: string | Buffer, options?: NativeAttrOptions): number;
  mkdir(path: string, mode?: number, options?: NativeAttrOptions): void;
  rmdir(path: string, options?: NativeAttrOptions): void;
  /** names joined by "\0", a type letter each (d, f, l, o), and each entry's d_ino */
  list(path: string): [string, string, Float64Array];
  /** dir/name for names joined by "\0", one read(2) each, relative to one fd of dir: the values
   * joined by "\0", and the indexes of the names that do not exist. */
  readUnder(dir: string, names: string): [string, number[]];
  batch(ops: NativeAttrOp[], options?: NativeAttrOptions): NativeBatchResult;
  batchAsync(ops: NativeAttrOp[], options?: NativeAttrOptions): Promise<NativeBatchResult>;
}

/** Sender of a uevent datagram, as classified by native/uevent.cc. */
export type NativeUeventSender = 0 /* userspace */ | 1 /* kernel */ | 2 /* udevd */;

export interface NativeUeventOpenOptions {
  /** Bind to multicast group 1 (kernel). Default true. */
  kernel?: boolean;
  /** Bind to multicast group 2 (udevd re-broadcasts). Default false. */
  udev?: boolean;
  /** Deliver datagrams from userspace senders instead of dropping them. Tests only. */
  acceptUserspace?: boolean;
  /** Set NETLINK_NO_ENOBUFS (overflow then goes unreported). Default false. */
  noEnobufs?: boolean;
  /** SO_RCVBUFFORCE (fallback SO_RCVBUF) size; default 64 MiB. */
  receiveBufferBytes?: number;
  /** JSON-lines mode with this filter (native/uevent_jsonl.h): onBatch gets the lines too. */
  jsonLines?: { subsystem?: string[]; action?: string[]; devpathPrefix?: string[] };
}

/** Opaque, type-tagged handle of an open uevent socket. */
export interface NativeUeventHandle {
  readonly __brand?: 'NativeUeventHandle';
}

export interface NativeUeventStats {
  received: number;
  delivered: number;
  droppedSpoofed: number;
  droppedMalformed: number;
  overflows: number;
  wakeups: number;
  /** jsonLines mode: lines the addon made, and plain datagrams its filter refused */
  linesFormatted?: number;
  linesFiltered?: number;
  receiveBufferBytes: number;
  fd: number;
  open: boolean;
  refed: boolean;
}

/**
 * One drained batch. In jsonLines mode also: the lines the addon made, and for each message (a
 * datagram it left to JS) the byte offset in lines where its line goes and its reception time
 * (times[2i] seconds, times[2i+1] microseconds of CLOCK_MONOTONIC).
 */
export type NativeUeventBatchCallback = (messages: Buffer[], senders: Uint8Array, overflows: number, error: Error | null, lines?: Buffer, positions?: Uint32Array, times?: Float64Array) => void;

export interface NativeUevent {
  open(options: NativeUeventOpenOptions, onBatch: NativeUeventBatchCallback): NativeUeventHandle;
  close(handle: NativeUeventHandle): boolean;
  ref(handle: NativeUeventHandle): void;
  unref(handle: NativeUeventHandle): void;
  stats(handle: NativeUeventHandle): NativeUeventStats;
  /** TEST-ONLY: send datagrams from a userspace netlink socket to group 1 or 2. */
  sendForTest(messages: Buffer | Buffer[], group?: 1 | 2): number;
  /** TEST-ONLY: native/uevent_jsonl.cc's line for a datagram: the line, 'filtered', or null (left to JS). */
  formatJsonLineForTest(datagram: Buffer, sender: number, sec: number, usec: number, filter: NonNullable<NativeUeventOpenOptions['jsonLines']>): string | null;
  SENDER_USERSPACE: 0;
  SENDER_KERNEL: 1;
  SENDER_UDEV: 2;
  MAX_DATAGRAM: number;
}

/** Opaque, type-tagged handle of an open /dev/ocfs2_control. Closed only by control.close(). */
export interface NativeControlHandle {
  readonly __brand?: 'NativeControlHandle';
}

export interface NativeControlInfo {
  fd: number;
  path: string;
  open: boolean;
  reads: number;
  writes: number;
}

export interface NativeControl {
  open(path: string): NativeControlHandle;
  /** One read(2) of at most maxBytes (1..4096); an empty Buffer is EOF. */
  read(handle: NativeControlHandle, maxBytes?: number): Buffer;
  /** One write(2) of exactly data's length (1..64 bytes); a short write throws EIO. */
  write(handle: NativeControlHandle, data: string | Buffer): number;
  /** Closes the fd (true), or false if already closed. The only way the fd is ever closed. */
  close(handle: NativeControlHandle): boolean;
  info(handle: NativeControlHandle): NativeControlInfo;
}

export interface NativeMount {
  mount(source: string, target: string, fstype: string, flags?: number, data?: string): Promise<void>;
  umount(target: string, flags?: number): Promise<void>;
  flags: { MS_RDONLY: number; MS_NOATIME: number; MS_NODEV: number; MS_NOSUID: number; MS_NOEXEC: number; MNT_DETACH: number; MNT_FORCE: number };
}

/** Opaque, type-tagged handle of one corosync IPC connection (CPG or quorum). */
export interface NativeCsHandle {
  readonly __brand?: 'NativeCsHandle';
}

/** struct cpg_address; reason is a CPG_REASON_* number (0 in member lists). */
export interface NativeCpgAddress {
  nodeid: number;
  pid: number;
  reason: number;
}

export interface NativeRingId {
  nodeid: number;
  seq: number;
}

/** Events recorded during one *_dispatch(CS_DISPATCH_ALL), delivered as one array. */
export type NativeCsEvent =
  | { type: 'confchg'; group: string; members: NativeCpgAddress[]; left: NativeCpgAddress[]; joined: NativeCpgAddress[] }
  | { type: 'message'; group: string; nodeid: number; pid: number; data: Buffer }
  | { type: 'totem'; ringId: NativeRingId; members: number[] }
  | { type: 'quorum'; quorate: boolean; ringId: NativeRingId; members: number[] }
  | { type: 'nodelist'; ringId: NativeRingId; members: number[]; joined: number[]; left: number[] }
  /** corosync went away or the connection broke: the last event; polling has stopped, call close(). */
  | { type: 'down'; error: Error };

export interface NativeCsConnInfo {
  kind: 'cpg' | 'quorum';
  fd: number;
  open: boolean;
  down: boolean;
  refed: boolean;
  dispatches: number;
  events: number;
  wakeups: number;
  quorumType?: number;
  group?: string;
}

export type NativeCmapValue = string | number | bigint | Buffer;

/** The corosync surface once libcpg, libquorum and libcmap were loaded (dlopen). */
export interface NativeCorosyncAvailable {
  available: true;
  /** Throws an Error with code 'CS_ERR_…', csError, call and hint (e.g. CS_ERR_LIBRARY: corosync not running). */
  cpgOpen(onEvents: (events: NativeCsEvent[]) => void): NativeCsHandle;
  /** The group is joined with its terminating NUL (as dlm_controld does); at most 127 bytes. */
  cpgJoin(handle: NativeCsHandle, group: string): void;
  cpgLeave(handle: NativeCsHandle, group: string): void;
  /** cpg_mcast_joined(CPG_TYPE_AGREED). CS_ERR_TRY_AGAIN under flow control. */
  cpgSend(handle: NativeCsHandle, data: Buffer | string): void;
  cpgLocalNodeId(handle: NativeCsHandle): number;
  cpgMembers(handle: NativeCsHandle, group: string): NativeCpgAddress[];
  cpgMaxMessageSize(handle: NativeCsHandle): number;
  /** quorum model V1 with trackstart(CURRENT|CHANGES): the current state arrives at once. */
  quorumOpen(onEvents: (events: NativeCsEvent[]) => void): NativeCsHandle;
  quorumGetQuorate(handle: NativeCsHandle): boolean;
  /** Finalizes the connection (true), or false if already closed. */
  close(handle: NativeCsHandle): boolean;
  ref(handle: NativeCsHandle): void;
  unref(handle: NativeCsHandle): void;
  info(handle: NativeCsHandle): NativeCsConnInfo;
  /** Every cmap key starting with prefix, with its value (one short-lived cmap connection). */
  cmapGetPrefix(prefix: string): Record<string, NativeCmapValue>;
  CPG_REASON: { UNDEFINED: 0; JOIN: 1; LEAVE: 2; NODEDOWN: 3; NODEUP: 4; PROCDOWN: 5 };
  CS: Record<string, number>;
}

/** The corosync surface where corosync's client libraries could not be loaded. */
export interface NativeCorosyncUnavailable {
  available: false;
  /** Which library, dlopen's error, and what to install. */
  reason: string;
}

/** The surface as the addon exports it: load() gives undefined once the libraries are loaded, else why not. */
type NativeCorosyncRaw = Omit<NativeCorosyncAvailable, 'available'> & { load(): string | undefined };

export type NativeCorosync = NativeCorosyncAvailable | NativeCorosyncUnavailable;

/** struct ucred of a connected unix socket's peer, as the kernel recorded it at connect(2). */
export interface NativePeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

export interface NativePeerCred {
  /** getsockopt(fd, SOL_SOCKET, SO_PEERCRED); throws an errno Error (EBADF, ENOTSOCK, ...) with syscall 'getsockopt'. */
  peerCred(fd: number): NativePeerCredentials;
}

/** Opaque, type-tagged handle of an open /dev/dlm_plock (or a test socketpair end). */
export interface NativePlockHandle {
  readonly __brand?: 'NativePlockHandle';
}

export interface NativePlockStats {
  path: string;
  read: number;
  written: number;
  wakeups: number;
  fd: number;
  open: boolean;
  refed: boolean;
}

/** native/plock.cc: records of struct dlm_plock_info moved between the kernel and JS. */
export interface NativePlock {
  /** Opens the device (O_RDWR|O_NONBLOCK) or adopts fd; onBatch gets n*RECORD_SIZE bytes, or an error that stopped reading. */
  open(where: { path: string } | { fd: number; path?: string }, onBatch: (records: Buffer, error: (Error & { code?: string }) | null) => void): NativePlockHandle;
  /** One record (RECORD_SIZE bytes); an errno Error (EINVAL: the kernel refused it) otherwise. */
  write(h: NativePlockHandle, record: Buffer): void;
  close(h: NativePlockHandle): boolean;
  ref(h: NativePlockHandle): void;
  unref(h: NativePlockHandle): void;
  stats(h: NativePlockHandle): NativePlockStats;
  /** TEST-ONLY: a SOCK_SEQPACKET socketpair standing in for the device. */
  socketpairForTest(): [number, number];
  readonly RECORD_SIZE: number;
  readonly VERSION: [number, number, number];
}

/** The addon's exports. Surfaces other than attr are optional: they register themselves. */
export interface NativeAddon {
  surfaces: string[];
  attr: NativeAttr;
  mount: NativeMount;
  uevent?: NativeUevent;
  control?: NativeControl;
  peercred?: NativePeerCred;
  plock?: NativePlock;
  corosync?: NativeCorosync;
  /** Hands the library's error classes to the addon (per env): its errors are then instances of them. */
  setErrorClasses?(classes: { KernelError: unknown; CorosyncError: unknown }): void;
  [surface: string]: unknown;
}

/** This package's root: the nearest directory up from this module with our package.json (the
 * module sits at lib/kernel, dist/kernel, or in a bundle under build/). */
function findPackageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    try {
      if ((JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string }).name === 'ocfs2-stack') return dir;
    } catch {
      /* not here */
    }
    dir = dirname(dir);
  }
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..');
}
const packageRoot = findPackageRoot();

/** This package's root directory (package.json, dist/, systemd/). */
export function packageDir(): string {
  return packageRoot;
}
let cached: NativeAddon | undefined;

/** Where the addon is looked for, in order (an error lists them). */
export function addonCandidates(root = packageRoot): string[] {
  return [join(root, 'build', 'Release', 'ocfs2_stack.node'), join(root, 'build', 'Debug', 'ocfs2_stack.node'), join(root, 'prebuilds', `${process.platform}-${process.arch}`, '*.node (node-gyp-build: napi, libc)')];
}

/** where the addon's raw corosync surface is kept (Symbol.for: shared by every copy of this module) */
const RAW_COROSYNC = Symbol.for('ocfs2-stack.native.corosync-raw');

/**
 * Loads the addon: the file named by O2STACK_ADDON (CI uses it to test the cmake-js build), else
 * node-gyp's build/Release (tried first without loading anything else: a CLI start-up in a TCG VM
 * is short), else node-gyp-build, which picks a build/ output or the prebuilt binary of this
 * platform from prebuilds/. A failure says what was tried and how to fix it.
 */
export function loadNative(): NativeAddon {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const explicit = process.env.O2STACK_ADDON;
  const release = join(packageRoot, 'build', 'Release', 'ocfs2_stack.node');
  let addon: NativeAddon;
  try {
    if (explicit) addon = require(explicit) as NativeAddon;
    else if (existsSync(release)) addon = require(release) as NativeAddon;
    else addon = (require('node-gyp-build') as (dir: string) => unknown)(packageRoot) as NativeAddon;
  } catch (e) {
    const why = (e as Error).message.split('\n')[0];
    const err = new Error(
      explicit
        ? `the ocfs2-stack native addon O2STACK_ADDON=${explicit} could not be loaded: ${why}. Unset O2STACK_ADDON or point it at a built ocfs2_stack.node.`
        : `the ocfs2-stack native addon could not be loaded: ${why}. Tried: ${addonCandidates().join(', ')}. ` +
            `No prebuilt binary fits this machine (prebuilt: linux-x64, glibc 2.34 or later): build it with \`npm rebuild ocfs2-stack\` (needs python3, make, g++).`,
    );
    (err as Error & { code: string }).code = 'E_NO_ADDON';
    throw err;
  }
  // Every error the addon throws is one of the library's classes from here on (this env's).
  addon.setErrorClasses?.({ KernelError, CorosyncError });
  // The corosync surface dlopens libcpg, libquorum and libcmap when first used (mapping them and
  // libqb costs a CLI run 50–100 ms on a slow machine): the property loads them on first read. A
  // failure is not cached, so installing corosync's libraries fixes a running process.
  // The addon's own object is kept under a registry symbol: a second copy of this module in the
  // same process (the ESM build and dist/index.cjs, or tsx and dist under a test runner) gets the
  // same addon object, whose `corosync` is by then the first copy's getter, not the raw surface.
  const holder = addon as unknown as Record<symbol, unknown>;
  if (!(RAW_COROSYNC in holder)) holder[RAW_COROSYNC] = addon.corosync;
  const raw = holder[RAW_COROSYNC] as NativeCorosyncRaw | undefined;
  let loaded: NativeCorosyncAvailable | undefined;
  Object.defineProperty(addon, 'corosync', {
    enumerable: true,
    configurable: true,
    get: (): NativeCorosync => {
      if (loaded) return loaded;
      if (!raw || typeof raw.load !== 'function') return { available: false, reason: 'this build of the addon has no run-time corosync loader (an older build?): rebuild it with `npm rebuild ocfs2-stack`' };
      const why = raw.load();
      if (why !== undefined) return { available: false, reason: why };
      loaded = Object.assign(Object.create(null) as object, raw, { available: true as const }) as NativeCorosyncAvailable;
      return loaded;
    },
  });
  cached = addon;
  return cached;
}
