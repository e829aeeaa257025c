// corosync.conf: a tokenizer/parser for its brace blocks, the import of totem.cluster_name and
// nodelist.node into an o2cb cluster, and a writer of a nodelist (o2stack config convert --to corosync).
//
// Syntax as corosync reads it: one item per line — `name {` opens a section (nothing may follow
// the brace: corosync rejects "node { name: n1 }"), `}` closes it, `key: value` sets a key;
// blank lines and lines whose first non-blank is '#' are comments.
//
// Mapping (MAPPING): the same rules as the cman import (common.ts IMPORT_MAPPING), with the address
// taken from ring0_addr (else from name); the cluster name is totem.cluster_name. corosync reserves
// nodeid 0, so o2cb node 0 cannot be written to corosync: the writer reports it.
import { isIPv4 } from '../model/ip.js';
import { DEFAULT_PORT, type ClusterConfig, type NodeConfig } from '../model/cluster.js';
import { ConfigError, type ConfigIssue } from '../model/errors.js';
import { eachLine, IMPORT_MAPPING, IssueList, MAX_NESTING, importMember, makeLoc, quoteLine, warnImportPort, type ImportOptions, type ParseOptions, type ParseResult } from './common.js';

export const MAPPING = {
  clusterName: 'totem.cluster_name → ClusterConfig.name, unchanged',
  nodes: 'nodelist.node (name, nodeid, ring0_addr) → one o2cb node each; ring0_addr is the o2net address, name the node name (else ring0_addr when it is a host name)',
  ...IMPORT_MAPPING,
  ignored: 'ring1_addr…ring7_addr (o2net uses a single address), quorum, logging, other totem keys',
  export: 'o2cb number → nodeid unchanged (number 0 cannot be written: corosync reserves nodeid 0); the o2net port appears only as a comment',
} as const;

export interface CorosyncPair {
  kind: 'pair';
  key: string;
  value: string;
  line: number;
}

export interface CorosyncSection {
  kind: 'section';
  name: string;
  line: number;
  children: (CorosyncPair | CorosyncSection)[];
}

