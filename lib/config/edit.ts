// Editing a cluster description: add or remove a node (pure; the CLI writes the result atomically).
import { type ClusterConfig, DEFAULT_PORT, type NodeConfig, validateCluster } from '../model/cluster.js';
import { ConfigError } from '../model/errors.js';
import { stripLoc } from './common.js';

export interface NodeToAdd {
  name: string;
  ipAddress: string;
  port?: number;
  /** default: the lowest number no node uses */
  number?: number;
}

function find(clusters: ClusterConfig[], name: string | undefined): { c: ClusterConfig; i: number } {
  const i = name ? clusters.findIndex((c) => c.name === name) : clusters.length === 1 ? 0 : -1;
  if (i < 0) {
    throw new ConfigError([
      name
        ? { code: 'E_EDIT_NO_CLUSTER', message: `no cluster '${name}' (the file has: ${clusters.map((c) => c.name).join(', ') || 'none'})` }
        : { code: 'E_EDIT_WHICH_CLUSTER', message: `the file describes ${clusters.length} clusters`, hint: 'pass --cluster NAME' },
    ]);
  }
  return { c: clusters[i]!, i };
}

/** The lowest node number (0–254) that no node uses. */
export function freeNodeNumber(c: ClusterConfig): number | undefined {
  const used = new Set(c.nodes.map((n) => n.number));
  for (let n = 0; n <= 254; n++) if (!used.has(n)) return n;
  return undefined;
}

export function addNode(clusters: ClusterConfig[], clusterName: string | undefined, add: NodeToAdd): { clusters: ClusterConfig[]; node: NodeConfig } {
  const { c, i } = find(clusters, clusterName);
  if (c.nodes.some((n) => n.name === add.name)) {
    throw new ConfigError([{ code: 'E_EDIT_NODE_EXISTS', key: 'name', message: `cluster '${c.name}' already has a node '${add.name}'`, hint: `o2stack node remove ${add.name} first to change it` }]);
  }
  const number = add.number ?? freeNodeNumber(c);
  if (number === undefined) throw new ConfigError([{ code: 'E_EDIT_FULL', message: `cluster '${c.name}' already has 255 nodes` }]);
  const node: NodeConfig = { name: add.name, number, ipAddress: add.ipAddress, port: add.port ?? DEFAULT_PORT };
  const base = stripLoc(c);
  const next = { ...base, nodes: [...base.nodes, node] };
  const issues = validateCluster(next);
  if (issues.length) throw new ConfigError(issues);
  const out = clusters.map((x, j) => (j === i ? next : stripLoc(x)));
  return { clusters: out, node };
}

export function removeNode(clusters: ClusterConfig[], clusterName: string | undefined, nodeName: string): { clusters: ClusterConfig[]; node: NodeConfig } {
  const { c, i } = find(clusters, clusterName);
  const node = c.nodes.find((n) => n.name === nodeName);
  if (!node) {
    throw new ConfigError([{ code: 'E_EDIT_NO_NODE', message: `cluster '${c.name}' has no node '${nodeName}' (it has: ${c.nodes.map((n) => n.name).join(', ')})` }]);
  }
  const next = stripLoc({ ...c, nodes: c.nodes.filter((n) => n.name !== nodeName) });
  return { clusters: clusters.map((x, j) => (j === i ? next : stripLoc(x))), node: { name: node.name, number: node.number, ipAddress: node.ipAddress, port: node.port } };
}
