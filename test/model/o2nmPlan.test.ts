import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SimBackend } from '../../lib/kernel/sim.js';
import { readO2nmState } from '../../lib/kernel/o2nm.js';
import type { ClusterConfig } from '../../lib/model/cluster.js';
import { validateCluster } from '../../lib/model/cluster.js';
import { isNoop, planO2nm } from '../../lib/model/o2nmPlan.js';
import { stateToConfig } from '../../lib/model/o2nmState.js';
import { applyO2nmPlan, PlanBlockedError } from '../../lib/stack/o2nmApply.js';

const C = '/sys/kernel/config/cluster/c1';
const base = (nodes: [string, number, string][], extra: Partial<ClusterConfig> = {}): ClusterConfig => ({
  name: 'c1',
  nodes: nodes.map(([name, number, ipAddress]) => ({ name, number, ipAddress, port: 7777 })),
  heartbeatMode: 'local',
  heartbeatRegions: [],
  timeouts: {},
  ...extra,
});

function applied(cfg: ClusterConfig, local?: string): SimBackend {
  const b = new SimBackend();
  applyO2nmPlan(b, planO2nm(cfg, readO2nmState(b), { localNode: local }));
  return b;
}

function startHeartbeat(b: SimBackend): void {
  const R = `${C}/heartbeat/0123456789ABCDEF0123456789ABCDEF`;
  b.mkdir(R);
  b.batch([
    { op: 'write', path: `${R}/block_bytes`, data: '512\n' },
    { op: 'write', path: `${R}/start_block`, data: '8\n' },
    { op: 'write', path: `${R}/blocks`, data: '255\n' },
    { op: 'writefd', path: `${R}/dev`, device: '/dev/vdb' },
  ]);
}

