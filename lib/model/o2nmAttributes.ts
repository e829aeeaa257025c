// The o2nm/o2hb configfs attributes, declared once. The reader (lib/kernel/o2nm.ts), the planner
// (o2nmPlan.ts), the simulator (lib/kernel/sim.ts), the refusal hints (hints.ts), cluster
// validation (cluster.ts), both configuration formats (lib/config/clusterConf.ts, o2cbDefaults.ts,
// o2cbStartup.ts) and the summaries of `show` and `config check` walk this table instead of
// keeping their own lists. Pure data and pure helpers; no I/O.
//
// Kernel facts (docs/kernel-interfaces.md#o2nm, #o2hb; Debian 6.1):
// - every store parses its value with strtoul-like rules and accepts a trailing "\n";
// - a node's ipv4_port, ipv4_address and num are write-once; num needs port and address first,
//   `local` needs all three (and starts the o2net listener);
// - keepalive_delay_ms < idle_timeout_ms is checked on every store of either;
// - heartbeat/dead_threshold and heartbeat/mode are module-wide and silently ignored while any
//   region exists.
import type { ClusterConfig, NodeConfig, Timeouts } from './cluster.js';
import type { O2hbRegionState, O2nmClusterState, O2nmNodeState } from './o2nmState.js';

/** Which configfs directory holds the attribute: the cluster's, its heartbeat/, a node's, a region's. */
export type O2nmObject = 'cluster' | 'heartbeat' | 'node' | 'region';

/** How the value is read, written and validated. */
export type O2nmUnit = 'ms' | 'count' | 'ipv4' | 'port' | 'bool' | 'enum' | 'text';

export type O2nmValue = number | string | boolean;

/** Where an attribute's value lives in the configuration model: ClusterConfig (cluster, heartbeat) or NodeConfig (node). */
export type ClusterConfigKey = 'fenceMethod' | 'heartbeatMode' | `timeouts.${keyof Timeouts}`;
export type NodeConfigKey = Exclude<keyof NodeConfig, 'name' | 'loc'>;

/** The o2cb defaults file (/etc/default/o2cb) variable of an attribute. */
export interface O2cbDefaultsVariable {
  variable: string;
  /** its field in O2cbDefaults */
  field: string;
  /** the minimum o2cb's init script `configure` enforces */
  min: number;
  /** the init script's default, as written in the file */
  default: string;
  /** what it is, in `o2stack configure`'s option help (else the variable name alone) */
  meaning?: string;
  /** the help says an empty value means the kernel's default */
  emptyNote?: boolean;
}

/** The attribute in ocfs2's cluster.conf. */
export interface ClusterConfEntry {
  /** the key in the cluster (or node) stanza */
  key: string;
  /** our extension key (ocfs2-tools ignores it), not one of ocfs2-tools' own */
  extension: boolean;
  /** how the text is read: a duration (bare = ms), a count or a time (dead threshold), one of `values`, a decimal */
  syntax?: 'duration' | 'count-or-time' | 'enum';
  /** the parse error's code, and the fix it suggests */
  errorCode?: string;
  errorHint?: string;
}

export interface PlanEntry {
  /** what the step's explanation calls it ("idle timeout") */
  what: string;
  /** the explanation shows "current → new" rather than just the new value */
  showChange?: boolean;
  /**
   * On a cluster this plan creates: 'unless-default' skips a value equal to the default (the new
   * directory holds it); 'always' writes it (heartbeat settings are module-wide, so a new cluster
   * does not reset them; fence_method has always been written).
   */
  onNewCluster: 'unless-default' | 'always';
  /** a condition under which the kernel may still refuse the write */
  caveat?: string;
  /** the blocker's code when the attribute cannot change now (ignoredWhileRegions) */
  blockedCode?: string;
}

