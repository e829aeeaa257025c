// /etc/default/o2cb (Debian) and /etc/sysconfig/o2cb (RPM distros): shell variables that the o2cb
// init script sources. We do not run a shell, so this reader accepts exactly the subset such files
// use — `[export ]NAME=value` assignments, one per line, '#' comments, blank lines — with the
// shell's quoting rules: '…' (literal), "…" (backslash escapes \$ \` \" \\ and line joins), and
// backslash escapes outside quotes. Anything a shell would expand or run ($VAR, `cmd`, $(…),
// pipes, a second word after the value) is an error, because its value is unknown until run time.
//
// The writer edits values in place, so comments, unknown variables and layout survive an update.
import { isValidO2cbClusterName } from '../model/cluster.js';
import { O2NM_ATTRIBUTES, attributeNamed, displayed } from '../model/o2nmAttributes.js';
import type { ConfigIssue } from '../model/errors.js';
import { IssueList, MAX_ISSUES, quoteLine, type ParseOptions } from './common.js';

export interface O2cbDefaults {
  /** O2CB_ENABLED: start the cluster at boot. */
  enabled?: boolean;
  /** O2CB_STACK: 'o2cb', or a 4-character user-stack label such as 'pcmk'. */
  stack?: string;
  /** O2CB_BOOTCLUSTER: the cluster to bring online; absent when empty or 'none'. */
  bootCluster?: string;
  /** O2CB_HEARTBEAT_THRESHOLD: o2hb dead threshold, in 2-second iterations. */
  heartbeatThreshold?: number;
  idleTimeoutMs?: number;
  keepaliveDelayMs?: number;
  reconnectDelayMs?: number;
}

export type O2cbVariable =
  | 'O2CB_ENABLED'
  | 'O2CB_STACK'
  | 'O2CB_BOOTCLUSTER'
  | 'O2CB_HEARTBEAT_THRESHOLD'
  | 'O2CB_IDLE_TIMEOUT_MS'
  | 'O2CB_KEEPALIVE_DELAY_MS'
  | 'O2CB_RECONNECT_DELAY_MS';

/**
 * Variable ↔ field, with the minimum the o2cb init script's `configure` enforces, the kernel's
 * maximum and the script's default. The o2nm settings come from the attribute table (in the
 * summaries' order: threshold, idle, keepalive, reconnect, as the init script lists them).
 */
export const O2CB_VARIABLES = {
  O2CB_ENABLED: { field: 'enabled', default: 'false' },
  O2CB_STACK: { field: 'stack', default: 'o2cb' },
  O2CB_BOOTCLUSTER: { field: 'bootCluster', default: 'ocfs2' },
  ...Object.fromEntries(
    displayed()
      .filter((a) => a.o2cbDefaults)
      .map((a) => [a.o2cbDefaults!.variable, { field: a.o2cbDefaults!.field, min: a.o2cbDefaults!.min, ...(a.range ? { max: a.range.max } : {}), default: a.o2cbDefaults!.default }]),
  ),
} as Record<O2cbVariable, { field: keyof O2cbDefaults; min?: number; max?: number; default: string }>;

const FIELD_TO_VAR = Object.fromEntries(Object.entries(O2CB_VARIABLES).map(([v, d]) => [d.field, v])) as Record<keyof O2cbDefaults, O2cbVariable>;

export interface ShellAssignment {
  name: string;
  /** The value after quote removal. */
  value: string;
  exported: boolean;
  /** 1-based line of the name. */
  line: number;
  /** Offsets in the text: the statement (from `export` or the name) and the raw value. */
  start: number;
  valueStart: number;
  valueEnd: number;
}

export interface O2cbDefaultsFile {
  values: O2cbDefaults;
  /** Every variable assigned (last assignment wins, as in the shell). */
  variables: Record<string, string>;
  assignments: ShellAssignment[];
  warnings: ConfigIssue[];
}

class Stop extends Error {}
// one instance, thrown for every syntax error: a new Error per bad line captured a stack each time
// (half the cost of a MB of broken lines)
const STOP = new Stop();

