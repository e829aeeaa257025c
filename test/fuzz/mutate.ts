// The fuzzer's mutations of real samples (test/fuzz/fuzz.ts), in a module of their own so that a
// profile or a regression test can make the same inputs from the same seed.

// small deterministic PRNG (xorshift32) for the mutations, seeded per target
export function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return (n: number) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return n <= 0 ? 0 : x % n;
  };
}

/** A count from lo to hi (exclusive) whose logarithm is uniform: as many in 2–20 as in 10,000–100,000. */
export function logUniform(r: (n: number) => number, lo: number, hi: number): number {
  return Math.min(hi - 1, Math.floor(lo * (hi / lo) ** (r(0x40000000) / 0x40000000)));
}

/** The most times a slice is repeated: 100,000 lines, nodes or nesting levels. */
export const MAX_REPEAT = 100_000;

/**
 * How the repeat counts are drawn.
 * - 'uniform' (the binary decoders): 2, 10, 100, 1,000, 10,000 or 100,000, each as likely, so a
 *   third of the repeats are 10,000 times or more.
 * - 'skewed' (the text readers, which cost about 0.1 s per MiB): as AFL and libFuzzer do, most
 *   inputs stay small and a fixed share is as large as it gets. A repeat is log-uniform in
 *   2–1,000 (63 in 64) or 1,000–100,000 (1 in 64); and 1 mutation in SKEWED_MAX_EVERY ends with
 *   a slice repeated MAX_REPEAT times (the maximum: 100 KB to maxBytes, 100,000 nodes or levels).
 */
export type Sizes = 'uniform' | 'skewed';

/** In 'skewed', one mutation in this many is of the maximum size (1%). */
export const SKEWED_MAX_EVERY = 100;

/** A slice of b (1–80 bytes) repeated count() times, at most what fits in maxBytes. */
function repeat(r: (n: number) => number, b: Buffer, maxBytes: number, count: () => number): Buffer {
  const at = r(b.length + 1);
  const piece = b.subarray(at, at + 1 + r(80));
  // drawn after the slice: the order of the random draws of the 'uniform' inputs is unchanged
  const times = Math.min(Math.floor(maxBytes / Math.max(1, piece.length)), count());
  return Buffer.concat([b.subarray(0, at), ...Array<Buffer>(times).fill(piece), b.subarray(at)]);
}

/** One mutation of a sample: flips, inserts, deletes, splices with another sample, or a slice repeated (size and depth). */
export function mutate(r: (n: number) => number, samples: Buffer[], maxBytes: number, sizes: Sizes = 'uniform'): Buffer {
  let b: Buffer = Buffer.from(samples[r(samples.length)]!);
  const max = sizes === 'skewed' && r(SKEWED_MAX_EVERY) === 0;
  const rounds = 1 + r(4);
  for (let k = 0; k < rounds; k++) {
    const len = b.length;
    switch (r(7)) {
      case 0: // flip bytes
        for (let i = 0, n = 1 + r(8); i < n && len; i++) b[r(len)] = r(256);
        break;
      case 1: // insert interesting bytes
        b = Buffer.concat([b.subarray(0, r(len + 1)), Buffer.from([[0], [0xff], [0x0a], [0x22], [0x7b], [0x5b], [0x3c], [0x3d], [0x5c], [0x80]][r(10)]!), b.subarray(r(len + 1))]);
        break;
      case 2: {
        // delete a range
        const at = r(len + 1);
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + r(64))]);
        break;
      }
      case 3: {
        // splice with another sample
        const o = samples[r(samples.length)]!;
        b = Buffer.concat([b.subarray(0, r(len + 1)), o.subarray(r(o.length + 1))]);
        break;
      }
      case 4: // repeat a slice many times: large inputs, many nodes, deep nesting
        b = repeat(r, b, maxBytes, () => (sizes === 'uniform' ? [2, 10, 100, 1000, 10000, MAX_REPEAT][r(6)]! : r(64) ? logUniform(r, 2, 1000) : logUniform(r, 1000, MAX_REPEAT + 1)));
        break;
      case 5: // truncate
        b = b.subarray(0, r(len + 1));
        break;
      default: {
        // overwrite a 32-bit field with an edge value
        if (len >= 4) {
          const v = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 255, 256, 4096][r(8)]!;
          b.writeUInt32LE(v >>> 0, r(len - 3));
        }
      }
    }
    if (b.length > maxBytes) b = b.subarray(0, maxBytes);
  }
  // last, so that no truncation or deletion undoes it
  if (max) b = repeat(r, b, maxBytes, () => MAX_REPEAT).subarray(0, maxBytes);
  return b;
}
