// A failed start undoes everything it registered in this run (issue 12, item 5), on the simulator
// (lib/kernel/sim.ts, which refuses `local` for an address that is not this host's, as the kernel
// does); the real kernel: test/vm/suites/o2cb-operator.vm.ts.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BatchError } from '../../lib/kernel/backend.js';
import { KernelError } from '../../lib/kernel/errors.js';
import { readO2nmState } from '../../lib/kernel/o2nm.js';
import { SimBackend } from '../../lib/kernel/sim.js';
import type { ClusterConfig } from '../../lib/model/cluster.js';
import { localAddressProblem } from '../../lib/model/localAddress.js';
import { planO2nm, planRollback } from '../../lib/model/o2nmPlan.js';
import { stateToConfig } from '../../lib/model/o2nmState.js';
import { ApplyError, applyO2nmPlan } from '../../lib/stack/o2nmApply.js';
import { startFailureSummary } from '../../lib/stack/o2cb.js';

const cluster = (n: number, extra: Partial<ClusterConfig> = {}): ClusterConfig => ({
  name: 'web',
  nodes: Array.from({ length: n }, (_, i) => ({ name: `n${i + 1}`, number: i + 1, ipAddress: `10.0.0.${i + 1}`, port: 7777 })),
  heartbeatMode: 'local',
  heartbeatRegions: [],
  timeouts: {},
  ...extra,
});

function applyError(fn: () => unknown): ApplyError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ApplyError, String(e));
    return e;
  }
  assert.fail('expected an ApplyError');
}

describe('no half-started cluster: a failed apply undoes this run (simulator)', () => {
  it('a fresh start refused at the local node (EADDRNOTAVAIL) leaves no cluster, and says what it undid', () => {
    const b = new SimBackend({ hostAddresses: ['127.0.0.1'] });
    const c = cluster(3, { timeouts: { idleTimeoutMs: 12000, heartbeatDeadThreshold: 13 } });
    const plan = planO2nm(c, readO2nmState(b), { localNode: 'n2' });
    const e = applyError(() => applyO2nmPlan(b, plan, { rollback: 'all' }));
    assert.equal(e.cause.code, 'EADDRNOTAVAIL');
    assert.equal(e.failed.path, '/sys/kernel/config/cluster/web/node/n2/local');
    assert.deepEqual(e.rolledBack.map((s) => `${s.op} ${s.path}`), ['rmdir /sys/kernel/config/cluster/web/node/n3', 'rmdir /sys/kernel/config/cluster/web/node/n2', 'rmdir /sys/kernel/config/cluster/web/node/n1', 'rmdir /sys/kernel/config/cluster/web']);
    assert.deepEqual(e.rollbackFailed, []);
    assert.deepEqual(e.notUndone, []);
    assert.deepEqual(readO2nmState(b).clusters, [], 'nothing registered');
    assert.match(startFailureSummary('web', e.rolledBack.length, 0, e.notUndone), /it undid everything it had registered in this run \(4 configfs operation\(s\)\): the kernel is as before/);
    // the default rollback (libo2cb's: only the half-made node) leaves the cluster and the other nodes
    const b2 = new SimBackend({ hostAddresses: ['127.0.0.1'] });
    applyError(() => applyO2nmPlan(b2, planO2nm(c, readO2nmState(b2), { localNode: 'n2' })));
    assert.deepEqual(readO2nmState(b2).clusters.map((x) => x.nodes.map((n) => n.name).sort()), [['n1', 'n3']]);
  });

  it('on a cluster that was already registered: new nodes go, changed timeouts get their old values back, the rest stays', () => {
    const b = new SimBackend({ hostAddresses: ['10.0.0.1', '10.0.0.2'] });
    applyO2nmPlan(b, planO2nm(cluster(2), readO2nmState(b), {}));
    const before = readO2nmState(b);
    // now: two more nodes and new timeouts, with a local node whose address is not this host's
    const want = cluster(4, { timeouts: { idleTimeoutMs: 15000, keepaliveDelayMs: 3000, reconnectDelayMs: 4000 } });
    const plan = planO2nm(want, before, { localNode: 'n4' });
    assert.ok(plan.steps.some((s) => s.previous === '30000\n'), 'the idle timeout step carries the old value');
    const e = applyError(() => applyO2nmPlan(b, plan, { rollback: 'all' }));
    assert.equal(e.cause.code, 'EADDRNOTAVAIL');
    assert.deepEqual(readO2nmState(b), before, 'the kernel is as it was before this run');
    assert.ok(e.rolledBack.some((s) => s.op === 'write' && s.data === '30000\n'), 'idle timeout written back');
  });

  it('planRollback says what it cannot undo (a node this run removed from the kernel)', () => {
    const b = new SimBackend();
    applyO2nmPlan(b, planO2nm(cluster(2), readO2nmState(b), {}));
    const moved = cluster(2);
    moved.nodes[1] = { ...moved.nodes[1]!, ipAddress: '10.0.0.9' };
    const plan = planO2nm(moved, readO2nmState(b), {});
    const undo = planRollback(plan, plan.steps.length);
    assert.deepEqual(undo.steps.map((s) => `${s.op} ${s.path}`), ['rmdir /sys/kernel/config/cluster/web/node/n2']);
    assert.equal(undo.cannot.length, 1);
    assert.match(undo.cannot[0]!, /node 'n2' changed .*: it was removed from the kernel and is not added back/);
  });

  it('property: whatever step the kernel refuses, a rollback of everything leaves the state as before', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 5 }), fc.boolean(), fc.nat(40), (existing, extra, timeouts, failAt) => {
        const b = new SimBackend();
        if (existing > 0) applyO2nmPlan(b, planO2nm(cluster(existing), readO2nmState(b), {}));
        const before = readO2nmState(b);
        const want = cluster(existing + extra, timeouts ? { timeouts: { idleTimeoutMs: 20000, keepaliveDelayMs: 1000, reconnectDelayMs: 3000, heartbeatDeadThreshold: 9 } } : {});
        const plan = planO2nm(want, before, { localNode: `n${existing + extra}` });
        if (plan.steps.length === 0) return;
        const k = failAt % plan.steps.length;
        // a backend that refuses step k of the batch, as a kernel refusal would
        const real = b.batch.bind(b);
        b.batch = (ops) => {
          b.batch = real; // once: later reads go through
          real(ops.slice(0, k));
          throw new BatchError(KernelError.fromErrno(22, ops[k]!.op, ops[k]!.path), k, k, ops[k]!);
        };
        const e = applyError(() => applyO2nmPlan(b, plan, { rollback: 'all' }));
        assert.deepEqual(e.rollbackFailed, []);
        const after = readO2nmState(b);
        assert.deepEqual(after.clusters.map(stateToConfig), before.clusters.map(stateToConfig));
      }),
      { numRuns: 60 },
    );
  });
});

