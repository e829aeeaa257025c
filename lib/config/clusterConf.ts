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
// The writer emits them as plain numbers (ms, count) so they stay unambiguous.
import { parseDeadThreshold, parseDuration, type ClusterConfig, type FenceMethod, type HeartbeatMode, type NodeConfig, type Timeouts } from '../model/cluster.js';
import { ConfigError, type ConfigIssue } from '../model/errors.js';
import { IssueList, makeLoc, quoteLine, type ParseOptions, type ParseResult } from './common.js';

type StanzaType = 'cluster' | 'node' | 'heartbeat';

const KNOWN_KEYS: Record<StanzaType, readonly string[]> = {
  cluster: ['name', 'node_count', 'heartbeat_mode'],
  node: ['name', 'cluster', 'number', 'ip_address', 'ip_port'],
  heartbeat: ['region', 'cluster'],
};

/** Our extension keys in the cluster stanza, with their model field. */
export const CLUSTER_CONF_EXTENSION_KEYS = {
  idle_timeout_ms: 'timeouts.idleTimeoutMs',
  keepalive_delay_ms: 'timeouts.keepaliveDelayMs',
  reconnect_delay_ms: 'timeouts.reconnectDelayMs',
  heartbeat_dead_threshold: 'timeouts.heartbeatDeadThreshold',
  fence_method: 'fenceMethod',
} as const;

interface Attr {
  value: string;
  line: number;
  text: string;
}

interface Stanza {
  type: string;
  line: number;
  attrs: Map<string, Attr>;
}

const HEADER = /^([A-Za-z0-9_]+)[ \t]*:[ \t]*$/;
const ATTRIBUTE = /^([A-Za-z0-9_]+)[ \t]*=(.*)$/;

/** Splits the text into stanzas; lexical errors are collected in `issues`. */
function lex(text: string, issues: IssueList): Stanza[] {
  const stanzas: Stanza[] = [];
  let current: Stanza | undefined;
  let skipping = false; // inside an unknown stanza type (already warned)
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/);
  lines.forEach((raw, i) => {
    const line = i + 1;
    const t = raw.trim();
    if (t === '' || t.startsWith('#')) return; // blank lines do not end a stanza here (they do in ocfs2-tools)
    const h = HEADER.exec(t);
    if (h) {
      const type = h[1]!;
      if (type === 'cluster' || type === 'node' || type === 'heartbeat') {
        current = { type, line, attrs: new Map() };
        stanzas.push(current);
        skipping = false;
      } else {
        issues.warn(line, {
          code: 'W_CONF_UNKNOWN_STANZA',
          key: type,
          message: `unknown stanza type '${type}' in ${quoteLine(raw)}; it and its attributes are ignored`,
          hint: 'the stanza types are cluster:, node: and heartbeat:',
        });
        current = undefined;
        skipping = true;
      }
      return;
    }
    const a = ATTRIBUTE.exec(t);
    if (a) {
      if (skipping) return;
      if (!current) {
        issues.error(line, {
          code: 'E_CONF_SYNTAX',
          key: a[1],
          message: `attribute before any stanza header: ${quoteLine(raw)}`,
          hint: 'put a "cluster:", "node:" or "heartbeat:" line above it',
        });
        return;
      }
      const key = a[1]!;
      const value = a[2]!.trim();
      const prev = current.attrs.get(key);
      if (prev) {
        issues.warn(line, {
          code: 'W_CONF_DUP_KEY',
          key,
          message: `'${key}' is set twice in the ${current.type} stanza at line ${current.line} (line ${prev.line} and line ${line}); the last value, '${value}', is used`,
          hint: `remove one of the two ${key} lines`,
        });
      }
      current.attrs.set(key, { value, line, text: raw });
      return;
    }
    const looksLikeColon = /^[A-Za-z0-9_]+[ \t]*:/.test(t);
    issues.error(line, {
      code: 'E_CONF_SYNTAX',
      message: `cannot parse ${quoteLine(raw)}: expected a stanza header ("node:") or an attribute ("name = value")`,
      hint: looksLikeColon ? 'a stanza header has nothing after the colon; attributes use "=", not ":"' : 'write attributes as "key = value" under a stanza header; comments start with #',
    });
  });
  return stanzas;
}