describe('o2nm planner', function () {
  it('orders a new cluster: mkdir, timeouts, mode, nodes by number (port, address, num), local last', function () {
    const cfg = base([['b', 2, '192.0.2.2'], ['a', 1, '192.0.2.1']], { timeouts: { idleTimeoutMs: 10000, keepaliveDelayMs: 1000, heartbeatDeadThreshold: 7 } });
    const plan = planO2nm(cfg, { available: true, clusters: [] }, { localNode: 'b' });
    assert.deepEqual(
      plan.steps.map((s) => `${s.op} ${s.path.replace('/sys/kernel/config/cluster/', '')}${s.data ? ' ' + s.data.trim() : ''}`),
      [
        'mkdir c1',
        'write c1/keepalive_delay_ms 1000',
        'write c1/idle_timeout_ms 10000',
        'write c1/heartbeat/dead_threshold 7',
        'write c1/heartbeat/mode local',
        'mkdir c1/node/a', 'write c1/node/a/ipv4_port 7777', 'write c1/node/a/ipv4_address 192.0.2.1', 'write c1/node/a/num 1',
        'mkdir c1/node/b', 'write c1/node/b/ipv4_port 7777', 'write c1/node/b/ipv4_address 192.0.2.2', 'write c1/node/b/num 2',
        'write c1/node/b/local 1',
      ],
    );
  });

  it('raises idle before keepalive when the new keepalive does not fit under the current idle', function () {
    const b = applied(base([['a', 1, '192.0.2.1']]));
    const plan = planO2nm(base([['a', 1, '192.0.2.1']], { timeouts: { idleTimeoutMs: 90000, keepaliveDelayMs: 40000 } }), readO2nmState(b));
    assert.deepEqual(plan.steps.map((s) => s.path.split('/').pop()), ['idle_timeout_ms', 'keepalive_delay_ms']);
    applyO2nmPlan(b, plan); // the simulator enforces keepalive < idle at each write
    assert.equal(b.read(`${C}/keepalive_delay_ms`), '40000\n');
  });

  it('blocks a second cluster, and applies nothing', function () {
    const b = applied(base([['a', 1, '192.0.2.1']]));
    const other = { ...base([['a', 1, '192.0.2.1']]), name: 'c2' };
    const plan = planO2nm(other, readO2nmState(b));
    assert.equal(plan.blocked[0]!.code, 'E_PLAN_OTHER_CLUSTER');
    assert.match(plan.blocked[0]!.fix, /o2stack stop/);
    const before = b.log.length;
    assert.throws(() => applyO2nmPlan(b, plan), PlanBlockedError);
    assert.equal(b.log.length, before, 'nothing written');
  });

  it('blocks removing or changing the local node while heartbeat runs, and heartbeat settings while regions exist', function () {
    const b = applied(base([['a', 1, '192.0.2.1'], ['b', 2, '192.0.2.2']]), 'a');
    startHeartbeat(b);
    const state = readO2nmState(b);
    const p1 = planO2nm(base([['a', 5, '192.0.2.1'], ['b', 2, '192.0.2.2']]), state, { localNode: 'a' });
    assert.deepEqual(p1.blocked.map((x) => x.code), ['E_PLAN_LOCAL_PINNED']);
    const p2 = planO2nm(base([['a', 1, '192.0.2.1'], ['b', 2, '192.0.2.2']]), state, { localNode: 'b' });
    assert.deepEqual(p2.blocked.map((x) => x.code), ['E_PLAN_LOCAL_PINNED']);
    const p3 = planO2nm(base([['a', 1, '192.0.2.1'], ['b', 2, '192.0.2.2']], { heartbeatMode: 'global', timeouts: { heartbeatDeadThreshold: 9 } }), state, { localNode: 'a' });
    assert.deepEqual(p3.blocked.map((x) => x.code).sort(), ['E_PLAN_HB_MODE_LIVE', 'E_PLAN_HB_THRESHOLD_LIVE']);
    // a remote node can still be changed live (the kernel may refuse if o2net is connected)
    const p4 = planO2nm(base([['a', 1, '192.0.2.1'], ['b', 3, '192.0.2.2']]), state, { localNode: 'a' });
    assert.deepEqual(p4.blocked, []);
    assert.equal(p4.steps[0]!.op, 'rmdir');
    applyO2nmPlan(b, p4);
  });

  it('moves the local node by removing and re-adding the old one, never by writing 0 to local', function () {
    const cfg = base([['a', 1, '192.0.2.1'], ['b', 2, '192.0.2.2']]);
    for (const to of ['b', undefined]) {
      const b = applied(cfg, 'a');
      const plan = planO2nm(cfg, readO2nmState(b), { localNode: to });
      assert.deepEqual(plan.blocked, []);
      const short = plan.steps.map((s) => `${s.op} ${s.path.replace(`${C}/`, '')}${s.data ? ' ' + s.data.trim() : ''}`);
      assert.deepEqual(short, [
        'rmdir node/a',
        'mkdir node/a', 'write node/a/ipv4_port 7777', 'write node/a/ipv4_address 192.0.2.1', 'write node/a/num 1',
        ...(to ? [`write node/${to}/local 1`] : []),
      ]);
      assert.match(plan.steps[0]!.why, /writing 0 leaves some kernels, Debian's 6.1.0-50 among them, refusing any local node/);
      applyO2nmPlan(b, plan); // the simulator refuses a local node after one was cleared by writing 0
      assert.deepEqual(readO2nmState(b).clusters[0]!.nodes.filter((n) => n.local).map((n) => n.name), to ? [to] : []);
      assert.ok(isNoop(planO2nm(cfg, readO2nmState(b), { localNode: to })));
    }
  });

  it('reports missing o2nm (modules not loaded) as a blocker with the fix', function () {
    const plan = planO2nm(base([['a', 1, '192.0.2.1']]), { available: false, clusters: [] });
    assert.equal(plan.blocked[0]!.code, 'E_PLAN_NO_O2NM');
    assert.match(plan.blocked[0]!.fix, /o2stack start/);
  });

  it('warns when no node is this machine', function () {
    const plan = planO2nm(base([['a', 1, '192.0.2.1']]), { available: true, clusters: [] }, {});
    assert.match(plan.warnings.join('\n'), /without a local node/);
    assert.ok(!plan.steps.some((s) => s.path.endsWith('/local')));
  });

  it('keeps unknown nodes when asked', function () {
    const b = applied(base([['a', 1, '192.0.2.1'], ['x', 9, '192.0.2.9']]));
    const p = planO2nm(base([['a', 1, '192.0.2.1']]), readO2nmState(b), { keepUnknownNodes: true });
    assert.ok(isNoop(p), 'x stays, nothing else differs');
  });

  // Any valid cluster, from any reachable starting state (another valid cluster of the same name
  // applied first, maybe with a different local node): one apply converges, the next plan is empty.
  it('property: apply converges from any prior configuration and a second plan is a no-op', function () {
    const nodeArb = fc.record({
      name: fc.constantFrom('n0', 'n1', 'n2', 'n3', 'n4', 'n5'),
      number: fc.integer({ min: 0, max: 254 }),
      host: fc.integer({ min: 1, max: 12 }),
      port: fc.constantFrom(7777, 7778),
    });
    const clusterArb = fc
      .uniqueArray(nodeArb, { minLength: 1, maxLength: 6, selector: (n) => n.name })
      .filter((ns) => new Set(ns.map((n) => n.number)).size === ns.length && new Set(ns.map((n) => n.host)).size === ns.length)
      .chain((ns) =>
        fc.record({
          nodes: fc.constant(ns.map((n) => ({ name: n.name, number: n.number, ipAddress: `192.0.2.${n.host}`, port: n.port }))),
          local: fc.option(fc.constantFrom(...ns.map((n) => n.name)), { nil: undefined }),
          idle: fc.option(fc.integer({ min: 3000, max: 60000 }), { nil: undefined }),
          ka: fc.option(fc.integer({ min: 1000, max: 2900 }), { nil: undefined }),
          dead: fc.option(fc.integer({ min: 3, max: 61 }), { nil: undefined }),
          fence: fc.option(fc.constantFrom('reset' as const, 'panic' as const), { nil: undefined }),
        }),
      )
      .map((r) => ({
        cfg: { name: 'c1', nodes: r.nodes, heartbeatMode: 'local' as const, heartbeatRegions: [], timeouts: { idleTimeoutMs: r.idle, keepaliveDelayMs: r.ka, heartbeatDeadThreshold: r.dead }, fenceMethod: r.fence },
        local: r.local,
      }));
    fc.assert(
      fc.property(clusterArb, clusterArb, (before, after) => {
        assert.deepEqual(validateCluster(after.cfg), []);
        const b = applied(before.cfg, before.local);
        const plan = planO2nm(after.cfg, readO2nmState(b), { localNode: after.local });
        assert.deepEqual(plan.blocked, []);
        applyO2nmPlan(b, plan);
        const state = readO2nmState(b);
        const got = stateToConfig(state.clusters[0]!);
        assert.deepEqual(got.nodes, [...after.cfg.nodes].sort((x, y) => x.number - y.number));
        assert.deepEqual(state.clusters[0]!.nodes.filter((n) => n.local).map((n) => n.name), after.local ? [after.local] : []);
        assert.ok(isNoop(planO2nm(after.cfg, state, { localNode: after.local })), 'second plan is a no-op');
      }),
      { numRuns: 300 },
    );
  });
});
