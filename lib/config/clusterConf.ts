// /etc/ocfs2/cluster.conf: a tolerant reader and a canonical writer.
//
// ocfs2-tools' own reader is strict (headers in column 0, attributes indented, a blank line ends a
// stanza, '#' only in column 0, trailing blanks kept in values) and reports any slip as a bare
// "while loading cluster configuration file". This reader accepts what people actually write —
// any indentation, indented comments, blank lines inside a stanza, CRLF, trailing blanks — and
// reports every real problem at once with its line quoted. The writer emits only the strict form,
// so anything we write loads in ocfs2-tools as well.
//
// Keys (ocfs2-tools): cluster {name, node_count, heartbeat_mode}; node {name, cluster, number,
// ip_address, ip_port}; heartbeat {region, cluster}.
//
// Extension keys in the cluster stanza (ours; ocfs2-tools parses and ignores them, and drops them
// when it rewrites the file, so keep a copy elsewhere if you use o2cb add-node and friends):
//   idle_timeout_ms          o2net idle timeout; "30000", "30000ms", "30s"   (bare number = ms)
//   keepalive_delay_ms       o2net keepalive delay; same syntax
//   reconnect_delay_ms       o2net reconnect delay; same syntax
//   heartbeat_dead_threshold o2hb dead threshold: a count ("31") or a time ("60s" → 31)
//   fence_method             reset | panic
// The writer emits them as plain numbers (ms, count) so they stay unambiguous. Which attribute has
// which key, its syntax and its parse error come from the attribute table (model/o2nmAttributes.ts).
import { parseDeadThreshold, parseDuration, type ClusterConfig, type NodeConfig } from '../model/cluster.js';
import { type O2nmAttribute, type O2nmValue, O2NM_ATTRIBUTES, attributesOf, configValue, setConfigValue } from '../model/o2nmAttributes.js';
import { ConfigError, type ConfigIssue } from '../model/errors.js';
import { eachLine, IssueList, makeLoc, quoteLine, type ParseOptions, type ParseResult } from './common.js';

type StanzaType = 'cluster' | 'node' | 'heartbeat';

/** The attributes in the cluster stanza: ocfs2-tools' own keys, then our extensions, each in table order. */
const inClusterStanza = (extension: boolean) => O2NM_ATTRIBUTES.filter((a) => (a.object === 'cluster' || a.object === 'heartbeat') && a.clusterConf && a.clusterConf.extension === extension);
const CLUSTER_OWN_ATTRS = inClusterStanza(false);
const CLUSTER_EXTENSION_ATTRS = inClusterStanza(true);
/** The node stanza's attributes (number, ip_address, ip_port). */
const NODE_ATTRS = attributesOf('node').filter((a) => a.clusterConf);
const confKey = (name: string) => NODE_ATTRS.find((a) => a.name === name)!.clusterConf!.key;
const NUMBER_KEY = confKey('num');
const ADDRESS_KEY = confKey('ipv4_address');
const PORT_KEY = confKey('ipv4_port');

const KNOWN_KEYS: Record<StanzaType, readonly string[]> = {
  cluster: ['name', 'node_count', ...CLUSTER_OWN_ATTRS.map((a) => a.clusterConf!.key)],
  node: ['name', 'cluster', ...NODE_ATTRS.map((a) => a.clusterConf!.key)],
  heartbeat: ['region', 'cluster'],
};

/** Our extension keys in the cluster stanza, with their model field. */
export const CLUSTER_CONF_EXTENSION_KEYS: Readonly<Record<string, string>> = Object.fromEntries(CLUSTER_EXTENSION_ATTRS.map((a) => [a.clusterConf!.key, a.configKey!]));

/** A cluster-stanza value in the attribute's syntax, or undefined when it is not one. */
function parseClusterValue(a: O2nmAttribute, text: string): O2nmValue | undefined {
  switch (a.clusterConf!.syntax) {
    case 'duration':
      return parseDuration(text, 'ms');
    case 'count-or-time':
      return parseDeadThreshold(text);
    case 'enum': {
      const v = text.toLowerCase();
      return a.values!.includes(v) ? v : undefined;
    }
    default:
      return /^\d+$/.test(text) ? Number(text) : undefined;
  }
}

