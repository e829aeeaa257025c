// mount.ocfs2 (lib/stack/mountHelper.ts) on a fake kernel tree with a recording mount(2): the
// preflight of `o2stack mount` on both stacks, -o/-f/-n/-v/-s, remount, /etc/mtab, and mount(8)'s
// exit codes. (The real kernel, through mount(8): test/vm/suites/mount-helper.two.vm.ts.)
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NativeBackend } from '../../lib/kernel/backend.js';
import { KernelError } from '../../lib/kernel/errors.js';
import { makeFakeKernelTree } from '../../lib/kernel/fakeTree.js';
import type { SystemOps } from '../../lib/kernel/system.js';
import type { ClusterConfig } from '../../lib/model/cluster.js';
import { MS } from '../../lib/model/mountHelper.js';
import type { Superblock } from '../../lib/model/superblock.js';
import type { VolumeReader } from '../../lib/stack/mount.js';
import { type MountHelperDeps, runMountHelper } from '../../lib/stack/mountHelper.js';
import { startO2cb } from '../../lib/stack/o2cb.js';

const UUID = '0123456789ABCDEF0123456789ABCDEF';
const cluster: ClusterConfig = { name: 'demo', nodes: [{ name: 'n1', number: 1, ipAddress: '192.0.2.1', port: 7777 }], heartbeatMode: 'local', heartbeatRegions: [], timeouts: {} };

