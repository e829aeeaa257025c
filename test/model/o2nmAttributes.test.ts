// The o2nm attribute table (lib/model/o2nmAttributes.ts) is the one list of attributes: every
// attribute in it is listed and read back by the simulator, read by the reader, planned, hinted,
// summarised and carried by the configuration formats; and an attribute added to a copy of the
// table shows up in all of them, which fails if any module keeps a list of its own.
import assert from 'node:assert/strict';
import { CLUSTER_CONF_EXTENSION_KEYS, formatClusterConf, parseClusterConf } from '../../lib/config/clusterConf.js';
import { formatJsonConfig, parseJsonConfig } from '../../lib/config/json.js';
import { O2CB_VARIABLES, parseO2cbDefaults } from '../../lib/config/o2cbDefaults.js';
import { DEFAULTS_TIMEOUTS } from '../../lib/config/o2cbStartup.js';
import type { AttrOp, BatchResult, KernelBackend } from '../../lib/kernel/backend.js';
import { readO2nmState } from '../../lib/kernel/o2nm.js';
import { SimBackend } from '../../lib/kernel/sim.js';
import { type ClusterConfig, validateCluster } from '../../lib/model/cluster.js';
import { attributeHint, hintFor } from '../../lib/model/hints.js';
import {
  type O2nmAttribute,
  type O2nmAttributeTable,
  O2NM_ATTRIBUTES,
  attributesOf,
  configValue,
  configureOption,
  formatKernelValue,
  parseKernelValue,
  relativePath,
  setConfigValue,
  settingsSummary,
  stateValue,
  timeoutKey,
} from '../../lib/model/o2nmAttributes.js';
import { isNoop, planO2nm } from '../../lib/model/o2nmPlan.js';
import { stateToConfig } from '../../lib/model/o2nmState.js';
import { o2nm } from '../../lib/model/paths.js';
import { applyO2nmPlan } from '../../lib/stack/o2nmApply.js';
import { cluster } from '../contract/o2nm.contract.js';

const C = 'ctest';

/** A value other than the default that the kernel and the configuration both accept. */
function otherValue(a: O2nmAttribute): string | number | boolean {
  switch (a.unit) {
    case 'enum':
      return a.values!.find((v) => v !== a.default)!;
    case 'bool':
      return !a.default;
    case 'ipv4':
      return '192.0.2.77';
    case 'text':
      return 'x';
    default: {
      // keepalive must stay below idle's default, the rest just differ from their default
      const d = a.default as number;
      const v = a.below ? Math.floor(d / 2) || 1 : d + 7;
      return a.range ? Math.min(Math.max(v, a.range.min), a.range.max) : v;
    }
  }
}

/** A cluster whose configured attributes all differ from the kernel's defaults. */
function nonDefaultCluster(table: O2nmAttributeTable, base: ClusterConfig = cluster(3, C)): ClusterConfig {
  const c: ClusterConfig = structuredClone(base);
  for (const a of table) if ((a.object === 'cluster' || a.object === 'heartbeat') && a.configKey) setConfigValue(a, c, otherValue(a));
  return c;
}

function countingReads(b: KernelBackend): () => number {
  let n = 0;
  const batch = b.batch.bind(b);
  b.batch = (ops: AttrOp[]): BatchResult => {
    n += ops.filter((o) => o.op === 'read').length;
    return batch(ops);
  };
  const under = b.readUnder?.bind(b);
  if (under) {
    b.readUnder = (dir: string, names: string[]) => {
      n += names.length;
      return under(dir, names);
    };
  }
  return () => n;
}

/** The copy of the table with one more cluster attribute and one more write-once node attribute. */
function tableWithFakes(): O2nmAttributeTable {
  const fakeCluster = {
    name: 'fake_delay_ms',
    object: 'cluster',
    stateKey: 'fakeDelayMs',
    configKey: 'timeouts.fakeDelayMs',
    unit: 'ms',
    default: 500,
    writeOrder: 2.5, // between reconnect_delay_ms and idle_timeout_ms
    range: { min: 1, max: 100000 },
    hints: { EINVAL: 'fake hint' },
    plan: { what: 'fake delay', onNewCluster: 'unless-default' },
    display: { label: 'fake', order: 4.5 },
  } as unknown as O2nmAttribute;
  const fakeNode = {
    name: 'fake_weight',
    object: 'node',
    stateKey: 'fakeWeight',
    configKey: 'fakeWeight',
    unit: 'count',
    default: 0,
    writeOnce: true,
    writeOrder: 2.5, // between ipv4_address and num
    range: { min: 1, max: 9 },
    plan: { what: 'weight', onNewCluster: 'always' },
  } as unknown as O2nmAttribute;
  return [...O2NM_ATTRIBUTES, fakeCluster, fakeNode];
}