/** Reads the assignments of a shell variable file; syntax errors are collected in `issues`. */
export function parseShellAssignments(text: string, issues: IssueList): ShellAssignment[] {
  const out: ShellAssignment[] = [];
  let i = 0;
  let line = 1;
  let lines: string[] | undefined; // split once, when the first error needs it: a split per error was quadratic
  const lineText = (l: number) => (lines ??= text.split('\n'))[l - 1] ?? '';
  let syntaxErrors = 0;
  const fail = (l: number, code: string, message: string, hint: string): never => {
    // past MAX_ISSUES the parse ends (below): a throw per bad line cost seconds over MB of them
    if (++syntaxErrors >= MAX_ISSUES) throw STOP;
    issues.error(l, () => ({ code, message: `${message}: ${quoteLine(lineText(l).replace(/\r$/, ''))}`, hint }));
    throw STOP;
  };
  const skipLine = () => {
    while (i < text.length && text[i] !== '\n') i++;
  };
  const NAME = /[A-Za-z_][A-Za-z0-9_]*/y;
  // characters with no meaning to the shell, outside quotes and inside "…"
  const PLAIN = /[^\n \t'"\\$`|&;<>()\r]+/y;
  const DQ_PLAIN = /[^"$`\\\n]+/y;

  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t') {
      i++;
      continue;
    }
    if (c === '\n') {
      i++;
      line++;
      continue;
    }
    if (c === '#') {
      skipLine();
      continue;
    }
    const stmtLine = line;
    try {
      if (c === '\r') fail(line, 'E_SHELL_CRLF', 'the line ends in CR LF (a DOS line ending); the shell would keep the CR in the value', 'convert the file to Unix line endings (dos2unix FILE)');
      const start = i;
      NAME.lastIndex = i;
      let m = NAME.exec(text);
      if (!m) fail(line, 'E_SHELL_SYNTAX', 'not a NAME=value assignment', 'this file may only hold NAME=value lines and # comments');
      let exported = false;
      if (m![0] === 'export' && (text[i + 6] === ' ' || text[i + 6] === '\t')) {
        exported = true;
        i += 6;
        while (text[i] === ' ' || text[i] === '\t') i++;
        NAME.lastIndex = i;
        m = NAME.exec(text);
        if (!m) fail(line, 'E_SHELL_SYNTAX', "'export' must be followed by a variable name", 'write export NAME=value');
      }
      const name = m![0];
      i += name.length;
      if (text[i] !== '=') {
        let j = i;
        while (text[j] === ' ' || text[j] === '\t') j++;
        if (exported && (j >= text.length || text[j] === '\n' || text[j] === '#')) {
          i = j; // `export NAME`: exports an existing variable, assigns nothing
          skipLine();
          continue;
        }
        if (text[j] === '=') fail(line, 'E_SHELL_SPACE', `blank before '=' in the assignment of ${name}; the shell would run a command named ${name}`, `write ${name}=value with no blanks around '='`);
        fail(line, 'E_SHELL_SYNTAX', 'not a NAME=value assignment', 'this file may only hold NAME=value lines and # comments');
      }
      i++;
      const valueStart = i;
      let value = '';
      for (;;) {
        const ch = text[i];
        if (ch === undefined || ch === '\n' || ch === ' ' || ch === '\t') break;
        if (ch === '~' && i === valueStart) {
          fail(line, 'E_SHELL_EXPANSION', `a leading '~' in the value of ${name} would be expanded to a home directory`, `quote it: ${name}='~…'`);
        } else if (ch === "'") {
          const open = line;
          const close = text.indexOf("'", i + 1);
          if (close < 0) fail(open, 'E_SHELL_QUOTE', `unterminated ' quote in the value of ${name}`, "close the quote with '");
          const body = text.slice(i + 1, close);
          line += body.split('\n').length - 1;
          value += body;
          i = close + 1;
        } else if (ch === '"') {
          const open = line;
          i++;
          for (;;) {
            const d = text[i];
            if (d === undefined) fail(open, 'E_SHELL_QUOTE', `unterminated " quote in the value of ${name}`, 'close the quote with "');
            if (d === '"') break;
            if (d === '$' || d === '`') fail(line, 'E_SHELL_EXPANSION', `'${d}' in the value of ${name} would be expanded by the shell; its value is unknown until run time`, `write the literal value, or escape it as \\${d}`);
            if (d === '\\') {
              const e = text[i + 1];
              if (e === '\n') {
                line++;
                i += 2;
                continue;
              }
              if (e === '$' || e === '`' || e === '"' || e === '\\') {
                value += e;
                i += 2;
                continue;
              }
            }
            if (d === '\n' || d === '\\') {
              if (d === '\n') line++;
              value += d; // a backslash before any other character stays, as in the shell
              i++;
              continue;
            }
            DQ_PLAIN.lastIndex = i;
            const run = DQ_PLAIN.exec(text)![0];
            value += run;
            i += run.length;
          }
          i++;
        } else if (ch === '\\') {
          const e = text[i + 1];
          if (e === undefined) fail(line, 'E_SHELL_SYNTAX', `the value of ${name} ends in a lone backslash`, 'remove the backslash or escape it as \\\\');
          if (e === '\n') line++;
          else value += e;
          i += 2;
        } else if (ch === '$' || ch === '`') {
          fail(line, 'E_SHELL_EXPANSION', `'${ch}' in the value of ${name} would be expanded by the shell; its value is unknown until run time`, `write the literal value, or quote it: ${name}='…'`);
        } else if ('|&;<>()'.includes(ch)) {
          fail(line, 'E_SHELL_OPERATOR', `'${ch}' in the value of ${name} is a shell operator`, `quote the value (${name}='…') if the character is meant literally; only one assignment per line`);
        } else if (ch === '\r') {
          fail(line, 'E_SHELL_CRLF', 'the line ends in CR LF (a DOS line ending); the shell would keep the CR in the value', 'convert the file to Unix line endings (dos2unix FILE)');
        } else {
          // the run of plain characters at once: one += per character cost 0.17 s per MiB
          PLAIN.lastIndex = i;
          const run = PLAIN.exec(text)![0];
          value += run;
          i += run.length;
        }
      }
      const valueEnd = i;
      while (text[i] === ' ' || text[i] === '\t') i++;
      if (text[i] === '#') skipLine();
      else if (i < text.length && text[i] !== '\n') {
        fail(line, 'E_SHELL_TRAILING', `text after the value of ${name}; the shell would run it as a command with ${name} set only for that command`, `quote the whole value: ${name}='…'`);
      }
      out.push({ name, value, exported, line: stmtLine, start, valueStart, valueEnd });
    } catch (e) {
      if (!(e instanceof Stop)) throw e;
      if (syntaxErrors >= MAX_ISSUES) {
        issues.error(stmtLine, () => ({ code: 'E_SHELL_SYNTAX', message: `… and more syntax errors from line ${stmtLine} on (the rest of the file was not read)`, hint: 'fix the ones above and check again' }));
        break;
      }
      skipLine(); // recover at the next line and keep collecting errors
    }
  }
  return out;
}

