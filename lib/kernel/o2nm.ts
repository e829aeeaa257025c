// Reads the o2nm/o2hb configfs tree into an O2nmState (model/o2nmState.ts).
// A cluster's attributes are read in one native call (readUnder: relative to one directory fd;
// backends without it, one batch).
//
// Known nodes: a node's num, ipv4_address and ipv4_port are write-once, and a configfs directory
// keeps its inode number for its whole life (a removed and re-made node gets a new one). So once
// a node has been seen (or written) with all three set, a later read of the same backend needs
// only that node's `local` while readdir gives the same inode: a second, no-op apply of a
// 255-node cluster reads 255 attributes instead of 1020. Only where the backend says inodes are
// stable (real configfs, the simulator), never on fake trees.
import type { FenceMethod, HeartbeatMode } from '../model/cluster.js';
import type { O2hbRegionState, O2nmClusterState, O2nmNodeState, O2nmState } from '../model/o2nmState.js';
import { O2NM_ROOT, o2nm } from '../model/paths.js';
import type { DirEntry, KernelBackend } from './backend.js';

interface KnownNode {
  ino: number;
  num: number;
  ipv4Address: string;
  ipv4Port: number;
}
/** backend → cluster name → node name → its write-once values and the inode they belong to */
const known = new WeakMap<KernelBackend, Map<string, Map<string, KnownNode>>>();

function knownNodes(backend: KernelBackend, cluster: string): Map<string, KnownNode> | undefined {
  if (!backend.stableInodes) return undefined;
  let byCluster = known.get(backend);
  if (!byCluster) known.set(backend, (byCluster = new Map()));
  let nodes = byCluster.get(cluster);
  if (!nodes) byCluster.set(cluster, (nodes = new Map()));
  return nodes;
}

/** num 0 is also what an unset num reads as, so a read can prove a node complete only from 1 up. */
const completeFromRead = (n: { num: number; ipv4Address: string; ipv4Port: number }) => n.num > 0 && n.ipv4Address !== '0.0.0.0' && n.ipv4Port > 0;

/**
 * After a batch that ran without error: the nodes whose port, address and num it wrote are
 * complete, whatever their number (lib/stack/o2nmApply.ts calls this).
 */
export function rememberWrittenNodes(backend: KernelBackend, cluster: string, writes: { path: string; data?: string | Buffer }[]): void {
  if (!backend.stableInodes) return;
  // The inodes now (one readdir: these are the directories the writes went to); which nodes the
  // writes completed is worked out on the next read of this backend, if any: a CLI run that
  // applies and exits never reads again.
  const inos = new Map((backend.tryList(o2nm.nodes(cluster)) ?? []).map((e) => [e.name, e.ino]));
  let list = pendingWrites.get(backend);
  if (!list) pendingWrites.set(backend, (list = []));
  list.push({ cluster, writes, inos });
}
interface PendingWrites {
  cluster: string;
  writes: { path: string; data?: string | Buffer }[];
  inos: Map<string, number | undefined>;
}
const pendingWrites = new WeakMap<KernelBackend, PendingWrites[]>();

function settleWrittenNodes(backend: KernelBackend): void {
  const list = pendingWrites.get(backend);
  if (!list) return;
  pendingWrites.delete(backend);
  for (const p of list) learnWrittenNodes(backend, p);
}

function learnWrittenNodes(backend: KernelBackend, { cluster, writes, inos }: PendingWrites): void {
  const nodes = knownNodes(backend, cluster);
  if (!nodes) return;
  const prefix = o2nm.nodes(cluster) + '/';
  // node name → [num, ipv4_address, ipv4_port] as written
  const written = new Map<string, (string | undefined)[]>();
  for (const w of writes) {
    if (w.data === undefined || !w.path.startsWith(prefix)) continue;
    const slash = w.path.lastIndexOf('/');
    const at = ATTR_INDEX[w.path.slice(slash + 1)];
    if (at === undefined) continue;
    const node = w.path.slice(prefix.length, slash);
    let e = written.get(node);
    if (!e) written.set(node, (e = [undefined, undefined, undefined]));
    e[at] = String(w.data).trim();
  }
  for (const [name, [num, address, port]] of written) {
    if (num === undefined || address === undefined || port === undefined) continue;
    const ino = inos.get(name);
    if (ino !== undefined) nodes.set(name, { ino, num: Number(num), ipv4Address: address, ipv4Port: Number(port) });
  }
}
const ATTR_INDEX: Record<string, number> = { num: 0, ipv4_address: 1, ipv4_port: 2 };

