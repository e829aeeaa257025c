// lib/kernel/o2nm.ts: reading the o2nm tree, and its known-node shortcut (a node seen complete is
// read again only for `local` while its directory keeps its inode).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AttrOp, BatchResult, KernelBackend } from '../../lib/kernel/backend.js';
import { NativeBackend } from '../../lib/kernel/backend.js';
import { makeFakeKernelTree } from '../../lib/kernel/fakeTree.js';
import { readO2nmState } from '../../lib/kernel/o2nm.js';
import { SimBackend } from '../../lib/kernel/sim.js';
import { planO2nm } from '../../lib/model/o2nmPlan.js';
import { applyO2nmPlan } from '../../lib/stack/o2nmApply.js';
import { cluster } from '../contract/o2nm.contract.js';

const C = '/sys/kernel/config/cluster/ctest';

/** Counts the attribute reads that go through batch() or readUnder(). */
function countingReads<B extends KernelBackend>(b: B): { backend: B; reads: () => number; reset: () => void } {
  let n = 0;
  const orig = b.batch.bind(b);
  b.batch = (ops: AttrOp[]): BatchResult => {
    n += ops.filter((o) => o.op === 'read').length;
    return orig(ops);
  };
  const under = b.readUnder?.bind(b);
  if (under) {
    b.readUnder = (dir: string, names: string[]) => {
      n += names.length;
      return under(dir, names);
    };
  }
  return { backend: b, reads: () => n, reset: () => (n = 0) };
}

/** The same kernel read without the shortcut (a view of the backend with no stable inodes). */
function fullRead(b: KernelBackend) {
  const view = Object.create(b) as KernelBackend & { stableInodes?: boolean };
  Object.defineProperty(view, 'stableInodes', { value: false });
  return readO2nmState(view);
}

describe('readO2nmState', function () {
  it('after an apply, a second read reads only `local` of each node, and sees the same state', function () {
    const { backend: b, reads, reset } = countingReads(new SimBackend());
    const desired = cluster(5);
    applyO2nmPlan(b, planO2nm(desired, readO2nmState(b), { localNode: 'node2' }));
    reset();
    const again = readO2nmState(b);
    assert.equal(reads(), 6 + 5, 'six cluster/heartbeat attributes and five `local`');
    assert.deepEqual(again, fullRead(b));
    assert.equal(planO2nm(desired, again, { localNode: 'node2' }).steps.length, 0);
  });

  it('nodes read complete once (num ≥ 1) are trusted on the next read; node 0 is always read whole', function () {
    const sim = new SimBackend();
    applyO2nmPlan(sim, planO2nm(cluster(3), readO2nmState(sim), {}));
    const { backend: b, reads, reset } = countingReads(sim);
    // a fresh process: nothing known for this backend object yet
    const other = Object.create(b) as KernelBackend;
    readO2nmState(other);
    const nums = fullRead(b).clusters[0]!.nodes.map((n) => n.num).sort();
    reset();
    readO2nmState(other);
    const zero = nums.filter((x) => x === 0).length;
    assert.equal(reads(), 6 + zero * 4 + (3 - zero), `cluster attributes, node 0 whole (${zero}), the others' local`);
  });

  it('a node removed and re-made with other values behind our back is read again (new inode)', function () {
    const sim = new SimBackend();
    applyO2nmPlan(sim, planO2nm(cluster(2), readO2nmState(sim), {}));
    readO2nmState(sim);
    const node = fullRead(sim).clusters[0]!.nodes[0]!;
    const dir = `${C}/node/${node.name}`;
    sim.rmdir(dir);
    sim.mkdir(dir);
    sim.write(`${dir}/ipv4_port`, '9999\n');
    sim.write(`${dir}/ipv4_address`, '203.0.113.7\n');
    sim.write(`${dir}/num`, '77\n');
    const got = readO2nmState(sim).clusters[0]!.nodes.find((n) => n.name === node.name)!;
    assert.deepEqual({ num: got.num, ipv4Address: got.ipv4Address, ipv4Port: got.ipv4Port }, { num: 77, ipv4Address: '203.0.113.7', ipv4Port: 9999 });
  });

  it('a half-made node is not trusted: the value written later is seen', function () {
    const sim = new SimBackend();
    sim.mkdir(C);
    sim.mkdir(`${C}/node/h`);
    sim.write(`${C}/node/h/ipv4_port`, '7777\n');
    sim.write(`${C}/node/h/ipv4_address`, '192.0.2.8\n');
    assert.equal(readO2nmState(sim).clusters[0]!.nodes[0]!.num, 0);
    sim.write(`${C}/node/h/num`, '8\n');
    assert.equal(readO2nmState(sim).clusters[0]!.nodes[0]!.num, 8);
  });

  it('`local` is always read: a change of the local node is seen', function () {
    const sim = new SimBackend();
    applyO2nmPlan(sim, planO2nm(cluster(2), readO2nmState(sim), { localNode: 'node0' }));
    readO2nmState(sim);
    // the local node moves the way the kernel allows (and the planner does): node0 removed, re-added
    const node0 = fullRead(sim).clusters[0]!.nodes.find((n) => n.name === 'node0')!;
    sim.rmdir(`${C}/node/node0`);
    sim.mkdir(`${C}/node/node0`);
    sim.write(`${C}/node/node0/ipv4_port`, `${node0.ipv4Port}\n`);
    sim.write(`${C}/node/node0/ipv4_address`, `${node0.ipv4Address}\n`);
    sim.write(`${C}/node/node0/num`, `${node0.num}\n`);
    sim.write(`${C}/node/node1/local`, '1\n');
    assert.deepEqual(readO2nmState(sim).clusters[0]!.nodes.filter((n) => n.local).map((n) => n.name), ['node1']);
  });

  it('never trusts a fake tree, where any file can be rewritten', function () {
    const dir = mkdtempSync(join(tmpdir(), 'o2s-o2nm-'));
    try {
      makeFakeKernelTree(dir);
      const b = new NativeBackend({ root: dir });
      assert.equal(b.stableInodes, false);
      applyO2nmPlan(b, planO2nm(cluster(2), readO2nmState(b), {}));
      readO2nmState(b);
      writeFileSync(join(dir, C, 'node/node1/num'), '42\n');
      assert.equal(readO2nmState(b).clusters[0]!.nodes.find((n) => n.name === 'node1')!.num, 42);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('trusts a fake tree told to (trustFakeInodes): a known node is read as on configfs, local only', function () {
    const dir = mkdtempSync(join(tmpdir(), 'o2s-o2nm-'));
    try {
      makeFakeKernelTree(dir);
      const b = new NativeBackend({ root: dir, trustFakeInodes: true });
      assert.equal(b.stableInodes, true);
      applyO2nmPlan(b, planO2nm(cluster(2), readO2nmState(b), {}));
      const before = readO2nmState(b).clusters[0]!.nodes.find((n) => n.name === 'node1')!.num;
      // a rewrite behind the backend is not seen (configfs refuses it, so it cannot happen there) ...
      writeFileSync(join(dir, C, 'node/node1/num'), '42\n');
      assert.equal(readO2nmState(b).clusters[0]!.nodes.find((n) => n.name === 'node1')!.num, before);
      // ... while `local`, which may change, is read every time
      writeFileSync(join(dir, C, 'node/node1/local'), '1\n');
      assert.equal(readO2nmState(b).clusters[0]!.nodes.find((n) => n.name === 'node1')!.local, true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