/** Checks one known variable's value; returns the typed value, or reports and returns undefined. */
function convert(variable: O2cbVariable, value: string, line: number | undefined, issues: IssueList): O2cbDefaults[keyof O2cbDefaults] | undefined {
  const def = O2CB_VARIABLES[variable];
  const bad = (message: string, hint: string): undefined => {
    issues.error(line, () => ({ code: 'E_O2CB_VALUE', key: variable, message: `${variable}=${JSON.stringify(value)}: ${message}`, hint }));
    return undefined;
  };
  if (value === '') return undefined; // empty: the script's default (timeouts: kernel default)
  switch (variable) {
    case 'O2CB_ENABLED':
      if (value === 'true' || value === 'false') return value === 'true';
      return bad('must be true or false (the init script starts the cluster only for exactly "true")', `write ${variable}=true or ${variable}=false`);
    case 'O2CB_STACK':
      if (/^[A-Za-z0-9_]{4}$/.test(value)) return value;
      return bad('the stack label must be exactly 4 characters', 'use o2cb for the classic stack, or pcmk (Pacemaker/corosync) for the user stack');
    case 'O2CB_BOOTCLUSTER':
      if (value === 'none') return undefined;
      if (isValidO2cbClusterName(value)) return value;
      return bad('a cluster name is 1–16 letters or digits', `write the name of a cluster in cluster.conf, or ${variable}=none`);
    default: {
      if (!/^\d+$/.test(value)) return bad('must be a decimal integer', `the default is ${def.default}; leave it empty for the kernel default`);
      const n = Number(value);
      if (n < def.min!) return bad(`is below the minimum ${def.min}`, `use at least ${def.min} (the default is ${def.default})`);
      if (def.max !== undefined && n > def.max) return bad('is too large for the kernel (32 bits)', `the default is ${def.default}`);
      return n;
    }
  }
}

/** Settings that must stay below another (keepalive below idle), the kernel default standing in for an unset one. */
function crossCheck(values: O2cbDefaults, lineOf: (v: O2cbVariable) => number | undefined, issues: IssueList): void {
  for (const a of O2NM_ATTRIBUTES) {
    const above = a.below === undefined ? undefined : attributeNamed(a.below);
    if (!a.o2cbDefaults || !above?.o2cbDefaults) continue;
    const [lowVar, highVar] = [a.o2cbDefaults.variable as O2cbVariable, above.o2cbDefaults.variable as O2cbVariable];
    const [lowField, highField] = [a.o2cbDefaults.field as keyof O2cbDefaults, above.o2cbDefaults.field as keyof O2cbDefaults];
    const low = (values[lowField] ?? a.default) as number;
    const high = (values[highField] ?? above.default) as number;
    if ((values[lowField] !== undefined || values[highField] !== undefined) && low >= high) {
      issues.error(lineOf(lowVar) ?? lineOf(highVar), () => ({
        code: 'E_O2CB_KEEPALIVE',
        key: lowVar,
        message: `${lowVar} (${low}) must be less than ${highVar} (${high})`,
        hint: 'o2net drops a connection idle for the idle timeout, so keepalives must come sooner',
      }));
    }
  }
}

