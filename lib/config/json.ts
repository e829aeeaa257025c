// Our JSON cluster format:
//   { "name": "web", "nodes": [{ "name": "n1", "number": 0, "ipAddress": "10.0.0.1", "port": 7777 }],
//     "heartbeatMode"?: "local"|"global", "heartbeatRegions"?: ["<32 hex>"],
//     "timeouts"?: { "heartbeatDeadThreshold"?, "idleTimeoutMs"?, "keepaliveDelayMs"?, "reconnectDelayMs"? },
//     "fenceMethod"?: "reset"|"panic" }
// or { "clusters": [ <cluster>, … ] }. "port" may be left out (7777). Unknown keys are errors, so a
// misspelt key cannot silently fall back to a default. Errors name the path ("nodes[2].port") and
// the line; JSON syntax errors are mapped from JSON.parse's offset to line:column.
import { DEFAULT_PORT, type ClusterConfig, type NodeConfig, type Timeouts } from '../model/cluster.js';
import type { SourceLoc } from '../model/errors.js';
import { attributeNamed, displayed, timeoutKey } from '../model/o2nmAttributes.js';
import { IssueList, makeLoc, stripLoc, type ParseOptions, type ParseResult } from './common.js';

type Pos = { line: number; column: number };

/** Where each line starts: made once per text, so that a position costs a binary search (one scan per node was quadratic). */
function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

/** 1-based line:column of an offset. */
function posOf(starts: number[], offset: number): Pos {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo + 1, column: offset - starts[lo]! + 1 };
}

/** Deeper than any document of this format can be (it has 4 levels): refused, not recursed into. */
export const MAX_JSON_DEPTH = 64;

/**
 * Where values are recorded for the first this many only: a valid document has a few thousand
 * (255 nodes of 5 values per cluster). Past it, an issue names its path without a line; a 3.6 MB
 * array of {} spent 1.4 of its 2 s (the fuzzer's bound) on a map of a million paths.
 */
export const MAX_LOCATED_VALUES = 65_536;

/**
 * Walks JSON text recording where each value starts, by path ('' is the root, then ".key" and
 * "[i]"), and where duplicate keys occur. Returns the offset of the first syntax error instead
 * when the text is not JSON (JSON.parse does not always say where).
 */
function locate(text: string): { locs: Map<string, number>; dupes: { path: string; offset: number }[] } | { errorAt: number; tooDeep?: true } {
  const locs = new Map<string, number>();
  const dupes: { path: string; offset: number }[] = [];
  let i = 0;
  class Bad extends Error {}
  class TooDeep extends Bad {}
  const ws = () => {
    for (let c = text.charCodeAt(i); c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d; c = text.charCodeAt(++i));
  };
  const fail = (): never => {
    throw new Bad();
  };
  const str = () => {
    if (text[i] !== '"') fail();
    const start = i++;
    while (i < text.length && text[i] !== '"') {
      if (text.charCodeAt(i) < 0x20) fail();
      if (text[i] === '\\') {
        i++;
        if (text[i] === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) fail();
          i += 4;
        } else if (!'"\\/bfnrt'.includes(text[i] ?? 'x')) fail();
      }
      i++;
    }
    if (i >= text.length) fail();
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (path: string, depth = 0): void => {
    ws();
    if (depth > MAX_JSON_DEPTH) throw new TooDeep();
    if (locs.size < MAX_LOCATED_VALUES) locs.set(path, i);
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      let seen: Set<string> | undefined; // made at the second key: a MB of {} kept a Set each
      let first: string | undefined;
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        const keyAt = i;
        const k = str();
        const p = `${path === '' ? '' : path + '.'}${k}`;
        if (first === undefined) first = k;
        else {
          seen ??= new Set([first]);
          if (seen.has(k)) dupes.push({ path: p, offset: keyAt });
          seen.add(k);
        }
        ws();
        if (text[i++] !== ':') fail();
        value(p, depth + 1);
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') {
          i++;
          return;
        } else fail();
      }
    } else if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (let n = 0; ; n++) {
        value(`${path}[${n}]`, depth + 1);
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') {
          i++;
          return;
        } else fail();
      }
    } else if (c === '"') str();
    else {
      const m = /^(?:true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(text.slice(i, i + 400));
      if (!m) fail();
      i += m![0].length;
    }
  };
  try {
    value('');
    ws();
    if (i < text.length) fail();
  } catch (e) {
    if (e instanceof TooDeep) return { errorAt: i, tooDeep: true };
    if (e instanceof Bad) return { errorAt: i };
    throw e;
  }
  return { locs, dupes };
}

