// Errors from kernel-facing calls, shaped like Node's fs errors, plus the fix for the admin.
import { getSystemErrorName } from 'node:util';

export interface KernelErrorFields {
  code: string;
  errno: number; // negative, as in Node's fs errors
  syscall: string;
  path?: string;
  hint?: string;
}

/** A failed syscall on a kernel interface: code ("EBUSY"), errno, syscall, path, and a hint. */
export class KernelError extends Error implements KernelErrorFields {
  code: string;
  errno: number;
  syscall: string;
  path?: string;
  hint?: string;

  constructor(fields: KernelErrorFields, message?: string) {
    super(message ?? KernelError.describe(fields));
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

/** Turns an error thrown by the addon (or by node:fs) into a KernelError; other errors pass through. */
export function toKernelError(e: unknown, pathMap?: (p: string) => string): unknown {
  if (e instanceof KernelError) return e;
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
