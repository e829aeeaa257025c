// The o2nm/o2hb configfs contract: what the kernel accepts and refuses, and what plan/apply do on
// it. The same suite runs against the simulator on the host (test/kernel/sim.test.ts) and against
// Debian's 6.1 kernel in a VM (test/vm/suites/o2nm-contract.vm.ts), so the simulator cannot drift
// from the kernel unnoticed.
import assert from 'node:assert/strict';
import type { KernelBackend } from '../../lib/kernel/backend.js';
import { BatchError } from '../../lib/kernel/backend.js';
import { KernelError } from '../../lib/kernel/errors.js';
import { readO2nmState } from '../../lib/kernel/o2nm.js';
import type { ClusterConfig } from '../../lib/model/cluster.js';
import { isNoop, planO2nm } from '../../lib/model/o2nmPlan.js';
import { stateToConfig } from '../../lib/model/o2nmState.js';
import { O2NM_ROOT } from '../../lib/model/paths.js';
import { ApplyError, applyO2nmPlan } from '../../lib/stack/o2nmApply.js';

const C = `${O2NM_ROOT}/ctest`;

/** Removes every cluster, node and region, and restores the module-global heartbeat settings. */
export function resetO2nm(b: KernelBackend): void {
  for (const c of b.tryList(O2NM_ROOT) ?? []) {
    if (c.type !== 'dir') continue;
    const base = `${O2NM_ROOT}/${c.name}`;
    for (const r of b.tryList(`${base}/heartbeat`) ?? []) if (r.type === 'dir') b.rmdir(`${base}/heartbeat/${r.name}`);
    b.write(`${base}/heartbeat/dead_threshold`, '31\n');
    b.write(`${base}/heartbeat/mode`, 'local\n');
    for (const n of b.tryList(`${base}/node`) ?? []) if (n.type === 'dir') b.rmdir(`${base}/node/${n.name}`);
    b.rmdir(base);
  }
}

function expectCode(fn: () => unknown, code: string, what: string): void {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof KernelError, `${what}: expected a KernelError, got ${String(e)}`);
    assert.equal(e.code, code, `${what}: expected ${code}, got ${e.code} (${e.message})`);
    assert.equal(typeof e.errno, 'number');
    assert.ok(e.errno < 0, 'errno is negative, as in Node');
    assert.ok(e.syscall, 'syscall is set');
    assert.ok(e.path, 'path is set');
    return;
  }
  assert.fail(`${what}: expected ${code}, but it succeeded`);
}

function addNode(b: KernelBackend, name: string, num: number, addr: string, port = 7777): void {
  b.mkdir(`${C}/node/${name}`);
  b.write(`${C}/node/${name}/ipv4_port`, `${port}\n`);
  b.write(`${C}/node/${name}/ipv4_address`, `${addr}\n`);
  b.write(`${C}/node/${name}/num`, `${num}\n`);
}

export function cluster(n: number, name = 'ctest', base = '127.0.1.'): ClusterConfig {
  const nodes = Array.from({ length: n }, (_, i) => ({ name: `node${i}`, number: i, ipAddress: i < 254 ? `${base}${i + 1}` : `127.0.2.${i - 253}`, port: 7777 }));
  return { name, nodes, heartbeatMode: 'local', heartbeatRegions: [], timeouts: {} };
}

