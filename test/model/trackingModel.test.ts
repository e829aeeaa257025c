// The tracking daemon's pure model (lib/model/trackingModel.ts), fed what the kernel would show.
import { strict as assert } from 'node:assert';
import { TrackingModel } from '../../lib/model/trackingModel.js';

const LS = 'A1000000000000000000000000000001';

describe('tracking model (beside dlm_controld)', function () {
  it('online → joining until dlm_controld writes this node into the members; then running, member changes noted', function () {
    const m = new TrackingModel(1, 60_000);
    m.online(LS, 1000);
    const sys = new Set([LS]);
    assert.deepEqual(m.observe(LS, true, () => [2], 1100), [], 'not joined while this node is not listed');
    assert.deepEqual(m.localView(), []);
    assert.deepEqual(m.observe(LS, true, () => [2, 1, 2], 1300), [{ kind: 'joined', ls: LS, members: [1, 2], ms: 300 }]);
    assert.deepEqual(m.localView(), [{ ls: LS, nodes: [1, 2] }]);
    assert.deepEqual(m.observe(LS, sys.has(LS), () => [1, 2], 1400), []);
    assert.deepEqual(m.observe(LS, true, () => [1, 3], 1500), [{ kind: 'members', ls: LS, members: [1, 3], was: [1, 2] }]);
    assert.deepEqual(m.list(), [{ name: LS, state: 'running', members: [1, 3], since: 1300 }]);
  });

  it('a join that never completes is noted slow once; gone from sysfs: left, saying whether it had joined', function () {
    const m = new TrackingModel(1, 500);
    m.online(LS, 0);
    assert.deepEqual(m.observe(LS, true, () => [], 400), []);
    assert.deepEqual(m.observe(LS, true, () => [], 600), [{ kind: 'join-slow', ls: LS, waitedMs: 600 }]);
    assert.deepEqual(m.observe(LS, true, () => [], 900), []);
    let read = 0;
    const notes = m.observe(LS, false, () => {
      read++;
      return [];
    }, 1000);
    assert.equal(read, 0, 'members read for a lockspace no longer in sysfs');
    assert.equal(notes.length, 1);
    assert.deepEqual({ ...notes[0], why: undefined }, { kind: 'left', ls: LS, why: undefined, wasRunning: false });
    assert.match((notes[0] as { why: string }).why, /before dlm_controld joined it/);
    assert.equal(m.size, 0);
    // a running one dropped on offline
    m.online(LS, 0);
    m.observe(LS, true, () => [1], 10);
    assert.deepEqual(m.drop(LS, 'offline'), [{ kind: 'left', ls: LS, why: 'offline', wasRunning: true }]);
    assert.deepEqual(m.drop(LS, 'offline'), [], 'dropped twice');
  });

  it('a rescan adds what sysfs has as joining and keeps what it knew; online again restarts the join', function () {
    const m = new TrackingModel(1);
    m.online(LS, 0);
    m.observe(LS, true, () => [1], 5);
    const B = 'B2000000000000000000000000000002';
    m.found([LS, B], 10);
    assert.deepEqual(m.list().map((l) => [l.name, l.state]), [
      [LS, 'running'],
      [B, 'joining'],
    ]);
    m.online(LS, 20);
    assert.equal(m.state(LS), 'joining');
    assert.deepEqual(m.localView(), []);
  });
});
