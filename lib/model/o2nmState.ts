// What the kernel's o2nm/o2hb configfs holds, as read back (lib/kernel/o2nm.ts reads it).
import type { ClusterConfig, FenceMethod, HeartbeatMode, NodeConfig, Timeouts } from './cluster.js';
import { type O2nmAttribute, O2NM_ATTRIBUTES, attributesOf, setConfigValue, stateValue } from './o2nmAttributes.js';

export interface O2nmNodeState {
  name: string;
  /** 0 also when unset: the kernel cannot tell them apart */
  num: number;
  /** "0.0.0.0" when unset */
  ipv4Address: string;
  /** 0 when unset */
  ipv4Port: number;
  local: boolean;
}

export interface O2hbRegionState {
  name: string;
  /** block device name ("vdb") once heartbeat is started, "" before */
  dev: string;
  blockBytes: number;
  startBlock: number;
  blocks: number;
  /** o2hb thread pid, undefined when not started */
  pid?: number;
}

export interface O2nmClusterState {
  name: string;
  idleTimeoutMs: number;
  keepaliveDelayMs: number;
  reconnectDelayMs: number;
  fenceMethod: FenceMethod;
  nodes: O2nmNodeState[];
  heartbeat: {
    deadThreshold: number;
    mode: HeartbeatMode;
    regions: O2hbRegionState[];
  };
}

export interface O2nmState {
  /** /sys/kernel/config/cluster exists (configfs mounted and ocfs2_nodemanager loaded) */
  available: boolean;
  clusters: O2nmClusterState[];
}

/** Heartbeat is running on some region: the local node is pinned and timeouts cannot change. */
export function heartbeatActive(c: O2nmClusterState): boolean {
  return c.heartbeat.regions.some((r) => r.dev !== '');
}

export function localNodeOf(c: O2nmClusterState): O2nmNodeState | undefined {
  return c.nodes.find((n) => n.local);
}

/** The o2nm state as a cluster model (for `show`, and for a config written from the running kernel). */
export function stateToConfig(c: O2nmClusterState): ClusterConfig & { timeouts: Timeouts; fenceMethod: FenceMethod } {
  const table = O2NM_ATTRIBUTES;
  const nodeAttrs = attributesOf('node', table).filter((a) => a.configKey !== undefined);
  const out = {
    name: c.name,
    nodes: c.nodes
      .filter((n) => n.ipv4Port !== 0)
      .map((n) => {
        const node = { name: n.name } as NodeConfig;
        for (const a of nodeAttrs) setConfigValue(a, node, stateValue(a, c, n)!);
        return node;
      })
      .sort((a, b) => a.number - b.number),
    heartbeatMode: c.heartbeat.mode,
    heartbeatRegions: c.heartbeat.mode === 'global' ? c.heartbeat.regions.map((r) => r.name).sort() : [],
    timeouts: {},
    fenceMethod: c.fenceMethod,
  };
  // every configured cluster and heartbeat attribute, the timeouts in the summaries' order
  const clusterAttrs = table.filter((a) => (a.object === 'cluster' || a.object === 'heartbeat') && a.configKey !== undefined);
  const order = (a: O2nmAttribute) => a.display?.order ?? Number.MAX_SAFE_INTEGER;
  for (const a of [...clusterAttrs].sort((x, y) => order(x) - order(y))) setConfigValue(a, out, stateValue(a, c)!);
  return out;
}