describe('o2nm attribute table', function () {
  it('is well formed: unique names; write orders, below and requires within one object; requires written first; defaults read back', function () {
    const names = O2NM_ATTRIBUTES.map((a) => a.name);
    assert.equal(new Set(names).size, names.length, 'names are unique (hints and the simulator look attributes up by name)');
    for (const a of O2NM_ATTRIBUTES) {
      const same = attributesOf(a.object);
      for (const r of [...(a.requires ?? []), ...(a.below ? [a.below] : [])]) {
        const other = same.find((x) => x.name === r);
        assert.ok(other, `${a.name}: ${r} is an attribute of the same object`);
        if (a.requires?.includes(r) && a.writeOrder !== undefined) assert.ok(other.writeOrder! < a.writeOrder, `${r} is written before ${a.name}`);
      }
      assert.deepEqual(parseKernelValue(a, formatKernelValue(a, a.default)), a.default, `${a.name}: its default reads back`);
      if (a.unit === 'enum') assert.ok(a.values?.includes(a.default as string), `${a.name}: the default is one of its values`);
      if (a.plan) assert.ok(a.configKey || a.name === 'local', `${a.name}: what is planned has a configuration key`);
    }
    for (const o of ['cluster', 'heartbeat', 'node'] as const) {
      const orders = attributesOf(o).flatMap((a) => (a.writeOrder === undefined ? [] : [a.writeOrder]));
      assert.equal(new Set(orders).size, orders.length, `${o}: write orders are distinct`);
    }
  });

  it('every attribute is listed and read back by the simulator, and read by the reader into its state key', function () {
    const sim = new SimBackend();
    applyO2nmPlan(sim, planO2nm(cluster(2, C), readO2nmState(sim), { localNode: 'node1' }));
    sim.mkdir(o2nm.region(C, 'R1'));
    const state = readO2nmState(sim).clusters[0]!;
    const node = state.nodes.find((n) => n.name === 'node1')!;
    const region = state.heartbeat.regions[0]!;
    for (const a of O2NM_ATTRIBUTES) {
      const owner = a.object === 'node' ? 'node1' : a.object === 'region' ? 'R1' : undefined;
      const path = `${o2nm.cluster(C)}/${relativePath(a, owner)}`;
      const dir = path.slice(0, path.lastIndexOf('/'));
      assert.ok(sim.list(dir).some((e) => e.name === a.name && e.type === 'file'), `the simulator lists ${path}`);
      const got = stateValue(a, state, a.object === 'node' ? node : region);
      // a region's pid before heartbeat starts is absent from the state, as the kernel's empty file
      const want = a.zeroIsAbsent ? undefined : parseKernelValue(a, sim.read(path));
      assert.deepEqual(got, want, `${a.name} as read`);
    }
  });

  it('every configured attribute is planned with its path and bytes, and an applied plan is read back equal', function () {
    const sim = new SimBackend();
    applyO2nmPlan(sim, planO2nm(cluster(3, C), readO2nmState(sim), {}));
    const want = nonDefaultCluster(O2NM_ATTRIBUTES);
    const plan = planO2nm(want, readO2nmState(sim), { localNode: 'node0' });
    for (const a of O2NM_ATTRIBUTES.filter((x) => x.object === 'cluster' || x.object === 'heartbeat')) {
      if (!a.configKey) continue;
      const step = plan.steps.find((s) => s.path === o2nm.attr(C, a));
      assert.ok(step, `${a.name} is planned`);
      assert.equal(step.data, formatKernelValue(a, configValue(a, want)!));
    }
    assert.ok(plan.steps.some((s) => s.path === o2nm.attr(C, O2NM_ATTRIBUTES.find((a) => a.name === 'local')!, 'node0')), 'local is planned');
    applyO2nmPlan(sim, plan);
    const back = stateToConfig(readO2nmState(sim).clusters[0]!);
    for (const a of O2NM_ATTRIBUTES) if ((a.object === 'cluster' || a.object === 'heartbeat') && a.configKey) assert.deepEqual(configValue(a, back), configValue(a, want), a.name);
    assert.ok(isNoop(planO2nm(want, readO2nmState(sim), { localNode: 'node0' })));

    // a new node: every configured node attribute, in write order, then local
    const fresh = planO2nm(cluster(1, C), { available: true, clusters: [] }, { localNode: 'node0' });
    const nodeWrites = fresh.steps.filter((s) => s.node === 'node0' && s.op === 'write').map((s) => s.path.slice(s.path.lastIndexOf('/') + 1));
    const configured = attributesOf('node').filter((a) => a.configKey);
    assert.deepEqual(nodeWrites, [...configured.sort((x, y) => x.writeOrder! - y.writeOrder!).map((a) => a.name), 'local']);
  });

  it('every refusal a hint exists for is answered through hintFor; write-once, unique and requires give theirs', function () {
    for (const a of O2NM_ATTRIBUTES) {
      const path = `${o2nm.cluster(C)}/${relativePath(a, 'x')}`;
      for (const [code, text] of Object.entries(a.hints ?? {})) assert.equal(hintFor({ op: 'write', path, code }), text, `${a.name} ${code}`);
      if (a.writeOnce) assert.match(hintFor({ op: 'write', path, code: 'EBUSY' })!, /write-once/);
      if (a.unique && !a.hints?.EEXIST) assert.match(hintFor({ op: 'write', path, code: 'EEXIST' })!, /another node already has/);
      if (a.requires && !a.hints?.EINVAL) assert.equal(hintFor({ op: 'write', path, code: 'EINVAL' }), `set ${a.requires.length > 1 ? `${a.requires.slice(0, -1).join(', ')} and ${a.requires.at(-1)}` : a.requires[0]} before ${a.name}`);
    }
  });

  it('every displayed attribute is in the summary; every cluster.conf and /etc/default/o2cb key is carried by those formats', function () {
    const want = nonDefaultCluster(O2NM_ATTRIBUTES);
    const summary = settingsSummary(want);
    for (const a of O2NM_ATTRIBUTES.filter((x) => x.display)) assert.ok(summary.some((s) => s.startsWith(`${a.display!.label} ${configValue(a, want)}`)), `${a.name} summarised`);

    const text = formatClusterConf([want]);
    const back = parseClusterConf(text).clusters[0]!;
    for (const a of O2NM_ATTRIBUTES.filter((x) => x.clusterConf)) {
      assert.match(text, new RegExp(`\\t${a.clusterConf!.key} = `), `${a.clusterConf!.key} written`);
      if (a.object === 'node') assert.deepEqual(configValue(a, back.nodes[0]!), configValue(a, want.nodes[0]!), a.name);
      else assert.deepEqual(configValue(a, back), configValue(a, want), a.name);
      if (a.clusterConf!.extension) assert.equal(CLUSTER_CONF_EXTENSION_KEYS[a.clusterConf!.key], a.configKey);
    }
    const json = parseJsonConfig(formatJsonConfig([want])).clusters[0]!;
    for (const a of O2NM_ATTRIBUTES.filter((x) => (x.object === 'cluster' || x.object === 'heartbeat') && x.configKey)) assert.deepEqual(configValue(a, json), configValue(a, want), `${a.name} through JSON`);
    for (const a of O2NM_ATTRIBUTES.filter((x) => x.o2cbDefaults)) {
      const d = a.o2cbDefaults!;
      assert.match(configureOption(a)!.help, new RegExp(`^${d.variable}.*≥ ${d.min}`), `o2stack configure has an option for ${d.variable}`);
      const v = otherValue(a) as number;
      assert.equal((O2CB_VARIABLES as Record<string, { field: string }>)[d.variable]?.field, d.field);
      const parsed = parseO2cbDefaults(`${d.variable}=${Math.max(v, d.min)}\n`).values as Record<string, unknown>;
      assert.equal(parsed[d.field], Math.max(v, d.min), `${d.variable} read`);
      assert.ok(DEFAULTS_TIMEOUTS.some((t) => t.variable === d.variable && t.timeout === timeoutKey(a) && t.confKey === a.clusterConf?.key), `${d.variable} merged into cluster.conf's ${a.clusterConf?.key}`);
    }
    // a range the table gives is what validation enforces
    for (const a of O2NM_ATTRIBUTES.filter((x) => x.range && timeoutKey(x))) {
      const bad = structuredClone(want);
      setConfigValue(a, bad, a.range!.max + 1);
      assert.ok(validateCluster(bad).some((i) => i.code === 'E_CONF_TIMEOUT' && i.key === timeoutKey(a)), `${a.name} above its range`);
    }
  });

  it('an attribute added to a copy of the table is simulated, read, planned in its write order, applied, hinted and summarised', function () {
    const table = tableWithFakes();
    const sim = new SimBackend({ attributes: table });
    const fresh = readO2nmState(sim, table);
    assert.equal(fresh.clusters.length, 0);
    const want = cluster(3, C) as ClusterConfig & { timeouts: Record<string, number> };
    want.timeouts.fakeDelayMs = 1234;
    for (const [i, n] of want.nodes.entries()) (n as unknown as Record<string, number>).fakeWeight = i + 1;
    const plan = planO2nm(want, fresh, { localNode: 'node0', attributes: table });
    const leafs = plan.steps.map((s) => s.path.slice(s.path.lastIndexOf('/') + 1));
    const fake = leafs.indexOf('fake_delay_ms');
    assert.ok(fake >= 0, 'the cluster attribute is planned');
    assert.equal(plan.steps[fake]!.data, '1234\n');
    assert.match(plan.steps[fake]!.why, /^fake delay 1234 ms/);
    const nodeSteps = plan.steps.filter((s) => s.node === 'node1' && s.op === 'write').map((s) => s.path.slice(s.path.lastIndexOf('/') + 1));
    assert.deepEqual(nodeSteps, ['ipv4_port', 'ipv4_address', 'fake_weight', 'num'], 'the node attribute in its write order');

    applyO2nmPlan(sim, plan);
    assert.equal(sim.read(`${o2nm.cluster(C)}/fake_delay_ms`), '1234\n');
    assert.equal(sim.read(`${o2nm.node(C, 'node2')}/fake_weight`), '3\n');
    assert.throws(() => sim.write(`${o2nm.node(C, 'node2')}/fake_weight`, '4\n'), /EBUSY/, 'write-once in the simulator');
    assert.throws(() => sim.write(`${o2nm.cluster(C)}/fake_delay_ms`, '100001\n'), /ERANGE/, 'its range in the simulator');

    const readCount = countingReads(sim);
    const state = readO2nmState(sim, table);
    const c = state.clusters[0]! as unknown as Record<string, unknown> & { nodes: Record<string, unknown>[] };
    assert.equal(c.fakeDelayMs, 1234);
    assert.deepEqual(c.nodes.map((n) => n.fakeWeight).sort(), [1, 2, 3]);
    // the nodes were read whole once (the known-node shortcut learns the fake write-once attribute too)
    const again = readO2nmState(sim, table);
    const top = attributesOf('cluster', table).length + attributesOf('heartbeat', table).length;
    const changeable = attributesOf('node', table).filter((a) => !a.writeOnce).length;
    const before = readCount();
    readO2nmState(sim, table);
    assert.equal(readCount() - before, top + 3 * changeable, 'a third read reads only what can change');
    assert.deepEqual(again, state);
    assert.ok(isNoop(planO2nm(want, again, { localNode: 'node0', attributes: table })), 'applied: a second plan is a no-op');

    // changed behind our back: a differing value is planned again
    sim.write(`${o2nm.cluster(C)}/fake_delay_ms`, '99\n');
    const redo = planO2nm(want, readO2nmState(sim, table), { localNode: 'node0', attributes: table });
    assert.deepEqual(
      redo.steps.map((s) => [s.path, s.data, s.previous]),
      [[`${o2nm.cluster(C)}/fake_delay_ms`, '1234\n', '99\n']],
    );
    assert.equal(attributeHint('fake_delay_ms', 'EINVAL', table), 'fake hint');
    assert.match(attributeHint('fake_weight', 'EBUSY', table)!, /fake_weight is write-once/);
    assert.ok(settingsSummary(want, table).includes('fake 1234 ms'));
  });
});
