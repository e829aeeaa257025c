// The configuration side of o2cb(8)'s verbs, pure: reading cluster.conf as o2cb does (a cluster
// may have no nodes yet, regions may be listed before heartbeat_mode is global), the edits of
// add-/remove-cluster, -node, -heartbeat and heartbeat-mode, and the list-* output in o2cb's own
// formats (stanza and --oneline), which scripts parse.
import { type ClusterConfig, type HeartbeatMode, DEFAULT_PORT, isValidO2cbClusterName, validateCluster } from '../model/cluster.js';
import { ConfigError, type ConfigIssue } from '../model/errors.js';
import { clusterStanzaLines, parseClusterConf } from './clusterConf.js';
import { stripLoc } from './common.js';
import { addNode as addNodeTo, removeNode as removeNodeFrom } from './edit.js';

/** Problems validateCluster reports that o2cb's own files may have between two verbs (a cluster just added). */
const TOLERATED = new Set(['E_CONF_NO_NODES']);

export interface O2cbConf {
  clusters: ClusterConfig[];
  /** node_count as written in each cluster stanza (o2cb prints that, not the count of node stanzas) */
  nodeCounts: Record<string, number>;
  warnings: ConfigIssue[];
}

/** Parses cluster.conf for the o2cb verbs; a missing file (undefined) is an empty configuration, as in o2cb. */
export function readO2cbConf(text: string | undefined, file: string): O2cbConf {
  if (text === undefined) return { clusters: [], nodeCounts: {}, warnings: [] };
  const parsed = parseClusterConf(text, { file });
  const issues: ConfigIssue[] = [];
  for (const c of parsed.clusters) for (const i of validateCluster(c)) if (!TOLERATED.has(i.code)) issues.push({ file, ...i });
  if (issues.length) throw new ConfigError(issues);
  const nodeCounts: Record<string, number> = {};
  for (const s of clusterStanzaLines(text)) {
    const v = s.attrs.node_count?.value;
    nodeCounts[s.name] = v !== undefined && /^\d+$/.test(v) ? Number(v) : (parsed.clusters.find((c) => c.name === s.name)?.nodes.length ?? 0);
  }
  return { clusters: parsed.clusters, nodeCounts, warnings: parsed.warnings };
}

/** The error o2cb gives for a cluster the file does not describe. */
export function unknownCluster(name: string, conf: O2cbConf, file: string): ConfigError {
  return new ConfigError([
    {
      file,
      code: 'E_O2CB_UNKNOWN_CLUSTER',
      message: `Unknown cluster '${name}' (${file} has: ${conf.clusters.map((c) => c.name).join(', ') || 'no cluster'})`,
      hint: `o2stack o2cb list-clusters shows them; o2stack o2cb add-cluster ${name} adds it`,
    },
  ]);
}

export function findCluster(conf: O2cbConf, name: string, file: string): ClusterConfig {
  const c = conf.clusters.find((x) => x.name === name);
  if (!c) throw unknownCluster(name, conf, file);
  return c;
}

// --- listings -----------------------------------------------------------------------------------

export type ListingPart = 'cluster' | 'nodes' | 'heartbeats';

/**
 * What o2cb prints for list-cluster / list-nodes / list-heartbeats: heartbeats, then nodes (both in
 * file order), then the cluster; as stanzas ("<TAB>key = value", a blank line after each) or one
 * line each (--oneline).
 */
export function formatListing(conf: O2cbConf, cluster: ClusterConfig, part: ListingPart, oneline: boolean): string {
  const out: string[] = [];
  const stanza = (type: string, attrs: [string, string | number][]) => {
    out.push(`${type}:\n${attrs.map(([k, v]) => `\t${k} = ${v}\n`).join('')}\n`);
  };
  if (part === 'cluster' || part === 'heartbeats') {
    for (const r of cluster.heartbeatRegions) {
      if (oneline) out.push(`heartbeat: ${r} ${cluster.name}\n`);
      else stanza('heartbeat', [['region', r], ['cluster', cluster.name]]);
    }
  }
  if (part === 'cluster' || part === 'nodes') {
    for (const n of cluster.nodes) {
      if (oneline) out.push(`node: ${n.number} ${n.name} ${n.ipAddress}:${n.port} ${cluster.name}\n`);
      else stanza('node', [['number', n.number], ['name', n.name], ['ip_address', n.ipAddress], ['ip_port', n.port], ['cluster', cluster.name]]);
    }
  }
  if (part === 'cluster') {
    const count = conf.nodeCounts[cluster.name] ?? cluster.nodes.length;
    if (oneline) out.push(`cluster: ${count} ${cluster.heartbeatMode} ${cluster.name}\n`);
    else stanza('cluster', [['node_count', count], ['heartbeat_mode', cluster.heartbeatMode], ['name', cluster.name]]);
  }
  return out.join('');
}

/** The same as one JSON document. */
export function listingJson(conf: O2cbConf, cluster: ClusterConfig, part: ListingPart) {
  const nodes = cluster.nodes.map((n) => ({ number: n.number, name: n.name, ipAddress: n.ipAddress, port: n.port, cluster: cluster.name }));
  const heartbeats = cluster.heartbeatRegions.map((r) => ({ region: r, cluster: cluster.name }));
  if (part === 'nodes') return { nodes };
  if (part === 'heartbeats') return { heartbeats };
  return { heartbeats, nodes, cluster: { name: cluster.name, nodeCount: conf.nodeCounts[cluster.name] ?? cluster.nodes.length, heartbeatMode: cluster.heartbeatMode } };
}

