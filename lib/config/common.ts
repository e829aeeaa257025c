// Shared pieces of the configuration parsers: result shape, issue helpers, and the rules for turning
// an imported cluster member (cman clusternode, corosync nodelist.node) into an o2cb node.
import { isIPv6 } from 'node:net';
import { isIPv4 } from '../model/ip.js';
import { DEFAULT_PORT, type ClusterConfig, type NodeConfig } from '../model/cluster.js';
import { ConfigError, MAX_ISSUES, moreIssues, type ConfigIssue, type SourceLoc } from '../model/errors.js';

export interface ParseOptions {
  /** Named in every issue and loc (the path the text was read from). */
  file?: string;
}

export interface ImportOptions extends ParseOptions {
  /** Host name → IPv4 address, for members the source names only by host name. */
  resolve?: Record<string, string>;
  /** o2net port for imported nodes (cman and corosync have none); default 7777. */
  port?: number;
}

export interface ParseResult {
  clusters: ClusterConfig[];
  /** Problems that do not stop the file from being used (unknown keys, defaults applied). */
  warnings: ConfigIssue[];
}

export { MAX_ISSUES };

/**
 * How deep sections (corosync.conf) or elements (cman XML) may nest. Real files nest 3 (corosync:
 * nodelist.node, quorum.device.net) to about 10 (cman resource trees) levels deep; past this the
 * reader reports the line and reads no further. 100,000 nested levels cost seconds and memory.
 */
export const MAX_NESTING = 100;

/** An issue as a parser reports it: IssueList adds the file, and the line and column from its loc. */
export type NewIssue = Omit<ConfigIssue, keyof SourceLoc>;

/** Collects issues with the file name filled in; past MAX_ISSUES of a kind, only counts them. */
export class IssueList {
  private readonly errs: ConfigIssue[] = [];
  private readonly warns: ConfigIssue[] = [];
  private droppedErrors = 0;
  private droppedWarnings = 0;
  constructor(readonly file?: string) {}

  get errors(): ConfigIssue[] {
    return this.droppedErrors ? [...this.errs, this.summary('E_CONF_MORE', this.droppedErrors, 'errors')] : this.errs;
  }

  get warnings(): ConfigIssue[] {
    return this.droppedWarnings ? [...this.warns, this.summary('W_CONF_MORE', this.droppedWarnings, 'warnings')] : this.warns;
  }

  private summary(code: string, n: number, what: 'errors' | 'warnings'): ConfigIssue {
    return moreIssues(code, n, what, this.file);
  }

  private with(loc: SourceLoc | number | undefined, i: NewIssue): ConfigIssue {
    const l: SourceLoc = typeof loc === 'number' ? { line: loc } : (loc ?? {});
    const where: SourceLoc = {};
    if (this.file !== undefined) where.file = this.file;
    if (l.line !== undefined) where.line = l.line;
    if (l.column !== undefined) where.column = l.column;
    return { ...where, ...i };
  }

  /**
   * Adds an error. Give the issue as a function when its message costs something to build (a
   * quoted line, a list): past MAX_ISSUES it is never called. Over a MB of broken lines, messages
   * built only to be counted were a fifth of the readers' time.
   */
  error(loc: SourceLoc | number | undefined, i: NewIssue | (() => NewIssue)): void {
    if (this.errs.length < MAX_ISSUES) this.errs.push(this.with(loc, typeof i === 'function' ? i() : i));
    else this.droppedErrors++;
  }

  /** Adds a warning; the issue as for error(). */
  warn(loc: SourceLoc | number | undefined, i: NewIssue | (() => NewIssue)): void {
    if (this.warns.length < MAX_ISSUES) this.warns.push(this.with(loc, typeof i === 'function' ? i() : i));
    else this.droppedWarnings++;
  }

  /** Throws every error collected so far as one ConfigError. */
  throwIfErrors(): void {
    if (this.errs.length) throw new ConfigError(this.errors);
  }
}

/**
 * Calls f with each line of text (without its end: CR LF, LF or a lone CR) and its 1-based number,
 * after a leading BOM: what `text.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/)` gives, without the
 * array. On MB inputs the regex split was the readers' largest cost after the garbage collector.
 * Stops early when f returns false.
 */