function syntaxProblem(a: O2nmAttribute): string {
  const key = a.clusterConf!.key;
  switch (a.clusterConf!.syntax) {
    case 'duration':
      return `${key} is not a duration`;
    case 'count-or-time':
      return `${key} is neither a count nor a time`;
    case 'enum':
      return `${key} must be ${a.values!.join(' or ')}`;
    default:
      return `${key} must be a non-negative decimal integer`;
  }
}

interface Attr {
  value: string;
  line: number;
  text: string;
}

interface Stanza {
  type: string;
  line: number;
  /** made at the first attribute: a MB of bare headers kept a Map each, and the GC's time went to them */
  attrs?: Map<string, Attr>;
}

const attrOf = (s: Stanza, key: string) => s.attrs?.get(key);

const HEADER = /^([A-Za-z0-9_]+)[ \t]*:[ \t]*$/;
const ATTRIBUTE = /^([A-Za-z0-9_]+)[ \t]*=(.*)$/;

/** Splits the text into stanzas; lexical errors are collected in `issues`. */
function lex(text: string, issues: IssueList): Stanza[] {
  const stanzas: Stanza[] = [];
  let current: Stanza | undefined;
  let skipping = false; // inside an unknown stanza type (already warned)
  eachLine(text, (raw, line) => {
    const t = raw.trim();
    if (t === '' || t.startsWith('#')) return; // blank lines do not end a stanza here (they do in ocfs2-tools)
    const h = HEADER.exec(t);
    if (h) {
      const type = h[1]!;
      if (type === 'cluster' || type === 'node' || type === 'heartbeat') {
        current = { type, line };
        stanzas.push(current);
        skipping = false;
      } else {
        issues.warn(line, () => ({
          code: 'W_CONF_UNKNOWN_STANZA',
          key: type,
          message: `unknown stanza type '${type}' in ${quoteLine(raw)}; it and its attributes are ignored`,
          hint: 'the stanza types are cluster:, node: and heartbeat:',
        }));
        current = undefined;
        skipping = true;
      }
      return;
    }
    const a = ATTRIBUTE.exec(t);
    if (a) {
      if (skipping) return;
      if (!current) {
        issues.error(line, () => ({
          code: 'E_CONF_SYNTAX',
          key: a[1],
          message: `attribute before any stanza header: ${quoteLine(raw)}`,
          hint: 'put a "cluster:", "node:" or "heartbeat:" line above it',
        }));
        return;
      }
      const key = a[1]!;
      const value = a[2]!.trim();
      const stanza = current;
      const attrs = (stanza.attrs ??= new Map());
      const prev = attrs.get(key);
      if (prev) {
        issues.warn(line, () => ({
          code: 'W_CONF_DUP_KEY',
          key,
          message: `'${key}' is set twice in the ${stanza.type} stanza at line ${stanza.line} (line ${prev.line} and line ${line}); the last value, '${value}', is used`,
          hint: `remove one of the two ${key} lines`,
        }));
      }
      attrs.set(key, { value, line, text: raw });
      return;
    }
    const looksLikeColon = /^[A-Za-z0-9_]+[ \t]*:/.test(t);
    issues.error(line, () => ({
      code: 'E_CONF_SYNTAX',
      message: `cannot parse ${quoteLine(raw)}: expected a stanza header ("node:") or an attribute ("name = value")`,
      hint: looksLikeColon ? 'a stanza header has nothing after the colon; attributes use "=", not ":"' : 'write attributes as "key = value" under a stanza header; comments start with #',
    }));
  });
  return stanzas;
}