describe('mount.ocfs2 (fake tree)', function () {
  let dir: string;
  let root: string;
  let calls: { source: string; target: string; options: string; flags: number }[];
  let out: string;
  let err: string;
  let sb: Partial<Superblock>;
  let dev: string;

  const sys = (): SystemOps => ({
    modprobe: async (m) => void mkdirSync(join(root, 'sys/module', m), { recursive: true }),
    mount: async (source, target, fstype, options = '', flags = 0) => {
      calls.push({ source, target, options, flags });
      if (fstype === 'ocfs2' && (flags & MS.REMOUNT) === 0) writeFileSync(join(root, 'proc/self/mounts'), `${source} ${target} ocfs2 rw,relatime,_netdev,${options} 0 0\n`, { flag: 'a' });
    },
    umount: async () => undefined,
  });
  const read: VolumeReader = async (_d, { heartbeat }) => ({ superblock: sb as Superblock, ...(heartbeat ? { heartbeat: { blockBytes: 512, startBlock: 1000, blocks: 255 } as never } : {}) });
  const b = () => new NativeBackend({ root, fakeTree: true });
  const deps = (o: Partial<MountHelperDeps> = {}): MountHelperDeps => ({
    b: b(),
    sys: sys(),
    read,
    euid: 0,
    mtab: join(dir, 'mtab'),
    controller: async () => 'o2stack daemon (pid 7)',
    plockServer: async () => ({ who: 'o2stack daemon', serving: true, detail: 'served' }),
    out: (s) => void (out += s),
    err: (s) => void (err += s),
    ...o,
  });
  const run = (argv: string[], o: Partial<MountHelperDeps> = {}) => runMountHelper(argv, deps(o));
  const regionDir = () => join(root, 'sys/kernel/config/cluster/demo/heartbeat', UUID);

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'o2s-helper-'));
    root = makeFakeKernelTree(join(dir, 'root'));
    mkdirSync(join(root, 'proc/self'), { recursive: true });
    writeFileSync(join(root, 'proc/self/mounts'), 'configfs /sys/kernel/config configfs rw 0 0\n');
    dev = join(dir, 'vda.img');
    writeFileSync(dev, Buffer.alloc(4096));
    calls = [];
    out = '';
    err = '';
    sb = { uuid: UUID, userStack: false, stack: { name: 'o2cb', clusterName: 'demo', globalHeartbeat: false }, localMount: false, heartbeatDevice: false } as Partial<Superblock>;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function startCluster(): Promise<void> {
    await startO2cb(b(), sys(), cluster, { node: 'n1' });
    calls = []; // dlmfs
  }

  it('o2cb volume: heartbeat started, heartbeat=local added, -o flags to mount(2), _netdev kept from the kernel; -v says each step', async function () {
    await startCluster();
    const r = await run([dev, '/mnt/shared', '-v', '-o', 'rw,_netdev,noatime,errors=panic']);
    assert.equal(r.code, 0, err);
    assert.deepEqual(calls, [{ source: dev, target: '/mnt/shared', options: 'heartbeat=local,errors=panic', flags: MS.NOATIME }]);
    assert.ok(existsSync(regionDir()), 'heartbeat region started');
    assert.match(out, /mount\.ocfs2: not passed to the kernel: _netdev/);
    assert.match(out, /mount\.ocfs2: heartbeat started on \S+ in \d\.\d s/);
    assert.match(out, /mount\.ocfs2: mounted .* o2cb volume of cluster 'demo' \(heartbeat=local\), on \/mnt\/shared with heartbeat=local,errors=panic \(rw,noatime\) .* \(o2stack\)/);
    assert.equal(err, '');
  });

  it('refusals exit 32 with the fix, before anything starts: no cluster; a cluster option that does not match the disk; nocluster', async function () {
    const r = await run([dev, '/mnt/shared']);
    assert.equal(r.code, 32);
    assert.match(err, /no o2cb cluster is registered/);
    assert.match(err, /fix: o2stack start/);
    await startCluster();
    err = '';
    assert.equal((await run([dev, '/mnt/shared', '-o', 'heartbeat=none'])).code, 32);
    assert.match(err, /-o heartbeat=none does not match .*needs heartbeat=local/);
    assert.equal((await run([dev, '/mnt/shared', '-o', 'nocluster'])).code, 32);
    assert.deepEqual(calls, []);
    assert.equal(existsSync(regionDir()), false);
  });

  it('the kernel refusing the mount: exit 32 with its errno, heartbeat stopped again', async function () {
    await startCluster();
    const failing = sys();
    failing.mount = async () => {
      throw new KernelError({ code: 'EINVAL', errno: -22, syscall: 'mount', path: '/mnt/shared' }, 'mount: EINVAL');
    };
    const r = await run([dev, '/mnt/shared', '-o', 'bogus'], { sys: failing });
    assert.equal(r.code, 32);
    assert.match(err, /failed: EINVAL .*dmesg.*\n.*cleaned up: stopped heartbeat region/);
    assert.equal(existsSync(regionDir()), false);
  });

  it('-s drops options OCFS2 does not know (said with -v) instead of failing', async function () {
    await startCluster();
    assert.equal((await run([dev, '/mnt/shared', '-sv', '-o', 'bogus,localflocks'])).code, 0, err);
    assert.equal(calls[0]!.options, 'heartbeat=local,localflocks');
    assert.match(out, /-s: dropped options OCFS2 does not know: bogus/);
  });

  it('-f runs the preflight only: nothing started or mounted, exit 0; a refused preflight still exits 32', async function () {
    await startCluster();
    const r = await run([dev, '/mnt/shared', '-fv']);
    assert.equal(r.code, 0, err);
    assert.deepEqual(calls, []);
    assert.equal(existsSync(regionDir()), false);
    assert.match(out, /the preflight passes; -f: nothing started, nothing mounted/);
    sb = { ...sb, stack: { name: 'o2cb', clusterName: 'other', globalHeartbeat: false } } as Partial<Superblock>;
    assert.equal((await run([dev, '/mnt/shared', '-f'])).code, 32);
    assert.match(err, /belongs to cluster 'other'/);
  });

  it('remount: the volume\'s heartbeat= again, MS_REMOUNT with the flags, no heartbeat started; not mounted there: 32', async function () {
    await startCluster();
    assert.equal((await run([dev, '/mnt/shared'])).code, 0, err);
    rmSync(regionDir(), { recursive: true }); // a remount that started heartbeat would make it again
    calls = [];
    const r = await run([dev, '/mnt/shared', '-v', '-o', 'remount,ro,noatime']);
    assert.equal(r.code, 0, err);
    assert.deepEqual(calls, [{ source: dev, target: '/mnt/shared', options: 'heartbeat=local', flags: MS.REMOUNT | MS.RDONLY | MS.NOATIME }]);
    assert.equal(existsSync(regionDir()), false, 'no heartbeat started by a remount');
    assert.match(out, /remounted .* heartbeat left as it runs/);
    assert.equal((await run([dev, '/mnt/elsewhere', '-o', 'remount'])).code, 32);
    assert.match(err, /cannot remount \/mnt\/elsewhere: no OCFS2 volume is mounted there/);
  });

  it('user-stack volume: cluster_stack= added once a control daemon runs and fs/dlm runs its cluster; refused with the fix (32) without one', async function () {
    writeFileSync(join(root, 'sys/fs/ocfs2/cluster_stack'), 'pcmk\n');
    sb = { uuid: UUID, userStack: true, stack: { name: 'pcmk', clusterName: 'demo', globalHeartbeat: false }, localMount: false, heartbeatDevice: false } as Partial<Superblock>;
    const none = await run([dev, '/mnt/shared'], { controller: async () => undefined });
    assert.equal(none.code, 32);
    assert.match(err, /no control daemon runs to answer its lockspace join \(mount\(2\) would wait for one forever\)/);
    assert.match(err, /fix: start one first: systemctl start o2stack-daemon/);
    assert.deepEqual(calls, []);
    mkdirSync(join(root, 'sys/kernel/config/dlm/cluster'), { recursive: true });
    writeFileSync(join(root, 'sys/kernel/config/dlm/cluster/cluster_name'), 'demo\n');
    assert.equal((await run([dev, '/mnt/shared', '-o', 'noatime,cluster_stack=pcmk'])).code, 0, err);
    assert.deepEqual(calls, [{ source: dev, target: '/mnt/shared', options: 'cluster_stack=pcmk', flags: MS.NOATIME }]);
  });

  it('/etc/mtab: a regular file gets the line (with _netdev), -n leaves it alone, a link to /proc is never written', async function () {
    await startCluster();
    const mtab = join(dir, 'mtab');
    writeFileSync(mtab, 'proc /proc proc rw 0 0\n');
    assert.equal((await run([dev, '/mnt/a', '-o', '_netdev'])).code, 0, err);
    assert.equal(readFileSync(mtab, 'utf8'), `proc /proc proc rw 0 0\n${dev} /mnt/a ocfs2 rw,heartbeat=local,_netdev 0 0\n`);
    writeFileSync(join(root, 'proc/self/mounts'), ''); // unmounted (the region stays: pinned in a real kernel)
    assert.equal((await run([dev, '/mnt/b', '-n'])).code, 0, err);
    assert.doesNotMatch(readFileSync(mtab, 'utf8'), /\/mnt\/b/);
    rmSync(mtab);
    symlinkSync('/proc/self/mounts', mtab);
    writeFileSync(join(root, 'proc/self/mounts'), '');
    assert.equal((await run([dev, '/mnt/c'])).code, 0, err);
  });

  it('usage errors and non-root exit 1; -h prints the usage and exits 0', async function () {
    assert.equal((await run([dev])).code, 1);
    assert.match(err, /DEVICE and DIR are both needed\n  fix: usage: mount\.ocfs2 DEVICE DIR/);
    err = '';
    assert.equal((await run([dev, '/mnt/x'], { euid: 1000 })).code, 1);
    assert.match(err, /only root can mount OCFS2 volumes/);
    assert.equal((await run(['-h'])).code, 0);
    assert.match(out, /usage: mount\.ocfs2 DEVICE DIR \[-sfnv\]/);
    assert.deepEqual(calls, []);
  });

  it('UUID= and LABEL= go through the resolver; without one they are refused (exit 1)', async function () {
    await startCluster();
    assert.equal((await run([`UUID=${UUID}`, '/mnt/x'], { resolveSpec: () => dev })).code, 0, err);
    assert.equal(calls[0]!.source, dev);
    assert.equal((await run(['LABEL=x', '/mnt/y'])).code, 1);
    assert.match(err, /LABEL=x: cannot resolve it here/);
  });
});