interface AttributeBase {
  /** the configfs file name */
  name: string;
  unit: O2nmUnit;
  /** enum: the values the kernel takes */
  values?: readonly string[];
  /** what the kernel reads back before anything is written (a new cluster, an unset node attribute) */
  default: O2nmValue;
  /**
   * an unset value cannot be told from a set one by reading (num: 0 is a valid number), so a read
   * proves nothing about it
   */
  unsetAmbiguous?: boolean;
  /** the kernel refuses a second write (EBUSY): changing it means removing the node and adding it again */
  writeOnce?: boolean;
  /** the kernel refuses a write (EINVAL) until these attributes of the same object are set */
  requires?: readonly string[];
  /** the order of writes within the object (lower first); absent: never written by the planner's attribute pass */
  writeOrder?: number;
  /** must stay below this attribute of the same object after every write (EINVAL otherwise) */
  below?: string;
  /** why, for a configuration that breaks it */
  belowHint?: string;
  /** another node may not hold the same value (EEXIST) */
  unique?: boolean;
  /** refused (EINVAL) while o2net peers are connected, unless unchanged */
  fixedWhileConnected?: boolean;
  /** the kernel accepts the write and ignores it while any heartbeat region exists */
  ignoredWhileRegions?: boolean;
  /** o2hb matches a prefix of a value's name ("g" is global), case-insensitive, with or without "\n" */
  prefixMatch?: boolean;
  /** the valid range (inclusive), as the kernel and ocfs2-tools take it */
  range?: { min: number; max: number };
  /** the fix suggested when the configuration's value is out of range */
  rangeHint?: string;
  /** what a value is, for a configuration value of the wrong type ("milliseconds, e.g. 30000") */
  valueHint?: string;
  /** errno name → what to do when the kernel refuses a write with it */
  hints?: Readonly<Partial<Record<string, string>>>;
  plan?: PlanEntry;
  /** the one-line summaries of `show` and `config check`: label and position */
  display?: { label: string; order: number };
  clusterConf?: ClusterConfEntry;
  o2cbDefaults?: O2cbDefaultsVariable;
  /** 0 reads as "absent" in the state (a region's pid before heartbeat starts) */
  zeroIsAbsent?: boolean;
}

export type O2nmAttribute =
  | (AttributeBase & { object: 'cluster'; stateKey: Exclude<keyof O2nmClusterState, 'name' | 'nodes' | 'heartbeat'>; configKey?: ClusterConfigKey })
  | (AttributeBase & { object: 'heartbeat'; stateKey: Exclude<keyof O2nmClusterState['heartbeat'], 'regions'>; configKey?: ClusterConfigKey })
  | (AttributeBase & { object: 'node'; stateKey: Exclude<keyof O2nmNodeState, 'name'>; configKey?: NodeConfigKey })
  | (AttributeBase & { object: 'region'; stateKey: Exclude<keyof O2hbRegionState, 'name'>; configKey?: undefined });

const U32_MAX_VALUE = 0xffffffff - 1; // the kernel stores these in 32 bits and refuses (ERANGE) 0xffffffff and up
const O2NET_FIXED = 'the kernel refuses (EINVAL) while o2net peers are connected';
const TIMEOUT_EINVAL = 'keepalive_delay_ms must stay below idle_timeout_ms, and neither can change while o2net peers are connected: change them on all nodes while the cluster is stopped';
const GEOMETRY_FIXED = 'region geometry cannot change once heartbeat has started';
const DURATION_HINT = 'write milliseconds ("30000") or a number with a unit ("30s", "2000ms")';

/**
 * Declaration order is cluster.conf's order (and the order of its parse errors); writeOrder is the
 * kernel's; display.order is the summaries'.
 */
