// The control model when the cluster around it is wrong: membership lost (corosync gone) stops
// every lockspace; a dlm_controld in a lockspace's group refuses the join (-EPROTO) instead of
// leaving the mount waiting on a barrier that can never complete.
import assert from 'node:assert/strict';
import { DlmControlModel, type DaemonAction } from '../../lib/model/dlmDaemon.js';

const K = '/sys/kernel/dlm';
const writes = (acts: DaemonAction[]) => acts.flatMap((a) => (a.type === 'ops' ? a.ops.filter((o) => o.op === 'write').map((o) => `${o.path} ${String(o.data)}`) : []));
const nodes = [1, 2].map((i) => ({ nodeid: i, addresses: [`192.0.2.${i}`] }));

/** A model with lockspace A running in its group with nodes 1 and 2. */
function running(): DlmControlModel {
  const m = new DlmControlModel({ localNodeId: 1, nodes, membership: 'groups' });
  m.handle({ type: 'online', ls: 'A', at: 1 });
  const c = m.handle({ type: 'group-change', ls: 'A', members: [{ nodeid: 1, pid: 7 }, { nodeid: 2, pid: 9 }], joined: [{ nodeid: 1, pid: 7, reason: 'join' }], left: [], at: 2 });
  const tag = c.find((a) => a.type === 'group-send');
  assert.ok(tag && tag.type === 'group-send');
  m.handle({ type: 'group-message', ls: 'A', nodeid: 1, pid: 7, data: tag.data, at: 3 });
  m.handle({ type: 'group-message', ls: 'A', nodeid: 2, pid: 9, data: tag.data, at: 3 });
  assert.equal(m.lockspaces.get('A')!.state, 'running');
  return m;
}

describe('model/dlmDaemon: membership lost, dlm_controld in a group', function () {
  it('membership lost: every running lockspace is stopped (control 0), a waiting join answered -ENOTCONN, nothing starts again', function () {
    const m = running();
    m.handle({ type: 'online', ls: 'B', at: 4 });
    const d = m.handle({ type: 'membership-down', detail: 'corosync stopped', at: 5 });
    assert.deepEqual(writes(d), [`${K}/A/control 0`, `${K}/B/event_done -107`]);
    assert.equal(m.lockspaces.get('A')!.state, 'stopped');
    assert.match(m.lockspaces.get('A')!.waitingFor ?? '', /membership service/);
    assert.ok(d.some((a) => a.type === 'log' && a.level === 'error' && /stopping 1 lockspace/.test(a.msg)));
    assert.equal(m.blockedBy(), 'the membership service (it stopped)');
  });

  it("a binary (dlm_controld) message in a joining lockspace's group: the join is answered -EPROTO and the group left", function () {
    const m = new DlmControlModel({ localNodeId: 1, nodes, membership: 'groups' });
    m.handle({ type: 'online', ls: 'A', at: 1 });
    m.handle({ type: 'group-change', ls: 'A', members: [{ nodeid: 1, pid: 7 }, { nodeid: 2, pid: 9 }], joined: [{ nodeid: 1, pid: 7, reason: 'join' }], left: [], at: 2 });
    const dlmControldStart = Buffer.from([3, 0, 1, 0, 1, 0, 2, 0, 2, 0, 0, 0]).toString('utf8');
    const r = m.handle({ type: 'group-message', ls: 'A', nodeid: 2, pid: 9, data: dlmControldStart, at: 3 });
    assert.deepEqual(writes(r), [`${K}/A/event_done -71`]);
    assert.ok(r.some((a) => a.type === 'group-leave'));
    assert.ok(r.some((a) => a.type === 'log' && /node 2 runs dlm_controld/.test(a.msg) && /systemctl stop dlm/.test(a.msg)));
    assert.equal(m.lockspaces.has('A'), false);
  });

  it('in a running lockspace it is reported once (the lockspace cannot restart with it in the group)', function () {
    const m = running();
    const bin = '\u0003\u0000\u0001';
    const first = m.handle({ type: 'group-message', ls: 'A', nodeid: 2, pid: 9, data: bin, at: 4 });
    const again = m.handle({ type: 'group-message', ls: 'A', nodeid: 2, pid: 9, data: bin, at: 5 });
    assert.equal(first.filter((a) => a.type === 'log' && a.level === 'error').length, 1);
    assert.deepEqual(again, []);
  });
});