// --- edits (each returns the new cluster list; the caller writes it) --------------------------

const clean = (clusters: ClusterConfig[]) => clusters.map(stripLoc);

export function addCluster(conf: O2cbConf, name: string): ClusterConfig[] {
  if (!isValidO2cbClusterName(name)) {
    throw new ConfigError([{ code: 'E_O2CB_CLUSTER_NAME', key: 'cluster.name', message: `cluster name '${name}' is invalid: 1–16 letters or digits`, hint: 'choose a name like "ocfs2" or "web01"; volumes are formatted with it (mkfs.ocfs2 --cluster-name)' }]);
  }
  if (conf.clusters.some((c) => c.name === name)) {
    throw new ConfigError([{ code: 'E_O2CB_CLUSTER_EXISTS', key: 'cluster.name', message: `cluster '${name}' already exists`, hint: `o2stack o2cb list-cluster ${name} shows it` }]);
  }
  return [...clean(conf.clusters), { name, nodes: [], heartbeatMode: 'local', heartbeatRegions: [], timeouts: {} }];
}

export function removeCluster(conf: O2cbConf, name: string, file: string): ClusterConfig[] {
  findCluster(conf, name, file);
  return clean(conf.clusters.filter((c) => c.name !== name));
}

export function addNode(conf: O2cbConf, cluster: string, node: { name: string; ipAddress: string; port?: number; number?: number }, file: string): ClusterConfig[] {
  findCluster(conf, cluster, file);
  const c = conf.clusters.find((x) => x.name === cluster)!;
  if (node.number !== undefined && c.nodes.some((n) => n.number === node.number)) {
    const other = c.nodes.find((n) => n.number === node.number)!;
    throw new ConfigError([{ code: 'E_O2CB_NODE_NUMBER_USED', key: 'node.number', message: `node number ${node.number} is already used by node '${other.name}' of cluster '${cluster}'`, hint: 'leave --number out to take the lowest free number' }]);
  }
  return addNodeTo(conf.clusters, cluster, { name: node.name, ipAddress: node.ipAddress, port: node.port ?? DEFAULT_PORT, ...(node.number !== undefined ? { number: node.number } : {}) }).clusters;
}

export function removeNode(conf: O2cbConf, cluster: string, node: string, file: string): ClusterConfig[] {
  findCluster(conf, cluster, file);
  return removeNodeFrom(conf.clusters, cluster, node).clusters;
}

/** A region as o2cb stores it: the volume UUID, 32 hex digits, upper case. */
export function normalizeRegion(region: string): string {
  const r = region.replace(/-/g, '').toUpperCase();
  if (!/^[0-9A-F]{32}$/.test(r)) {
    throw new ConfigError([{ code: 'E_O2CB_REGION', key: 'heartbeat.region', message: `'${region}' is neither a heartbeat device nor a volume UUID (32 hex digits)`, hint: 'give the heartbeat device (/dev/sdX, made with mkfs.ocfs2 -H) or its UUID (o2stack volume inspect DEVICE)' }]);
  }
  return r;
}

export function addHeartbeat(conf: O2cbConf, cluster: string, region: string, file: string): ClusterConfig[] {
  const c = findCluster(conf, cluster, file);
  const r = normalizeRegion(region);
  if (c.heartbeatRegions.includes(r)) throw new ConfigError([{ code: 'E_O2CB_REGION_EXISTS', key: 'heartbeat.region', message: `heartbeat region ${r} is already in cluster '${cluster}'` }]);
  return clean(conf.clusters.map((x) => (x.name === cluster ? { ...x, heartbeatRegions: [...x.heartbeatRegions, r] } : x)));
}

export function removeHeartbeat(conf: O2cbConf, cluster: string, region: string, file: string): ClusterConfig[] {
  const c = findCluster(conf, cluster, file);
  const r = normalizeRegion(region);
  if (!c.heartbeatRegions.includes(r)) {
    throw new ConfigError([{ code: 'E_O2CB_NO_REGION', key: 'heartbeat.region', message: `cluster '${cluster}' has no heartbeat region ${r} (it has: ${c.heartbeatRegions.join(', ') || 'none'})` }]);
  }
  return clean(conf.clusters.map((x) => (x.name === cluster ? { ...x, heartbeatRegions: x.heartbeatRegions.filter((y) => y !== r) } : x)));
}

export function setHeartbeatMode(conf: O2cbConf, cluster: string, mode: string, file: string): ClusterConfig[] {
  findCluster(conf, cluster, file);
  const m = mode.toLowerCase();
  if (m !== 'local' && m !== 'global') {
    throw new ConfigError([{ code: 'E_O2CB_HB_MODE', key: 'cluster.heartbeat_mode', message: `heartbeat mode '${mode}' is not local or global`, hint: `o2stack o2cb heartbeat-mode ${cluster} local|global` }]);
  }
  return clean(conf.clusters.map((x) => (x.name === cluster ? { ...x, heartbeatMode: m as HeartbeatMode } : x)));
}