const OPEN = /^(\S+(?:[ \t]+\S+)*)?[ \t]*\{(.*)$/;
const PAIR = /^([A-Za-z0-9_.-]+)[ \t]*:(.*)$/;

/** Parses corosync.conf text into a tree (root section named ''). Throws ConfigError with every error. */
export function parseCorosyncConf(text: string, opts: ParseOptions = {}): CorosyncSection {
  const issues = new IssueList(opts.file);
  const root: CorosyncSection = { kind: 'section', name: '', line: 0, children: [] };
  const stack: CorosyncSection[] = [root];
  let tooDeep = false;
  eachLine(text, (raw, line) => {
    const t = raw.trim();
    if (t === '' || t.startsWith('#')) return;
    const top = stack[stack.length - 1]!;
    const pair = PAIR.exec(t);
    if (pair) {
      top.children.push({ kind: 'pair', key: pair[1]!, value: pair[2]!.trim(), line });
      return;
    }
    const open = OPEN.exec(t);
    if (open) {
      const name = open[1];
      if (name === undefined || /[{}:]/.test(name) || /\s/.test(name)) {
        issues.error(line, () => ({ code: 'E_COROSYNC_SYNTAX', message: `a section needs a one-word name before '{': ${quoteLine(raw)}`, hint: 'write e.g. "nodelist {"' }));
      } else if (open[2]!.trim() !== '') {
        issues.error(line, () => ({ code: 'E_COROSYNC_SYNTAX', message: `text after '{' on the same line (corosync rejects it): ${quoteLine(raw)}`, hint: `put each "key: value" on its own line after "${name} {"` }));
      }
      if (stack.length > MAX_NESTING) {
        issues.error(line, () => ({ code: 'E_COROSYNC_DEPTH', message: `sections nested more than ${MAX_NESTING} deep: ${quoteLine(raw)} (the rest of the file was not read)`, hint: 'corosync.conf nests sections 3 deep at most; a "}" is missing above' }));
        tooDeep = true;
        return false;
      }
      const s: CorosyncSection = { kind: 'section', name: name ?? '', line, children: [] };
      top.children.push(s);
      stack.push(s); // push even when malformed, so the matching '}' does not look unbalanced
      return;
    }
    if (t === '}') {
      if (stack.length === 1) issues.error(line, () => ({ code: 'E_COROSYNC_BRACE', message: `'}' without an open section: ${quoteLine(raw)}`, hint: 'remove it, or add the missing "name {" above' }));
      else stack.pop();
      return;
    }
    issues.error(line, () => ({
      code: 'E_COROSYNC_SYNTAX',
      message: `cannot parse ${quoteLine(raw)}: expected "key: value", "section {" or "}"`,
      hint: t.includes('=') ? 'corosync separates keys and values with ":", not "="' : 'one item per line; comments start with #',
    }));
  });
  // after a stop for depth the sections are unclosed only because the rest was not read
  const unclosed = tooDeep ? [] : stack.slice(1).reverse();
  for (const s of unclosed) {
    issues.error(s.line, () => ({ code: 'E_COROSYNC_BRACE', message: `section '${s.name}' opened at line ${s.line} is never closed`, hint: "add the missing '}'" }));
  }
  issues.throwIfErrors();
  return root;
}

/** Sub-sections of `s` with this name, in order. */
export function sections(s: CorosyncSection, name: string): CorosyncSection[] {
  return s.children.filter((c): c is CorosyncSection => c.kind === 'section' && c.name === name);
}

/** The last value of `key` directly in `s` (corosync keeps the last). */
export function pair(s: CorosyncSection, key: string): CorosyncPair | undefined {
  const all = s.children.filter((c): c is CorosyncPair => c.kind === 'pair' && c.key === key);
  return all[all.length - 1];
}

/** Imports totem.cluster_name and nodelist.node as an o2cb cluster. Throws ConfigError with every gap. */
export function parseCorosyncConfCluster(text: string, opts: ImportOptions = {}): ParseResult {
  const root = parseCorosyncConf(text, opts);
  const issues = new IssueList(opts.file);
  const totems = sections(root, 'totem');
  const totem = totems[totems.length - 1];
  const cn = totem && pair(totem, 'cluster_name');
  if (!totem) {
    issues.error(1, () => ({ code: 'E_COROSYNC_TOTEM', key: 'totem', message: 'no totem section, so no cluster name', hint: 'add "totem {" with "cluster_name: NAME" (1–16 letters or digits for o2cb)' }));
  } else if (!cn || cn.value === '') {
    issues.error(totem.line, () => ({ code: 'E_COROSYNC_NAME', key: 'totem.cluster_name', message: `the totem section at line ${totem.line} has no cluster_name`, hint: 'add "cluster_name: NAME" (1–16 letters or digits for o2cb)' }));
  }
  const lists = sections(root, 'nodelist');
  const members = lists.flatMap((l) => sections(l, 'node'));
  if (members.length === 0) {
    issues.error(lists[0]?.line ?? 1, () => ({
      code: 'E_COROSYNC_NO_NODES',
      key: 'nodelist.node',
      message: lists.length ? 'the nodelist has no node sections' : 'no nodelist section: o2cb needs the members listed (multicast discovery gives no static list)',
      hint: 'add "nodelist {" with one "node {" (name, nodeid, ring0_addr) per member',
    }));
  }
  const nodes: NodeConfig[] = [];
  for (const m of members) {
    for (const key of ['name', 'nodeid', 'ring0_addr']) {
      const all = m.children.filter((c) => c.kind === 'pair' && c.key === key);
      if (all.length > 1) issues.warn(all[all.length - 1]!.line, () => ({ code: 'W_COROSYNC_DUP_KEY', key: `nodelist.node.${key}`, message: `'${key}' is set ${all.length} times in the node section at line ${m.line}; the last is used`, hint: `keep one ${key} line` }));
    }
    const n = importMember(
      { kind: 'nodelist.node', name: pair(m, 'name')?.value, nodeid: pair(m, 'nodeid')?.value, addr: pair(m, 'ring0_addr')?.value, addrKey: 'nodelist.node.ring0_addr', loc: makeLoc(opts.file, m.line) },
      opts,
      issues,
    );
    if (n) nodes.push(n);
  }
  issues.throwIfErrors();
  const loc = makeLoc(opts.file, totem!.line);
  warnImportPort('corosync.conf', opts, issues, loc);
  return { clusters: [{ name: cn!.value, nodes, heartbeatMode: 'local', heartbeatRegions: [], timeouts: {}, loc }], warnings: issues.warnings };
}

/**
 * A corosync.conf fragment (totem.cluster_name and the nodelist) for `cluster`, to merge into
 * /etc/corosync/corosync.conf. Throws ConfigError for what corosync cannot hold: node number 0
 * (corosync reserves nodeid 0) and values with braces or line breaks.
 */
export function formatCorosyncNodelist(cluster: ClusterConfig): string {
  const issues: ConfigIssue[] = [];
  const val = (v: string, key: string) => {
    if (v === '' || /[{}\x00-\x1f\x7f]/.test(v) || v !== v.trim()) {
      issues.push({ code: 'E_COROSYNC_UNWRITABLE', key, message: `${key} ${JSON.stringify(v)} cannot be written to corosync.conf (empty, braces, control characters or blanks at either end)`, hint: 'rename it in the source configuration' });
    }
    return v;
  };
  const out = [
    `# corosync.conf nodelist for cluster '${cluster.name}', written by o2stack config convert.`,
    '# Merge totem.cluster_name and the nodelist into /etc/corosync/corosync.conf; corosync has no',
    '# place for the o2net port, heartbeat mode or o2cb timeouts (the port is noted per node).',
    'totem {',
    '\tversion: 2',
    `\tcluster_name: ${val(cluster.name, 'cluster_name')}`,
    '}',
    '',
    'nodelist {',
  ];
  cluster.nodes.forEach((n, i) => {
    if (n.number === 0) {
      issues.push({
        ...n.loc,
        code: 'E_COROSYNC_NODEID_ZERO',
        key: `nodes[${i}].number`,
        message: `node '${n.name}' has o2cb number 0, but corosync reserves nodeid 0`,
        hint: 'renumber the node (o2cb numbers 1–254 map to the same corosync nodeid) before converting',
      });
    }
    out.push('\tnode {', `\t\tname: ${val(n.name, `nodes[${i}].name`)}`, `\t\tnodeid: ${n.number}`, `\t\tring0_addr: ${val(n.ipAddress, `nodes[${i}].ipAddress`)}`);
    if (!isIPv4(n.ipAddress)) issues.push({ ...n.loc, code: 'E_COROSYNC_UNWRITABLE', key: `nodes[${i}].ipAddress`, message: `node '${n.name}': '${n.ipAddress}' is not an IPv4 address`, hint: 'fix the address first' });
    if (n.port !== DEFAULT_PORT) out.push(`\t\t# o2net port ${n.port}`);
    out.push('\t}');
  });
  out.push('}', '');
  if (issues.length) throw new ConfigError(issues);
  return out.join('\n');
}
