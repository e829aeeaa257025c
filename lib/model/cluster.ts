// The o2cb cluster model and its validation (pure; no I/O).
// Limits from the kernel's o2nm/o2hb (docs/kernel-interfaces.md#o2nm, #o2hb) and ocfs2-tools' rules.
import { isIPv4 } from './ip.js';
import { ConfigError, MAX_ISSUES, moreIssues, type ConfigIssue, type SourceLoc } from './errors.js';
import { O2NM_ATTRIBUTES, attributeNamed, configValue, displayed, formatWithUnit, kernelDefaultTimeouts, timeoutKey } from './o2nmAttributes.js';

export type HeartbeatMode = 'local' | 'global';
export type FenceMethod = 'reset' | 'panic';

export interface NodeConfig {
  name: string;
  /** 0–254 */
  number: number;
  ipAddress: string;
  /** 1–65534; ocfs2-tools' default is 7777 */
  port: number;
  loc?: SourceLoc;
}

export interface Timeouts {
  /** o2hb iterations of 2 s; a peer is dead after this many missed beats. Kernel default 31. */
  heartbeatDeadThreshold?: number;
  idleTimeoutMs?: number;
  keepaliveDelayMs?: number;
  reconnectDelayMs?: number;
}

export interface ClusterConfig {
  name: string;
  nodes: NodeConfig[];
  heartbeatMode: HeartbeatMode;
  /** Global heartbeat regions: device UUIDs (32 hex). */
  heartbeatRegions: string[];
  timeouts: Timeouts;
  fenceMethod?: FenceMethod;
  loc?: SourceLoc;
}

export const O2NM_MAX_NODES = 255; // numbers 0–254; 255 is the "invalid node" marker
export const O2NM_MAX_NODE_NAME = 64;
export const O2CB_MAX_CLUSTER_NAME = 16;
export const O2NM_MAX_REGIONS = 32;
export const DEFAULT_PORT = 7777;
/** What a new cluster holds before anything is written (the attribute table's defaults). */
export const KERNEL_DEFAULT_TIMEOUTS: Required<Timeouts> = kernelDefaultTimeouts();
const NUM_RANGE = attributeNamed('num')!.range!;
const PORT_RANGE = attributeNamed('ipv4_port')!.range!;

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60000, min: 60000 };

/**
 * Parses a duration to milliseconds: a bare number is taken in `bareUnit` ("30000" with ms,
 * "30" with s); "30s", "2000ms", "1.5s", "2m" carry their unit. Returns undefined if malformed.
 */
export function parseDuration(text: string, bareUnit: 'ms' | 's' = 'ms'): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  if (!m) return undefined;
  const unit = (m[2] || bareUnit).toLowerCase();
  const mult = UNITS[unit];
  if (mult === undefined) return undefined;
  const ms = Math.round(Number(m[1]) * mult);
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/** Heartbeat dead threshold from a count ("31") or a time ("60s": timeout = (threshold − 1) × 2 s). */
export function parseDeadThreshold(text: string): number | undefined {
  if (/^\s*\d+\s*$/.test(text)) return Number(text);
  const ms = parseDuration(text, 's');
  if (ms === undefined) return undefined;
  return Math.ceil(ms / 2000) + 1;
}

export function isValidO2cbClusterName(name: string): boolean {
  return /^[A-Za-z0-9]{1,16}$/.test(name);
}

export function isValidNodeName(name: string): boolean {
  // configfs directory name: no '/', not '.'/'..', ≤ 64 bytes; whitespace breaks cluster.conf;
  // no control byte (a NUL would cut the path the syscall sees: '..\0x' acts on '..')
  return name.length > 0 && Buffer.byteLength(name) <= O2NM_MAX_NODE_NAME && !/[\s/\x00-\x1f\x7f]/.test(name) && name !== '.' && name !== '..';
}

