// The fuzzer's size distribution (test/fuzz/mutate.ts, README "Fuzzing"): the text readers' skewed
// repeats keep most inputs small and a fixed 1% at the maximum; the binary decoders' uniform draws
// are those of the runs recorded in the README (same seed, same inputs).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { MAX_REPEAT, SKEWED_MAX_EVERY, logUniform, mutate, rng } from './mutate.js';

const samples = [Buffer.from('cluster:\n\tname = c\nnode:\n\tnumber = 1\n'), Buffer.from('<cluster name="c"><a/></cluster>')];

describe('fuzz mutations: sizes', () => {
  it("'uniform' gives the inputs it gave before the skew was added (pinned hash of 300 mutations)", () => {
    const h = createHash('sha256');
    const r = rng(4242);
    for (let i = 0; i < 300; i++) h.update(mutate(r, samples, 1 << 16));
    assert.equal(h.digest('hex'), '4517083beb566e3462f0c3de73ca97992f990de90263e3ae033f6a70faf6747d');
  });

  it("'skewed': most inputs small, about 1 in SKEWED_MAX_EVERY at the maximum repeat, none over maxBytes", () => {
    const maxBytes = 128 << 10;
    const r = rng(7);
    const n = 10_000;
    const lens: number[] = [];
    for (let i = 0; i < n; i++) lens.push(mutate(r, samples, maxBytes, 'skewed').length);
    lens.sort((a, b) => a - b);
    // a slice of at least one byte repeated MAX_REPEAT times is at least MAX_REPEAT bytes
    const atMax = lens.filter((l) => l >= MAX_REPEAT).length / n;
    assert.ok(atMax > 0.7 / SKEWED_MAX_EVERY && atMax < 1.5 / SKEWED_MAX_EVERY, `${(atMax * 100).toFixed(2)}% at the maximum`);
    assert.equal(lens.at(-1), maxBytes, 'the largest inputs reach maxBytes');
    assert.ok(lens[n >> 1]! < 1024, `median ${lens[n >> 1]} bytes`);
    assert.ok(lens[Math.floor(n * 0.95)]! < 80 * 1000 + 1024, `95th percentile ${lens[Math.floor(n * 0.95)]} bytes`);
  });

  it('logUniform: as many draws in each decade, within its bounds', () => {
    const r = rng(3);
    const decades = [0, 0, 0, 0];
    for (let i = 0; i < 40_000; i++) {
      const v = logUniform(r, 10, 100_000);
      assert.ok(v >= 10 && v < 100_000, String(v));
      decades[Math.floor(Math.log10(v)) - 1]!++;
    }
    for (const d of decades) assert.ok(d > 9000 && d < 11000, decades.join(' '));
  });
});
