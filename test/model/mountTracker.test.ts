import assert from 'node:assert/strict';
import { decodeMounts, encodeMounts, MountTracker } from '../../lib/model/mountTracker.js';

describe('cluster-wide group tracking (daemon group announcements)', function () {
  it('announcements: encoded sorted, garbage refused', function () {
    assert.deepEqual(decodeMounts(encodeMounts(['B', 'A'])), { type: 'mounts', lockspaces: ['A', 'B'] });
    assert.equal(decodeMounts('{"type":"mounts","lockspaces":[1]}'), undefined);
    assert.equal(decodeMounts('x'), undefined);
  });

  it('local groups are exact; others from announcements; a daemon leaving the group takes its volumes with it', function () {
    const t = new MountTracker(1);
    assert.equal(t.daemonGroupChange([1, 2, 3]), true, 'daemons joined: announce again');
    assert.equal(t.message(4, encodeMounts(['X'])), false, 'not a member of the daemon group');
    t.message(2, encodeMounts(['A', 'B']));
    t.message(3, encodeMounts(['B']));
    t.message(1, encodeMounts(['A']));
    // node 1 is in A's group: its exact members win over announcements (which may lag)
    const v = t.view([{ ls: 'A', nodes: [2, 1] }]);
    assert.deepEqual([...v], [['A', [1, 2]], ['B', [2, 3]]]);
    assert.deepEqual(t.changes(v), [
      { ls: 'A', nodes: [1, 2], joined: [1, 2], left: [] },
      { ls: 'B', nodes: [2, 3], joined: [2, 3], left: [] },
    ]);
    assert.deepEqual(t.changes(t.view([{ ls: 'A', nodes: [1, 2] }])), [], 'no change, no event');
    assert.equal(t.daemonGroupChange([1, 2]), false, 'only a leave: no re-announcement needed');
    assert.deepEqual(t.changes(t.view([{ ls: 'A', nodes: [1, 2] }])), [{ ls: 'B', nodes: [2], joined: [], left: [3] }]);
    t.message(2, encodeMounts([]));
    assert.deepEqual(t.changes(t.view([{ ls: 'A', nodes: [1] }])), [
      { ls: 'A', nodes: [1], joined: [], left: [2] },
      { ls: 'B', nodes: [], joined: [], left: [2] },
    ]);
  });
});
