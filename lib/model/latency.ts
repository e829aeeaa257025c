// Bounded latency samples by kind, with percentiles: the daemon's own time per event type
// (`o2stack daemon-ctl status` → ownTimeMs), where issue 8's target is a p99 under 1 ms.

export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

export class LatencySamples {
  private readonly byKind = new Map<string, { samples: number[]; next: number; count: number; max: number }>();

  /** keeps the last `keep` samples of each kind (the count and max cover all of them) */
  constructor(private readonly keep = 1024) {}

  record(kind: string, ms: number): void {
    let k = this.byKind.get(kind);
    if (!k) this.byKind.set(kind, (k = { samples: [], next: 0, count: 0, max: 0 }));
    if (k.samples.length < this.keep) k.samples.push(ms);
    else k.samples[k.next] = ms;
    k.next = (k.next + 1) % this.keep;
    k.count++;
    k.max = Math.max(k.max, ms);
  }

  summary(): Record<string, LatencySummary> {
    const out: Record<string, LatencySummary> = {};
    for (const [kind, k] of this.byKind) {
      const sorted = [...k.samples].sort((a, b) => a - b);
      out[kind] = { count: k.count, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max: round(k.max) };
    }
    return out;
  }
}

/** nearest-rank percentile of ascending samples, in ms rounded to the microsecond */
export function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return round(sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!);
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;
