// The kernel as the rest of the library sees it: attributes and directories addressed by their
// kernel paths (/sys/kernel/config/...). Two implementations share this interface: the native
// one (real syscalls under a root prefix) and the simulator in sim.ts (tests).
import { statfsSync } from 'node:fs';
import { join, normalize } from 'node:path';
import { KernelError, toKernelError } from './errors.js';
import { loadNative, type NativeAttrOp } from './native.js';

export type AttrOp = NativeAttrOp;

export interface DirEntry {
  name: string;
  type: 'dir' | 'file' | 'link' | 'other';
  /** the inode number readdir gives, where the backend knows one (configfs: stable for the life
   * of the directory; a removed and re-made directory gets a new one) */
  ino?: number;
}

export interface BatchResult {
  completed: number;
  reads: (Buffer | undefined)[];
}

/** A batch step failed: which step, how many completed before it, and the kernel's error. */
export class BatchError extends KernelError {
  step: number;
  completed: number;
  failedOp: AttrOp;

  constructor(cause: KernelError, step: number, completed: number, failedOp: AttrOp) {
    super(cause, `step ${step + 1} (${failedOp.op} ${failedOp.path}) failed: ${cause.message}`);
    this.name = 'BatchError';
    this.step = step;
    this.completed = completed;
    this.failedOp = failedOp;
  }
}

export interface KernelBackend {
  /** Human description ("/" or "fake tree /tmp/x"). */
  readonly description: string;
  read(path: string): string;
  /** undefined when the path does not exist (ENOENT/ENOTDIR). */
  tryRead(path: string): string | undefined;
  write(path: string, data: string | Buffer): void;
  mkdir(path: string): void;
  rmdir(path: string): void;
  list(path: string): DirEntry[];
  /** undefined when the directory does not exist. */
  tryList(path: string): DirEntry[] | undefined;
  exists(path: string): boolean;
  batch(ops: AttrOp[]): BatchResult;
  batchAsync(ops: AttrOp[]): Promise<BatchResult>;
  /**
   * configfs semantics for o2nm node directories: list() gives each directory an inode number
   * that lasts as long as the directory, and write-once attributes cannot change under it. Then
   * a node read (or written) once needs only its `local` read again while its inode is the same.
   * Not for fake trees: any file there can be rewritten.
   */
  readonly stableInodes?: boolean;
  /**
   * Reads the attributes dir/name (names may have slashes), undefined where absent. A backend
   * without it is read through batch(); the native one opens them relative to one fd of dir.
   */
  readUnder?(dir: string, names: string[]): (string | undefined)[];
}

const TYPE_OF: Record<string, DirEntry['type']> = { d: 'dir', f: 'file', l: 'link', o: 'other' };

const CONFIGFS_MAGIC = 0x62656570;
/** "/a/b/c": absolute, no empty, "." or ".." segment, no trailing slash */
const NORMALIZED_ABSOLUTE = /^(?:\/(?!\.\.?(?:\/|$))[^/]+)+$/;

export interface NativeBackendOptions {
  /** Prefix for every kernel path; "/" for the running kernel. */
  root?: string;
  /**
   * Treat the root as a plain directory tree standing in for configfs: missing parents and
   * attribute files are created. Default: on when <root>/sys/kernel/config is not configfs.
   */
  fakeTree?: boolean;
  /**
   * A fake tree changed only through backends (as configfs is only through its syscalls), so its
   * inodes and write-once attributes may be trusted as configfs's are (stableInodes). Default false
   * for fake trees: tests rewrite their files behind the backend. Real configfs: always true.
   */
  trustFakeInodes?: boolean;
}

export class NativeBackend implements KernelBackend {
  readonly root: string;
  readonly fakeTree: boolean;
  readonly stableInodes: boolean;
  readonly description: string;
  /** the root, normalized, without a trailing slash: what hostPath puts before a kernel path */
  private readonly rootPrefix: string | undefined;

  constructor(options: NativeBackendOptions = {}) {
    this.root = options.root ?? '/';
    this.fakeTree = options.fakeTree ?? !isConfigfs(join(this.root, 'sys/kernel/config'));
    this.description = this.fakeTree ? `fake tree ${this.root}` : this.root;
    this.stableInodes = !this.fakeTree || options.trustFakeInodes === true;
    const prefix = normalize(this.root).replace(/\/+$/, '');
    this.rootPrefix = prefix === '.' || prefix === '' ? undefined : prefix;
  }

