// Plans the configfs operations that make the kernel's o2nm cluster match a configuration.
// Pure: takes the desired cluster and the state read from configfs, returns ordered steps and
// the changes the kernel cannot make live (with the reason and what to do instead).
//
// Which attributes are written, in what order, and what the kernel allows of each come from the
// attribute table (o2nmAttributes.ts). Kernel rules honoured (docs/kernel-interfaces.md#o2nm, #o2hb):
// - one cluster per kernel; node attributes in the table's write order (port, address, num), then `local`;
// - ipv4_port, ipv4_address and num are write-once: a changed node is removed and re-added;
// - the local node is pinned while heartbeat runs, so it cannot be removed or un-localed then;
// - a local node is moved by removing it (writing 0 to `local` leaves Debian's 6.1.0-50 refusing
//   any later local node until the cluster is removed);
// - keepalive < idle at every step, so the order of those two writes depends on the direction;
// - heartbeat/dead_threshold and heartbeat/mode writes are silently ignored while any region exists;
// - timeouts are written before `local` (o2net starts listening when `local` is set).
import type { ClusterConfig, NodeConfig, Timeouts } from './cluster.js';
import { localAddressProblem } from './localAddress.js';
import { type O2nmAttribute, type O2nmAttributeTable, type O2nmValue, O2NM_ATTRIBUTES, attributeNamed, configAccessor, attributesOf, configValue, formatKernelValue, formatWithUnit, stateValue, timeoutKey, writeOrdered } from './o2nmAttributes.js';
import { type O2nmClusterState, type O2nmNodeState, type O2nmState, heartbeatActive } from './o2nmState.js';
import { O2NM_ROOT, o2nm } from './paths.js';

export interface PlanStep {
  op: 'mkdir' | 'rmdir' | 'write';
  path: string;
  /** the exact bytes written (write steps) */
  data?: string;
  /** why this step is needed, for people */
  why: string;
  /** the node this step belongs to */
  node?: string;
  /** set on the mkdir of a node created by this plan (apply removes it again if its setup fails) */
  createsNode?: boolean;
  /** a condition under which the kernel may still refuse the step */
  caveat?: string;
  /** write steps on cluster and heartbeat attributes: the value the kernel held before (what a rollback writes back) */
  previous?: string;
}

export interface PlanBlocker {
  code: string;
  path: string;
  reason: string;
  fix: string;
}

export interface O2nmPlan {
  cluster: string;
  localNode?: string;
  steps: PlanStep[];
  blocked: PlanBlocker[];
  warnings: string[];
}

export interface PlanOptions {
  /** name of the node that is this machine (see findLocalNode); none: register nodes without a local one */
  localNode?: string;
  /** keep nodes that are in the kernel but not in the configuration (default: remove them) */
  keepUnknownNodes?: boolean;
  /** where each timeout comes from ("O2CB_IDLE_TIMEOUT_MS, /etc/default/o2cb:14"), said in the step's why */
  timeoutSources?: Partial<Record<keyof Timeouts, string>>;
  /** the IPv4 addresses of this host: a local node with another address is warned about (the kernel refuses it) */
  hostAddresses?: string[];
  /** the configuration file, named in that warning's fix */
  configFile?: string;
  /** the attribute table (default O2NM_ATTRIBUTES; tests pass a changed copy) */
  attributes?: O2nmAttributeTable;
}

/** What the planner needs of a table's node attributes, worked out once per table (a plan walks 255 nodes). */
interface NodeAttrs {
  /** the attributes the configuration sets (the write-once ones), in declaration order */
  configured: O2nmAttribute[];
  /** the same in write order, each with its configuration getter */
  writes: { attr: O2nmAttribute; get: (n: NodeConfig) => O2nmValue | undefined }[];
  /** write-once attributes whose unset value is no real value (a node reading it is half made) */
  unsetShows: O2nmAttribute[];
  /** configured: state key and configuration getter of each (direct access: a no-op plan compares 255 nodes) */
  compare: { stateKey: string; get: (n: NodeConfig) => O2nmValue | undefined }[];
}
const nodeAttrsByTable = new WeakMap<O2nmAttributeTable, NodeAttrs>();
function nodeAttrsOf(table: O2nmAttributeTable): NodeAttrs {
  let n = nodeAttrsByTable.get(table);
  if (!n) {
    const node = attributesOf('node', table);
    const configured = node.filter((a) => a.configKey !== undefined);
    const compare = configured.map((a) => ({ stateKey: a.stateKey as string, get: configAccessor(a) }));
    n = { configured, writes: writeOrdered(configured).map((attr) => ({ attr, get: configAccessor(attr) })), unsetShows: node.filter((a) => a.writeOnce && !a.unsetAmbiguous), compare };
    nodeAttrsByTable.set(table, n);
  }
  return n;
}

