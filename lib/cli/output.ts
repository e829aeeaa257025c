import { writeSync } from 'node:fs';

// How every command reports: a result object rendered for people, or as one JSON document on
// stdout with --json. Errors become { error: {...} } under --json, and set the exit code.

/** Exit codes (README "Exit codes"). */
export const EXIT = {
  OK: 0,
  FAILED: 1, // invalid input, a refused or blocked operation
  USAGE: 2,
  NOT_RUNNING: 3, // status-style commands: the stack is not running
  NO_PERMISSION: 4,
  NOT_INSTALLED: 5, // kernel modules or the native addon missing
  NOT_CONFIGURED: 6,
} as const;

/** What each exit code means: README's "Exit codes" table says the same (test/cli/exitCodes.test.ts). */
export const EXIT_MEANINGS: Record<number, string> = {
  [EXIT.OK]: 'success',
  [EXIT.FAILED]: 'failed: invalid input, a refused or blocked operation (the message says what and how to fix it)',
  [EXIT.USAGE]: 'usage error (an unknown command or option, a missing argument)',
  [EXIT.NOT_RUNNING]: 'not running (`status`, `show`: no cluster registered / offline; `lockspaces`, `plocks`, `groups`, `daemon-ctl`: no daemon on the socket)',
  [EXIT.NO_PERMISSION]: 'no permission (EACCES/EPERM, a configuration file or the daemon\'s socket root may read)',
  [EXIT.NOT_INSTALLED]: 'not installed (the native addon, or kernel modules)',
  [EXIT.NOT_CONFIGURED]: 'not configured (the configuration file, or an o2cb defaults file named with `--defaults`, does not exist)',
};

export interface GlobalOptions {
  json?: boolean;
  root?: string;
  config?: string;
}

