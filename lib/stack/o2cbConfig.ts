// From a configuration file to an o2nm plan: choose the cluster and the local node, read the
// kernel, plan. Shared by `o2stack plan`, `apply` and `node add|remove --apply`.
import { hostname, networkInterfaces } from 'node:os';
import type { KernelBackend } from '../kernel/backend.js';
import { readO2nmState } from '../kernel/o2nm.js';
import { type ClusterConfig, findLocalNode } from '../model/cluster.js';
import { type O2nmPlan, type PlanOptions, planO2nm } from '../model/o2nmPlan.js';

export class SelectionError extends Error {
  readonly code = 'E_SELECT';
  constructor(message: string, readonly hint: string) {
    super(message);
    this.name = 'SelectionError';
  }
}

/** The cluster named, or the only one in the file. */
export function selectCluster(clusters: ClusterConfig[], name: string | undefined, file: string): ClusterConfig {
  if (name) {
    const c = clusters.find((x) => x.name === name);
    if (!c) throw new SelectionError(`${file} has no cluster '${name}' (it has: ${clusters.map((x) => x.name).join(', ') || 'none'})`, 'pass --cluster with one of those names');
    return c;
  }
  if (clusters.length === 1) return clusters[0]!;
  if (clusters.length === 0) throw new SelectionError(`${file} describes no cluster`, 'add a cluster: stanza (o2stack config check FILE shows what was read)');
  throw new SelectionError(`${file} describes ${clusters.length} clusters (${clusters.map((x) => x.name).join(', ')}); the kernel holds one`, 'pass --cluster NAME');
}

/** The local node's name: --node, else the node named after this host (up to the first dot). */
export function selectLocalNode(cluster: ClusterConfig, nodeOption: string | undefined, host = hostname()): string | undefined {
  if (nodeOption) {
    if (!cluster.nodes.some((n) => n.name === nodeOption)) {
      throw new SelectionError(`--node ${nodeOption}: cluster '${cluster.name}' has no such node (it has: ${cluster.nodes.map((n) => n.name).join(', ')})`, 'pass the name of this machine as it appears in the configuration');
    }
    return nodeOption;
  }
  return findLocalNode(cluster, host)?.name;
}

export interface PlannedConfig {
  cluster: ClusterConfig;
  plan: O2nmPlan;
}

export function planFromCluster(backend: KernelBackend, cluster: ClusterConfig, options: { node?: string } & Omit<PlanOptions, 'localNode'> = {}): PlannedConfig {
  const localNode = selectLocalNode(cluster, options.node);
  const { node: _node, ...rest } = options;
  const plan = planO2nm(cluster, readO2nmState(backend), { ...rest, localNode });
  return { cluster, plan };
}

/**
 * This host's IPv4 addresses (every interface, loopback too), for the local-address check of plan,
 * start and doctor. With --root (another system's tree) there is nothing to compare: undefined.
 */
export function hostIPv4Addresses(root = '/'): string[] | undefined {
  if (root !== '/') return undefined;
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (a.family === 'IPv4') out.push(a.address);
  return out;
}