function decimal(attr: Attr | undefined, key: string, what: string, issues: IssueList): number | undefined {
  if (!attr) return undefined;
  if (!/^\d+$/.test(attr.value)) {
    issues.error(attr.line, () => ({ code: 'E_CONF_NUMBER', key, message: `${what} must be a non-negative decimal integer: ${quoteLine(attr.text)}`, hint: `write e.g. "${key} = 1"` }));
    return undefined;
  }
  return Number(attr.value);
}

/** Parses cluster.conf text. Throws ConfigError listing every error; returns clusters and warnings. */
export function parseClusterConf(text: string, opts: ParseOptions = {}): ParseResult {
  const issues = new IssueList(opts.file);
  const stanzas = lex(text, issues);
  const clusters: ClusterConfig[] = [];
  const declaredCount = new Map<ClusterConfig, { count: number; line: number }>();
  const byName = new Map<string, ClusterConfig>();
  const attach: { stanza: Stanza; node?: NodeConfig; region?: string }[] = [];

  const warnUnknown = (s: Stanza, known: readonly string[]) => {
    if (!s.attrs) return;
    for (const [key, attr] of s.attrs) {
      if (known.includes(key)) continue;
      issues.warn(attr.line, () => {
        const close = known.find((k) => k.toLowerCase() === key.toLowerCase());
        return {
          code: 'W_CONF_UNKNOWN_KEY',
          key: `${s.type}.${key}`,
          message: `unknown key '${key}' in the ${s.type} stanza at line ${s.line} is ignored: ${quoteLine(attr.text)}`,
          hint: close ? `keys are case-sensitive: did you mean '${close}'?` : `known ${s.type} keys: ${known.join(', ')}`,
        };
      });
    }
  };
  const missing = (s: Stanza, key: string, hint: string) =>
    issues.error(s.line, () => ({ code: 'E_CONF_MISSING_KEY', key: `${s.type}.${key}`, message: `the ${s.type} stanza at line ${s.line} has no '${key}'`, hint }));

  for (const s of stanzas) {
    const get = (k: string) => attrOf(s, k);
    if (s.type === 'cluster') {
      warnUnknown(s, [...KNOWN_KEYS.cluster, ...Object.keys(CLUSTER_CONF_EXTENSION_KEYS)]);
      const name = get('name');
      if (!name || name.value === '') {
        missing(s, 'name', 'add "name = NAME" (1–16 letters or digits)');
        continue;
      }
      const c: ClusterConfig = { name: name.value, nodes: [], heartbeatMode: 'local', heartbeatRegions: [], timeouts: {}, loc: makeLoc(opts.file, s.line) };
      const readAttr = (a: O2nmAttribute) => {
        const cc = a.clusterConf!;
        const at = get(cc.key);
        if (!at) return;
        const v = parseClusterValue(a, at.value);
        if (v === undefined) issues.error(at.line, () => ({ code: cc.errorCode ?? 'E_CONF_VALUE', key: `cluster.${cc.key}`, message: `${syntaxProblem(a)}: ${quoteLine(at.text)}`, ...(cc.errorHint ? { hint: cc.errorHint } : {}) }));
        else setConfigValue(a, c, v);
      };
      CLUSTER_OWN_ATTRS.forEach(readAttr);
      const count = get('node_count');
      if (count) {
        const n = decimal(count, 'node_count', 'node_count', issues);
        if (n !== undefined) declaredCount.set(c, { count: n, line: count.line });
      } else {
        issues.warn(s.line, () => ({
          code: 'W_CONF_NO_NODE_COUNT',
          key: 'cluster.node_count',
          message: `the cluster stanza for '${c.name}' has no node_count; ocfs2-tools refuses to load such a file`,
          hint: 'add "node_count = N" (o2stack config convert --to ocfs2 writes it for you)',
        }));
      }
      CLUSTER_EXTENSION_ATTRS.forEach(readAttr);
      const prev = byName.get(c.name);
      if (prev) {
        issues.error(s.line, () => ({ code: 'E_CONF_DUP_CLUSTER', key: 'cluster.name', message: `cluster '${c.name}' is defined twice (lines ${prev.loc?.line} and ${s.line})`, hint: 'merge the two cluster stanzas into one' }));
        continue;
      }
      byName.set(c.name, c);
      clusters.push(c);
    } else if (s.type === 'node') {
      warnUnknown(s, KNOWN_KEYS.node);
      const name = get('name');
      const number = decimal(get(NUMBER_KEY), NUMBER_KEY, NUMBER_KEY, issues);
      const ip = get(ADDRESS_KEY);
      const portAttr = get(PORT_KEY);
      const port = decimal(portAttr, PORT_KEY, PORT_KEY, issues);
      let ok = true;
      if (!name || name.value === '') {
        missing(s, 'name', 'add "name = HOST" (the short host name of the node)');
        ok = false;
      }
      if (!get(NUMBER_KEY)) {
        missing(s, 'number', 'add "number = N" (0–254, distinct per node)');
        ok = false;
      }
      if (!ip || ip.value === '') {
        missing(s, 'ip_address', 'add "ip_address = A.B.C.D" (the IPv4 address o2net uses)');
        ok = false;
      }
      if (!portAttr) {
        issues.warn(s.line, () => ({ code: 'W_CONF_NO_PORT', key: 'node.ip_port', message: `the node stanza at line ${s.line} has no ip_port; 7777 is used`, hint: 'add "ip_port = 7777" (ocfs2-tools refuses a node without it)' }));
      }
      if (!ok || number === undefined || (portAttr && port === undefined)) {
        attach.push({ stanza: s });
        continue;
      }
      attach.push({ stanza: s, node: { name: name!.value, number, ipAddress: ip!.value, port: port ?? 7777, loc: makeLoc(opts.file, s.line) } });
    } else {
      warnUnknown(s, KNOWN_KEYS.heartbeat);
      const region = get('region');
      if (!region || region.value === '') {
        missing(s, 'region', 'add "region = UUID" (the 32-hex-digit UUID of the heartbeat device)');
        attach.push({ stanza: s });
        continue;
      }
      attach.push({ stanza: s, region: region.value });
    }
  }

  // Node and heartbeat stanzas belong to the cluster their `cluster` key names. ocfs2-tools
  // silently ignores orphans; that hides typos, so here they are errors.
  for (const { stanza: s, node, region } of attach) {
    const cl = attrOf(s, 'cluster');
    if (!cl || cl.value === '') {
      const only = clusters.length === 1 ? clusters[0]!.name : 'NAME';
      missing(s, 'cluster', `add "cluster = ${only}" (the name of the cluster stanza it belongs to)`);
      continue;
    }
    const c = byName.get(cl.value);
    if (!c) {
      const names = [...byName.keys()];
      issues.error(cl.line, () => ({
        code: 'E_CONF_UNKNOWN_CLUSTER',
        key: `${s.type}.cluster`,
        message: `the ${s.type} stanza at line ${s.line} names cluster '${cl.value}', which has no cluster stanza: ${quoteLine(cl.text)}`,
        hint: names.length ? `use one of: ${names.join(', ')} (or add a cluster stanza named ${cl.value})` : `add a cluster stanza with "name = ${cl.value}"`,
      }));
      continue;
    }
    if (node) c.nodes.push(node);
    if (region !== undefined) c.heartbeatRegions.push(region);
  }

  for (const c of clusters) {
    if (c.heartbeatMode === 'local' && c.heartbeatRegions.length > 0) {
      issues.warn(c.loc?.line, () => ({
        code: 'W_CONF_REGION_LOCAL',
        key: 'heartbeat.region',
        message: `cluster '${c.name}' lists ${c.heartbeatRegions.length} heartbeat region(s) but heartbeat_mode is local: they are not used`,
        hint: `set heartbeat_mode = global (o2stack o2cb heartbeat-mode ${c.name} global), or remove the heartbeat stanzas`,
      }));
    }
    const d = declaredCount.get(c);
    if (d && d.count !== c.nodes.length) {
      issues.warn(d.line, () => ({
        code: 'W_CONF_NODE_COUNT',
        key: 'cluster.node_count',
        message: `cluster '${c.name}' says node_count = ${d.count} but ${c.nodes.length} node stanza${c.nodes.length === 1 ? '' : 's'} name it; ocfs2-tools would trust node_count`,
        hint: `set "node_count = ${c.nodes.length}"`,
      }));
    }
  }
  issues.throwIfErrors();
  return { clusters, warnings: issues.warnings };
}