function sameNode(cur: O2nmNodeState, want: NodeConfig, attrs: NodeAttrs): boolean {
  const rec = cur as unknown as Record<string, unknown>;
  for (const c of attrs.compare) if (rec[c.stateKey] !== c.get(want)) return false;
  return true;
}

/** The attributes whose change makes the node differ: " → " for each, in declaration order. */
function nodeDiffs(cur: O2nmNodeState, want: NodeConfig, attrs: NodeAttrs): string[] {
  const diffs: string[] = [];
  for (const a of attrs.configured) {
    const was = stateValue(a, undefined, cur);
    const will = configValue(a, want);
    if (was !== will) diffs.push(`${a.plan?.what ?? a.name} ${was} → ${will}`);
  }
  return diffs;
}

/** Some write-once attribute reads unset (one whose unset value cannot be a real one). */
function halfConfigured(cur: O2nmNodeState, attrs: NodeAttrs): boolean {
  const rec = cur as unknown as Record<string, unknown>;
  for (const a of attrs.unsetShows) if (rec[a.stateKey] === a.default) return true;
  return false;
}

export function planO2nm(desired: ClusterConfig, current: O2nmState, options: PlanOptions = {}): O2nmPlan {
  const steps: PlanStep[] = [];
  const blocked: PlanBlocker[] = [];
  const warnings: string[] = [];
  const name = desired.name;
  const localName = options.localNode && desired.nodes.some((n) => n.name === options.localNode) ? options.localNode : undefined;
  if (options.localNode && !localName) {
    warnings.push(`node '${options.localNode}' is not in cluster '${name}': nodes are registered without a local node`);
  }
  if (!options.localNode) {
    warnings.push(`no node of cluster '${name}' is this host: nodes are registered without a local node (o2net will not listen and heartbeat cannot start); pass --node NAME`);
  }
  if (localName && options.hostAddresses) {
    const p = localAddressProblem(desired, localName, options.hostAddresses, options.configFile);
    if (p) warnings.push(`${p.message}; fix: ${p.fix}`);
  }
  const table = options.attributes ?? O2NM_ATTRIBUTES;
  const nodeAttrs = nodeAttrsOf(table);
  const src = (a: O2nmAttribute) => {
    const k = timeoutKey(a);
    return k && options.timeoutSources?.[k] ? ` (${options.timeoutSources[k]})` : '';
  };

  if (!current.available) {
    blocked.push({
      code: 'E_PLAN_NO_O2NM',
      path: O2NM_ROOT,
      reason: 'configfs is not mounted, or the ocfs2_nodemanager module is not loaded',
      fix: 'o2stack start (loads the modules and mounts configfs), or: modprobe ocfs2_stack_o2cb && mount -t configfs none /sys/kernel/config',
    });
  }
  for (const other of current.clusters.filter((c) => c.name !== name)) {
    blocked.push({
      code: 'E_PLAN_OTHER_CLUSTER',
      path: o2nm.cluster(other.name),
      reason: `cluster '${other.name}' is registered; the kernel holds one cluster at a time (a second mkdir fails with ENOSPC)`,
      fix: `unmount its volumes, then o2stack stop (or: o2cb unregister-cluster ${other.name}), then apply again`,
    });
  }

  const cur: O2nmClusterState | undefined = current.clusters.find((c) => c.name === name);
  const hbActive = cur ? heartbeatActive(cur) : false;
  const regionsExist = cur ? cur.heartbeat.regions.length > 0 : false;
  if (!cur) steps.push({ op: 'mkdir', path: o2nm.cluster(name), why: `register cluster '${name}'` });

  // 1. Nodes that go away or must be re-created (write-once attributes changed).
  const wanted = new Map(desired.nodes.map((n) => [n.name, n]));
  const recreate = new Set<string>();
  const removed = new Set<string>();
  for (const n of cur?.nodes ?? []) {
    const want = wanted.get(n.name);
    let why: string | undefined;
    if (!want) {
      if (options.keepUnknownNodes) continue;
      why = `node '${n.name}' is not in the configuration`;
    } else if (halfConfigured(n, nodeAttrs)) {
      why = `node '${n.name}' is half configured (an earlier setup stopped part way): it is removed and added again`;
    } else if (!sameNode(n, want, nodeAttrs)) {
      const diffs = nodeDiffs(n, want, nodeAttrs);
      why = `node '${n.name}' changed (${diffs.join(', ')}); these attributes are write-once, so the node is removed and added again`;
    } else if (n.local && n.name !== localName) {
      // not `local` = 0: the kernel (Debian's 6.1.0-50) then keeps counting a local node and
      // refuses every later `local` = 1 with EBUSY until the cluster is removed
      why = `node '${n.name}' is the local node and ${localName ? `'${localName}'` : 'no node'} is to be: it is removed and added again (clearing 'local' by writing 0 leaves some kernels, Debian's 6.1.0-50 among them, refusing any local node until the cluster is removed)`;
    }
    if (!why) continue;
    if (n.local && hbActive) {
      blocked.push({
        code: 'E_PLAN_LOCAL_PINNED',
        path: o2nm.node(name, n.name),
        reason: `${why}, but it is the local node and heartbeat is running (the kernel pins it: rmdir fails with EBUSY)`,
        fix: 'unmount the OCFS2 volumes on this node (o2stack umount DIR) so heartbeat stops, then apply again',
      });
      continue;
    }
    steps.push({ op: 'rmdir', path: o2nm.node(name, n.name), why, node: n.name, caveat: 'the kernel refuses (EBUSY) while o2net is connected to this node' });
    if (want) recreate.add(n.name);
    else removed.add(n.name);
  }

  // 2. Cluster and heartbeat attributes, in the table's write order (all before any node is made
  // local: o2net reads the timeouts when it starts listening).
  const attrSteps: { attr: O2nmAttribute; step: PlanStep; value: O2nmValue }[] = [];
  const currentOf = (a: O2nmAttribute) => (cur ? stateValue(a, cur) : undefined);
  const byName = new Map<string, O2nmAttribute>();
  for (const a of writeOrdered([...attributesOf('cluster', table), ...attributesOf('heartbeat', table)])) {
    byName.set(a.name, a);
    const value = configValue(a, desired);
    if (value === undefined || !a.plan) continue;
    const curValue = currentOf(a);
    // what the kernel holds now: on a cluster this plan creates, the default where that is known
    const before = cur ? curValue : a.plan.onNewCluster === 'unless-default' ? a.default : undefined;
    if (before !== undefined && String(before) === String(value)) continue;
    if (a.ignoredWhileRegions && regionsExist) {
      blocked.push({
        code: a.plan.blockedCode ?? 'E_PLAN_ATTR_LIVE',
        path: o2nm.attr(name, a),
        reason: `${a.plan.what} ${curValue} → ${value} cannot change while heartbeat regions exist (the kernel accepts the write and ignores it)`,
        fix: 'unmount the OCFS2 volumes and stop heartbeat on this node (o2stack umount, o2stack stop), then apply again',
      });
      continue;
    }
    const shown = a.plan.showChange ? `${before} → ${formatWithUnit(a, value)}` : formatWithUnit(a, value);
    const step: PlanStep = { op: 'write', path: o2nm.attr(name, a), data: formatKernelValue(a, value), why: `${a.plan.what} ${shown}${src(a)}` };
    if (a.plan.caveat) step.caveat = a.plan.caveat;
    if (cur && curValue !== undefined) step.previous = formatKernelValue(a, curValue);
    attrSteps.push({ attr: a, step, value });
  }
  // An attribute that must stay below another is written first when its new value already fits
  // under the other's current value (lowering keepalive before idle); otherwise after it.
  for (const s of [...attrSteps]) {
    const above = s.attr.below === undefined ? undefined : byName.get(s.attr.below);
    if (!above) continue;
    const at = attrSteps.findIndex((x) => x.attr === above);
    if (at < 0) continue;
    const limit = cur ? currentOf(above) : above.default;
    if (Number(s.value) < Number(limit)) {
      attrSteps.splice(attrSteps.indexOf(s), 1);
      attrSteps.splice(at, 0, s);
    }
  }
  steps.push(...attrSteps.map((s) => s.step));

  // 3. New and re-created nodes, in number order: mkdir, then the configured attributes in write order.
  const existing = new Map((cur?.nodes ?? []).map((n) => [n.name, n]));
  const toCreate = desired.nodes
    .filter((n) => !existing.has(n.name) || recreate.has(n.name))
    .sort((a, b) => a.number - b.number);
  for (const n of toCreate) {
    const what = recreate.has(n.name) ? 're-add' : 'add';
    steps.push({ op: 'mkdir', path: o2nm.node(name, n.name), why: `${what} node '${n.name}' (number ${n.number}, ${n.ipAddress}:${n.port})`, node: n.name, createsNode: true });
    const dir = o2nm.node(name, n.name);
    for (const { attr: a, get } of nodeAttrs.writes) {
      const value = get(n);
      if (value === undefined) continue;
      steps.push({ op: 'write', path: `${dir}/${a.name}`, data: formatKernelValue(a, value), why: `${a.plan?.what ?? a.name} of '${n.name}'`, node: n.name });
    }
  }

  // 4. The local node, last: setting it starts the o2net listener. A local node that is not to
  // be one any more was removed (and re-added) in 1, or blocked there while heartbeat runs.
  const curLocal = cur?.nodes.find((n) => n.local && !removed.has(n.name) && !recreate.has(n.name));
  const localAttr = attributeNamed('local', table)!;
  if (localName && !curLocal) {
    steps.push({
      op: 'write',
      path: o2nm.attr(name, localAttr, localName),
      data: formatKernelValue(localAttr, true),
      why: `'${localName}' is this machine (starts the o2net listener)`,
      node: localName,
      caveat: "the kernel refuses (EADDRNOTAVAIL) if the node's address is not on this host, or EADDRINUSE if the port is taken",
    });
  }

  return { cluster: name, localNode: localName, steps, blocked, warnings };
}

