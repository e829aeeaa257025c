// The user-stack control device, /dev/ocfs2_control (docs/kernel-interfaces.md#dev-ocfs2_control),
// T01 protocol.
//
//   read the offered protocols (exactly "T01\n"; read ONCE, never after the handshake: a re-read
//   moves even a VALID handle back to READ and leaks the kernel's open counter)
//   write "T01\n"                      (4 bytes)
//   write "SETN %08X\n"                (14 bytes)  local node number
//   write "SETV %02X %02X\n"           (11 bytes)  locking protocol, 01 00 on 6.1
//   then only "DOWN <UUID> %08X\n"     (47 bytes)  node died; UUID = 32 uppercase hex
// Each message is one write(2) of exactly its size (native/control.cc).
//
// Dangers this module guards against:
//   * Closing a handshaken (VALID) handle while any user-stack ocfs2 volume is mounted makes the
//     kernel call emergency_restart(): close() refuses unless {force: true}. The fd is never
//     closed by GC or at env teardown (native side), and open devices are held in a module-level
//     set so they are not even collected.
//   * DOWN for the local node number hits a BUG_ON in the kernel: refused.
//   * On kernels built with CONFIG_FORTIFY_SOURCE, ANY well-formed DOWN crashes the kernel
//     (strlen() on the unterminated 32-byte uuid field traps in ocfs2_control_write): refused
//     unless {kernelFixed: true}. See downHazard().
//   * Completing the handshake on a modern (dlm recover_callbacks = 1) system is needless and
//     turns any later close into a reboot hazard: only do it in legacy WITH_CONTROLD mode.
import { readFileSync } from 'node:fs';
import { release as osRelease } from 'node:os';
import { gunzipSync } from 'node:zlib';
import { KernelError, toKernelError } from './errors.js';
import { loadNative, type NativeControl, type NativeControlHandle } from './native.js';
import { isUserStackMount, ocfs2Mounts, parseMountTable } from '../model/mounts.js';

export const CONTROL_DEVICE_PATHS = ['/dev/ocfs2_control', '/dev/misc/ocfs2_control'] as const;
export const T01 = 'T01';
const INT_MAX = 0x7fffffff;

/** The low-level device: one read(2) / one exact write(2) / close. Tests inject stand-ins. */
export interface ControlIo {
  readonly path: string;
  readonly fd: number;
  read(maxBytes: number): Buffer;
  write(data: Buffer): number;
  close(): boolean;
}

export type ControlState = 'opened' | 'read' | 'protocol' | 'valid' | 'closed';

export type ControlGuardCode =
  | 'E_CONTROL_LOCAL_NODE'
  | 'E_CONTROL_BAD_UUID'
  | 'E_CONTROL_BAD_NUMBER'
  | 'E_CONTROL_STATE'
  | 'E_CONTROL_PROTOCOL'
  | 'E_CONTROL_MOUNTED'
  | 'E_CONTROL_FORTIFY'
  | 'E_CONTROL_CLOSED';

/** A refusal by this module's guards (nothing was written to the device). */
export class ControlGuardError extends Error {
  constructor(
    readonly code: ControlGuardCode,
    message: string,
    readonly hint?: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ControlGuardError';
  }
}

// ---- the wire format ----

const hex = (n: number, width: number) => n.toString(16).toUpperCase().padStart(width, '0');

function checkInt(what: string, n: number, max: number): void {
  if (!Number.isInteger(n) || n < 0 || n > max)
    throw new ControlGuardError('E_CONTROL_BAD_NUMBER', `${what} must be an integer from 0 to ${max} (got ${String(n)})`);
}

/**
 * Normalises a filesystem UUID to the kernel's form: 32 uppercase hex digits, no dashes (the
 * DLM lockspace name). Accepts dashed and lowercase forms; anything else throws.
 */
export function normalizeFsUuid(uuid: string): string {
  const s = typeof uuid === 'string' ? uuid.trim() : '';
  const plain = /^[0-9a-fA-F]{32}$/.test(s) ? s : /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(s) ? s.replace(/-/g, '') : undefined;
  if (plain === undefined)
    throw new ControlGuardError(
      'E_CONTROL_BAD_UUID',
      `not a filesystem UUID: ${JSON.stringify(uuid)}`,
      'give the volume UUID as 32 hex digits (as in /sys/kernel/dlm/<UUID>) or in dashed form',
    );
  return plain.toUpperCase();
}

