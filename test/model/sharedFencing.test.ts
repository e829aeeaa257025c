// One fencer for the cluster (dlm_controld's way): with the daemon group known, only its lowest live
// member runs the agent; the others wait for the result delivered in the group; a fencer that
// leaves is replaced; a failed round is retried by the fencer alone; a fence-ack from any node
// counts. Without the daemon group every node fences for itself, as before.
import assert from 'node:assert/strict';
import { DlmControlModel, type DaemonAction } from '../../lib/model/dlmDaemon.js';

const nodes = [1, 2, 3, 4].map((i) => ({ name: `n${i}`, nodeid: i, addresses: [`192.0.2.${i}`] }));
const fences = (acts: DaemonAction[]) => acts.filter((a) => a.type === 'fence').map((a) => (a as { nodeid: number }).nodeid);
const comms = (acts: DaemonAction[]) => acts.flatMap((a) => (a.type === 'ops' ? a.ops : [])).filter((o) => o.op === 'rmdir' && /comms\/\d+$/.test(o.path)).map((o) => o.path.split('/').pop());

function model(local: number): DlmControlModel {
  const m = new DlmControlModel({ localNodeId: local, nodes, membership: 'groups' });
  m.handle({ type: 'daemon-members', nodes: [1, 2, 3, 4], at: 0 });
  return m;
}

describe('model/dlmDaemon: one fencer for the cluster', function () {
  it('node 4 dies: only node 1 (lowest live member) runs the agent; nodes 2 and 3 wait and recover on its result', function () {
    const ms = [1, 2, 3].map(model);
    const acts = ms.map((m) => m.handle({ type: 'node-down', nodeid: 4, at: 10 }));
    assert.deepEqual(acts.map(fences), [[4], [], []]);
    assert.equal(ms[1]!.nodes.get(4)!.fencer, 1);
    assert.equal(ms[2]!.nodes.get(4)!.state, 'failed');
    // the result, delivered in the daemon group to all three (from node 1)
    const res = ms.map((m) => m.handle({ type: 'fence-result', nodeid: 4, ok: true, at: 20, from: 1 }));
    assert.deepEqual(res.map(comms), [['4'], ['4'], ['4']], 'every survivor removes the comm after the one result');
    assert.ok(ms.every((m) => m.nodes.get(4)!.state === 'down'));
  });

  it('the dead node was the lowest: the next one fences', function () {
    const ms = [2, 3, 4].map(model);
    const acts = ms.map((m) => m.handle({ type: 'node-down', nodeid: 1, at: 10 }));
    assert.deepEqual(acts.map(fences), [[1], [], []]);
  });

  it('the fencer leaves the daemon group before its result: the next member takes over', function () {
    const [m2, m3] = [model(2), model(3)];
    for (const m of [m2, m3]) m.handle({ type: 'node-down', nodeid: 4, at: 10 });
    assert.equal(m2.nodes.get(4)!.fencer, 1);
    // node 1's daemon stopped (its node still up): the group now has 2, 3, 4 (4 dead, not yet dropped)
    const a2 = m2.handle({ type: 'daemon-members', nodes: [2, 3, 4], at: 11 });
    const a3 = m3.handle({ type: 'daemon-members', nodes: [2, 3, 4], at: 11 });
    assert.deepEqual(fences(a2), [4], 'node 2 takes over');
    assert.deepEqual(fences(a3), []);
    assert.equal(m3.nodes.get(4)!.fencer, 2);
    // a late failure report from node 1 no longer counts
    const late = m3.handle({ type: 'fence-result', nodeid: 4, ok: false, at: 12, from: 1 });
    assert.ok(late.some((a) => a.type === 'log' && /ignored/.test(a.msg)));
    assert.equal(m3.nodes.get(4)!.fencing, true);
  });

  it('a failed round: the fencer retries after the delay, the others keep waiting; after the last round all wait for fence-ack, which counts from any node', function () {
    const m1 = new DlmControlModel({ localNodeId: 1, nodes, membership: 'groups', maxFenceRounds: 2, fenceRetryDelayMs: 500 });
    const m2 = new DlmControlModel({ localNodeId: 2, nodes, membership: 'groups', maxFenceRounds: 2, fenceRetryDelayMs: 500 });
    for (const m of [m1, m2]) {
      m.handle({ type: 'daemon-members', nodes: [1, 2, 3, 4], at: 0 });
      m.handle({ type: 'node-down', nodeid: 4, at: 10 });
    }
    const r1 = m1.handle({ type: 'fence-result', nodeid: 4, ok: false, at: 20, from: 1, detail: 'exit 1' });
    const r2 = m2.handle({ type: 'fence-result', nodeid: 4, ok: false, at: 20, from: 1, detail: 'exit 1' });
    assert.deepEqual(r1.filter((a) => a.type === 'fence'), [{ type: 'fence', nodeid: 4, failTime: 10, round: 2, delayMs: 500 }]);
    assert.deepEqual(fences(r2), []);
    assert.equal(m2.nodes.get(4)!.fenceRounds, 1);
    const last1 = m1.handle({ type: 'fence-result', nodeid: 4, ok: false, at: 30, from: 1 });
    const last2 = m2.handle({ type: 'fence-result', nodeid: 4, ok: false, at: 30, from: 1 });
    for (const l of [last1, last2]) assert.ok(l.some((a) => a.type === 'log' && a.level === 'error' && /fence-ack 4/.test(a.msg)), JSON.stringify(l));
    assert.deepEqual([...fences(last1), ...fences(last2)], []);
    // `o2stack daemon-ctl fence-ack 4` on node 2, delivered to both
    const ack = [m1, m2].map((m) => m.handle({ type: 'fence-result', nodeid: 4, ok: true, manual: true, at: 40, from: 2 }));
    assert.deepEqual(ack.map(comms), [['4'], ['4']]);
  });

  it('no daemon group (static membership, or its join failed): every node fences for itself, as before', function () {
    const ms = [1, 2].map((id) => new DlmControlModel({ localNodeId: id, nodes }));
    assert.deepEqual(ms.map((m) => fences(m.handle({ type: 'node-down', nodeid: 3, at: 1 }))), [[3], [3]]);
    assert.equal(ms[0]!.sharedFencing, false);
  });

  it('a success from another node counts even where fencing had not started (this node was waiting for quorum)', function () {
    const m = model(3);
    m.handle({ type: 'quorum', quorate: false, at: 1 });
    m.handle({ type: 'node-down', nodeid: 4, at: 2 });
    assert.equal(m.nodes.get(4)!.fencing, false);
    m.handle({ type: 'quorum', quorate: true, at: 3 });
    const r = m.handle({ type: 'fence-result', nodeid: 4, ok: true, at: 4, from: 1 });
    assert.deepEqual(comms(r), ['4']);
  });
});