/** Parses an o2cb defaults file. Throws ConfigError listing every problem. */
export function parseO2cbDefaults(text: string, opts: ParseOptions = {}): O2cbDefaultsFile {
  const issues = new IssueList(opts.file);
  const assignments = parseShellAssignments(text, issues);
  const variables: Record<string, string> = {};
  const last = new Map<string, ShellAssignment>();
  for (const a of assignments) {
    variables[a.name] = a.value;
    last.set(a.name, a);
  }
  const values: O2cbDefaults = {};
  for (const [name, a] of last) {
    if (name in O2CB_VARIABLES) {
      const v = convert(name as O2cbVariable, a.value, a.line, issues);
      if (v !== undefined) (values as Record<string, unknown>)[O2CB_VARIABLES[name as O2cbVariable].field] = v;
    } else if (name.startsWith('O2CB_')) {
      issues.warn(a.line, () => ({
        code: 'W_O2CB_UNKNOWN',
        key: name,
        message: `${name} is not a variable the o2cb scripts read; it is kept but has no effect`,
        hint: `the variables are ${Object.keys(O2CB_VARIABLES).join(', ')}`,
      }));
    }
  }
  crossCheck(values, (v) => last.get(v)?.line, issues);
  issues.throwIfErrors();
  return { values, variables, assignments, warnings: issues.warnings };
}

/** A value as a shell word: bare when safe, else single-quoted. */
export function shellQuote(value: string): string {
  if (/^[A-Za-z0-9_.,:/@%+=-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Changes: a value sets the variable, null removes its assignments, undefined leaves it alone. */
export type O2cbDefaultsUpdate = { [K in keyof O2cbDefaults]?: O2cbDefaults[K] | null };

/**
 * Returns `text` with the given variables changed. The last assignment of a variable (the one the
 * shell uses) has its value replaced in place, keeping `export` and a trailing comment; variables
 * not yet in the file are appended. Other lines are untouched. Throws ConfigError if `text` does
 * not parse or a new value is invalid. `bootCluster: 'none'` writes none (no cluster at boot).
 */
export function updateO2cbDefaults(text: string, update: O2cbDefaultsUpdate, opts: ParseOptions = {}): string {
  const parsed = parseO2cbDefaults(text, opts);
  const issues = new IssueList(opts.file);
  const edits: { from: number; to: number; text: string }[] = [];
  const appended: string[] = [];
  const merged: O2cbDefaults = { ...parsed.values };
  for (const [field, v] of Object.entries(update) as [keyof O2cbDefaults, O2cbDefaults[keyof O2cbDefaults] | null | undefined][]) {
    const variable = FIELD_TO_VAR[field];
    if (!variable) {
      issues.error(undefined, () => ({ code: 'E_O2CB_FIELD', key: String(field), message: `'${String(field)}' is not an o2cb defaults field`, hint: `the fields are ${Object.keys(FIELD_TO_VAR).join(', ')}` }));
      continue;
    }
    if (v === undefined) continue;
    const mine = parsed.assignments.filter((a) => a.name === variable);
    if (v === null) {
      delete merged[field];
      for (const a of mine) {
        const from = text.lastIndexOf('\n', a.start - 1) + 1;
        const nl = text.indexOf('\n', a.valueEnd);
        edits.push({ from, to: nl < 0 ? text.length : nl + 1, text: '' });
      }
      continue;
    }
    const raw = String(v);
    const typed = convert(variable, raw, undefined, issues);
    (merged as Record<string, unknown>)[field] = typed;
    const word = shellQuote(raw);
    const a = mine[mine.length - 1];
    if (a) edits.push({ from: a.valueStart, to: a.valueEnd, text: word });
    else appended.push(`${variable}=${word}\n`);
  }
  crossCheck(merged, () => undefined, issues);
  issues.throwIfErrors();
  edits.sort((x, y) => y.from - x.from);
  let out = text;
  for (const e of edits) out = out.slice(0, e.from) + e.text + out.slice(e.to);
  if (appended.length) {
    if (out !== '' && !out.endsWith('\n')) out += '\n';
    out += appended.join('');
  }
  return out;
}

/** A new defaults file holding `values`, with a comment per variable. */
export function formatO2cbDefaults(values: O2cbDefaults): string {
  const header =
    '# o2cb start-up settings, sourced by the o2cb init script as shell.\n' +
    '# Written by o2stack; comments and other variables are kept when it updates this file.\n';
  const ordered: O2cbDefaultsUpdate = {};
  for (const { field } of Object.values(O2CB_VARIABLES)) {
    if (values[field] !== undefined) (ordered as Record<string, unknown>)[field] = values[field];
  }
  return updateO2cbDefaults(header, ordered);
}
