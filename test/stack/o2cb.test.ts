// select / start / stop wiring on a fake kernel tree with a recording SystemOps (the real kernel's
// behaviour is proven by test/vm/suites/o2cb-lifecycle.vm.ts).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NativeBackend } from '../../lib/kernel/backend.js';
import { KernelError } from '../../lib/kernel/errors.js';
import { makeFakeKernelTree } from '../../lib/kernel/fakeTree.js';
import type { SystemOps } from '../../lib/kernel/system.js';
import type { ClusterConfig } from '../../lib/model/cluster.js';
import { startO2cb, stopO2cb } from '../../lib/stack/o2cb.js';
import { StackError, selectStack } from '../../lib/stack/select.js';

function recordingSystem(root: string, log: string[]): SystemOps {
  return {
    async modprobe(m) {
      log.push(`modprobe ${m}`);
      mkdirSync(join(root, 'sys/module', m), { recursive: true });
    },
    async mount(src, target, type) {
      log.push(`mount ${type} ${target}`);
      mkdirSync(join(root, 'proc/self'), { recursive: true });
      writeFileSync(join(root, 'proc/self/mounts'), `${src} ${target} ${type} rw 0 0\n`, { flag: 'a' });
    },
    async umount(t) {
      log.push(`umount ${t}`);
      const f = join(root, 'proc/self/mounts');
      writeFileSync(f, readFileSync(f, 'utf8').split('\n').filter((l) => l.split(' ')[1] !== t).join('\n'));
    },
  };
}

const cluster: ClusterConfig = {
  name: 'demo',
  nodes: [
    { name: 'n1', number: 1, ipAddress: '192.0.2.1', port: 7777 },
    { name: 'n2', number: 2, ipAddress: '192.0.2.2', port: 7777 },
  ],
  heartbeatMode: 'local',
  heartbeatRegions: [],
  timeouts: { heartbeatDeadThreshold: 7 },
};