function decimal(attr: Attr | undefined, key: string, what: string, issues: IssueList): number | undefined {
  if (!attr) return undefined;
  if (!/^\d+$/.test(attr.value)) {
    issues.error(attr.line, { code: 'E_CONF_NUMBER', key, message: `${what} must be a non-negative decimal integer: ${quoteLine(attr.text)}`, hint: `write e.g. "${key} = 1"` });
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
    for (const [key, attr] of s.attrs) {
      if (known.includes(key)) continue;
      const close = known.find((k) => k.toLowerCase() === key.toLowerCase());
      issues.warn(attr.line, {
        code: 'W_CONF_UNKNOWN_KEY',
        key: `${s.type}.${key}`,
        message: `unknown key '${key}' in the ${s.type} stanza at line ${s.line} is ignored: ${quoteLine(attr.text)}`,
        hint: close ? `keys are case-sensitive: did you mean '${close}'?` : `known ${s.type} keys: ${known.join(', ')}`,
      });
    }
  };
  const missing = (s: Stanza, key: string, hint: string) =>
    issues.error(s.line, { code: 'E_CONF_MISSING_KEY', key: `${s.type}.${key}`, message: `the ${s.type} stanza at line ${s.line} has no '${key}'`, hint });

  for (const s of stanzas) {
    const loc = makeLoc(opts.file, s.line);
    const get = (k: string) => s.attrs.get(k);
    if (s.type === 'cluster') {
      warnUnknown(s, [...KNOWN_KEYS.cluster, ...Object.keys(CLUSTER_CONF_EXTENSION_KEYS)]);
      const name = get('name');
      if (!name || name.value === '') {
        missing(s, 'name', 'add "name = NAME" (1–16 letters or digits)');
        continue;
      }
      const c: ClusterConfig = { name: name.value, nodes: [], heartbeatMode: 'local', heartbeatRegions: [], timeouts: {}, loc };
      const mode = get('heartbeat_mode');
      if (mode) {
        const m = mode.value.toLowerCase();
        if (m === 'local' || m === 'global') c.heartbeatMode = m as HeartbeatMode;
        else issues.error(mode.line, { code: 'E_CONF_HB_MODE', key: 'cluster.heartbeat_mode', message: `heartbeat_mode must be local or global: ${quoteLine(mode.text)}`, hint: 'write "heartbeat_mode = local" (or global with heartbeat: stanzas)' });
      }
      const count = get('node_count');
      if (count) {
        const n = decimal(count, 'node_count', 'node_count', issues);
        if (n !== undefined) declaredCount.set(c, { count: n, line: count.line });
      } else {
        issues.warn(s.line, {
          code: 'W_CONF_NO_NODE_COUNT',
          key: 'cluster.node_count',
          message: `the cluster stanza for '${c.name}' has no node_count; ocfs2-tools refuses to load such a file`,
          hint: 'add "node_count = N" (o2stack config convert --to ocfs2 writes it for you)',
        });
      }
      const timeouts: Timeouts = {};
      const dur = (key: 'idle_timeout_ms' | 'keepalive_delay_ms' | 'reconnect_delay_ms', field: keyof Timeouts) => {
        const a = get(key);
        if (!a) return;
        const ms = parseDuration(a.value, 'ms');
        if (ms === undefined) issues.error(a.line, { code: 'E_CONF_DURATION', key: `cluster.${key}`, message: `${key} is not a duration: ${quoteLine(a.text)}`, hint: 'write milliseconds ("30000") or a number with a unit ("30s", "2000ms")' });
        else timeouts[field] = ms;
      };
      dur('idle_timeout_ms', 'idleTimeoutMs');
      dur('keepalive_delay_ms', 'keepaliveDelayMs');
      dur('reconnect_delay_ms', 'reconnectDelayMs');
      const dt = get('heartbeat_dead_threshold');
      if (dt) {
        const v = parseDeadThreshold(dt.value);
        if (v === undefined) issues.error(dt.line, { code: 'E_CONF_DURATION', key: 'cluster.heartbeat_dead_threshold', message: `heartbeat_dead_threshold is neither a count nor a time: ${quoteLine(dt.text)}`, hint: 'write a count of 2-second beats ("31") or a time ("60s")' });
        else timeouts.heartbeatDeadThreshold = v;
      }
      c.timeouts = timeouts;
      const fence = get('fence_method');
      if (fence) {
        const f = fence.value.toLowerCase();
        if (f === 'reset' || f === 'panic') c.fenceMethod = f as FenceMethod;
        else issues.error(fence.line, { code: 'E_CONF_FENCE', key: 'cluster.fence_method', message: `fence_method must be reset or panic: ${quoteLine(fence.text)}`, hint: 'reset reboots a fenced node at once; panic panics it (useful to get a crash dump)' });
      }
      const prev = byName.get(c.name);
      if (prev) {
        issues.error(s.line, { code: 'E_CONF_DUP_CLUSTER', key: 'cluster.name', message: `cluster '${c.name}' is defined twice (lines ${prev.loc?.line} and ${s.line})`, hint: 'merge the two cluster stanzas into one' });
        continue;
      }
      byName.set(c.name, c);
      clusters.push(c);
    } else if (s.type === 'node') {
      warnUnknown(s, KNOWN_KEYS.node);
      const name = get('name');
      const number = decimal(get('number'), 'number', 'number', issues);
      const ip = get('ip_address');
      const portAttr = get('ip_port');
      const port = decimal(portAttr, 'ip_port', 'ip_port', issues);
      let ok = true;
      if (!name || name.value === '') {
        missing(s, 'name', 'add "name = HOST" (the short host name of the node)');
        ok = false;
      }
      if (!get('number')) {
        missing(s, 'number', 'add "number = N" (0–254, distinct per node)');
        ok = false;
      }
      if (!ip || ip.value === '') {
        missing(s, 'ip_address', 'add "ip_address = A.B.C.D" (the IPv4 address o2net uses)');
        ok = false;
      }
      if (!portAttr) {
        issues.warn(s.line, { code: 'W_CONF_NO_PORT', key: 'node.ip_port', message: `the node stanza at line ${s.line} has no ip_port; 7777 is used`, hint: 'add "ip_port = 7777" (ocfs2-tools refuses a node without it)' });
      }
      if (!ok || number === undefined || (portAttr && port === undefined)) {
        attach.push({ stanza: s });
        continue;
      }
      attach.push({ stanza: s, node: { name: name!.value, number, ipAddress: ip!.value, port: port ?? 7777, loc } });
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
    const cl = s.attrs.get('cluster');
    if (!cl || cl.value === '') {
      const only = clusters.length === 1 ? clusters[0]!.name : 'NAME';
      missing(s, 'cluster', `add "cluster = ${only}" (the name of the cluster stanza it belongs to)`);
      continue;
    }
    const c = byName.get(cl.value);
    if (!c) {
      const names = [...byName.keys()];
      issues.error(cl.line, {
        code: 'E_CONF_UNKNOWN_CLUSTER',
        key: `${s.type}.cluster`,
        message: `the ${s.type} stanza at line ${s.line} names cluster '${cl.value}', which has no cluster stanza: ${quoteLine(cl.text)}`,
        hint: names.length ? `use one of: ${names.join(', ')} (or add a cluster stanza named ${cl.value})` : `add a cluster stanza with "name = ${cl.value}"`,
      });
      continue;
    }
    if (node) c.nodes.push(node);
    if (region !== undefined) c.heartbeatRegions.push(region);
  }

  for (const c of clusters) {
    if (c.heartbeatMode === 'local' && c.heartbeatRegions.length > 0) {
      issues.warn(c.loc?.line, {
        code: 'W_CONF_REGION_LOCAL',
        key: 'heartbeat.region',
        message: `cluster '${c.name}' lists ${c.heartbeatRegions.length} heartbeat region(s) but heartbeat_mode is local: they are not used`,
        hint: `set heartbeat_mode = global (o2stack o2cb heartbeat-mode ${c.name} global), or remove the heartbeat stanzas`,
      });
    }
    const d = declaredCount.get(c);
    if (d && d.count !== c.nodes.length) {
      issues.warn(d.line, {
        code: 'W_CONF_NODE_COUNT',
        key: 'cluster.node_count',
        message: `cluster '${c.name}' says node_count = ${d.count} but ${c.nodes.length} node stanza${c.nodes.length === 1 ? '' : 's'} name it; ocfs2-tools would trust node_count`,
        hint: `set "node_count = ${c.nodes.length}"`,
      });
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
    const name = s.attrs.get('name')?.value;
    if (!name) continue;
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
    const attrs: [string, string | number][] = [
      ['name', c.name],
      ['heartbeat_mode', c.heartbeatMode],
      ['node_count', c.nodes.length],
    ];
    const t = c.timeouts;
    if (t.idleTimeoutMs !== undefined) attrs.push(['idle_timeout_ms', t.idleTimeoutMs]);
    if (t.keepaliveDelayMs !== undefined) attrs.push(['keepalive_delay_ms', t.keepaliveDelayMs]);
    if (t.reconnectDelayMs !== undefined) attrs.push(['reconnect_delay_ms', t.reconnectDelayMs]);
    if (t.heartbeatDeadThreshold !== undefined) attrs.push(['heartbeat_dead_threshold', t.heartbeatDeadThreshold]);
    if (c.fenceMethod !== undefined) attrs.push(['fence_method', c.fenceMethod]);
    stanza('cluster', attrs, `cluster '${c.name}'`);
    for (const n of c.nodes) {
      stanza(
        'node',
        [
          ['name', n.name],
          ['cluster', c.name],
          ['number', n.number],
          ['ip_address', n.ipAddress],
          ['ip_port', n.port],
        ],
        `node '${n.name}' of cluster '${c.name}'`,
      );
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
