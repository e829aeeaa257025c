// The VM benches print human text; bench/report.ts --vm reads its figures from it. Samples in the
// exact formats of bench/vm-apply.ts and bench/vm-plock.ts (+ bench/plock-pairs.c, plock-daemon.ts).
import assert from 'node:assert/strict';
import { parseVmApply, parseVmPlock } from '../../bench/vmParse.js';

describe('bench/vmParse.ts: figures from the VM benches’ output', function () {
  it('vm-apply: min/median/max per way, and the ratios of the medians', function () {
    const pad = (k: string, a: number, b: number, c: number) => `${k.padEnd(28)} min ${a.toFixed(1).padStart(7)} ms  median ${b.toFixed(1).padStart(7)} ms  max ${c.toFixed(1).padStart(7)} ms`;
    const out = [
      '255-node o2nm cluster, 1021 configfs operations, 5 runs each (qemu TCG, Debian v20.20.2 guest)',
      pad('(1) library apply', 40, 45, 60),
      pad('(2) o2stack apply', 900, 1000, 1100),
      '(3) o2cb register-cluster    not measured (o2cb not installed)',
      pad('(4) C floor', 28, 30, 35),
      pad('(5) no-op apply', 9, 10.8, 12),
      pad('node -e 1', 850, 910, 990),
      'ratios: (1)/floor 1.50 (target ≤ 1.5); ...',
    ].join('\n');
    const r = parseVmApply(out);
    assert.deepEqual(r.libraryMs && [r.libraryMs.min, r.libraryMs.median, r.libraryMs.max], [40, 45, 60]);
    assert.equal(r.o2cbMs, undefined);
    assert.equal(r.libraryOverFloor!.median, 1.5);
    assert.equal(r.cliOverheadFloors!.median, 3);
    assert.equal(r.noopOverFresh!.median, 24);
    assert.deepEqual(parseVmApply('vm/run.sh: qemu failed'), {});
  });

  it('vm-plock: uncontended pairs/s per daemon, contended summed over both nodes, plock-daemon.ts µs per op', function () {
    const out = [
      'vm-plock n1: dlm uncontended: pairs 5000 ms 5000 lock_us 500 unlock_us 490; CPU per request (ms, 2 requests a pair): daemon 0.10, corosync 0.20',
      'dlm uncontended: pairs 5000 ms 5000 lock_us 500 unlock_us 490; CPU per request (ms, 2 requests a pair): daemon 0.10, corosync 0.20',
      'dlm contended n1: pairs 1000 ms 5000 lock_us 2500 unlock_us 2400',
      'ours uncontended: pairs 2500 ms 5000 lock_us 1000 unlock_us 990; CPU per request (ms, 2 requests a pair): daemon 0.30, corosync 0.20',
      'ours contended n1: pairs 400 ms 5000 lock_us 6000 unlock_us 6000',
      'dlm contended n2: pairs 1500 ms 5000 lock_us 2500 unlock_us 2400',
      'ours contended n2: pairs 600 ms 5000 lock_us 6000 unlock_us 6000',
      'plock-daemon.ts 300: 300 pairs in 810 ms: 370 pairs/s, 1350.5 us per op',
    ].join('\n');
    const r = parseVmPlock(out);
    assert.equal(r['dlm.uncontended']!.median, 1000);
    assert.equal(r['ours.uncontended']!.median, 500);
    assert.deepEqual([r['dlm.contended']!.median, r['dlm.contended']!.min, r['dlm.contended']!.max], [500, 200, 300]);
    assert.equal(r['ours.contended']!.median, 200);
    assert.equal(r['daemonUsPerOp.300']!.median, 1350.5);
    assert.equal(r['oursOverDlm.uncontended']!.median, 0.5);
    assert.equal(r['oursOverDlm.contended']!.median, 0.4);
    assert.deepEqual(parseVmPlock('nothing here'), {});
  });
});