  private native() {
    return loadNative().attr;
  }

  /** Host path of a kernel path. */
  hostPath(kernelPath: string): string {
    // the syscall would see the path up to the NUL: another path than the one planned and shown
    if (kernelPath.includes('\0')) throw new KernelError({ code: 'EINVAL', errno: -22, syscall: 'path', path: JSON.stringify(kernelPath).slice(1, -1), hint: 'a name in the plan holds a NUL byte: fix the configuration (o2stack config check FILE)' });
    if (this.root === '/') return kernelPath;
    // a plan's paths are absolute and normalized: join() would only concatenate them, and path.join
    // was a tenth of a 255-node apply's CPU on a fake tree (and a quarter of its allocation)
    return this.rootPrefix !== undefined && NORMALIZED_ABSOLUTE.test(kernelPath) ? this.rootPrefix + kernelPath : join(this.root, kernelPath);
  }

  /** Kernel path of a host path (for error messages). */
  kernelPath(hostPath: string): string {
    if (this.root === '/' || !hostPath.startsWith(this.root)) return hostPath;
    const rest = hostPath.slice(this.root.replace(/\/$/, '').length);
    return rest.startsWith('/') ? rest : `/${rest}`;
  }

  private wrap<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      throw toKernelError(e, (p) => this.kernelPath(p));
    }
  }

  private get options() {
    return { createMissing: this.fakeTree };
  }

  read(path: string): string {
    return this.wrap(() => this.native().readAttr(this.hostPath(path)).toString('utf8'));
  }

  tryRead(path: string): string | undefined {
    try {
      return this.read(path);
    } catch (e) {
      if (e instanceof KernelError && (e.code === 'ENOENT' || e.code === 'ENOTDIR')) return undefined;
      throw e;
    }
  }

  write(path: string, data: string | Buffer): void {
    this.wrap(() => this.native().writeAttr(this.hostPath(path), data, this.options));
  }

  mkdir(path: string): void {
    this.wrap(() => this.native().mkdir(this.hostPath(path), 0o755, this.options));
  }

  rmdir(path: string): void {
    this.wrap(() => this.native().rmdir(this.hostPath(path), this.options));
  }

  list(path: string): DirEntry[] {
    const [names, types, inos] = this.wrap(() => this.native().list(this.hostPath(path)));
    if (types.length === 0) return [];
    return names.split('\0').map((name, i) => ({ name, type: TYPE_OF[types[i]!] ?? 'other', ino: inos[i]! }));
  }

  readUnder(dir: string, names: string[]): (string | undefined)[] {
    if (names.length === 0) return [];
    const [joined, missing] = this.wrap(() => this.native().readUnder(this.hostPath(dir), names.join('\0')));
    const values: (string | undefined)[] = joined.split('\0');
    for (const i of missing) values[i] = undefined;
    return values;
  }

  tryList(path: string): DirEntry[] | undefined {
    try {
      return this.list(path);
    } catch (e) {
      if (e instanceof KernelError && (e.code === 'ENOENT' || e.code === 'ENOTDIR')) return undefined;
      throw e;
    }
  }

  exists(path: string): boolean {
    return this.tryList(path) !== undefined || this.tryRead(path) !== undefined;
  }

  private mapOps(ops: AttrOp[]): AttrOp[] {
    if (this.root === '/') return ops;
    return ops.map((o) => ({ ...o, path: this.hostPath(o.path) }));
  }

  private batchError(e: unknown, ops: AttrOp[]): unknown {
    const k = toKernelError(e, (p) => this.kernelPath(p));
    const x = e as { step?: unknown; completed?: unknown };
    if (k instanceof KernelError && typeof x.step === 'number' && typeof x.completed === 'number') {
      return new BatchError(k, x.step, x.completed, ops[x.step]!);
    }
    return k;
  }

  batch(ops: AttrOp[]): BatchResult {
    try {
      return this.native().batch(this.mapOps(ops), this.options);
    } catch (e) {
      throw this.batchError(e, ops);
    }
  }

  async batchAsync(ops: AttrOp[]): Promise<BatchResult> {
    try {
      return await this.native().batchAsync(this.mapOps(ops), this.options);
    } catch (e) {
      throw this.batchError(e, ops);
    }
  }
}

function isConfigfs(path: string): boolean {
  try {
    return statfsSync(path).type === CONFIGFS_MAGIC;
  } catch {
    return false;
  }
}