export function isNoop(plan: O2nmPlan): boolean {
  return plan.steps.length === 0 && plan.blocked.length === 0;
}

/**
 * The steps that undo the first `done` steps of a plan, newest first: nodes and the cluster this
 * plan created are removed (a node's attributes go with its directory), cluster and heartbeat
 * attributes get their previous value back. What cannot be undone (a node the plan removed from
 * the kernel, a `local` written on a node it did not create) is listed in `cannot`.
 */
export function planRollback(plan: O2nmPlan, done: number): { steps: PlanStep[]; cannot: string[] } {
  const ran = plan.steps.slice(0, done);
  const steps: PlanStep[] = [];
  const cannot: string[] = [];
  const createdDirs = new Set(ran.filter((s) => s.op === 'mkdir').map((s) => s.path));
  const inside = (path: string) => [...createdDirs].some((d) => path.startsWith(`${d}/`));
  for (const s of [...ran].reverse()) {
    if (s.op === 'mkdir') {
      steps.push({ op: 'rmdir', path: s.path, why: `undo: ${s.why}`, ...(s.node ? { node: s.node } : {}) });
    } else if (s.op === 'write') {
      if (inside(s.path)) continue; // removed with its directory
      if (s.previous !== undefined) steps.push({ op: 'write', path: s.path, data: s.previous, why: `undo: ${s.why} (back to ${s.previous.trim()})` });
      else cannot.push(`${s.why} (${s.path})`);
    } else {
      cannot.push(`${s.why}: it was removed from the kernel and is not added back`);
    }
  }
  return { steps, cannot };
}
