// The kernel side of o2cb(8)'s verbs: register-cluster, unregister-cluster, start-heartbeat,
// stop-heartbeat, cluster-status. Each reads configfs, refuses what o2cb refuses (with the fix),
// and undoes its own work when the kernel refuses a step.
import { lookup } from 'node:dns/promises';
import type { KernelBackend } from '../kernel/backend.js';
import { readO2nmState } from '../kernel/o2nm.js';
import type { ClusterConfig } from '../model/cluster.js';
import { heartbeatActive } from '../model/o2nmState.js';
import { SYS_FS_OCFS2 } from '../model/paths.js';
import { applyGlobalRegions, locateRegionOnDisk, planGlobalRegions, type RegionLocator } from './globalHeartbeat.js';
import { stopRegion } from './heartbeat.js';
import { removeCluster } from './o2cb.js';
import { planFromCluster } from './o2cbConfig.js';
import { applyO2nmPlan } from './o2nmApply.js';
import { StackError } from './select.js';

/** o2cb works on the o2cb stack only; another label selected means another stack owns the kernel. */
function requireO2cbStack(b: KernelBackend): void {
  const label = b.tryRead(`${SYS_FS_OCFS2}/cluster_stack`)?.trim();
  if (label !== undefined && label !== 'o2cb') {
    throw new StackError('E_O2CB_OTHER_STACK', `the o2cb verbs work on the 'o2cb' stack, but the '${label}' stack is selected`, `o2stack select o2cb (with no '${label}' volume mounted)`);
  }
}

function registered(b: KernelBackend, name: string) {
  const state = readO2nmState(b);
  if (!state.available) throw new StackError('E_O2CB_NO_CONFIGFS', 'configfs is not mounted, or the ocfs2_nodemanager module is not loaded', 'o2stack start (or o2stack select o2cb)');
  return { state, cluster: state.clusters.find((c) => c.name === name) };
}

export interface RegisterResult {
  cluster: string;
  localNode: string | null;
  operations: number;
  warnings: string[];
}

/** register-cluster: the cluster and its nodes into configfs, as apply does; a failure undoes all of this run. */
export function registerCluster(b: KernelBackend, cluster: ClusterConfig, options: { node?: string; hostAddresses?: string[]; configFile?: string } = {}): RegisterResult {
  requireO2cbStack(b);
  const { plan } = planFromCluster(b, cluster, { node: options.node, ...(options.hostAddresses ? { hostAddresses: options.hostAddresses } : {}), ...(options.configFile ? { configFile: options.configFile } : {}) });
  const r = applyO2nmPlan(b, plan, { rollback: 'all' });
  return { cluster: cluster.name, localNode: plan.localNode ?? null, operations: r.applied.length, warnings: plan.warnings };
}

/** unregister-cluster: refused unless that cluster is the registered one and no heartbeat region exists. */
export function unregisterCluster(b: KernelBackend, name: string): { cluster: string; actions: string[] } {
  requireO2cbStack(b);
  const { state, cluster } = registered(b, name);
  if (!cluster) {
    throw new StackError('E_O2CB_NOT_ACTIVE', `Cluster '${name}' is not active${state.clusters.length ? ` (the kernel has: ${state.clusters.map((c) => c.name).join(', ')})` : ''}`, state.clusters.length ? `o2stack o2cb unregister-cluster ${state.clusters[0]!.name}` : 'nothing to unregister');
  }
  if (cluster.heartbeat.regions.length) {
    throw new StackError(
      'E_O2CB_REGIONS_ACTIVE',
      `at least one heartbeat region of cluster '${name}' is still active (${cluster.heartbeat.regions.map((r) => r.name).join(', ')})`,
      cluster.heartbeat.mode === 'global' ? `unmount the OCFS2 volumes, then o2stack o2cb stop-heartbeat ${name}` : 'unmount the OCFS2 volumes (o2stack umount DIR): local heartbeat stops with them',
    );
  }
  const actions: string[] = [];
  removeCluster(b, cluster, actions);
  return { cluster: name, actions };
}

