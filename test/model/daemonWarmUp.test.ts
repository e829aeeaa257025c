// The daemon's start-up rehearsal: the scripted scenario must really go through a recovery (else
// it warms nothing), in both modes, and it is pure (a scratch model each round).
import assert from 'node:assert/strict';
import { warmUpDaemonModel } from '../../lib/model/daemonWarmUp.js';

describe('daemon warm-up (recovery rehearsal)', function () {
  it('reaches a restarted lockspace after the peer died, in groups mode and in legacy mode', function () {
    for (const legacy of [false, true]) {
      const r = warmUpDaemonModel({ legacy, rounds: 2 });
      assert.equal(r.recovered, true, `legacy ${legacy}`);
      assert.ok(r.events >= 2 * 10, `${r.events} events`);
      assert.ok(r.actions > r.events, `${r.actions} actions for ${r.events} events`);
    }
  });

  it('gives the same result every time (no state kept between calls)', function () {
    assert.deepEqual(warmUpDaemonModel({ rounds: 1 }), warmUpDaemonModel({ rounds: 1 }));
  });
});