export function eachLine(text: string, f: (raw: string, line: number) => void | false): void {
  const n = text.length;
  let start = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  if (text.indexOf('\r', start) === -1) {
    // no CR (the usual case): lines end at each LF, found by the native indexOf; the loop below
    // runs in V8's interpreter in a short CLI run (5 ms of a 255-node cluster.conf's parse)
    for (;;) {
      const i = text.indexOf('\n', start);
      if (i === -1) return void f(text.slice(start), line);
      if (f(text.slice(start, i), line++) === false) return;
      start = i + 1;
    }
  }
  for (let i = start; ; i++) {
    const c = i < n ? text.charCodeAt(i) : 10; // the end of the text ends the last line
    if (c !== 10 && c !== 13) continue;
    if (f(text.slice(start, i), line++) === false || i >= n) return;
    if (c === 13 && text.charCodeAt(i + 1) === 10) i++;
    start = i + 1;
  }
}

/** `{file, line}` without undefined members, so that models compare cleanly. */
export function makeLoc(file: string | undefined, line: number, column?: number): SourceLoc {
  const loc: SourceLoc = {};
  if (file !== undefined) loc.file = file;
  loc.line = line;
  if (column !== undefined) loc.column = column;
  return loc;
}

/** A source line quoted for a message: JSON quoting shows tabs and trailing blanks; long lines are cut. */
export function quoteLine(line: string): string {
  const cut = line.length > 100 ? `${line.slice(0, 100)}…` : line;
  return JSON.stringify(cut);
}

/** A model without its source locations (what writers and JSON output carry). */
export function stripLoc(c: ClusterConfig): ClusterConfig {
  const out: ClusterConfig = {
    name: c.name,
    nodes: c.nodes.map((n) => ({ name: n.name, number: n.number, ipAddress: n.ipAddress, port: n.port })),
    heartbeatMode: c.heartbeatMode,
    heartbeatRegions: [...c.heartbeatRegions],
    timeouts: { ...c.timeouts },
  };
  if (c.fenceMethod !== undefined) out.fenceMethod = c.fenceMethod;
  return out;
}

/**
 * How members of cman and corosync configurations become o2cb nodes. Shared by cmanXml.ts and
 * corosyncConf.ts; the text is exported (MAPPING) so that tools and docs can show it.
 */
export const IMPORT_MAPPING = {
  number:
    'o2cb node number = the cman/corosync nodeid unchanged, so that the numbers agree with the DLM and fencing logs; ' +
    'nodeid must be 0–254 (o2cb numbers stop at 254, 255 means "no node"), anything else is an error',
  name: 'o2cb node name = the member name up to the first "." (o2cb matches the local node by the short host name); an IP-literal name is kept as is, with a warning',
  ipAddress:
    'o2net address = the member address (cman: name; corosync: ring0_addr, else name) when it is an IPv4 literal; ' +
    'a host name is looked up in the caller\'s resolve map {name → IPv4} (full name, then short name), otherwise it is reported as a gap; ' +
    'IPv6 is an error (o2net is IPv4 only)',
  port: `o2net port = the caller's port option, else ${DEFAULT_PORT} (neither cman nor corosync has an o2net port); a warning says so`,
  heartbeat: 'heartbeat mode local, no regions, kernel default timeouts (neither source describes o2hb)',
} as const;

export interface ImportedMember {
  /** What the source calls it, for messages: "clusternode", "nodelist.node". */
  kind: string;
  name?: string;
  nodeid?: string;
  /** The address field if the source has one (corosync ring0_addr). */
  addr?: string;
  /** Name of the address field, for messages. */
  addrKey: string;
  loc: SourceLoc;
}

