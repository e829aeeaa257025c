// Global heartbeat regions against the configfs simulator (lib/kernel/sim.ts): the plan reads only
// and locates every device first, the apply starts regions in order, stops unconfigured ones
// (pinned ones stay, with a warning), undoes its own starts on failure, and the quorum warning.
// The real kernel's behaviour is proven by test/vm/suites/o2cb-global.vm.ts.
import assert from 'node:assert/strict';
import { KernelError } from '../../lib/kernel/errors.js';
import { SimBackend } from '../../lib/kernel/sim.js';
import type { ClusterConfig } from '../../lib/model/cluster.js';
import { o2nm } from '../../lib/model/paths.js';
import { RegionError, applyGlobalRegions, planGlobalRegions, quorumWarnings } from '../../lib/stack/globalHeartbeat.js';
import type { RegionSpec } from '../../lib/stack/heartbeat.js';

const U = ['A', 'B', 'C', 'D', 'E'].map((c) => c.repeat(32));

/** A simulator whose listed regions are pinned (rmdir → EBUSY), as a mount pins ≤ 3 global regions. */
class PinningSim extends SimBackend {
  pinned = new Set<string>();
  override rmdir(path: string): void {
    const name = path.slice(path.lastIndexOf('/') + 1);
    if (path.includes('/heartbeat/') && this.pinned.has(name)) throw new KernelError({ code: 'EBUSY', errno: -16, syscall: 'rmdir', path });
    super.rmdir(path);
  }
}

/** cluster 'demo' with local node n1 and heartbeat mode global, as the o2nm plan leaves it */
function registered(b: SimBackend): void {
  b.mkdir(o2nm.cluster('demo'));
  b.write(o2nm.heartbeatAttr('demo', 'mode'), 'global\n');
  b.mkdir(o2nm.node('demo', 'n1'));
  b.write(o2nm.nodeAttr('demo', 'n1', 'ipv4_port'), '7777\n');
  b.write(o2nm.nodeAttr('demo', 'n1', 'ipv4_address'), '192.0.2.1\n');
  b.write(o2nm.nodeAttr('demo', 'n1', 'num'), '1\n');
  b.write(o2nm.nodeAttr('demo', 'n1', 'local'), '1\n');
}

const cfg = (regions: string[]): ClusterConfig => ({
  name: 'demo',
  nodes: [{ name: 'n1', number: 1, ipAddress: '192.0.2.1', port: 7777 }],
  heartbeatMode: 'global',
  heartbeatRegions: regions,
  timeouts: {},
});

function locator(known: string[], calls: string[] = []) {
  return (uuid: string): RegionSpec => {
    calls.push(uuid);
    const i = known.indexOf(uuid);
    if (i < 0) throw new RegionError('E_REGION_NOT_FOUND', `no block device holds the heartbeat region ${uuid}`, 'o2stack volume list');
    return { uuid, device: `/dev/vd${'bcdef'[i]}`, blockBytes: 1024, startBlock: 2, blocks: 255 };
  };
}

const regionNames = (b: SimBackend) => [...(b.clusters.get('demo')?.regions.keys() ?? [])].sort();