/** Where each cluster stanza and its attributes are in a cluster.conf text (1-based lines). */
export interface ClusterStanzaLines {
  name: string;
  line: number;
  /** attribute key → its value as written and its line (the last one when a key is repeated) */
  attrs: Record<string, { value: string; line: number }>;
}

/**
 * The cluster stanzas of a cluster.conf text with the line of each attribute, in file order: what
 * error messages name ("cluster.conf:12") and what o2cb's listings print as written (node_count).
 * Lexical problems are ignored here; parseClusterConf reports them.
 */
export function clusterStanzaLines(text: string): ClusterStanzaLines[] {
  const out: ClusterStanzaLines[] = [];
  for (const s of lex(text, new IssueList())) {
    if (s.type !== 'cluster') continue;
    const name = attrOf(s, 'name')?.value;
    if (!name || !s.attrs) continue;
    const attrs: ClusterStanzaLines['attrs'] = {};
    for (const [k, a] of s.attrs) attrs[k] = { value: a.value, line: a.line };
    out.push({ name, line: s.line, attrs });
  }
  return out;
}

/** A value the strict ocfs2-tools reader would read back unchanged. */
function checkValue(value: string, key: string, where: string, issues: ConfigIssue[]): string {
  if (value === '' || /[\x00-\x1f\x7f]/.test(value) || value !== value.trim() || value.endsWith('\\')) {
    issues.push({
      code: 'E_CONF_UNWRITABLE',
      key,
      message: `${where}: ${key} ${JSON.stringify(value)} cannot be written to cluster.conf (it is empty, has control characters or line breaks, has blanks at either end, or ends in a backslash)`,
      hint: 'fix the value in the source configuration',
    });
  }
  return value;
}

