// Static member count: the members file and the daemon's start plan do work proportional to the
// members, not to their square (10k members took 9 s to ready when duplicates were looked up with
// a scan per line). Time-free: the elements visited by array searches are counted, at N and 8×N.
import assert from 'node:assert/strict';
import { daemonStartPlan, parseMembersFile } from '../../lib/model/dlmDaemon.js';

const SEARCHES = ['some', 'find', 'findIndex', 'filter', 'includes', 'indexOf', 'every'] as const;

/** Runs f, counting the array elements array searches had in front of them (a proxy for their work). */
function searchWork(f: () => void): number {
  const saved = SEARCHES.map((k) => [k, Array.prototype[k]] as const);
  let work = 0;
  for (const [k, orig] of saved) {
    (Array.prototype as unknown as Record<string, unknown>)[k] = function (this: unknown[], ...a: unknown[]) {
      work += this.length;
      return (orig as (...x: unknown[]) => unknown).apply(this, a);
    };
  }
  try {
    f();
  } finally {
    for (const [k, orig] of saved) (Array.prototype as unknown as Record<string, unknown>)[k] = orig;
  }
  return work;
}

const membersText = (n: number) => Array.from({ length: n }, (_, i) => `n${i + 1}=${i + 1}@10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`).join('\n');

describe('static members: work linear in the member count', () => {
  it('parseMembersFile + daemonStartPlan at 1,000 and 8,000 members: 8× the members, far less than 64× the work', () => {
    const work = (n: number) => {
      const text = membersText(n);
      return searchWork(() => {
        const members = parseMembersFile(text);
        daemonStartPlan({ clusterName: 'demo', localNodeId: 1, members }, { clusterDir: false, comms: [], spaces: {}, sysfs: [] });
      });
    };
    const small = work(1000);
    const large = work(8000);
    // linear: about 8 (plus constant parts); the quadratic duplicate scan gave about 64
    assert.ok(large <= 16 * Math.max(small, 1), `work grew ${(large / Math.max(small, 1)).toFixed(1)}× for 8× the members (${small} → ${large})`);
  });
});