/** "SETN %08X\n" (14 bytes). */
export function encodeSetNode(node: number): Buffer {
  checkInt('node number', node, INT_MAX);
  return Buffer.from(`SETN ${hex(node, 8)}\n`, 'latin1');
}

/** "SETV %02X %02X\n" (11 bytes). */
export function encodeSetVersion(major: number, minor: number): Buffer {
  checkInt('protocol major', major, 0xff);
  checkInt('protocol minor', minor, 0xff);
  return Buffer.from(`SETV ${hex(major, 2)} ${hex(minor, 2)}\n`, 'latin1');
}

/** "DOWN <32 uppercase hex> %08X\n" (47 bytes). */
export function encodeDown(uuid: string, node: number): Buffer {
  const u = normalizeFsUuid(uuid);
  checkInt('node number', node, INT_MAX);
  return Buffer.from(`DOWN ${u} ${hex(node, 8)}\n`, 'latin1');
}

const EXPECTED_LEN = { T01: 4, SETN: 14, SETV: 11, DOWN: 47 } as const;
type Message = keyof typeof EXPECTED_LEN;

// ---- hints ----

const HINTS: Record<string, Partial<Record<Message | 'open' | 'read' | 'mount', string>>> = {
  ENOENT: {
    open: 'the user-stack control device is missing: load the module (modprobe ocfs2_stack_user); devtmpfs then creates /dev/ocfs2_control',
  },
  ENODEV: { open: 'the device node exists but no driver is behind it: modprobe ocfs2_stack_user' },
  EACCES: { open: 'opening the control device needs root (the node is mode 0660)' },
  EPERM: { open: 'opening the control device needs root' },
  EINVAL: {
    T01: 'the device did not take T01: the offered protocols must be read first, exactly once',
    SETN: 'SETN refused: wrong handshake state, or another open handle already set a different local node number (all handles must agree). A failed SETN cannot be corrected on the same handle: close it and open a new one',
    SETV: 'SETV refused: the only valid locking protocol on 6.1 is 01 00, and it cannot change while filesystems are connected',
    DOWN: 'DOWN refused: the handle is not in VALID state (handshake incomplete, or the protocols were re-read) or the message is malformed',
  },
  ERANGE: {
    SETN: 'node number out of range (0 to 7FFFFFFF)',
    SETV: 'protocol major 0 is out of range',
    DOWN: 'node number out of range (0 to 7FFFFFFF)',
  },
  ESRCH: {
    mount:
      'no control daemon: in legacy (WITH_CONTROLD) mode a user-stack mount needs a VALID /dev/ocfs2_control handle. On modern kernels set the dlm recover_callbacks to 1 instead (then no control handle is needed). The failed mount has left its dlm lockspace (named by the volume UUID) behind, and the kernel never releases it: mounting this volume again fails with EEXIST until the machine restarts',
  },
  EEXIST: {
    mount:
      'a dlm lockspace named by this volume UUID already exists (/sys/kernel/dlm/<UUID>): an ocfs2-tools program holds it, or an earlier user-stack mount failed after joining it (e.g. with ESRCH) and left it behind, which only a restart clears',
  },
  EIO: { SETN: 'short write: the device took part of a message', SETV: 'short write', DOWN: 'short write', T01: 'short write' },
};

/** The fix for an errno on a control-device step ('open', 'read', a message, or 'mount'). */
export function controlHint(code: string, step: Message | 'open' | 'read' | 'mount'): string | undefined {
  return HINTS[code]?.[step];
}

function mapError(e: unknown, step: Message | 'open' | 'read', path: string): unknown {
  const k = toKernelError(e);
  if (k instanceof KernelError) {
    const hint = controlHint(k.code, step);
    return new KernelError({ code: k.code, errno: k.errno, syscall: k.syscall, path: k.path ?? path, ...(hint ? { hint } : {}) });
  }
  return k;
}

// ---- mounts ----

export interface UserStackMount {
  device: string;
  mountpoint: string;
  clusterStack: string;
}

/**
 * User-stack ocfs2 mounts from /proc/mounts text: ocfs2 with cluster_stack=<name> in the options,
 * except cluster_stack=o2cb (o2cb mounts show it too, and they are not user-stack connections).
 */
export function userStackMounts(procMounts: string): UserStackMount[] {
  return ocfs2Mounts(parseMountTable(procMounts))
    .filter(isUserStackMount)
    .map((m) => ({ device: m.device, mountpoint: m.dir, clusterStack: m.clusterStack! }));
}

const readProcMounts = () => readFileSync('/proc/mounts', 'utf8');