/** Applies IMPORT_MAPPING to one member; reports every gap rather than stopping at the first. */
export function importMember(m: ImportedMember, opts: ImportOptions, issues: IssueList): NodeConfig | undefined {
  const label = m.name ? `${m.kind} '${m.name}'` : m.nodeid ? `${m.kind} with nodeid ${m.nodeid}` : m.kind;
  let ok = true;

  let number = NaN;
  if (m.nodeid === undefined || m.nodeid.trim() === '') {
    issues.error(m.loc, () => ({ code: 'E_IMPORT_NODEID', key: `${m.kind}.nodeid`, message: `${label} has no nodeid; the o2cb node number is taken from it`, hint: 'add nodeid: a distinct integer from 1 to 254 for each member' }));
    ok = false;
  } else if (!/^\d+$/.test(m.nodeid.trim())) {
    issues.error(m.loc, () => ({ code: 'E_IMPORT_NODEID', key: `${m.kind}.nodeid`, message: `${label}: nodeid '${m.nodeid}' is not a non-negative integer`, hint: 'use a decimal integer from 1 to 254' }));
    ok = false;
  } else {
    number = Number(m.nodeid.trim());
    if (number > 254) {
      issues.error(m.loc, () => ({
        code: 'E_IMPORT_NODEID_RANGE',
        key: `${m.kind}.nodeid`,
        message: `${label}: nodeid ${number} cannot be an o2cb node number (o2cb allows 0–254)`,
        hint: 'renumber the member with a nodeid of 254 or less, or write the o2cb configuration by hand',
      }));
      ok = false;
    }
  }

  const rawName = m.name?.trim() || undefined;
  const addrField = m.addr?.trim() || undefined;
  let name: string | undefined;
  if (rawName === undefined) {
    if (addrField !== undefined && !isIPv4(addrField) && !isIPv6(addrField)) name = addrField.split('.')[0];
    else {
      issues.error(m.loc, () => ({ code: 'E_IMPORT_NAME', key: `${m.kind}.name`, message: `${label} has no host name; o2cb finds the local node by its host name`, hint: `add name: the member's host name (hostname -s)` }));
      ok = false;
    }
  } else if (isIPv4(rawName) || isIPv6(rawName)) {
    name = rawName;
    issues.warn(m.loc, () => ({
      code: 'W_IMPORT_NAME_IS_ADDRESS',
      key: `${m.kind}.name`,
      message: `${label}: the name is an address, so the o2cb node is named '${rawName}'; o2cb matches the local node by host name`,
      hint: 'rename the node to its short host name in the converted configuration',
    }));
  } else name = rawName.split('.')[0];

  // The address: the address field, else the name (cman only has name).
  const addrSource = addrField ?? rawName;
  const addrKey = addrField !== undefined ? m.addrKey : `${m.kind}.name`;
  let ipAddress: string | undefined;
  if (addrSource === undefined) {
    issues.error(m.loc, () => ({ code: 'E_IMPORT_ADDRESS', key: `${m.kind}.${m.addrKey}`, message: `${label} has no address`, hint: `add ${m.addrKey}: the member's IPv4 address` }));
    ok = false;
  } else if (isIPv4(addrSource)) {
    ipAddress = addrSource;
  } else if (isIPv6(addrSource)) {
    issues.error(m.loc, () => ({
      code: 'E_IMPORT_IPV6',
      key: addrKey,
      message: `${label}: address ${addrSource} is IPv6; o2net (the o2cb network layer) supports IPv4 only`,
      hint: 'give each node an IPv4 address on the cluster network (resolve map or the converted file)',
    }));
    ok = false;
  } else {
    const short = addrSource.split('.')[0]!;
    const resolved = opts.resolve?.[addrSource] ?? opts.resolve?.[short] ?? (rawName !== undefined ? (opts.resolve?.[rawName] ?? opts.resolve?.[rawName.split('.')[0]!]) : undefined);
    if (resolved === undefined) {
      issues.error(m.loc, () => ({
        code: 'E_IMPORT_HOSTNAME',
        key: addrKey,
        message: `${label}: '${addrSource}' is a host name and the file gives no IPv4 address for it; o2cb needs an address`,
        hint: `supply it: o2stack config … --address ${addrSource}=192.0.2.N (or a resolve map {"${addrSource}": "192.0.2.N"})`,
      }));
      ok = false;
    } else if (!isIPv4(resolved)) {
      issues.error(m.loc, () => ({
        code: isIPv6(resolved) ? 'E_IMPORT_IPV6' : 'E_IMPORT_ADDRESS',
        key: addrKey,
        message: `${label}: the address given for '${addrSource}' (${resolved}) is not IPv4${isIPv6(resolved) ? ' (o2net supports IPv4 only)' : ''}`,
        hint: 'give a dotted-quad IPv4 address',
      }));
      ok = false;
    } else ipAddress = resolved;
  }

  if (!ok || name === undefined || ipAddress === undefined) return undefined;
  return { name, number, ipAddress, port: opts.port ?? DEFAULT_PORT, loc: m.loc };
}

/** The one warning an import gives about the port it had to choose. */
export function warnImportPort(source: string, opts: ImportOptions, issues: IssueList, loc?: SourceLoc): void {
  if (opts.port !== undefined) return;
  issues.warn(loc, () => ({
    code: 'W_IMPORT_PORT_DEFAULT',
    key: 'port',
    message: `${source} has no o2net port; every node gets the default port ${DEFAULT_PORT}`,
    hint: 'pass --port (or the port option) if the cluster uses another one',
  }));
}
