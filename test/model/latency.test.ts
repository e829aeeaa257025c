import assert from 'node:assert/strict';
import { LatencySamples, percentile } from '../../lib/model/latency.js';

describe('LatencySamples', function () {
  it('nearest-rank percentiles', function () {
    const s = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(percentile(s, 0.5), 50);
    assert.equal(percentile(s, 0.99), 99);
    assert.equal(percentile([7], 0.99), 7);
    assert.ok(Number.isNaN(percentile([], 0.5)));
  });

  it('keeps the last samples per kind; count and max cover all', function () {
    const l = new LatencySamples(10);
    for (let i = 1; i <= 25; i++) l.record('node-down', i);
    l.record('quorum', 0.0004);
    const s = l.summary();
    assert.deepEqual(s['node-down'], { count: 25, p50: 20, p99: 25, max: 25 }, 'the last ten are 16..25');
    assert.equal(s['quorum']!.count, 1);
    assert.equal(s['quorum']!.p99, 0, 'rounded to the microsecond');
  });
});