describe('model/dlmDaemon: startup fencing', function () {
  it('unseen nodes block every start until they join or are fenced; a node that joins is no longer waited for', function () {
    const m = new DlmControlModel({ localNodeId: 1, nodes, membership: 'groups' });
    m.handle({ type: 'startup-unseen', nodes: [3, 4], at: 1 });
    assert.match(m.blockedBy() ?? '', /startup fencing of node 3, 4/);
    m.handle({ type: 'online', ls: 'A', at: 2 });
    const c = m.handle({ type: 'group-change', ls: 'A', members: [{ nodeid: 1, pid: 1 }], joined: [{ nodeid: 1, pid: 1, reason: 'join' }], left: [], at: 3 });
    const send = c.find((a) => a.type === 'group-send');
    assert.ok(send && send.type === 'group-send');
    const r = m.handle({ type: 'group-message', ls: 'A', nodeid: 1, pid: 1, data: send.data, at: 4 });
    assert.ok(!r.some((a) => a.type === 'ops' && a.ops.some((o) => o.path.endsWith('/event_done'))), 'the join waits');
    m.handle({ type: 'seen', nodes: [1, 2, 3], at: 5 });
    assert.match(m.blockedBy() ?? '', /startup fencing of node 4/);
    // the delay is over: node 4 declared dead (by the daemon), fenced, and only then A starts
    const d = m.handle({ type: 'node-down', nodeid: 4, at: 6, why: 'startup fencing' });
    assert.deepEqual(fences(d), [4]);
    assert.equal(m.unseen.size, 0);
    const f = m.handle({ type: 'fence-result', nodeid: 4, ok: true, at: 7 });
    assert.ok(f.some((a) => a.type === 'ops' && a.ops.some((o) => o.path.endsWith('/A/event_done') && o.data === '0')), JSON.stringify(f));
  });

  it('a daemon that joined during a startup fence: the node it was told not to trust is fenced here on the fencer\'s result', function () {
    const m = new DlmControlModel({ localNodeId: 2, nodes, membership: 'groups' });
    m.handle({ type: 'daemon-members', nodes: [1, 2], at: 0 });
    // the member that answered the join: node 3 is being fenced (failed there), so not to be trusted
    m.handle({ type: 'startup-unseen', nodes: [3], at: 1 });
    assert.match(m.blockedBy() ?? '', /startup fencing of node 3/);
    const r = m.handle({ type: 'fence-result', nodeid: 3, ok: true, at: 2, from: 1 });
    assert.deepEqual(comms(r), ['3']);
    assert.equal(m.nodes.get(3)!.state, 'down');
    assert.equal(m.unseen.size, 0);
    assert.equal(m.blockedBy(), undefined);
    // what a member tells a joiner: unseen and failed nodes alike
    const f = new DlmControlModel({ localNodeId: 1, nodes, membership: 'groups' });
    f.handle({ type: 'startup-unseen', nodes: [4], at: 0 });
    f.handle({ type: 'node-down', nodeid: 3, at: 1 });
    assert.deepEqual(f.untrusted(), [3, 4]);
  });
});