// ---- the FORTIFY hazard ----

export interface DownHazard {
  hazardous: boolean;
  reason: string;
  /** Where the kernel config was read, or undefined when none was found. */
  configSource: string | undefined;
}

export interface DownHazardOptions {
  /** Kernel release (uname -r); default os.release(). */
  release?: string;
  /** Reads a file, or returns undefined when it cannot; default fs.readFileSync. */
  readFile?: (path: string) => Buffer | undefined;
}

const FORTIFY_BUG =
  "kernels built with CONFIG_FORTIFY_SOURCE crash on any well-formed DOWN: ocfs2_control_write calls strlen() on the message's 32-byte uuid field, which holds no NUL, and the fortified strlen traps ('detected buffer overflow in __fortify_strlen', kernel BUG in ocfs2_control_write); the writing process and every later opener of /dev/ocfs2_control hang in D state";

const tryRead = (p: string) => {
  try {
    return readFileSync(p);
  } catch {
    return undefined;
  }
};

/**
 * Whether sending DOWN would hit the FORTIFY bug on this kernel. Reads /boot/config-<release>,
 * then /proc/config.gz. A kernel whose config cannot be read counts as hazardous.
 */
export function downHazard(options: DownHazardOptions = {}): DownHazard {
  const release = options.release ?? osRelease();
  const read = options.readFile ?? tryRead;
  const sources: [string, (b: Buffer) => string][] = [
    [`/boot/config-${release}`, (b) => b.toString('utf8')],
    ['/proc/config.gz', (b) => gunzipSync(b).toString('utf8')],
  ];
  for (const [path, decode] of sources) {
    const raw = read(path);
    if (raw === undefined) continue;
    let text: string;
    try {
      text = decode(raw);
    } catch {
      continue;
    }
    if (/^CONFIG_FORTIFY_SOURCE=y\s*$/m.test(text))
      return { hazardous: true, reason: `CONFIG_FORTIFY_SOURCE=y in ${path}: ${FORTIFY_BUG}`, configSource: path };
    return { hazardous: false, reason: `CONFIG_FORTIFY_SOURCE is not set in ${path}`, configSource: path };
  }
  return {
    hazardous: true,
    reason: `the kernel config of ${release} was not found (/boot/config-${release}, /proc/config.gz), so FORTIFY_SOURCE is assumed: ${FORTIFY_BUG}`,
    configSource: undefined,
  };
}

let cachedHazard: DownHazard | undefined;
const defaultHazard = () => (cachedHazard ??= downHazard());

// ---- the device ----

export interface ControlOpenOptions {
  /** Device path; default the first of /dev/ocfs2_control, /dev/misc/ocfs2_control that opens. */
  path?: string;
  /** Text of /proc/mounts (injectable for tests). */
  mounts?: () => string;
  /** The DOWN hazard check (injectable for tests); default downHazard(), cached. */
  hazard?: () => DownHazard;
  /** Opens the low-level device (tests inject stand-ins); default the native surface. */
  openIo?: (path: string) => ControlIo;
}

export interface HandshakeOptions {
  /** The local node number (SETN). */
  node: number;
  /** Locking protocol (SETV); default 1.0, the only valid value on 6.1. */
  major?: number;
  minor?: number;
}

export interface NotifyDownOptions {
  /** The caller knows this kernel has the ocfs2_control_write strlen fix. */
  kernelFixed?: boolean;
}

export interface CloseOptions {
  /** Close even while user-stack volumes are mounted (the kernel then reboots the machine). */
  force?: boolean;
}

/** Open control devices: a strong reference so GC never collects one (closing is explicit). */
const openDevices = new Set<ControlDevice>();

/** The control devices this process holds open (for diagnostics). */
export function openControlDevices(): readonly ControlDevice[] {
  return [...openDevices];
}

function nativeIo(native: NativeControl, path: string): ControlIo {
  const h: NativeControlHandle = native.open(path);
  return {
    path,
    get fd() {
      return native.info(h).fd;
    },
    read: (n) => native.read(h, n),
    write: (d) => native.write(h, d),
    close: () => native.close(h),
  };
}

function requireControl(): NativeControl {
  const n = loadNative();
  if (!n.control) throw new Error('the native addon has no control surface: rebuild it (npm run build:native)');
  return n.control;
}

export class ControlDevice {
  private io: ControlIo;
  private st: ControlState = 'opened';
  private node: number | undefined;
  private versionSet = false;
  private offered: string[] | undefined;
  private readonly mounts: () => string;
  private readonly hazard: () => DownHazard;
  /** DOWN messages written. */
  downs = 0;