/** All problems with a cluster, each with where it is and how to fix it. Empty when valid. */
export function validateCluster(c: ClusterConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  // past MAX_ISSUES only counted: 44,000 copies of one node in a fuzzed corosync.conf were
  // 130,000 duplicate issues (2 s of the fuzzer's bound)
  let dropped = 0;
  const at = (loc: SourceLoc | undefined, i: Omit<ConfigIssue, keyof SourceLoc>) => {
    if (issues.length < MAX_ISSUES) issues.push({ ...loc, ...i });
    else dropped++;
  };

  if (!isValidO2cbClusterName(c.name)) {
    at(c.loc, {
      code: 'E_CONF_CLUSTER_NAME',
      key: 'cluster.name',
      message: `cluster name '${c.name}' is invalid: it must be 1–16 letters or digits (it is stored in a 16-byte field on disk)`,
      hint: 'choose a name like "ocfs2" or "web01"; it must match the name the volumes were formatted with (tunefs.ocfs2 -Q "%N\\n" DEVICE)',
    });
  }
  if (c.nodes.length === 0) {
    at(c.loc, { code: 'E_CONF_NO_NODES', key: `cluster ${c.name}`, message: `cluster '${c.name}' has no nodes`, hint: 'add one node stanza per cluster member (o2stack node add)' });
  }
  if (c.nodes.length > O2NM_MAX_NODES) {
    at(c.loc, { code: 'E_CONF_TOO_MANY_NODES', key: 'nodes', message: `cluster '${c.name}' has ${c.nodes.length} nodes; o2cb allows at most ${O2NM_MAX_NODES}` });
  }
  const byName = new Map<string, number>();
  const byNumber = new Map<number, number>();
  const byAddr = new Map<string, number>();
  c.nodes.forEach((n, i) => {
    const key = `nodes[${i}]`;
    if (!isValidNodeName(n.name)) {
      at(n.loc, {
        code: 'E_CONF_NODE_NAME',
        key: `${key}.name`,
        message: `node name ${JSON.stringify(n.name)} is invalid: it must be 1–64 bytes with no whitespace, control character or '/'`,
        hint: "use the node's short host name (hostname -s)",
      });
    }
    if (!Number.isInteger(n.number) || n.number < NUM_RANGE.min || n.number > NUM_RANGE.max) {
      at(n.loc, { code: 'E_CONF_NODE_NUMBER', key: `${key}.number`, message: `node '${n.name}': number ${n.number} is out of range ${NUM_RANGE.min}–${NUM_RANGE.max}`, hint: `give each node a distinct number from ${NUM_RANGE.min} to ${NUM_RANGE.max}` });
    }
    if (!isIPv4(n.ipAddress)) {
      const v6 = n.ipAddress.includes(':');
      at(n.loc, {
        code: 'E_CONF_NODE_ADDRESS',
        key: `${key}.ipAddress`,
        message: `node '${n.name}': '${n.ipAddress}' is not an IPv4 address${v6 ? ' (o2net is IPv4 only)' : ''}`,
        hint: 'give the IPv4 address of the interface o2net should use (dotted quad, e.g. 192.0.2.10)',
      });
    }
    if (!Number.isInteger(n.port) || n.port < PORT_RANGE.min || n.port > PORT_RANGE.max) {
      at(n.loc, { code: 'E_CONF_NODE_PORT', key: `${key}.port`, message: `node '${n.name}': port ${n.port} is out of range ${PORT_RANGE.min}–${PORT_RANGE.max}`, hint: `use ${DEFAULT_PORT}, the o2net default` });
    }
    const dupe = (map: Map<string | number, number>, v: string | number, what: string, code: string) => {
      const prev = map.get(v);
      if (prev !== undefined) {
        const other = c.nodes[prev]!;
        const where = other.loc?.line ? ` (line ${other.loc.line})` : '';
        at(n.loc, { code, key: `${key}.${what}`, message: `node '${n.name}': ${what} ${v} is already used by node '${other.name}'${where}`, hint: `every node needs its own ${what}` });
      } else map.set(v, i);
    };
    dupe(byName as Map<string | number, number>, n.name, 'name', 'E_CONF_DUP_NAME');
    dupe(byNumber as Map<string | number, number>, n.number, 'number', 'E_CONF_DUP_NUMBER');
    dupe(byAddr as Map<string | number, number>, n.ipAddress, 'ipAddress', 'E_CONF_DUP_ADDRESS');
  });

  if (c.heartbeatMode !== 'local' && c.heartbeatMode !== 'global') {
    at(c.loc, { code: 'E_CONF_HB_MODE', key: 'cluster.heartbeat_mode', message: `heartbeat mode '${String(c.heartbeatMode)}' is not local or global` });
  }
  if (c.heartbeatRegions.length > O2NM_MAX_REGIONS) {
    at(c.loc, { code: 'E_CONF_TOO_MANY_REGIONS', key: 'heartbeat', message: `${c.heartbeatRegions.length} heartbeat regions; the kernel allows at most ${O2NM_MAX_REGIONS}` });
  }
  const seenRegion = new Set<string>();
  for (const r of c.heartbeatRegions) {
    if (!/^[0-9A-F]{32}$/.test(r)) {
      at(c.loc, { code: 'E_CONF_REGION', key: 'heartbeat.region', message: `heartbeat region '${r}' is not a volume UUID (32 uppercase hex characters)`, hint: 'o2stack volume inspect DEVICE prints the UUID' });
    }
    if (seenRegion.has(r)) at(c.loc, { code: 'E_CONF_DUP_REGION', key: 'heartbeat.region', message: `heartbeat region ${r} is listed twice` });
    seenRegion.add(r);
  }
  // Regions listed in local mode are not an error: o2cb's own workflow adds them before switching
  // the mode (add-heartbeat, then heartbeat-mode global), and local mode ignores them. The
  // cluster.conf reader warns (W_CONF_REGION_LOCAL).

  // the timeouts' ranges, in the summaries' order (dead threshold, idle, keepalive, reconnect)
  for (const a of displayed()) {
    const key = timeoutKey(a);
    const v = configValue(a, c) as number | undefined;
    if (key === undefined || v === undefined || !a.range) continue;
    if (!Number.isInteger(v) || v < a.range.min || v > a.range.max) {
      at(c.loc, { code: 'E_CONF_TIMEOUT', key, message: `${key} = ${v} is out of range ${a.range.min}–${a.range.max}`, ...(a.rangeHint ? { hint: a.rangeHint } : {}) });
    }
  }
  // what must stay below what (keepalive below idle), the kernel default standing in for an unset one
  for (const a of O2NM_ATTRIBUTES) {
    const above = a.below === undefined ? undefined : attributeNamed(a.below);
    if (!above || a.object !== 'cluster' || !a.plan || !above.plan) continue;
    const low = (configValue(a, c) ?? a.default) as number;
    const high = (configValue(above, c) ?? above.default) as number;
    if (low >= high) {
      at(c.loc, {
        code: 'E_CONF_KEEPALIVE',
        key: timeoutKey(a) ?? a.name,
        message: `${a.plan.what} (${formatWithUnit(a, low)}) must be less than the ${above.plan.what} (${formatWithUnit(above, high)})`,
        ...(a.belowHint ? { hint: a.belowHint } : {}),
      });
    }
  }
  if (c.fenceMethod !== undefined && c.fenceMethod !== 'reset' && c.fenceMethod !== 'panic') {
    at(c.loc, { code: 'E_CONF_FENCE', key: 'fenceMethod', message: `fence method '${String(c.fenceMethod)}' is not reset or panic` });
  }
  if (dropped) issues.push(moreIssues('E_CONF_MORE', dropped, 'errors', c.loc?.file));
  return issues;
}

/** Throws a ConfigError listing every problem, or returns the cluster. */
export function assertValidCluster(c: ClusterConfig): ClusterConfig {
  const issues = validateCluster(c);
  if (issues.length) throw new ConfigError(issues);
  return c;
}

/** Chooses the local node: an explicit name, else the node whose name is the host name up to the first dot (case-insensitive). */
export function findLocalNode(c: ClusterConfig, hostnameOrNode: string): NodeConfig | undefined {
  const exact = c.nodes.find((n) => n.name === hostnameOrNode);
  if (exact) return exact;
  const short = hostnameOrNode.split('.')[0]!.toLowerCase();
  return c.nodes.find((n) => n.name.split('.')[0]!.toLowerCase() === short);
}

export function emptyCluster(name: string): ClusterConfig {
  return { name, nodes: [], heartbeatMode: 'local', heartbeatRegions: [], timeouts: {} };
}