export const O2NM_ATTRIBUTES: readonly O2nmAttribute[] = [
  {
    name: 'mode',
    object: 'heartbeat',
    stateKey: 'mode',
    configKey: 'heartbeatMode',
    unit: 'enum',
    values: ['local', 'global'],
    default: 'local',
    prefixMatch: true,
    ignoredWhileRegions: true,
    writeOrder: 6,
    hints: { EINVAL: 'heartbeat mode is "local" or "global"' },
    plan: { what: 'heartbeat mode', onNewCluster: 'always', blockedCode: 'E_PLAN_HB_MODE_LIVE' },
    clusterConf: { key: 'heartbeat_mode', extension: false, syntax: 'enum', errorCode: 'E_CONF_HB_MODE', errorHint: 'write "heartbeat_mode = local" (or global with heartbeat: stanzas)' },
  },
  {
    name: 'idle_timeout_ms',
    object: 'cluster',
    stateKey: 'idleTimeoutMs',
    configKey: 'timeouts.idleTimeoutMs',
    unit: 'ms',
    default: 30000,
    fixedWhileConnected: true,
    writeOrder: 3,
    range: { min: 1, max: U32_MAX_VALUE },
    rangeHint: 'the default is 30000 ms',
    valueHint: 'milliseconds, e.g. 30000',
    hints: { EINVAL: TIMEOUT_EINVAL, ERANGE: 'the value must be below 4294967295' },
    plan: { what: 'idle timeout', showChange: true, onNewCluster: 'unless-default', caveat: O2NET_FIXED },
    display: { label: 'idle', order: 2 },
    clusterConf: { key: 'idle_timeout_ms', extension: true, syntax: 'duration', errorCode: 'E_CONF_DURATION', errorHint: DURATION_HINT },
    o2cbDefaults: { variable: 'O2CB_IDLE_TIMEOUT_MS', field: 'idleTimeoutMs', min: 5000, default: '30000' },
  },
  {
    name: 'keepalive_delay_ms',
    object: 'cluster',
    stateKey: 'keepaliveDelayMs',
    configKey: 'timeouts.keepaliveDelayMs',
    unit: 'ms',
    default: 2000,
    below: 'idle_timeout_ms',
    belowHint: 'o2net drops a connection that is idle for the idle timeout; keepalives must come sooner',
    fixedWhileConnected: true,
    writeOrder: 4,
    range: { min: 1, max: U32_MAX_VALUE },
    rangeHint: 'the default is 2000 ms',
    valueHint: 'milliseconds, e.g. 30000',
    hints: { EINVAL: TIMEOUT_EINVAL, ERANGE: 'the value must be below 4294967295' },
    plan: { what: 'keepalive delay', showChange: true, onNewCluster: 'unless-default', caveat: O2NET_FIXED },
    display: { label: 'keepalive', order: 3 },
    clusterConf: { key: 'keepalive_delay_ms', extension: true, syntax: 'duration', errorCode: 'E_CONF_DURATION', errorHint: DURATION_HINT },
    o2cbDefaults: { variable: 'O2CB_KEEPALIVE_DELAY_MS', field: 'keepaliveDelayMs', min: 1000, default: '2000' },
  },
  {
    name: 'reconnect_delay_ms',
    object: 'cluster',
    stateKey: 'reconnectDelayMs',
    configKey: 'timeouts.reconnectDelayMs',
    unit: 'ms',
    default: 2000,
    writeOrder: 2,
    range: { min: 1, max: U32_MAX_VALUE },
    rangeHint: 'the default is 2000 ms',
    valueHint: 'milliseconds, e.g. 30000',
    plan: { what: 'reconnect delay', onNewCluster: 'unless-default' },
    display: { label: 'reconnect', order: 4 },
    clusterConf: { key: 'reconnect_delay_ms', extension: true, syntax: 'duration', errorCode: 'E_CONF_DURATION', errorHint: DURATION_HINT },
    o2cbDefaults: { variable: 'O2CB_RECONNECT_DELAY_MS', field: 'reconnectDelayMs', min: 2000, default: '2000' },
  },
  {
    name: 'dead_threshold',
    object: 'heartbeat',
    stateKey: 'deadThreshold',
    configKey: 'timeouts.heartbeatDeadThreshold',
    unit: 'count',
    default: 31,
    ignoredWhileRegions: true,
    writeOrder: 5,
    // the kernel ignores values ≤ 2
    range: { min: 3, max: U32_MAX_VALUE },
    rangeHint: 'the kernel ignores values ≤ 2; ocfs2-tools requires ≥ 7 (timeout = (value − 1) × 2 s); the default is 31',
    valueHint: 'a count of 2-second heartbeats, e.g. 31',
    plan: { what: 'heartbeat dead threshold', onNewCluster: 'always', blockedCode: 'E_PLAN_HB_THRESHOLD_LIVE' },
    display: { label: 'dead threshold', order: 1 },
    clusterConf: { key: 'heartbeat_dead_threshold', extension: true, syntax: 'count-or-time', errorCode: 'E_CONF_DURATION', errorHint: 'write a count of 2-second beats ("31") or a time ("60s")' },
    o2cbDefaults: { variable: 'O2CB_HEARTBEAT_THRESHOLD', field: 'heartbeatThreshold', min: 7, default: '31', meaning: 'dead threshold in 2-second beats', emptyNote: true },
  },
  {
    name: 'fence_method',
    object: 'cluster',
    stateKey: 'fenceMethod',
    configKey: 'fenceMethod',
    unit: 'enum',
    values: ['reset', 'panic'],
    default: 'reset',
    writeOrder: 1,
    hints: { EINVAL: 'fence_method takes "reset" or "panic" followed by a newline' },
    plan: { what: 'fence method', onNewCluster: 'always' },
    display: { label: 'fence', order: 5 },
    clusterConf: { key: 'fence_method', extension: true, syntax: 'enum', errorCode: 'E_CONF_FENCE', errorHint: 'reset reboots a fenced node at once; panic panics it (useful to get a crash dump)' },
  },
  {
    name: 'num',
    object: 'node',
    stateKey: 'num',
    configKey: 'number',
    unit: 'count',
    default: 0,
    unsetAmbiguous: true,
    writeOnce: true,
    unique: true,
    requires: ['ipv4_port', 'ipv4_address'],
    writeOrder: 3,
    range: { min: 0, max: 254 }, // 255 is the kernel's "no node" marker
    hints: { ERANGE: 'node numbers are 0–254' },
    plan: { what: 'number', onNewCluster: 'always' },
    clusterConf: { key: 'number', extension: false },
  },
  {
    name: 'ipv4_address',
    object: 'node',
    stateKey: 'ipv4Address',
    configKey: 'ipAddress',
    unit: 'ipv4',
    default: '0.0.0.0',
    writeOnce: true,
    unique: true,
    writeOrder: 2,
    hints: { ERANGE: 'each octet must be 0–255', EINVAL: 'the value is not a valid IPv4 address' },
    plan: { what: 'address', onNewCluster: 'always' },
    clusterConf: { key: 'ip_address', extension: false },
  },
  {
    name: 'ipv4_port',
    object: 'node',
    stateKey: 'ipv4Port',
    configKey: 'port',
    unit: 'port',
    default: 0,
    writeOnce: true,
    writeOrder: 1,
    range: { min: 1, max: 65534 },
    hints: { ERANGE: 'ports are 1–65534', EINVAL: 'the value is not a valid port' },
    plan: { what: 'port', onNewCluster: 'always' },
    clusterConf: { key: 'ip_port', extension: false },
  },
  {
    // not in the configuration: the planner writes it last, on the node that is this machine
    name: 'local',
    object: 'node',
    stateKey: 'local',
    unit: 'bool',
    default: false,
    requires: ['ipv4_port', 'ipv4_address', 'num'],
    hints: {
      EBUSY: "another node is the local node (o2stack apply moves it by removing that node and adding it again), or a local node was cleared by writing 0 to its 'local', after which some kernels (Debian's 6.1.0-50) take no local node until the cluster is removed: o2stack stop, then o2stack start",
      EADDRNOTAVAIL: "the node's IPv4 address is not configured on this host: check `ip -4 addr` and the node's ip_address",
      EADDRINUSE: "the node's port is already in use on this host: check `ss -ltnp` for the port",
    },
  },
  // heartbeat regions: written by heartbeat start (lib/stack/heartbeat.ts), not by the planner
  {
    name: 'dev',
    object: 'region',
    stateKey: 'dev',
    unit: 'text',
    default: '',
    hints: {
      EINVAL: 'heartbeat cannot start: the local node must be set, block_bytes/start_block/blocks written and matching the device, and the region not started already',
      EIO: 'the heartbeat start was interrupted or the region was removed while starting',
    },
  },
  {
    name: 'block_bytes',
    object: 'region',
    stateKey: 'blockBytes',
    unit: 'count',
    default: 0,
    range: { min: 512, max: 4096 },
    hints: { ERANGE: "block_bytes must be the device's logical sector size (a power of two, 512–4096)", EINVAL: "block_bytes must be the device's logical sector size (a power of two, 512–4096)" },
  },
  { name: 'start_block', object: 'region', stateKey: 'startBlock', unit: 'count', default: 0, hints: { EINVAL: GEOMETRY_FIXED } },
  { name: 'blocks', object: 'region', stateKey: 'blocks', unit: 'count', default: 0, range: { min: 1, max: 255 }, hints: { ERANGE: 'blocks is 1–255', EINVAL: GEOMETRY_FIXED } },
  { name: 'pid', object: 'region', stateKey: 'pid', unit: 'count', default: 0, zeroIsAbsent: true },
];