  private constructor(io: ControlIo, options: ControlOpenOptions) {
    this.io = io;
    this.mounts = options.mounts ?? readProcMounts;
    this.hazard = options.hazard ?? defaultHazard;
  }

  /** Opens the device (O_RDWR|O_CLOEXEC). Nothing is read or written yet. */
  static open(options: ControlOpenOptions = {}): ControlDevice {
    const openIo = options.openIo ?? ((p: string) => nativeIo(requireControl(), p));
    const candidates = options.path !== undefined ? [options.path] : [...CONTROL_DEVICE_PATHS];
    let first: unknown;
    for (const p of candidates) {
      try {
        const dev = new ControlDevice(openIo(p), options);
        openDevices.add(dev);
        return dev;
      } catch (e) {
        const k = mapError(e, 'open', p);
        first ??= k;
        if (!(k instanceof KernelError && k.code === 'ENOENT')) throw k;
      }
    }
    throw first;
  }

  get path(): string {
    return this.io.path;
  }

  get fd(): number {
    return this.io.fd;
  }

  /** This module's view of the handle's kernel state. */
  get state(): ControlState {
    return this.st;
  }

  /** The node number installed with SETN, if any. */
  get localNode(): number | undefined {
    return this.node;
  }

  private live(): void {
    if (this.st === 'closed') throw new ControlGuardError('E_CONTROL_CLOSED', `${this.io.path} is closed`);
  }

  private send(kind: Message, msg: Buffer): void {
    if (msg.length !== EXPECTED_LEN[kind]) throw new Error(`internal: ${kind} message is ${msg.length} bytes, expected ${EXPECTED_LEN[kind]}`);
    try {
      this.io.write(msg);
    } catch (e) {
      throw mapError(e, kind, this.io.path);
    }
  }

  /**
   * Reads the offered protocol list (once: the kernel offers "T01\n", then EOF). Returns the
   * protocol names. A second call, or a call after the handshake, is refused.
   */
  readProtocols(): string[] {
    this.live();
    if (this.st !== 'opened' || this.offered !== undefined)
      throw new ControlGuardError(
        'E_CONTROL_STATE',
        'the offered protocols were already read: re-reading the control device moves the handle back to READ and leaks the kernel open counter',
      );
    const chunks: Buffer[] = [];
    let total = 0;
    for (let i = 0; i < 8 && total < 256; i++) {
      let b: Buffer;
      try {
        b = this.io.read(64);
      } catch (e) {
        throw mapError(e, 'read', this.io.path);
      }
      if (b.length === 0) break;
      chunks.push(b);
      total += b.length;
      if (b[b.length - 1] === 0x0a) break; // a complete list; the next read would be EOF
    }
    const text = Buffer.concat(chunks).toString('latin1');
    this.offered = text.split('\n').filter((l) => l.length > 0);
    if (total >= 4) this.st = 'read';
    if (!this.offered.includes(T01))
      throw new ControlGuardError(
        'E_CONTROL_PROTOCOL',
        `${this.io.path} offers ${JSON.stringify(text)}, not T01`,
        'this kernel speaks an unknown control protocol; nothing was written',
      );
    return this.offered;
  }

  /** Writes "T01\n" (after readProtocols). */
  selectProtocol(): void {
    this.live();
    if (this.st !== 'read') throw new ControlGuardError('E_CONTROL_STATE', `T01 can be selected only right after the protocols were read (state ${this.st})`);
    this.send('T01', Buffer.from('T01\n', 'latin1'));
    this.st = 'protocol';
  }

  /** Writes "SETN %08X\n". */
  setNode(node: number): void {
    this.live();
    const msg = encodeSetNode(node);
    if (this.st !== 'protocol') throw new ControlGuardError('E_CONTROL_STATE', `SETN is accepted only after T01 and before the handle is VALID (state ${this.st})`);
    this.send('SETN', msg);
    this.node = node;
    if (this.versionSet) this.st = 'valid';
  }

  /** Writes "SETV %02X %02X\n" (1.0 on 6.1 kernels). */
  setVersion(major = 1, minor = 0): void {
    this.live();
    const msg = encodeSetVersion(major, minor);
    if (this.st !== 'protocol') throw new ControlGuardError('E_CONTROL_STATE', `SETV is accepted only after T01 and before the handle is VALID (state ${this.st})`);
    this.send('SETV', msg);
    this.versionSet = true;
    if (this.node !== undefined) this.st = 'valid';
  }