/** start-heartbeat: global mode only (local heartbeat starts at mount); every configured region, as start does. */
export async function startHeartbeat(b: KernelBackend, cluster: ClusterConfig, locate: RegionLocator = locateRegionOnDisk): Promise<{ cluster: string; mode: string; actions: string[]; warnings: string[] }> {
  requireO2cbStack(b);
  const { cluster: cur } = registered(b, cluster.name);
  if (!cur || !cur.nodes.some((n) => n.local)) {
    throw new StackError('E_O2CB_NOT_REGISTERED', `Cluster '${cluster.name}' not registered${cur ? ' (it has no local node)' : ''}`, `o2stack o2cb register-cluster ${cluster.name} (or o2stack start)`);
  }
  if (cur.heartbeat.mode !== 'global') return { cluster: cluster.name, mode: cur.heartbeat.mode, actions: [], warnings: [] };
  const r = await applyGlobalRegions(b, planGlobalRegions(b, cluster, locate));
  return { cluster: cluster.name, mode: 'global', actions: r.actions, warnings: r.warnings };
}

/**
 * stop-heartbeat: every region of the cluster in global mode, or only `regions` (UUIDs) when given
 * (regions can be stopped one by one; a region pinned by a mount is refused with EBUSY and its fix).
 */
export function stopHeartbeat(b: KernelBackend, name: string, regions?: string[]): { cluster: string; mode: string; stopped: string[]; notRunning: string[] } {
  requireO2cbStack(b);
  const { cluster } = registered(b, name);
  if (!cluster) throw new StackError('E_O2CB_NOT_REGISTERED', `Cluster '${name}' not registered`, 'nothing to stop');
  if (cluster.heartbeat.mode !== 'global' && !regions?.length) return { cluster: name, mode: cluster.heartbeat.mode, stopped: [], notRunning: [] };
  const running = cluster.heartbeat.regions.map((r) => r.name);
  const targets = regions?.length ? regions : running;
  const stopped: string[] = [];
  const notRunning: string[] = [];
  for (const uuid of targets) {
    if (!running.includes(uuid)) {
      notRunning.push(uuid);
      continue;
    }
    if (stopRegion(b, name, uuid).stopped) stopped.push(uuid);
    else notRunning.push(uuid);
  }
  return { cluster: name, mode: cluster.heartbeat.mode, stopped, notRunning };
}

/**
 * cluster-status: online when registered with a local node, and in global mode with a region
 * heartbeating. `cluster` is what o2cb names in its line: null when no cluster is registered at all.
 */
export function clusterStatus(b: KernelBackend, name?: string): { cluster: string | null; online: boolean; registered: boolean; localNode: string | null; mode: string | null; regionsActive: number } {
  const state = readO2nmState(b);
  const c = name !== undefined ? state.clusters.find((x) => x.name === name) : state.clusters[0];
  // o2cb names the cluster only when the kernel has one registered ("Cluster 'db' is offline" beside
  // a registered 'web'); with none registered it says just "offline"
  if (!c) return { cluster: state.clusters.length ? (name ?? null) : null, online: false, registered: false, localNode: null, mode: null, regionsActive: 0 };
  const local = c.nodes.find((n) => n.local)?.name ?? null;
  const active = c.heartbeat.regions.filter((r) => r.dev !== '').length;
  const online = local !== null && (c.heartbeat.mode !== 'global' || heartbeatActive(c));
  return { cluster: c.name, online, registered: true, localNode: local, mode: c.heartbeat.mode, regionsActive: active };
}

/** add-node without --ip: the node name's first IPv4 address, as o2cb does (getaddrinfo, AF_INET). */
export async function lookupIPv4(name: string): Promise<string> {
  return (await lookup(name, { family: 4 })).address;
}
