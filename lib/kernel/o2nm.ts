// Reads the o2nm/o2hb configfs tree into an O2nmState (model/o2nmState.ts). Which attributes
// exist, where, and how their text reads come from the attribute table (model/o2nmAttributes.ts).
// A cluster's attributes are read in one native call (readUnder: relative to one directory fd;
// backends without it, one batch).
//
// Known nodes: a node's write-once attributes (num, ipv4_address, ipv4_port) never change, and a
// configfs directory keeps its inode number for its whole life (a removed and re-made node gets a
// new one). So once a node has been seen (or written) with all of them set, a later read of the
// same backend needs only the node's other attributes (`local`) while readdir gives the same
// inode: a second, no-op apply of a 255-node cluster reads 255 attributes instead of 1020. Only
// where the backend says inodes are stable (real configfs, the simulator), never on fake trees.
import { type O2nmAttribute, type O2nmAttributeTable, type O2nmValue, O2NM_ATTRIBUTES, attributesOf, parseKernelValue, relativePath } from '../model/o2nmAttributes.js';
import type { O2hbRegionState, O2nmClusterState, O2nmNodeState, O2nmState } from '../model/o2nmState.js';
import { O2NM_ROOT, o2nm } from '../model/paths.js';
import type { DirEntry, KernelBackend } from './backend.js';

/** What the reader needs from a table, worked out once per table. */
interface Layout {
  /** cluster and heartbeat attributes, and their paths relative to the cluster's directory */
  top: O2nmAttribute[];
  topPaths: string[];
  node: O2nmAttribute[];
  /** the node's write-once attributes (what a known node's values are) and the rest (read every time) */
  writeOnce: O2nmAttribute[];
  changeable: O2nmAttribute[];
  region: O2nmAttribute[];
  /** write-once attribute name → its index in writeOnce */
  writeOnceIndex: Map<string, number>;
  /** for each node attribute: its index in writeOnce, or -1 */
  nodeOnceAt: number[];
}
const layouts = new WeakMap<O2nmAttributeTable, Layout>();

function layoutOf(table: O2nmAttributeTable): Layout {
  let l = layouts.get(table);
  if (l) return l;
  const top = [...attributesOf('cluster', table), ...attributesOf('heartbeat', table)];
  const node = attributesOf('node', table);
  const writeOnce = node.filter((a) => a.writeOnce);
  l = {
    top,
    topPaths: top.map((a) => relativePath(a)),
    node,
    writeOnce,
    changeable: node.filter((a) => !a.writeOnce),
    region: attributesOf('region', table),
    writeOnceIndex: new Map(writeOnce.map((a, i) => [a.name, i])),
    nodeOnceAt: node.map((a) => writeOnce.indexOf(a)),
  };
  layouts.set(table, l);
  return l;
}

interface KnownNode {
  ino: number;
  /** the write-once attributes' values, in Layout.writeOnce order */
  values: O2nmValue[];
}
/** backend → table → cluster name → node name → its write-once values and the inode they belong to */
const known = new WeakMap<KernelBackend, WeakMap<O2nmAttributeTable, Map<string, Map<string, KnownNode>>>>();

function knownNodes(backend: KernelBackend, table: O2nmAttributeTable, cluster: string): Map<string, KnownNode> | undefined {
  if (!backend.stableInodes) return undefined;
  let byTable = known.get(backend);
  if (!byTable) known.set(backend, (byTable = new WeakMap()));
  let byCluster = byTable.get(table);
  if (!byCluster) byTable.set(table, (byCluster = new Map()));
  let nodes = byCluster.get(cluster);
  if (!nodes) byCluster.set(cluster, (nodes = new Map()));
  return nodes;
}

/** An unset write-once attribute reads as its default (num's 0 is also a valid number: a read proves num set only from 1 up). */
const completeFromRead = (l: Layout, node: Record<string, unknown>) => l.writeOnce.every((a) => node[a.stateKey] !== a.default);

/**
 * After a batch that ran without error: the nodes whose write-once attributes it wrote are
 * complete, whatever their values (lib/stack/o2nmApply.ts calls this).
 */
