// Reads the o2nm/o2hb configfs tree into an O2nmState (model/o2nmState.ts).
// All attribute reads of a tree go through one native batch call: a second, no-op apply of a
// 255-node cluster is then about a thousand reads in one crossing into C++.
import type { FenceMethod, HeartbeatMode } from '../model/cluster.js';
import type { O2hbRegionState, O2nmClusterState, O2nmNodeState, O2nmState } from '../model/o2nmState.js';
import { O2NM_ROOT, o2nm } from '../model/paths.js';
import type { KernelBackend } from './backend.js';

/** Reads many attributes in one batch; a missing one (fake trees, older kernels) reads as undefined. */
export function readMany(backend: KernelBackend, paths: string[]): (string | undefined)[] {
  if (paths.length === 0) return [];
  const r = backend.batch(paths.map((path) => ({ op: 'read' as const, path, missingOk: true, attribute: true })));
  return r.reads.map((b) => b?.toString('utf8'));
}

const int = (s: string | undefined, dflt: number) => {
  const v = s === undefined ? NaN : Number.parseInt(s.trim(), 10);
  return Number.isFinite(v) ? v : dflt;
};
const str = (s: string | undefined, dflt: string) => (s === undefined ? dflt : s.trim());

export function readO2nmState(backend: KernelBackend): O2nmState {
  const clusters = backend.tryList(O2NM_ROOT);
  if (clusters === undefined) return { available: false, clusters: [] };
  const out: O2nmClusterState[] = [];
  for (const c of clusters.filter((e) => e.type === 'dir')) out.push(readCluster(backend, c.name));
  return { available: true, clusters: out };
}

function readCluster(backend: KernelBackend, name: string): O2nmClusterState {
  const nodeNames = (backend.tryList(o2nm.nodes(name)) ?? []).filter((e) => e.type === 'dir').map((e) => e.name);
  const regionNames = (backend.tryList(o2nm.heartbeat(name)) ?? []).filter((e) => e.type === 'dir').map((e) => e.name);
  const paths = [
    o2nm.clusterAttr(name, 'idle_timeout_ms'),
    o2nm.clusterAttr(name, 'keepalive_delay_ms'),
    o2nm.clusterAttr(name, 'reconnect_delay_ms'),
    o2nm.clusterAttr(name, 'fence_method'),
    o2nm.heartbeatAttr(name, 'dead_threshold'),
    o2nm.heartbeatAttr(name, 'mode'),
  ];
  for (const n of nodeNames) {
    paths.push(o2nm.nodeAttr(name, n, 'num'), o2nm.nodeAttr(name, n, 'ipv4_address'), o2nm.nodeAttr(name, n, 'ipv4_port'), o2nm.nodeAttr(name, n, 'local'));
  }
  for (const r of regionNames) {
    paths.push(
      o2nm.regionAttr(name, r, 'dev'),
      o2nm.regionAttr(name, r, 'block_bytes'),
      o2nm.regionAttr(name, r, 'start_block'),
      o2nm.regionAttr(name, r, 'blocks'),
      o2nm.regionAttr(name, r, 'pid'),
    );
  }
  const v = readMany(backend, paths);
  let i = 6;
  const nodes: O2nmNodeState[] = nodeNames.map((n) => {
    const node = {
      name: n,
      num: int(v[i], 0),
      ipv4Address: str(v[i + 1], '0.0.0.0'),
      ipv4Port: int(v[i + 2], 0),
      local: int(v[i + 3], 0) !== 0,
    };
    i += 4;
    return node;
  });
  const regions: O2hbRegionState[] = regionNames.map((r) => {
    const pid = int(v[i + 4], 0);
    const region: O2hbRegionState = {
      name: r,
      dev: str(v[i], ''),
      blockBytes: int(v[i + 1], 0),
      startBlock: int(v[i + 2], 0),
      blocks: int(v[i + 3], 0),
      ...(pid > 0 ? { pid } : {}),
    };
    i += 5;
    return region;
  });
  const mode = str(v[5], 'local').toLowerCase();
  return {
    name,
    idleTimeoutMs: int(v[0], 30000),
    keepaliveDelayMs: int(v[1], 2000),
    reconnectDelayMs: int(v[2], 2000),
    fenceMethod: (str(v[3], 'reset') === 'panic' ? 'panic' : 'reset') as FenceMethod,
    nodes,
    heartbeat: { deadThreshold: int(v[4], 31), mode: (mode === 'global' ? 'global' : 'local') as HeartbeatMode, regions },
  };
}