export type O2nmAttributeTable = readonly O2nmAttribute[];

/** The table's attributes of one object, in declaration order. */
export function attributesOf<O extends O2nmObject>(object: O, table: O2nmAttributeTable = O2NM_ATTRIBUTES): Extract<O2nmAttribute, { object: O }>[] {
  return table.filter((a): a is Extract<O2nmAttribute, { object: O }> => a.object === object);
}

/** One attribute by configfs name (the names are unique across objects). */
export function attributeNamed(name: string, table: O2nmAttributeTable = O2NM_ATTRIBUTES): O2nmAttribute | undefined {
  return table.find((a) => a.name === name);
}

/** The attributes the planner writes, in the kernel's order (writeOrder). */
export function writeOrdered<A extends O2nmAttribute>(attrs: readonly A[]): A[] {
  return attrs.filter((a) => a.writeOrder !== undefined).sort((x, y) => x.writeOrder! - y.writeOrder!);
}

/** Path of an attribute relative to its cluster's directory. */
export function relativePath(a: O2nmAttribute, owner?: string): string {
  switch (a.object) {
    case 'cluster':
      return a.name;
    case 'heartbeat':
      return `heartbeat/${a.name}`;
    case 'node':
      return `node/${owner}/${a.name}`;
    case 'region':
      return `heartbeat/${owner}/${a.name}`;
  }
}