describe('local node address check (plan and doctor)', () => {
  it('names the node, the address, the host addresses and the fix; nothing when the address is on this host', () => {
    const c = cluster(3);
    assert.equal(localAddressProblem(c, 'n1', ['127.0.0.1', '10.0.0.1']), undefined);
    const p = localAddressProblem(c, 'n1', ['127.0.0.1', '10.0.0.2'], '/etc/ocfs2/cluster.conf')!;
    assert.equal(p.address, '10.0.0.1');
    assert.match(p.message, /the local node 'n1' has address 10\.0\.0\.1, which is not an address of this host \(it has: 127\.0\.0\.1, 10\.0\.0\.2\): the kernel will refuse to make it local \(EADDRNOTAVAIL\)/);
    assert.match(p.fix, /give 'n1' this host's cluster address in \/etc\/ocfs2\/cluster\.conf/);
    assert.match(p.fix, /ip addr add 10\.0\.0\.1\/PREFIX dev IFACE/);
    assert.match(p.fix, /if this machine is n2, pass --node n2/);
    const plan = planO2nm(c, { available: true, clusters: [] }, { localNode: 'n1', hostAddresses: ['127.0.0.1'] });
    assert.ok(plan.warnings.some((w) => /not an address of this host.*fix: /.test(w)), plan.warnings.join('\n'));
    assert.ok(!planO2nm(c, { available: true, clusters: [] }, { localNode: 'n1', hostAddresses: ['10.0.0.1'] }).warnings.some((w) => /not an address/.test(w)));
  });
});