export function rememberWrittenNodes(backend: KernelBackend, cluster: string, writes: { path: string; data?: string | Buffer }[]): void {
  if (!backend.stableInodes) return;
  // The inodes now (one readdir: these are the directories the writes went to); which nodes the
  // writes completed is worked out on the next read of this backend, if any: a CLI run that
  // applies and exits never reads again (and that read's attribute table says which are write-once).
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

function settleWrittenNodes(backend: KernelBackend, table: O2nmAttributeTable): void {
  const list = pendingWrites.get(backend);
  if (!list) return;
  pendingWrites.delete(backend);
  for (const p of list) learnWrittenNodes(backend, table, p);
}

function learnWrittenNodes(backend: KernelBackend, table: O2nmAttributeTable, { cluster, writes, inos }: PendingWrites): void {
  const nodes = knownNodes(backend, table, cluster);
  if (!nodes) return;
  const l = layoutOf(table);
  const prefix = o2nm.nodes(cluster) + '/';
  // node name → the write-once values as written (Layout.writeOnce order)
  const written = new Map<string, (string | undefined)[]>();
  for (const w of writes) {
    if (w.data === undefined || !w.path.startsWith(prefix)) continue;
    const slash = w.path.lastIndexOf('/');
    const at = l.writeOnceIndex.get(w.path.slice(slash + 1));
    if (at === undefined) continue;
    const node = w.path.slice(prefix.length, slash);
    let e = written.get(node);
    if (!e) written.set(node, (e = new Array<string | undefined>(l.writeOnce.length).fill(undefined)));
    e[at] = String(w.data);
  }
  for (const [name, texts] of written) {
    if (texts.some((t) => t === undefined)) continue;
    const ino = inos.get(name);
    if (ino !== undefined) nodes.set(name, { ino, values: texts.map((t, i) => parseKernelValue(l.writeOnce[i]!, t)) });
  }
}

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

/** The o2nm state of every registered cluster; `table` is the attribute table (tests pass a changed copy). */
export function readO2nmState(backend: KernelBackend, table: O2nmAttributeTable = O2NM_ATTRIBUTES): O2nmState {
  settleWrittenNodes(backend, table);
  const clusters = backend.tryList(O2NM_ROOT);
  if (clusters === undefined) return { available: false, clusters: [] };
  const out: O2nmClusterState[] = [];
  for (const c of clusters.filter((e) => e.type === 'dir')) out.push(readCluster(backend, c.name, table));
  return { available: true, clusters: out };
}

function readCluster(backend: KernelBackend, name: string, table: O2nmAttributeTable): O2nmClusterState {
  const l = layoutOf(table);
  const nodeDirs: DirEntry[] = (backend.tryList(o2nm.nodes(name)) ?? []).filter((e) => e.type === 'dir');
  const knownHere = knownNodes(backend, table, name);
  // a known node whose inode is the same: only its changeable attributes are read
  const trusted = nodeDirs.map((e) => {
    const k = knownHere?.get(e.name);
    return k && e.ino !== undefined && k.ino === e.ino ? k : undefined;
  });
  const regionNames = (backend.tryList(o2nm.heartbeat(name)) ?? []).filter((e) => e.type === 'dir').map((e) => e.name);
  // every attribute, relative to the cluster's directory
  const names = [...l.topPaths];
  nodeDirs.forEach((e, j) => {
    for (const a of trusted[j] ? l.changeable : l.node) names.push(relativePath(a, e.name));
  });
  for (const r of regionNames) for (const a of l.region) names.push(relativePath(a, r));
  const v = readUnder(backend, o2nm.cluster(name), names);

  const clusterRec: Record<string, unknown> = { name };
  const heartbeatRec: Record<string, unknown> = {};
  l.top.forEach((a, k) => ((a.object === 'cluster' ? clusterRec : heartbeatRec)[a.stateKey] = parseKernelValue(a, v[k])));
  let i = l.top.length;
  const nodes = nodeDirs.map((e, j) => {
    const node: Record<string, unknown> = { name: e.name };
    const k = trusted[j];
    l.node.forEach((a, at) => {
      const w = l.nodeOnceAt[at]!;
      node[a.stateKey] = k && w >= 0 ? k.values[w] : parseKernelValue(a, v[i++]);
    });
    if (knownHere && !k) {
      if (e.ino !== undefined && completeFromRead(l, node)) knownHere.set(e.name, { ino: e.ino, values: l.writeOnce.map((a) => node[a.stateKey] as O2nmValue) });
      else knownHere.delete(e.name);
    }
    return node as unknown as O2nmNodeState;
  });
  // nodes gone since the last read are forgotten
  if (knownHere) {
    const present = new Set(nodeDirs.map((e) => e.name));
    for (const n of [...knownHere.keys()]) if (!present.has(n)) knownHere.delete(n);
  }
  const regions = regionNames.map((r) => {
    const region: Record<string, unknown> = { name: r };
    for (const a of l.region) {
      const value = parseKernelValue(a, v[i++]);
      if (!(a.zeroIsAbsent && !(Number(value) > 0))) region[a.stateKey] = value;
    }
    return region as unknown as O2hbRegionState;
  });
  clusterRec.nodes = nodes;
  clusterRec.heartbeat = { ...heartbeatRec, regions };
  return clusterRec as unknown as O2nmClusterState;
}