describe('global heartbeat regions (simulator)', function () {
  it('plans without touching the kernel, then starts every region in configuration order with its geometry', async function () {
    const b = new SimBackend();
    registered(b);
    const before = b.log.length;
    const plan = planGlobalRegions(b, cfg(U.slice(0, 3)), locator(U));
    assert.equal(b.log.length, before, 'planning writes nothing');
    assert.deepEqual(plan.unconfigured, []);
    assert.deepEqual(plan.warnings, []);
    const r = await applyGlobalRegions(b, plan);
    assert.deepEqual(r.regions.map((x) => [x.uuid, x.device, x.started]), [[U[0], '/dev/vdb', true], [U[1], '/dev/vdc', true], [U[2], '/dev/vdd', true]]);
    assert.equal(r.actions.length, 3);
    assert.match(r.actions[0]!, new RegExp(`^started global heartbeat region ${U[0]} on /dev/vdb \\(\\d+\\.\\d s\\)$`));
    assert.equal(b.read(o2nm.regionAttr('demo', U[1]!, 'block_bytes')), '1024\n');
    assert.equal(b.read(o2nm.regionAttr('demo', U[1]!, 'start_block')), '2\n');
    assert.equal(b.read(o2nm.regionAttr('demo', U[1]!, 'dev')), 'vdc\n');
    // the starts ran in configuration order, one region at a time
    const mkdirs = b.log.filter((l) => l.startsWith('mkdir') && l.includes('/heartbeat/'));
    assert.deepEqual(mkdirs, U.slice(0, 3).map((u) => `mkdir ${o2nm.region('demo', u)}`));
  });

  it('is idempotent: running regions are neither located nor restarted', async function () {
    const b = new SimBackend();
    registered(b);
    await applyGlobalRegions(b, planGlobalRegions(b, cfg(U.slice(0, 3)), locator(U)));
    const calls: string[] = [];
    const plan = planGlobalRegions(b, cfg(U.slice(0, 3)), locator(U, calls));
    assert.deepEqual(calls, []);
    const n = b.log.length;
    const r = await applyGlobalRegions(b, plan);
    assert.equal(b.log.length, n, 'nothing written');
    assert.deepEqual(r.actions, []);
    assert.deepEqual(r.regions.map((x) => [x.device, x.started]), [['/dev/vdb', false], ['/dev/vdc', false], ['/dev/vdd', false]]);
  });

  it('an unknown UUID fails the plan, naming the UUID, before anything starts', function () {
    const b = new SimBackend();
    registered(b);
    const n = b.log.length;
    assert.throws(() => planGlobalRegions(b, cfg([U[0]!, 'F'.repeat(32)]), locator(U)), (e: unknown) => e instanceof RegionError && e.code === 'E_REGION_NOT_FOUND' && e.message.includes('F'.repeat(32)) && e.hint.includes('o2stack volume list'));
    assert.equal(b.log.length, n);
    assert.deepEqual(regionNames(b), []);
  });

  it('a region whose start fails stops the regions this call started, and only those', async function () {
    const b = new SimBackend();
    registered(b);
    await applyGlobalRegions(b, planGlobalRegions(b, cfg([U[0]!]), locator(U)));
    const plan = planGlobalRegions(b, cfg(U.slice(0, 4)), locator(U));
    // the fourth device has geometry the kernel refuses (start_block 0 → EINVAL at dev time)
    const bad = plan.regions[3]!;
    assert.equal(bad.running, false);
    if (!bad.running) bad.spec.startBlock = 0;
    await assert.rejects(applyGlobalRegions(b, plan), (e: unknown) => e instanceof Error && /stopped the 2 region\(s\) this start had started/.test(e.message));
    assert.deepEqual(regionNames(b), [U[0]], 'B and C (started by this call) stopped, D cleaned up, A (already running) kept');
  });

  it('stops regions no longer configured after starting the new ones; a pinned one stays with a warning', async function () {
    const b = new PinningSim();
    registered(b);
    await applyGlobalRegions(b, planGlobalRegions(b, cfg(U.slice(0, 3)), locator(U)));
    b.pinned.add(U[2]!);
    const plan = planGlobalRegions(b, cfg([U[0]!, U[3]!, U[4]!]), locator(U));
    assert.deepEqual(plan.unconfigured, [U[1], U[2]]);
    const r = await applyGlobalRegions(b, plan);
    assert.deepEqual(r.stopped, [U[1]]);
    assert.deepEqual(r.pinned, [U[2]]);
    assert.match(r.warnings.join('\n'), new RegExp(`heartbeat region ${U[2]} is no longer configured but stays running: a mounted volume pins it`));
    assert.deepEqual(regionNames(b), [U[0], U[2], U[3], U[4]].sort());
    // the new regions started before the old one was stopped: quorum never dipped
    const order = b.log.filter((l) => l.includes('/heartbeat/') && /^(mkdir|rmdir)/.test(l)).map((l) => l.split(' ')[0] + ' ' + l.slice(-32, -31));
    assert.deepEqual(order.slice(-3), ['mkdir D', 'mkdir E', 'rmdir B']);
  });

  it('other kernel errors while stopping an unconfigured region are not swallowed', async function () {
    const b = new SimBackend();
    registered(b);
    await applyGlobalRegions(b, planGlobalRegions(b, cfg(U.slice(0, 2)), locator(U)));
    const plan = planGlobalRegions(b, cfg([U[0]!]), locator(U));
    b.rmdir = () => {
      throw new KernelError({ code: 'EPERM', errno: -1, syscall: 'rmdir', path: 'x' });
    };
    await assert.rejects(applyGlobalRegions(b, plan), { code: 'EPERM' });
  });

  it('warns below three regions (pinning and quorum), refuses more than 32', function () {
    assert.equal(quorumWarnings(3).length, 0);
    assert.match(quorumWarnings(2)[0]!, /2 global heartbeat region\(s\) configured: use 3 or more .* losing half of them fences the node/);
    const b = new SimBackend();
    registered(b);
    assert.equal(planGlobalRegions(b, cfg([U[0]!]), locator(U)).warnings.length, 1);
    const many = Array.from({ length: 33 }, (_, i) => i.toString(16).toUpperCase().padStart(32, '0'));
    assert.throws(() => planGlobalRegions(b, cfg(many), locator(many)), (e: unknown) => e instanceof RegionError && e.code === 'E_REGION_TOO_MANY');
  });
});