  /**
   * The whole handshake: read protocols, T01, SETN, SETV. Afterwards this handle must stay open
   * for as long as any user-stack volume is mounted (closing it then reboots the machine).
   */
  handshake(options: HandshakeOptions): void {
    encodeSetNode(options.node);
    encodeSetVersion(options.major ?? 1, options.minor ?? 0);
    if (this.st === 'opened') this.readProtocols();
    if (this.st === 'read') this.selectProtocol();
    if (this.node === undefined) this.setNode(options.node);
    else if (this.node !== options.node)
      throw new ControlGuardError('E_CONTROL_STATE', `this handle already set node ${this.node}; open a new handle for node ${options.node}`);
    if (!this.versionSet) this.setVersion(options.major ?? 1, options.minor ?? 0);
  }

  /**
   * Tells ocfs2 that `node` died, for the volume `uuid`: one 47-byte DOWN write. Needs a VALID
   * handle. Refuses the local node (kernel BUG_ON) and, on FORTIFY_SOURCE kernels, refuses
   * entirely unless {kernelFixed: true} (see downHazard()).
   */
  notifyNodeDown(uuid: string, node: number, options: NotifyDownOptions = {}): void {
    this.live();
    const msg = encodeDown(uuid, node);
    if (this.st !== 'valid')
      throw new ControlGuardError('E_CONTROL_STATE', `DOWN needs a completed handshake (state ${this.st})`, 'call handshake({node}) first');
    if (node === this.node)
      throw new ControlGuardError(
        'E_CONTROL_LOCAL_NODE',
        `refusing DOWN for node ${node}: it is this node's own number, and the kernel BUGs (crashes) on that`,
        'only send DOWN for other nodes that died',
        { node },
      );
    if (!options.kernelFixed) {
      const h = this.hazard();
      if (h.hazardous)
        throw new ControlGuardError(
          'E_CONTROL_FORTIFY',
          `refusing DOWN on this kernel: ${h.reason}`,
          'use dlm recovery callbacks instead: write 1 to /sys/kernel/config/dlm/<cluster>/recover_callbacks before any lockspace exists, so ocfs2 learns of node death from the DLM (recover_slot) and DOWN is not needed. If this kernel has the fix, pass {kernelFixed: true}',
          { configSource: h.configSource },
        );
    }
    this.send('DOWN', msg);
    this.downs++;
  }

  /**
   * Closes the device. A handle that got past T01 may be VALID; closing the last VALID handle
   * while any user-stack volume is mounted makes the kernel restart the machine at once, so
   * that is refused unless {force: true}. Idempotent.
   */
  close(options: CloseOptions = {}): void {
    if (this.st === 'closed') return;
    if (!options.force && (this.st === 'protocol' || this.st === 'valid')) {
      let mounted: UserStackMount[];
      try {
        mounted = userStackMounts(this.mounts());
      } catch (e) {
        throw new ControlGuardError(
          'E_CONTROL_MOUNTED',
          `refusing to close ${this.io.path}: the mount table could not be read (${(e as Error).message}), so user-stack mounts cannot be ruled out. Closing a handshaken control device while user-stack ocfs2 volumes are mounted makes the kernel restart the machine immediately`,
          'pass {force: true} only if nothing is mounted',
        );
      }
      if (mounted.length > 0)
        throw new ControlGuardError(
          'E_CONTROL_MOUNTED',
          `refusing to close ${this.io.path}: user-stack ocfs2 volumes are mounted (${mounted.map((m) => m.mountpoint).join(', ')}). Closing a handshaken control device now makes the kernel restart the machine immediately (emergency_restart, no sync)`,
          'unmount the ocfs2 volumes first, or pass {force: true} to close anyway (the machine reboots)',
          { mounts: mounted },
        );
    }
    this.io.close();
    this.st = 'closed';
    openDevices.delete(this);
  }
}

/** Opens the device and completes the handshake in one call. */
export function openControl(options: ControlOpenOptions & HandshakeOptions): ControlDevice {
  const dev = ControlDevice.open(options);
  try {
    dev.handshake(options);
  } catch (e) {
    // Not VALID (every step failed before SETN+SETV both succeeded), so closing is harmless,
    // unless the failure was in the last step; keep the mount guard either way.
    try {
      dev.close();
    } catch {
      /* left open: refused by the guard */
    }
    throw e;
  }
  return dev;
}