/** The value from an attribute's text as read from configfs; `undefined` (missing file) and junk read as the default. */
export function parseKernelValue(a: O2nmAttribute, text: string | undefined): O2nmValue {
  if (text === undefined) return a.default;
  switch (a.unit) {
    case 'ms':
    case 'count':
    case 'port': {
      const v = Number.parseInt(text.trim(), 10);
      return Number.isFinite(v) ? v : a.default;
    }
    case 'bool': {
      const v = Number.parseInt(text.trim(), 10);
      return Number.isFinite(v) ? v !== 0 : a.default;
    }
    case 'enum': {
      const v = text.trim().toLowerCase();
      return a.values!.includes(v) ? v : a.default;
    }
    case 'ipv4':
    case 'text':
      return text.trim();
  }
}

/** The exact bytes written to configfs for a value. */
export function formatKernelValue(a: O2nmAttribute, value: O2nmValue): string {
  return a.unit === 'bool' ? `${value ? 1 : 0}\n` : `${value}\n`;
}

/** The value shown to people, with its unit ("30000 ms"). */
export function formatWithUnit(a: O2nmAttribute, value: O2nmValue): string {
  return a.unit === 'ms' ? `${value} ms` : String(value);
}

/** An attribute's value in a ClusterConfig (cluster and heartbeat objects) or a NodeConfig (node). */
export function configValue(a: O2nmAttribute, config: ClusterConfig | NodeConfig): O2nmValue | undefined {
  return a.configKey === undefined ? undefined : configGetter(a.configKey)(config as unknown as Record<string, unknown>);
}

/** A function reading the attribute's configuration value (for loops over many nodes). */
export function configAccessor(a: O2nmAttribute): (config: ClusterConfig | NodeConfig) => O2nmValue | undefined {
  if (a.configKey === undefined) return () => undefined;
  return configGetter(a.configKey) as unknown as (config: ClusterConfig | NodeConfig) => O2nmValue | undefined;
}