const CLUSTER_KEYS = ['name', 'nodes', 'heartbeatMode', 'heartbeatRegions', 'timeouts', 'fenceMethod'];
const NODE_KEYS = ['name', 'number', 'ipAddress', 'port'];
/** The timeouts (attribute table), in the summaries' order; their value hints */
const TIMEOUT_ATTRS = displayed().filter((a) => timeoutKey(a) !== undefined);
const TIMEOUT_KEYS: (keyof Timeouts)[] = TIMEOUT_ATTRS.map((a) => timeoutKey(a)!);
/** the table's values of an enum attribute ("reset" or "panic") */
const ENUM_VALUES = (name: string) => attributeNamed(name)!.values!;
const oneOf = (values: readonly string[]) => values.map((v) => JSON.stringify(v)).join(' or ');

const describe = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'string' ? `${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)} (a string)` : typeof v === 'object' ? 'an object' : `${String(v)} (a ${typeof v})`);

/** Parses our JSON format. Throws ConfigError listing every problem with its path and line. */
export function parseJsonConfig(text: string, opts: ParseOptions = {}): ParseResult {
  const issues = new IssueList(opts.file);
  const body = text.replace(/^\uFEFF/, '');
  const starts = lineStarts(body);
  // the structure first: a document nested deeper than the format allows is refused before any
  // recursion (JSON.parse's or ours) could exhaust the stack
  const found = locate(body);
  if ('tooDeep' in found) {
    issues.error(posOf(starts, found.errorAt), { code: 'E_JSON_DEPTH', message: `nested more than ${MAX_JSON_DEPTH} levels deep (this format has 4)`, hint: 'give the cluster configuration, not another JSON document' });
    issues.throwIfErrors();
  }
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch (e) {
    const msg = (e as Error).message;
    const at = /at position (\d+)/.exec(msg);
    const offset = at ? Number(at[1]) : 'errorAt' in found ? found.errorAt : body.length;
    const clean = msg.replace(/ in JSON at position \d+.*$/, '').replace(/, (?:\.\.\.)?".*"(?:\.\.\.)? is not valid JSON$/s, '');
    issues.error(posOf(starts, offset), { code: 'E_JSON_SYNTAX', message: `not valid JSON: ${clean}`, hint: 'fix the JSON syntax (no comments or trailing commas; keys in double quotes)' });
    issues.throwIfErrors();
  }
  const locs = 'locs' in found ? found.locs : new Map<string, number>();
  const at = (path: string): Pos | undefined => {
    const o = locs.get(path);
    return o === undefined ? undefined : posOf(starts, o);
  };
  const loc = (path: string): SourceLoc => {
    const p = at(path) ?? { line: 1, column: 1 };
    return makeLoc(opts.file, p.line, p.column);
  };
  if ('dupes' in found) {
    for (const d of found.dupes) {
      issues.warn(posOf(starts, d.offset), { code: 'W_JSON_DUP_KEY', key: d.path, message: `${d.path}: the key appears twice in its object; the last value is used`, hint: 'remove one of them' });
    }
  }
  const err = (path: string, message: string, hint?: string) => issues.error(at(path), { code: 'E_JSON_SCHEMA', key: path || '(root)', message: `${path || '(root)'}: ${message}`, ...(hint ? { hint } : {}) });
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const unknownKeys = (o: Record<string, unknown>, allowed: string[], path: string) => {
    for (const k of Object.keys(o)) {
      if (!allowed.includes(k)) {
        const close = allowed.find((a) => a.toLowerCase() === k.toLowerCase().replace(/_/g, ''));
        err(`${path ? path + '.' : ''}${k}`, 'unknown key', close ? `did you mean '${close}'?` : `allowed keys: ${allowed.join(', ')}`);
      }
    }
  };
  const int = (v: unknown, path: string, hint: string): number | undefined => {
    if (typeof v === 'number' && Number.isInteger(v)) return v;
    err(path, `expected an integer, got ${describe(v)}`, hint);
    return undefined;
  };
  const string = (v: unknown, path: string, hint: string): string | undefined => {
    if (typeof v === 'string') return v;
    err(path, `expected a string, got ${describe(v)}`, hint);
    return undefined;
  };

  const cluster = (v: unknown, path: string): ClusterConfig | undefined => {
    const p = (k: string) => (path ? `${path}.${k}` : k);
    if (!isObj(v)) {
      err(path, `expected a cluster object, got ${describe(v)}`, 'a cluster is {"name": …, "nodes": [ … ]}');
      return undefined;
    }
    unknownKeys(v, CLUSTER_KEYS, path);
    let ok = true;
    if (!('name' in v)) {
      err(path, "missing 'name'", 'add "name": the cluster name (1–16 letters or digits)');
      ok = false;
    }
    const name = 'name' in v ? string(v.name, p('name'), 'the cluster name, e.g. "ocfs2"') : undefined;
    const nodes: NodeConfig[] = [];
    if (!('nodes' in v)) {
      err(path, "missing 'nodes'", 'add "nodes": [{"name", "number", "ipAddress", "port"}, …]');
      ok = false;
    } else if (!Array.isArray(v.nodes)) {
      err(p('nodes'), `expected an array, got ${describe(v.nodes)}`);
      ok = false;
    } else {
      v.nodes.forEach((n, i) => {
        const np = `${p('nodes')}[${i}]`;
        if (!isObj(n)) {
          err(np, `expected a node object, got ${describe(n)}`, 'a node is {"name", "number", "ipAddress", "port"}');
          ok = false;
          return;
        }
        unknownKeys(n, NODE_KEYS, np);
        for (const k of ['name', 'number', 'ipAddress']) {
          if (!(k in n)) {
            err(np, `missing '${k}'`);
            ok = false;
          }
        }
        const nn = 'name' in n ? string(n.name, `${np}.name`, "the node's short host name") : undefined;
        const num = 'number' in n ? int(n.number, `${np}.number`, 'a node number from 0 to 254') : undefined;
        const ip = 'ipAddress' in n ? string(n.ipAddress, `${np}.ipAddress`, 'an IPv4 address, e.g. "192.0.2.10"') : undefined;
        const port = 'port' in n ? int(n.port, `${np}.port`, `a TCP port; the default is ${DEFAULT_PORT}`) : DEFAULT_PORT;
        if (nn === undefined || num === undefined || ip === undefined || port === undefined) {
          ok = false;
          return;
        }
        nodes.push({ name: nn, number: num, ipAddress: ip, port, loc: loc(np) });
      });
    }
    const c: ClusterConfig = { name: name ?? '', nodes, heartbeatMode: 'local', heartbeatRegions: [], timeouts: {}, loc: loc(path) };
    if ('heartbeatMode' in v) {
      const modes = ENUM_VALUES('mode');
      if (modes.includes(v.heartbeatMode as string)) c.heartbeatMode = v.heartbeatMode as ClusterConfig['heartbeatMode'];
      else {
        err(p('heartbeatMode'), `expected ${oneOf(modes)}, got ${describe(v.heartbeatMode)}`);
        ok = false;
      }
    }
    if ('heartbeatRegions' in v) {
      if (!Array.isArray(v.heartbeatRegions)) {
        err(p('heartbeatRegions'), `expected an array of volume UUIDs, got ${describe(v.heartbeatRegions)}`);
        ok = false;
      } else {
        v.heartbeatRegions.forEach((r, i) => {
          const s = string(r, `${p('heartbeatRegions')}[${i}]`, 'a volume UUID: 32 hex digits');
          if (s === undefined) ok = false;
          else c.heartbeatRegions.push(s);
        });
      }
    }
    if ('timeouts' in v) {
      const t = v.timeouts;
      if (!isObj(t)) {
        err(p('timeouts'), `expected an object, got ${describe(t)}`, `keys: ${TIMEOUT_KEYS.join(', ')}`);
        ok = false;
      } else {
        unknownKeys(t, TIMEOUT_KEYS, p('timeouts'));
        for (const a of TIMEOUT_ATTRS) {
          const k = timeoutKey(a)!;
          if (!(k in t)) continue;
          const n = int(t[k], `${p('timeouts')}.${k}`, a.valueHint ?? 'a number');
          if (n === undefined) ok = false;
          else c.timeouts[k] = n;
        }
      }
    }
    if ('fenceMethod' in v) {
      const methods = ENUM_VALUES('fence_method');
      if (methods.includes(v.fenceMethod as string)) c.fenceMethod = v.fenceMethod as ClusterConfig['fenceMethod'];
      else {
        err(p('fenceMethod'), `expected ${oneOf(methods)}, got ${describe(v.fenceMethod)}`);
        ok = false;
      }
    }
    return ok && name !== undefined ? c : undefined;
  };

  const clusters: ClusterConfig[] = [];
  if (isObj(doc) && 'clusters' in doc) {
    unknownKeys(doc, ['clusters'], '');
    if (!Array.isArray(doc.clusters)) err('clusters', `expected an array of clusters, got ${describe(doc.clusters)}`);
    else {
      doc.clusters.forEach((c, i) => {
        const got = cluster(c, `clusters[${i}]`);
        if (got) clusters.push(got);
      });
    }
  } else {
    const got = cluster(doc, '');
    if (got) clusters.push(got);
  }
  issues.throwIfErrors();
  return { clusters, warnings: issues.warnings };
}

/** The JSON form of one cluster: the model without source locations, in a fixed key order. */
export function clusterToJson(c: ClusterConfig): Record<string, unknown> {
  const s = stripLoc(c);
  const out: Record<string, unknown> = { name: s.name, nodes: s.nodes, heartbeatMode: s.heartbeatMode, heartbeatRegions: s.heartbeatRegions, timeouts: s.timeouts };
  if (s.fenceMethod !== undefined) out.fenceMethod = s.fenceMethod;
  return out;
}

/** Our JSON format: a cluster object, or {clusters: [...]} when there are several (or none). */
export function formatJsonConfig(clusters: ClusterConfig[]): string {
  const doc = clusters.length === 1 ? clusterToJson(clusters[0]!) : { clusters: clusters.map(clusterToJson) };
  return JSON.stringify(doc, null, 2) + '\n';
}