/**
 * Writes clusters in the form ocfs2-tools' strict reader accepts: headers in column 0, attributes
 * as "<TAB>key = value", one blank line after each stanza, exact node_count, no comments.
 * Throws ConfigError if a value cannot be represented (see checkValue).
 */
export function formatClusterConf(clusters: ClusterConfig[]): string {
  const issues: ConfigIssue[] = [];
  const out: string[] = [];
  const stanza = (type: string, attrs: [string, string | number][], where: string) => {
    out.push(`${type}:`);
    for (const [k, v] of attrs) out.push(`\t${k} = ${checkValue(String(v), k, where, issues)}`);
    out.push('');
  };
  for (const c of clusters) {
    const valued = (attrs: readonly O2nmAttribute[], config: ClusterConfig | NodeConfig) =>
      attrs.flatMap((a): [string, string | number][] => {
        const v = configValue(a, config);
        return v === undefined ? [] : [[a.clusterConf!.key, String(v)]];
      });
    stanza('cluster', [['name', c.name], ...valued(CLUSTER_OWN_ATTRS, c), ['node_count', c.nodes.length], ...valued(CLUSTER_EXTENSION_ATTRS, c)], `cluster '${c.name}'`);
    for (const n of c.nodes) {
      stanza('node', [['name', n.name], ['cluster', c.name], ...valued(NODE_ATTRS, n)], `node '${n.name}' of cluster '${c.name}'`);
    }
    for (const r of c.heartbeatRegions) {
      stanza(
        'heartbeat',
        [
          ['region', r],
          ['cluster', c.name],
        ],
        `heartbeat region of cluster '${c.name}'`,
      );
    }
  }
  if (issues.length) throw new ConfigError(issues);
  return out.map((l) => l + '\n').join('');
}