// one getter per key: a plan reads three keys of each of 255 nodes
const getters = new Map<string, (rec: Record<string, unknown>) => O2nmValue | undefined>();
function configGetter(key: string): (rec: Record<string, unknown>) => O2nmValue | undefined {
  let g = getters.get(key);
  if (!g) {
    const dot = key.indexOf('.');
    const [outer, inner] = dot < 0 ? [key, undefined] : [key.slice(0, dot), key.slice(dot + 1)];
    g = inner === undefined ? (rec) => rec[outer] as O2nmValue | undefined : (rec) => (rec[outer] as Record<string, unknown> | undefined)?.[inner] as O2nmValue | undefined;
    getters.set(key, g);
  }
  return g;
}

/** Sets an attribute's value in a ClusterConfig or NodeConfig (what the configuration readers fill in). */
export function setConfigValue(a: O2nmAttribute, config: ClusterConfig | NodeConfig, value: O2nmValue): void {
  const key = a.configKey;
  if (key === undefined) return;
  const dot = key.indexOf('.');
  const rec = config as unknown as Record<string, Record<string, unknown>>;
  if (dot < 0) (rec as Record<string, unknown>)[key] = value;
  else (rec[key.slice(0, dot)] ??= {})[key.slice(dot + 1)] = value;
}

/** The Timeouts field of an attribute whose configuration value is a timeout ("idleTimeoutMs"), else undefined. */
export function timeoutKey(a: O2nmAttribute): keyof Timeouts | undefined {
  return a.configKey?.startsWith('timeouts.') ? (a.configKey.slice('timeouts.'.length) as keyof Timeouts) : undefined;
}

/** An attribute's value in the state read from configfs (its object's record). */
export function stateValue(a: O2nmAttribute, cluster: O2nmClusterState | undefined, owner?: O2nmNodeState | O2hbRegionState): O2nmValue | undefined {
  const rec = (a.object === 'cluster' ? cluster : a.object === 'heartbeat' ? cluster?.heartbeat : owner) as Record<string, unknown> | undefined;
  return rec?.[a.stateKey] as O2nmValue | undefined;
}

/** "a", "a and b", "a, b and c" */
export function andList(items: readonly string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/** Attributes that go in the one-line summaries (`show`, `config check`), in display order. */
export function displayed(table: O2nmAttributeTable = O2NM_ATTRIBUTES): O2nmAttribute[] {
  return table.filter((a) => a.display).sort((x, y) => x.display!.order - y.display!.order);
}

/** "dead threshold 31", "idle 30000 ms", … for each displayed attribute the configuration sets, in display order. */
export function settingsSummary(config: ClusterConfig, table: O2nmAttributeTable = O2NM_ATTRIBUTES): string[] {
  const out: string[] = [];
  for (const a of displayed(table)) {
    const v = configValue(a, config);
    if (v !== undefined && v !== '') out.push(`${a.display!.label} ${formatWithUnit(a, v)}`);
  }
  return out;
}

/** `o2stack configure`'s option for an attribute's /etc/default/o2cb variable: flag and help. */
export function configureOption(a: O2nmAttribute, table: O2nmAttributeTable = O2NM_ATTRIBUTES): { flag: string; field: string; help: string } | undefined {
  const d = a.o2cbDefaults;
  if (!d) return undefined;
  const kebab = d.field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  const above = a.below === undefined ? undefined : table.find((x) => x.name === a.below);
  const notes = `≥ ${d.min}${above ? `, below the ${above.plan?.what ?? above.name}` : ''}${d.emptyNote ? '; "" for the kernel default' : ''}`;
  return { flag: `--${kebab} <${a.unit === 'ms' ? 'ms' : 'n'}>`, field: d.field, help: `${d.variable}${d.meaning ? `: ${d.meaning}` : ''} (${notes})` };
}

/** The kernel's value of each Timeouts field on a new cluster (before anything is written). */
export function kernelDefaultTimeouts(table: O2nmAttributeTable = O2NM_ATTRIBUTES): Required<Timeouts> {
  const out: Record<string, number> = {};
  for (const a of table) {
    const k = timeoutKey(a);
    if (k) out[k] = a.default as number;
  }
  return out as unknown as Required<Timeouts>;
}
