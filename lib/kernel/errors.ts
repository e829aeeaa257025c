// Errors from kernel-facing calls, shaped like Node's fs errors, plus the fix for the admin.
import { getSystemErrorName } from 'node:util';

export interface KernelErrorFields {
  code: string;
  errno: number; // negative, as in Node's fs errors
  syscall: string;
  path?: string;
  hint?: string;
}

// Two copies of this module can share a process (the ESM build and dist/index.cjs: npm's dual
// package hazard). The addon builds its errors with the classes the last copy handed it, so
// `instanceof` must not depend on which copy made the class: each error carries a registry-symbol
// brand, and KernelError / CorosyncError (not their subclasses, which keep the prototype check)
// recognise any copy's instances by it.
const KERNEL_ERROR = Symbol.for('ocfs2-stack.KernelError');
const COROSYNC_ERROR = Symbol.for('ocfs2-stack.CorosyncError');
/** `v instanceof cls` for a class whose own instances carry brand (its subclasses: the prototype check only) */
function instanceOfBranded(cls: unknown, base: unknown, brand: symbol, v: unknown): boolean {
  if (Function.prototype[Symbol.hasInstance].call(cls, v)) return true;
  return cls === base && typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[brand] === true;
}

/** A failed syscall on a kernel interface: code ("EBUSY"), errno, syscall, path, and a hint. */
export class KernelError extends Error implements KernelErrorFields {
  static override [Symbol.hasInstance](v: unknown): boolean {
    return instanceOfBranded(this, KernelError, KERNEL_ERROR, v);
  }
  declare readonly [KERNEL_ERROR]: true;
  code: string;
  errno: number;
  syscall: string;
  path?: string;
  hint?: string;

  constructor(fields: KernelErrorFields, message?: string) {
    super(message ?? KernelError.describe(fields));
    Object.defineProperty(this, KERNEL_ERROR, { value: true });
    this.name = 'KernelError';
    this.code = fields.code;
    this.errno = fields.errno;
    this.syscall = fields.syscall;
    if (fields.path !== undefined) this.path = fields.path;
    if (fields.hint !== undefined) this.hint = fields.hint;
  }

  static describe(f: KernelErrorFields): string {
    return `${f.code}: ${f.syscall}${f.path ? ` '${f.path}'` : ''} failed${f.hint ? ` — ${f.hint}` : ''}`;
  }

  /** Build from an errno number (positive or negative). */
  static fromErrno(errno: number, syscall: string, path?: string, hint?: string): KernelError {
    const neg = -Math.abs(errno);
    return new KernelError({ code: getSystemErrorName(neg), errno: neg, syscall, path, hint });
  }

  toJSON(): KernelErrorFields & { message: string } {
    return { message: this.message, code: this.code, errno: this.errno, syscall: this.syscall, path: this.path, hint: this.hint };
  }
}

/** An error of the corosync surface (native/corosync.cc builds it with this class). */
export interface CorosyncErrorFields {
  /** 'CS_ERR_LIBRARY', 'CS_ERR_TRY_AGAIN', …; 'E_NO_COROSYNC' where corosync's libraries could not be loaded. */
  code: string;
  /** The cs_error_t number (0 for E_NO_COROSYNC). */
  csError: number;
  /** The corosync library call that failed, e.g. 'cpg_model_initialize'. */
  call: string;
  /** Group name or cmap key, when there is one. */
  subject?: string;
  hint?: string;
}

export class CorosyncError extends Error implements CorosyncErrorFields {
  static override [Symbol.hasInstance](v: unknown): boolean {
    return instanceOfBranded(this, CorosyncError, COROSYNC_ERROR, v);
  }
  declare readonly [COROSYNC_ERROR]: true;
  code: string;
  csError: number;
  call: string;
  subject?: string;
  hint?: string;

  constructor(fields: CorosyncErrorFields, message?: string) {
    super(message ?? `${fields.code}: ${fields.call}${fields.subject ? ` '${fields.subject}'` : ''} failed${fields.hint ? ` — ${fields.hint}` : ''}`);
    Object.defineProperty(this, COROSYNC_ERROR, { value: true });
    this.name = 'CorosyncError';
    this.code = fields.code;
    this.csError = fields.csError;
    this.call = fields.call;
    if (fields.subject !== undefined) this.subject = fields.subject;
    if (fields.hint !== undefined) this.hint = fields.hint;
  }
}

/** Turns an error thrown by node:fs (or an addon without the library's classes) into a KernelError; KernelErrors and other errors pass through. */
export function toKernelError(e: unknown, pathMap?: (p: string) => string): unknown {
  if (e instanceof KernelError) {
    // A host path under a --root becomes the kernel path the caller asked for.
    if (!pathMap || e.path === undefined) return e;
    const path = pathMap(e.path);
    return path === e.path ? e : new KernelError({ code: e.code, errno: e.errno, syscall: e.syscall, path, hint: e.hint });
  }
  if (e instanceof Error) {
    const x = e as Error & Partial<KernelErrorFields>;
    if (typeof x.code === 'string' && typeof x.errno === 'number' && typeof x.syscall === 'string') {
      const path = x.path !== undefined && pathMap ? pathMap(x.path) : x.path;
      const k = new KernelError({ code: x.code, errno: x.errno < 0 ? x.errno : -x.errno, syscall: x.syscall, path });
      return k;
    }
  }
  return e;
}

export function isErrno(e: unknown, code: string): boolean {
  return e instanceof Error && (e as { code?: unknown }).code === code;
}