/** An error the CLI knows how to present; anything else is a bug and prints a stack. */
export class CliError extends Error {
  readonly code: string = 'E_CLI';
  toJSON() {
    return { code: this.code, message: this.message, ...(this.hint ? { hint: this.hint } : {}), ...this.details };
  }
  constructor(
    message: string,
    readonly exitCode: number = EXIT.FAILED,
    readonly hint?: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** A usage error found after parsing (an option that does not apply, an unknown value): exit 2. */
export class UsageError extends CliError {
  override readonly code: string = 'E_USAGE';
  constructor(message: string, hint?: string) {
    super(message, EXIT.USAGE, hint);
    this.name = 'UsageError';
  }
}

// The bin's own process (run() in main.ts) writes straight to fds 1 and 2: creating
// process.stdout loads Node's stream machinery (and net, for a pipe or a terminal), a visible part
// of a short CLI run on a slow machine. In-process callers (tests) keep the streams they capture.
let direct = false;
export function useDirectOutput(): void {
  direct = true;
}

// Once a write to an fd has gone through its stream (the fd was non-blocking and full: EAGAIN),
// every later write to it does too, or a later direct write would overtake the queued text.
const viaStream: Record<1 | 2, boolean> = { 1: false, 2: false };
const streamError: Record<1 | 2, Error | undefined> = { 1: undefined, 2: undefined };
// a getter, not a constant: creating process.stdout loads Node's stream machinery
const streamOf = (fd: 1 | 2) => (fd === 1 ? process.stdout : process.stderr);

function writeFd(fd: 1 | 2, data: string | Uint8Array): void {
  if (streamError[fd]) throw streamError[fd];
  if (direct && !viaStream[fd]) {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    try {
      while (off < buf.length) off += writeSync(fd, buf, off);
      return;
    } catch (e) {
      // a non-blocking pipe that is full (EAGAIN): the stream queues the rest (bytes: the cut may
      // fall inside a character), and flushOutput() waits for it before the process exits
      // (process.exit drops a stream's queued writes)
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      data = Buffer.from(buf.subarray(off));
      viaStream[fd] = true;
      streamOf(fd).on('error', (err: Error) => (streamError[fd] = err));
    }
  } else if (typeof data !== 'string') data = Buffer.from(data); // the caller may reuse its buffer
  streamOf(fd).write(data);
}

/**
 * Resolves when what the streams queued has been written (at once when nothing went through them):
 * the bin calls it before process.exit, which would drop queued output (`o2stack monitor | wc -l`
 * lost most lines that way). A reader that went away (EPIPE) ends the wait too.
 */
export async function flushOutput(): Promise<void> {
  const waits: Promise<void>[] = [];
  for (const fd of [1, 2] as const) {
    if (direct && !viaStream[fd]) continue; // only a stream already in use
    const stream = streamOf(fd);
    if (!streamError[fd] && stream.writableLength > 0) {
      waits.push(new Promise<void>((resolve) => stream.write('', () => resolve())));
    }
  }
  await Promise.all(waits);
}

/** Text or bytes as they are (already escaped by their producer, e.g. JSON lines) to stdout. */
export function writeOutRaw(data: string | Uint8Array): void {
  writeFd(1, data);
}

/**
 * Control characters other than newline and tab, shown as \xNN: names and labels come from disks,
 * configfs and config files, and an ESC or a C1 control in one must not drive the terminal.
 */
export function printable(s: string): string {
  return s.replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** One field on one line: printable, and newline and tab escaped too (a label must not make a line of its own). */
export function field(s: string): string {
  return printable(s).replace(/\n/g, '\\n').replace(/\t/g, '\\t');
}

/** Writes to stdout (control characters escaped, see printable). */
export function writeOut(s: string): void {
  writeFd(1, printable(s));
}

/** Writes to stderr (control characters escaped, see printable). */
export function writeErr(s: string): void {
  writeFd(2, printable(s));
}

/**
 * A wait shown on a terminal's stderr as one line rewritten each second ("label: 3 s"), erased
 * when it ends (a wait shorter than a second shows nothing). `write` gets raw text.
 */
export function terminalWaitReporter(write: (s: string) => void, timers: { every: (fn: () => void, ms: number) => () => void } = { every: (fn, ms) => { const t = setInterval(fn, ms); return () => clearInterval(t); } }) {
  return (label: string) => {
    const t0 = Date.now();
    let shown = false;
    const cancel = timers.every(() => {
      shown = true;
      write(`\r\x1b[K${field(label)}: ${Math.round((Date.now() - t0) / 1000)} s`);
    }, 1000);
    return () => {
      cancel();
      if (shown) write('\r\x1b[K');
    };
  };
}

/** Raw text to stderr (a terminal's progress line: carriage return and erase-line are meant). */
export function writeErrRaw(s: string): void {
  writeFd(2, s);
}

/**
 * JSON text safe for a terminal and still JSON: JSON.stringify escapes U+0000-U+001F itself; DEL and
 * the C1 controls (U+007F-U+009F) are escaped here as \u00XX (printable()'s \xNN is not JSON).
 */
export function safeJson(value: unknown, indent?: number): string {
  return (JSON.stringify(value, null, indent) ?? 'null').replace(/[\x7f-\x9f]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
}

export function printJson(value: unknown): void {
  writeFd(1, safeJson(value, 2) + '\n');
}

// Errors are recognised by their shape, not instanceof: an error class loaded twice (ESM and CJS
// copies under a test runner) must still be reported the same way.
const EXIT_BY_CODE: Record<string, number> = {
  E_NO_ADDON: EXIT.NOT_INSTALLED,
  E_CONF_MISSING: EXIT.NOT_CONFIGURED,
  E_O2CB_DEFAULTS_MISSING: EXIT.NOT_CONFIGURED,
  E_CONF_PERMISSION: EXIT.NO_PERMISSION,
  E_DAEMON_NOT_RUNNING: EXIT.NOT_RUNNING,
  E_DAEMON_PERMISSION: EXIT.NO_PERMISSION,
  E_USAGE: EXIT.USAGE,
};

function isPermissionErrno(x: { code?: unknown; syscall?: unknown } | undefined): boolean {
  return typeof x?.syscall === 'string' && (x.code === 'EACCES' || x.code === 'EPERM');
}

export function errorExitCode(e: unknown): number {
  const x = e as { exitCode?: unknown; code?: unknown; syscall?: unknown; cause?: { code?: unknown; syscall?: unknown } } | undefined;
  if (typeof x?.exitCode === 'number') return x.exitCode;
  if (isPermissionErrno(x)) return EXIT.NO_PERMISSION;
  if (typeof x?.code === 'string' && x.code in EXIT_BY_CODE) return EXIT_BY_CODE[x.code]!;
  // a batch that stopped at a syscall the kernel refused for want of privilege (apply, start)
  if (isPermissionErrno(x?.cause)) return EXIT.NO_PERMISSION;
  return EXIT.FAILED;
}

export function errorToJson(e: unknown): Record<string, unknown> {
  const x = e as { code?: string; message?: string; hint?: string; toJSON?: () => Record<string, unknown> } | undefined;
  if (typeof x !== 'object' || x === null) return { code: 'E_INTERNAL', message: String(e) };
  // Own fields come along (a batch error's step and completed, a preflight's issues); nested
  // errors (a mount error's cause) as their own JSON.
  const own: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(x)) {
    if (k === 'name' || k === 'stack' || typeof v === 'function') continue;
    own[k] = (v as unknown) instanceof Error ? errorToJson(v) : v;
  }
  const base = { code: x.code ?? 'E_INTERNAL', message: x.message ?? String(e), ...(x.hint ? { hint: x.hint } : {}) };
  return { ...base, ...own, ...(typeof x.toJSON === 'function' ? x.toJSON() : {}) };
}

/** Errors we raise on purpose carry a string code; anything else is a bug and shows its stack. */
function isExpected(e: unknown): boolean {
  return e instanceof Error && typeof (e as { code?: unknown }).code === 'string';
}

export function reportError(e: unknown, json: boolean): number {
  const code = errorExitCode(e);
  if (json) {
    printJson({ error: errorToJson(e) });
  } else if (isExpected(e)) {
    writeErr(`o2stack: ${(e as Error).message}\n`);
    const hint = (e as { hint?: string }).hint;
    if (hint && !(e as Error).message.includes(hint)) writeErr(`  fix: ${hint}\n`);
  } else {
    writeErr(`o2stack: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
  }
  return code;
}