export function defineO2nmContract(label: string, makeBackend: () => KernelBackend): void {
  describe(`o2nm configfs contract (${label})`, function () {
    let b: KernelBackend;
    beforeEach(function () {
      b = makeBackend();
      resetO2nm(b);
    });
    afterEach(function () {
      resetO2nm(b);
    });

    it('mkdir of a cluster creates node/, heartbeat/ and the default attributes', function () {
      b.mkdir(C);
      const names = b.list(C).map((e) => `${e.name}:${e.type}`).sort();
      for (const want of ['node:dir', 'heartbeat:dir', 'idle_timeout_ms:file', 'keepalive_delay_ms:file', 'reconnect_delay_ms:file', 'fence_method:file']) {
        assert.ok(names.includes(want), `${want} in ${names.join(' ')}`);
      }
      assert.equal(b.read(`${C}/idle_timeout_ms`), '30000\n');
      assert.equal(b.read(`${C}/keepalive_delay_ms`), '2000\n');
      assert.equal(b.read(`${C}/reconnect_delay_ms`), '2000\n');
      assert.equal(b.read(`${C}/fence_method`), 'reset\n');
      assert.equal(b.read(`${C}/heartbeat/dead_threshold`), '31\n');
      assert.equal(b.read(`${C}/heartbeat/mode`), 'local\n');
    });

    it('refuses a second cluster with ENOSPC', function () {
      b.mkdir(C);
      expectCode(() => b.mkdir(`${O2NM_ROOT}/other`), 'ENOSPC', 'second cluster');
    });

    it('node attributes: port, address, num in that order, read back with a newline', function () {
      b.mkdir(C);
      b.mkdir(`${C}/node/a`);
      assert.equal(b.read(`${C}/node/a/num`), '0\n');
      assert.equal(b.read(`${C}/node/a/ipv4_address`), '0.0.0.0\n');
      assert.equal(b.read(`${C}/node/a/ipv4_port`), '0\n');
      expectCode(() => b.write(`${C}/node/a/num`, '1\n'), 'EINVAL', 'num before address and port');
      b.write(`${C}/node/a/ipv4_port`, '7777'); // without newline
      expectCode(() => b.write(`${C}/node/a/num`, '1\n'), 'EINVAL', 'num before address');
      b.write(`${C}/node/a/ipv4_address`, '127.0.1.1\n');
      b.write(`${C}/node/a/num`, '0x10'); // base 0: hex
      assert.equal(b.read(`${C}/node/a/num`), '16\n');
      assert.equal(b.read(`${C}/node/a/ipv4_address`), '127.0.1.1\n');
      assert.equal(b.read(`${C}/node/a/ipv4_port`), '7777\n');
      assert.equal(b.read(`${C}/node/a/local`), '0\n');
    });

    it('write-once attributes: EBUSY for a new value, EEXIST for the value they hold', function () {
      b.mkdir(C);
      addNode(b, 'a', 1, '127.0.1.1');
      expectCode(() => b.write(`${C}/node/a/ipv4_port`, '7778\n'), 'EBUSY', 'port rewritten');
      expectCode(() => b.write(`${C}/node/a/ipv4_port`, '7777\n'), 'EBUSY', 'port rewritten, same value');
      expectCode(() => b.write(`${C}/node/a/ipv4_address`, '127.0.1.9\n'), 'EBUSY', 'address rewritten');
      expectCode(() => b.write(`${C}/node/a/ipv4_address`, '127.0.1.1\n'), 'EEXIST', 'address rewritten, same value');
      expectCode(() => b.write(`${C}/node/a/num`, '2\n'), 'EBUSY', 'num rewritten');
      expectCode(() => b.write(`${C}/node/a/num`, '1\n'), 'EEXIST', 'num rewritten, same value');
    });

    it('ranges: num ≤ 254, port 1–65534, octets ≤ 255, four octets', function () {
      b.mkdir(C);
      b.mkdir(`${C}/node/a`);
      expectCode(() => b.write(`${C}/node/a/ipv4_port`, '0\n'), 'EINVAL', 'port 0');
      expectCode(() => b.write(`${C}/node/a/ipv4_port`, '65535\n'), 'ERANGE', 'port 65535');
      expectCode(() => b.write(`${C}/node/a/ipv4_port`, 'abc\n'), 'EINVAL', 'port not a number');
      b.write(`${C}/node/a/ipv4_port`, '65534\n');
      expectCode(() => b.write(`${C}/node/a/ipv4_address`, '127.0.1\n'), 'EINVAL', 'three octets');
      expectCode(() => b.write(`${C}/node/a/ipv4_address`, '127.0.1.256\n'), 'ERANGE', 'octet 256');
      b.write(`${C}/node/a/ipv4_address`, '127.0.1.1\n');
      expectCode(() => b.write(`${C}/node/a/num`, '255\n'), 'ERANGE', 'num 255');
      b.write(`${C}/node/a/num`, '254\n');
    });

    it('duplicates: another node with the same address or number gets EEXIST', function () {
      b.mkdir(C);
      addNode(b, 'a', 1, '127.0.1.1');
      b.mkdir(`${C}/node/b`);
      b.write(`${C}/node/b/ipv4_port`, '7777\n');
      expectCode(() => b.write(`${C}/node/b/ipv4_address`, '127.0.1.1\n'), 'EEXIST', 'duplicate address');
      b.write(`${C}/node/b/ipv4_address`, '127.0.1.2\n');
      expectCode(() => b.write(`${C}/node/b/num`, '1\n'), 'EEXIST', 'duplicate number');
      b.write(`${C}/node/b/num`, '2\n');
      expectCode(() => b.mkdir(`${C}/node/b`), 'EEXIST', 'same node name');
      expectCode(() => b.mkdir(`${C}/node/${'x'.repeat(65)}`), 'ENAMETOOLONG', '65-character node name');
    });

    it('local: needs port, address and num; one local node at a time; cleared by writing 0 it cannot be set again, the local node is moved by rmdir', function () {
      b.mkdir(C);
      b.mkdir(`${C}/node/a`);
      expectCode(() => b.write(`${C}/node/a/local`, '1\n'), 'EINVAL', 'local before address');
      b.write(`${C}/node/a/ipv4_port`, '7777\n');
      b.write(`${C}/node/a/ipv4_address`, '127.0.0.1\n');
      expectCode(() => b.write(`${C}/node/a/local`, '1\n'), 'EINVAL', 'local before num');
      b.write(`${C}/node/a/num`, '1\n');
      addNode(b, 'b', 2, '127.0.0.2', 7778);
      b.write(`${C}/node/a/local`, '1\n');
      assert.equal(b.read(`${C}/node/a/local`), '1\n');
      expectCode(() => b.write(`${C}/node/b/local`, '1\n'), 'EBUSY', 'second local node');
      b.write(`${C}/node/a/local`, '1\n'); // the same value again is accepted
      // Writing 0 stops the listener. What the cluster then counts differs between Debian's 6.1
      // builds: 6.1.0-50 (6.1.176) still counts a local node, so no node (this one neither) can be
      // made local again until the cluster is removed; 6.1.0-57 and builds before -50 free the
      // slot. Both are accepted (the planner never writes 0: it moves the local node by rmdir,
      // which works on both); anything else fails.
      b.write(`${C}/node/a/local`, '0\n');
      assert.equal(b.read(`${C}/node/a/local`), '0\n');
      let freed: boolean;
      try {
        b.write(`${C}/node/b/local`, '1\n');
        freed = true;
      } catch (e) {
        assert.equal((e as { code?: string }).code, 'EBUSY', `another node after local was cleared by writing 0: ${(e as Error).message}`);
        freed = false;
      }
      if (freed) {
        assert.equal(b.read(`${C}/node/b/local`), '1\n');
        expectCode(() => b.write(`${C}/node/a/local`, '1\n'), 'EBUSY', 'the old local node once another one is local');
      } else {
        expectCode(() => b.write(`${C}/node/a/local`, '1\n'), 'EBUSY', 'the same node after local was cleared by writing 0');
        b.rmdir(`${C}/node/a`);
        expectCode(() => b.write(`${C}/node/b/local`, '1\n'), 'EBUSY', 'rmdir of a node that is no longer local does not reset it');
      }
      resetO2nm(b);
      b.mkdir(C);
      addNode(b, 'a', 1, '127.0.0.1');
      addNode(b, 'b', 2, '127.0.0.2', 7778);
      b.write(`${C}/node/a/local`, '1\n');
      b.rmdir(`${C}/node/a`); // removing the local node (no heartbeat) frees the local slot
      b.write(`${C}/node/b/local`, '1\n');
      assert.equal(b.read(`${C}/node/b/local`), '1\n');
      addNode(b, 'a', 1, '127.0.0.1');
      assert.equal(b.read(`${C}/node/a/local`), '0\n');
    });

    it('cluster attributes: keepalive < idle, fence_method needs its newline, 0-byte writes fail', function () {
      b.mkdir(C);
      expectCode(() => b.write(`${C}/idle_timeout_ms`, '2000\n'), 'EINVAL', 'idle == keepalive');
      expectCode(() => b.write(`${C}/keepalive_delay_ms`, '30000\n'), 'EINVAL', 'keepalive == idle');
      expectCode(() => b.write(`${C}/idle_timeout_ms`, '0\n'), 'EINVAL', 'idle 0');
      expectCode(() => b.write(`${C}/reconnect_delay_ms`, '4294967295\n'), 'ERANGE', 'reconnect too big');
      b.write(`${C}/keepalive_delay_ms`, '1000\n');
      b.write(`${C}/idle_timeout_ms`, '1500\n');
      assert.equal(b.read(`${C}/idle_timeout_ms`), '1500\n');
      expectCode(() => b.write(`${C}/fence_method`, 'panic'), 'EINVAL', 'fence_method without newline');
      b.write(`${C}/fence_method`, 'PANIC\n');
      assert.equal(b.read(`${C}/fence_method`), 'panic\n');
      expectCode(() => b.write(`${C}/reconnect_delay_ms`, ''), 'EFAULT', '0-byte write');
    });

    it('heartbeat: dead_threshold ≤ 2 is ignored, mode takes prefixes, both ignored while regions exist', function () {
      b.mkdir(C);
      b.write(`${C}/heartbeat/dead_threshold`, '2\n');
      assert.equal(b.read(`${C}/heartbeat/dead_threshold`), '31\n');
      b.write(`${C}/heartbeat/dead_threshold`, '7\n');
      assert.equal(b.read(`${C}/heartbeat/dead_threshold`), '7\n');
      b.write(`${C}/heartbeat/mode`, 'g');
      assert.equal(b.read(`${C}/heartbeat/mode`), 'global\n');
      expectCode(() => b.write(`${C}/heartbeat/mode`, 'x\n'), 'EINVAL', 'mode x');
      b.mkdir(`${C}/heartbeat/0123456789ABCDEF0123456789ABCDEF`);
      b.write(`${C}/heartbeat/dead_threshold`, '9\n');
      b.write(`${C}/heartbeat/mode`, 'local\n');
      assert.equal(b.read(`${C}/heartbeat/dead_threshold`), '7\n', 'ignored while a region exists');
      assert.equal(b.read(`${C}/heartbeat/mode`), 'global\n', 'ignored while a region exists');
      expectCode(() => b.mkdir(`${C}/heartbeat/${'A'.repeat(33)}`), 'ENAMETOOLONG', '33-character region');
    });

    it('region attributes: block_bytes a power of two 512–4096, blocks 1–255; dev needs a local node', function () {
      b.mkdir(C);
      const R = `${C}/heartbeat/0123456789ABCDEF0123456789ABCDEF`;
      b.mkdir(R);
      expectCode(() => b.write(`${R}/block_bytes`, '256\n'), 'ERANGE', 'block_bytes 256');
      expectCode(() => b.write(`${R}/block_bytes`, '1000\n'), 'EINVAL', 'block_bytes 1000');
      b.write(`${R}/block_bytes`, '512\n');
      expectCode(() => b.write(`${R}/blocks`, '256\n'), 'ERANGE', 'blocks 256');
      b.write(`${R}/blocks`, '255\n');
      b.write(`${R}/start_block`, '2048\n');
      assert.equal(b.read(`${R}/dev`), '');
      expectCode(() => b.write(`${R}/dev`, '0\n'), 'EINVAL', 'dev without a local node');
    });

    it('rmdir: a cluster with nodes is not empty; an unpinned node can go', function () {
      b.mkdir(C);
      addNode(b, 'a', 1, '127.0.1.1');
      expectCode(() => b.rmdir(C), 'ENOTEMPTY', 'cluster with a node');
      b.rmdir(`${C}/node/a`);
      b.rmdir(C);
      assert.equal(b.tryList(C), undefined);
    });

    it('a batch stops at the first failure and reports the step and what completed', async function () {
      b.mkdir(C);
      const ops = [
        { op: 'mkdir' as const, path: `${C}/node/a` },
        { op: 'write' as const, path: `${C}/node/a/ipv4_port`, data: '7777\n' },
        { op: 'write' as const, path: `${C}/node/a/num`, data: '1\n' },
        { op: 'write' as const, path: `${C}/node/a/ipv4_address`, data: '127.0.1.1\n' },
      ];
      try {
        b.batch(ops);
        assert.fail('batch should fail');
      } catch (e) {
        assert.ok(e instanceof BatchError, String(e));
        assert.equal(e.step, 2);
        assert.equal(e.completed, 2);
        assert.equal(e.code, 'EINVAL');
        assert.equal(e.path, `${C}/node/a/num`);
      }
      const r = await b.batchAsync([
        { op: 'write', path: `${C}/node/a/ipv4_address`, data: '127.0.1.1\n' },
        { op: 'write', path: `${C}/node/a/num`, data: '1\n' },
        { op: 'read', path: `${C}/node/a/num` },
      ]);
      assert.equal(r.completed, 3);
      assert.equal(r.reads[2]?.toString(), '1\n');
      await assert.rejects(b.batchAsync([{ op: 'mkdir', path: `${O2NM_ROOT}/other` }]), (e: unknown) => e instanceof BatchError && e.code === 'ENOSPC' && e.step === 0);
    });

    it('plan/apply: a 3-node cluster applied, read back, re-applied as a no-op, a node removed and re-added', function () {
      const want = cluster(3);
      want.timeouts = { idleTimeoutMs: 10000, keepaliveDelayMs: 1000, reconnectDelayMs: 1500, heartbeatDeadThreshold: 7 };
      want.fenceMethod = 'panic';
      const plan = planO2nm(want, readO2nmState(b), { localNode: 'node1' });
      assert.deepEqual(plan.blocked, []);
      applyO2nmPlan(b, plan);
      const state = readO2nmState(b);
      const back = stateToConfig(state.clusters[0]!);
      assert.deepEqual(back.nodes, want.nodes);
      assert.deepEqual(back.timeouts, { heartbeatDeadThreshold: 7, idleTimeoutMs: 10000, keepaliveDelayMs: 1000, reconnectDelayMs: 1500 });
      assert.equal(back.fenceMethod, 'panic');
      assert.deepEqual(state.clusters[0]!.nodes.filter((n) => n.local).map((n) => n.name), ['node1']);
      assert.ok(isNoop(planO2nm(want, readO2nmState(b), { localNode: 'node1' })), 'second plan is a no-op');

      const fewer = { ...want, nodes: want.nodes.filter((n) => n.name !== 'node2') };
      const p2 = planO2nm(fewer, readO2nmState(b), { localNode: 'node1' });
      assert.deepEqual(p2.steps.map((s) => `${s.op} ${s.path}`), [`rmdir ${C}/node/node2`]);
      applyO2nmPlan(b, p2);
      assert.deepEqual(readO2nmState(b).clusters[0]!.nodes.map((n) => n.name).sort(), ['node0', 'node1']);
      applyO2nmPlan(b, planO2nm(want, readO2nmState(b), { localNode: 'node1' }));
      assert.deepEqual(stateToConfig(readO2nmState(b).clusters[0]!).nodes, want.nodes);

      // A changed number: write-once, so the node is removed and added again.
      const renumbered = { ...want, nodes: want.nodes.map((n) => (n.name === 'node2' ? { ...n, number: 9 } : n)) };
      const p3 = planO2nm(renumbered, readO2nmState(b), { localNode: 'node1' });
      assert.equal(p3.steps[0]!.op, 'rmdir');
      applyO2nmPlan(b, p3);
      assert.equal(readO2nmState(b).clusters[0]!.nodes.find((n) => n.name === 'node2')!.num, 9);
    });

    it('plan/apply: a 255-node cluster, then a no-op second plan', function () {
      const want = cluster(255);
      applyO2nmPlan(b, planO2nm(want, readO2nmState(b), { localNode: 'node0' }));
      const state = readO2nmState(b);
      assert.equal(state.clusters[0]!.nodes.length, 255);
      assert.deepEqual(stateToConfig(state.clusters[0]!).nodes, want.nodes);
      assert.ok(isNoop(planO2nm(want, state, { localNode: 'node0' })));
    });

    it('a node directory keeps its inode while it exists, a re-made one gets a new one; a read that trusts known nodes equals a full read', function () {
      assert.equal(b.stableInodes, true, 'this backend claims stable inodes');
      const want = cluster(3);
      applyO2nmPlan(b, planO2nm(want, readO2nmState(b), { localNode: 'node0' }));
      const inos = () => new Map(b.list(`${C}/node`).map((e) => [e.name, e.ino]));
      const first = inos();
      assert.equal(first.size, 3);
      for (const ino of first.values()) assert.ok(typeof ino === 'number' && ino > 0, `readdir gives an inode number (${ino})`);
      b.write(`${C}/node/node0/local`, '1\n');
      assert.deepEqual(inos(), first, 'unchanged by reads and writes');
      b.rmdir(`${C}/node/node2`);
      addNode(b, 'node2', 2, '127.0.1.3');
      const again = inos();
      assert.equal(again.get('node1'), first.get('node1'));
      assert.notEqual(again.get('node2'), first.get('node2'), 'a re-made directory has a new inode');
      // node2 now holds port 7777 like before; make it differ so a stale shortcut would show
      b.rmdir(`${C}/node/node2`);
      addNode(b, 'node2', 9, '127.0.1.9');
      const trusted = readO2nmState(b);
      const view = Object.create(b) as KernelBackend;
      Object.defineProperty(view, 'stableInodes', { value: false });
      assert.deepEqual(trusted, readO2nmState(view));
      assert.equal(trusted.clusters[0]!.nodes.find((n) => n.name === 'node2')!.num, 9);
    });

    it('apply: a refused step names what was done and rolls the half-made node back', function () {
      b.mkdir(C);
      addNode(b, 'intruder', 50, '127.0.1.2'); // holds the address the config gives node1
      const plan = planO2nm(cluster(3), readO2nmState(b), { localNode: 'node0', keepUnknownNodes: true });
      try {
        applyO2nmPlan(b, plan);
        assert.fail('apply should fail');
      } catch (e) {
        assert.ok(e instanceof ApplyError, String(e));
        assert.equal(e.cause.code, 'EEXIST');
        assert.equal(e.failed.path, `${C}/node/node1/ipv4_address`);
        assert.match(e.message, /another node already has this address/);
        assert.deepEqual(e.rolledBack.map((s) => s.path), [`${C}/node/node1`]);
        assert.ok(e.done.length > 0 && e.notRun.length > 0);
      }
      const names = readO2nmState(b).clusters[0]!.nodes.map((n) => n.name).sort();
      assert.deepEqual(names, ['intruder', 'node0'], 'node1 rolled back; node2 never made');
    });
  });
}
