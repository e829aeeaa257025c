// How every command reports: a result object rendered for people, or as one JSON document on
// stdout with --json. Errors become { error: {...} } under --json, and set the exit code.
import { ConfigError } from '../model/errors.js';
import { KernelError } from '../kernel/errors.js';

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

export interface GlobalOptions {
  json?: boolean;
  root?: string;
  config?: string;
}

/** An error the CLI knows how to present; anything else is a bug and prints a stack. */
export class CliError extends Error {
  readonly code: string = 'E_CLI';
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

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

export function errorExitCode(e: unknown): number {
  if (e instanceof CliError) return e.exitCode;
  if (e instanceof KernelError) return e.code === 'EACCES' || e.code === 'EPERM' ? EXIT.NO_PERMISSION : EXIT.FAILED;
  if ((e as { code?: string })?.code === 'E_NO_ADDON') return EXIT.NOT_INSTALLED;
  return EXIT.FAILED;
}

export function errorToJson(e: unknown): Record<string, unknown> {
  if (e instanceof ConfigError) return { code: e.code, message: e.message, errors: e.issues };
  if (e instanceof KernelError) return { ...e.toJSON(), ...Object.fromEntries(Object.entries(e).filter(([k]) => !['name', 'message', 'stack'].includes(k))) };
  if (e instanceof CliError) return { code: e.code, message: e.message, hint: e.hint, ...e.details };
  const x = e as { code?: string; message?: string; hint?: string; toJSON?: () => Record<string, unknown> };
  if (typeof x?.toJSON === 'function') return x.toJSON();
  return { code: x?.code ?? 'E_INTERNAL', message: x?.message ?? String(e), ...(x?.hint ? { hint: x.hint } : {}) };
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
    process.stderr.write(`o2stack: ${(e as Error).message}\n`);
    const hint = (e as { hint?: string }).hint;
    if (hint && !(e as Error).message.includes(hint)) process.stderr.write(`  fix: ${hint}\n`);
  } else {
    process.stderr.write(`o2stack: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
  }
  return code;
}