/** Reads many attributes in one batch; a missing one (fake trees, older kernels) reads as undefined. */
export function readMany(backend: KernelBackend, paths: string[]): (string | undefined)[] {
  if (paths.length === 0) return [];
  const r = backend.batch(paths.map((path) => ({ op: 'read' as const, path, missingOk: true, attribute: true })));
  return r.reads.map((b) => b?.toString('utf8'));
}

/** dir/name for each name: through the backend's readUnder where it has one, else one batch. */
function readUnder(backend: KernelBackend, dir: string, names: string[]): (string | undefined)[] {
  if (names.length === 0) return [];
  return backend.readUnder ? backend.readUnder(dir, names) : readMany(backend, names.map((n) => `${dir}/${n}`));
}

const int = (s: string | undefined, dflt: number) => {
  const v = s === undefined ? NaN : Number.parseInt(s.trim(), 10);
  return Number.isFinite(v) ? v : dflt;
};
const str = (s: string | undefined, dflt: string) => (s === undefined ? dflt : s.trim());

export function readO2nmState(backend: KernelBackend): O2nmState {
  settleWrittenNodes(backend);
  const clusters = backend.tryList(O2NM_ROOT);
  if (clusters === undefined) return { available: false, clusters: [] };
  const out: O2nmClusterState[] = [];
  for (const c of clusters.filter((e) => e.type === 'dir')) out.push(readCluster(backend, c.name));
  return { available: true, clusters: out };
}

function readCluster(backend: KernelBackend, name: string): O2nmClusterState {
  const nodeDirs: DirEntry[] = (backend.tryList(o2nm.nodes(name)) ?? []).filter((e) => e.type === 'dir');
  const knownHere = knownNodes(backend, name);
  // a known node whose inode is the same: only `local` is read
  const trusted = nodeDirs.map((e) => {
    const k = knownHere?.get(e.name);
    return k && e.ino !== undefined && k.ino === e.ino ? k : undefined;
  });
  const regionNames = (backend.tryList(o2nm.heartbeat(name)) ?? []).filter((e) => e.type === 'dir').map((e) => e.name);
  // every attribute, relative to the cluster's directory
  const names = ['idle_timeout_ms', 'keepalive_delay_ms', 'reconnect_delay_ms', 'fence_method', 'heartbeat/dead_threshold', 'heartbeat/mode'];
  nodeDirs.forEach((e, j) => {
    const n = `node/${e.name}/`;
    if (trusted[j]) names.push(`${n}local`);
    else names.push(`${n}num`, `${n}ipv4_address`, `${n}ipv4_port`, `${n}local`);
  });
  for (const r of regionNames) {
    const h = `heartbeat/${r}/`;
    names.push(`${h}dev`, `${h}block_bytes`, `${h}start_block`, `${h}blocks`, `${h}pid`);
  }
  const v = readUnder(backend, o2nm.cluster(name), names);
  let i = 6;
  const nodes: O2nmNodeState[] = nodeDirs.map((e, j) => {
    const k = trusted[j];
    if (k) {
      const node = { name: e.name, num: k.num, ipv4Address: k.ipv4Address, ipv4Port: k.ipv4Port, local: int(v[i], 0) !== 0 };
      i += 1;
      return node;
    }
    const node = {
      name: e.name,
      num: int(v[i], 0),
      ipv4Address: str(v[i + 1], '0.0.0.0'),
      ipv4Port: int(v[i + 2], 0),
      local: int(v[i + 3], 0) !== 0,
    };
    i += 4;
    if (knownHere) {
      if (e.ino !== undefined && completeFromRead(node)) knownHere.set(e.name, { ino: e.ino, num: node.num, ipv4Address: node.ipv4Address, ipv4Port: node.ipv4Port });
      else knownHere.delete(e.name);
    }
    return node;
  });
  // nodes gone since the last read are forgotten
  if (knownHere) {
    const present = new Set(nodeDirs.map((e) => e.name));
    for (const n of [...knownHere.keys()]) if (!present.has(n)) knownHere.delete(n);
  }
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