describe('select, start and stop (fake tree)', function () {
  let dir: string;
  let root: string;
  let b: NativeBackend;
  let log: string[];
  let sys: SystemOps;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'o2s-stack-'));
    root = makeFakeKernelTree(join(dir, 'root'));
    mkdirSync(join(root, 'proc/self'), { recursive: true });
    writeFileSync(join(root, 'proc/self/mounts'), ''); // nothing mounted yet, not even configfs
    b = new NativeBackend({ root, fakeTree: true });
    log = [];
    sys = recordingSystem(root, log);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('select loads only the missing modules, mounts configfs once, writes the label once', async function () {
    const r = await selectStack(b, sys, 'pcmk');
    assert.deepEqual(log, ['modprobe configfs', 'modprobe ocfs2', 'modprobe ocfs2_stack_user', 'modprobe dlm', 'mount configfs /sys/kernel/config']);
    assert.equal(readFileSync(join(root, 'sys/fs/ocfs2/cluster_stack'), 'utf8'), 'pcmk\n');
    assert.equal(r.plugin, 'user');
    log.length = 0;
    const again = await selectStack(b, sys, 'pcmk');
    assert.deepEqual(again.actions, []);
    assert.deepEqual(log, []);
  });

  it('select refuses another stack while a volume is mounted, saying which', async function () {
    writeFileSync(join(root, 'sys/fs/ocfs2/active_cluster_plugin'), 'o2cb\n');
    mkdirSync(join(root, 'proc/self'), { recursive: true });
    writeFileSync(join(root, 'proc/self/mounts'), '/dev/vdb /mnt/data ocfs2 rw,heartbeat=local 0 0\n');
    await assert.rejects(selectStack(b, sys, 'pcmk'), (e: unknown) => e instanceof StackError && e.code === 'E_STACK_BUSY' && /\/mnt\/data/.test(e.message) && /o2stack umount/.test(e.hint));
    assert.deepEqual(log, [], 'nothing was loaded or mounted');
  });

  it('start registers the cluster and is idempotent; stop unregisters and is idempotent; stop is refused while mounted', async function () {
    const s1 = await startO2cb(b, sys, cluster, { node: 'n1' });
    assert.equal(s1.alreadyRunning, false);
    assert.equal(s1.localNode, 'n1');
    assert.equal(readFileSync(join(root, 'sys/kernel/config/cluster/demo/node/n1/local'), 'utf8'), '1\n');
    assert.equal(readFileSync(join(root, 'sys/kernel/config/cluster/demo/heartbeat/dead_threshold'), 'utf8'), '7\n');
    const s2 = await startO2cb(b, sys, cluster, { node: 'n1' });
    assert.equal(s2.alreadyRunning, true, s2.actions.join('; '));
    writeFileSync(join(root, 'proc/self/mounts'), '/dev/vdb /mnt/data ocfs2 rw,heartbeat=local,cluster_stack=o2cb 0 0\n', { flag: 'a' });
    await assert.rejects(stopO2cb(b, sys), (e: unknown) => e instanceof StackError && e.code === 'E_STOP_MOUNTED' && /o2stack umount \/mnt\/data/.test(e.hint));
    writeFileSync(join(root, 'proc/self/mounts'), '');
    const t1 = await stopO2cb(b, sys);
    assert.deepEqual(t1.clusters, ['demo']);
    assert.equal((await stopO2cb(b, sys)).alreadyStopped, true);
  });

  it('start mounts ocfs2_dlmfs at /dlm once (module, directory, mount); stop unmounts it after the volumes, refuses while a tool holds a dlm domain there', async function () {
    const s1 = await startO2cb(b, sys, cluster, { node: 'n1' });
    assert.deepEqual(s1.actions.slice(-3), ['modprobe ocfs2_dlmfs', 'mkdir /dlm', 'mount -t ocfs2_dlmfs ocfs2_dlmfs /dlm']);
    assert.ok(existsSync(join(root, 'dlm')));
    assert.match(readFileSync(join(root, 'proc/self/mounts'), 'utf8'), /^ocfs2_dlmfs \/dlm ocfs2_dlmfs /m);
    const before = log.length;
    const s2 = await startO2cb(b, sys, cluster, { node: 'n1' });
    assert.equal(s2.alreadyRunning, true, s2.actions.join('; '));
    assert.deepEqual(log.slice(before), [], 'nothing loaded or mounted again');
    // tunefs.ocfs2 holding a lock: a domain directory under /dlm
    mkdirSync(join(root, 'dlm/0123456789ABCDEF0123456789ABCDEF'));
    await assert.rejects(stopO2cb(b, sys), (e: unknown) => e instanceof StackError && e.code === 'E_STOP_DLMFS_BUSY' && /fuser -vm \/dlm/.test(e.hint) && /0123456789ABCDEF0123456789ABCDEF/.test(e.message));
    assert.ok(existsSync(join(root, 'sys/kernel/config/cluster/demo')), 'the cluster stays registered');
    rmSync(join(root, 'dlm/0123456789ABCDEF0123456789ABCDEF'), { recursive: true });
    const t = await stopO2cb(b, sys);
    assert.equal(t.actions.at(-1), 'umount /dlm (ocfs2_dlmfs)', 'after the cluster is unregistered');
    assert.ok(log.includes('umount /dlm'));
    assert.equal(existsSync(join(root, 'sys/kernel/config/cluster/demo')), false);
    assert.doesNotMatch(readFileSync(join(root, 'proc/self/mounts'), 'utf8'), /ocfs2_dlmfs/);
  });

  it('a dlmfs mount that fails is a warning with its fix: the cluster is registered and stays (it runs without dlmfs)', async function () {
    const failing: SystemOps = { ...sys, async mount(src, target, type) {
      if (type === 'ocfs2_dlmfs') throw new KernelError({ code: 'ENODEV', errno: 19, syscall: 'mount', path: target });
      return sys.mount(src, target, type);
    } };
    const s = await startO2cb(b, failing, cluster, { node: 'n1' });
    assert.equal(s.warnings.length, 1, s.warnings.join('; '));
    assert.match(s.warnings[0], /^dlmfs not mounted: .*ENODEV.*mount -t ocfs2_dlmfs ocfs2_dlmfs \/dlm/);
    assert.ok(existsSync(join(root, 'sys/kernel/config/cluster/demo/node/n1')), 'the cluster is registered');
  });

  it('stop CLUSTER names a registered cluster or refuses with the registered names; nothing registered is already stopped', async function () {
    await startO2cb(b, sys, cluster, { node: 'n1' });
    await assert.rejects(stopO2cb(b, sys, 'other'), (e: unknown) => e instanceof StackError && e.code === 'E_STOP_NOT_REGISTERED' && /the kernel has: demo/.test(e.message));
    assert.ok(existsSync(join(root, 'sys/kernel/config/cluster/demo')), 'a refusal stops nothing');
    const t = await stopO2cb(b, sys, 'demo');
    assert.deepEqual(t.clusters, ['demo']);
    assert.equal(t.actions.at(-1), 'umount /dlm (ocfs2_dlmfs)', 'the last cluster gone: dlmfs too');
    assert.equal((await stopO2cb(b, sys, 'demo')).alreadyStopped, true);
  });

  it('global heartbeat: start starts every configured region once, stops unconfigured ones, and a missing device leaves nothing half-started', async function () {
    const uuids = ['A'.repeat(32), 'B'.repeat(32), 'C'.repeat(32)];
    const devices = Object.fromEntries(uuids.map((u, i) => [u, join(dir, `hb${i}.img`)]));
    for (const d of Object.values(devices)) writeFileSync(d, Buffer.alloc(4096));
    const locate = (uuid: string) => {
      if (!devices[uuid]) throw new Error(`no block device holds the heartbeat region ${uuid}`);
      return { uuid, device: devices[uuid]!, blockBytes: 512, startBlock: 100, blocks: 255 };
    };
    const g: ClusterConfig = { ...cluster, heartbeatMode: 'global', heartbeatRegions: uuids.slice(0, 2) };
    const regionDir = (u: string) => join(root, 'sys/kernel/config/cluster/demo/heartbeat', u);
    const s1 = await startO2cb(b, sys, g, { node: 'n1', locateRegion: locate });
    assert.deepEqual(s1.regions.map((r) => [r.uuid, r.started]), [[uuids[0], true], [uuids[1], true]]);
    assert.equal(readFileSync(join(root, 'sys/kernel/config/cluster/demo/heartbeat/mode'), 'utf8'), 'global\n');
    assert.match(readFileSync(join(regionDir(uuids[0]!), 'dev'), 'utf8'), /^\d+$/, 'the device fd number was written');
    assert.equal(readFileSync(join(regionDir(uuids[0]!), 'block_bytes'), 'utf8'), '512\n');
    const s2 = await startO2cb(b, sys, g, { node: 'n1', locateRegion: locate });
    assert.equal(s2.alreadyRunning, true);
    assert.deepEqual(s2.regions.map((r) => r.started), [false, false]);
    const s3 = await startO2cb(b, sys, { ...g, heartbeatRegions: [uuids[0]!] }, { node: 'n1', locateRegion: locate });
    assert.deepEqual(s3.actions, [`stopped heartbeat region ${uuids[1]} (no longer configured)`]);
    const missing = 'D'.repeat(32);
    await assert.rejects(startO2cb(b, sys, { ...g, heartbeatRegions: [uuids[0]!, uuids[2]!, missing] }, { node: 'n1', locateRegion: locate }), /^Error: no block device holds the heartbeat region D{32}$/);
    assert.ok(!existsSync(regionDir(uuids[2]!)), 'every device is located before any region starts: C was never started');
    assert.ok(existsSync(regionDir(uuids[0]!)), 'the region that was already running stays');
  });

  it('global heartbeat: a region that fails to start on a fresh start takes the cluster it registered with it', async function () {
    const good = join(dir, 'hb0.img');
    writeFileSync(good, Buffer.alloc(4096));
    const uuids = ['A'.repeat(32), 'B'.repeat(32)];
    // B's device vanished between discovery and the start: opening it fails
    const locate = (uuid: string) => ({ uuid, device: uuid === uuids[0] ? good : join(dir, 'gone.img'), blockBytes: 512, startBlock: 100, blocks: 255 });
    const g: ClusterConfig = { ...cluster, heartbeatMode: 'global', heartbeatRegions: uuids };
    await assert.rejects(startO2cb(b, sys, g, { node: 'n1', locateRegion: locate }), (e: unknown) =>
      e instanceof Error && /stopped the 1 region\(s\) this start had started/.test(e.message) && /undid the 3 configfs operation\(s\) this start had made \(rmdir \S+\/demo\/node\/n2; rmdir \S+\/demo\/node\/n1; rmdir \/sys\/kernel\/config\/cluster\/demo\)/.test(e.message));
    assert.equal(existsSync(join(root, 'sys/kernel/config/cluster/demo')), false, 'nothing left half-started');
  });
});
