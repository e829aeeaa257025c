// lib/stack/mount.ts on a fake kernel tree: user-stack volumes are mounted only with a control
// daemon to answer the lockspace join and fs/dlm running the volume's cluster. (The real mount:
// test/vm/suites/user-stack-corosync.two.vm.ts and `npm run demo -- --stack user`.)
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NativeBackend } from '../../lib/kernel/backend.js';
import { makeFakeKernelTree } from '../../lib/kernel/fakeTree.js';
import type { SystemOps } from '../../lib/kernel/system.js';
import type { Superblock } from '../../lib/model/superblock.js';
import { findController, mountVolume, PreflightError, type VolumeReader } from '../../lib/stack/mount.js';

const UUID = '0123456789ABCDEF0123456789ABCDEF';

describe('mountVolume: user-stack volumes', function () {
  let root: string;
  let mounts: string[][];
  const sys: SystemOps = {
    modprobe: async () => undefined,
    mount: async (source, target, fstype, options) => void mounts.push([source, target, fstype, options ?? '']),
    umount: async () => undefined,
  };
  const volume: VolumeReader = async () => ({
    superblock: { uuid: UUID, userStack: true, stack: { name: 'pcmk', clusterName: 'demo', globalHeartbeat: false }, localMount: false, heartbeatDevice: false, warnings: [] } as unknown as Superblock,
  });
  const dlmCluster = (name: string) => {
    mkdirSync(join(root, 'sys/kernel/config/dlm/cluster'), { recursive: true });
    writeFileSync(join(root, 'sys/kernel/config/dlm/cluster/cluster_name'), `${name}\n`);
  };
  const b = () => new NativeBackend({ root, fakeTree: true });

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'o2s-mount-'));
    makeFakeKernelTree(root, { stack: 'pcmk' });
    mounts = [];
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('mounts with cluster_stack=pcmk and no heartbeat when a controller runs and fs/dlm runs the volume\'s cluster', async function () {
    dlmCluster('demo');
    const r = await mountVolume(b(), sys, volume, { device: '/dev/vda', dir: '/mnt/shared', options: ['noatime'], controller: async () => 'o2stack daemon (pid 1)' });
    assert.deepEqual(mounts, [['/dev/vda', '/mnt/shared', 'ocfs2', 'cluster_stack=pcmk,noatime']]);
    assert.equal(r.kind, 'user');
    assert.equal(r.heartbeat, undefined);
  });

  it('mounts but warns (W_PLOCK_UNSERVED) when nobody serves POSIX locks; not with -o localflocks, not when they are served', async function () {
    dlmCluster('demo');
    const off = async () => ({ who: 'o2stack daemon' as const, serving: false, detail: 'the o2stack daemon (pid 1) has them off: switched off with --no-plocks' });
    const r = await mountVolume(b(), sys, volume, { device: '/dev/vda', dir: '/mnt/shared', controller: async () => 'o2stack daemon (pid 1)', plockServer: off });
    assert.equal(mounts.length, 1, 'mounted all the same');
    assert.equal(r.warnings?.[0]?.code, 'W_PLOCK_UNSERVED');
    assert.match(r.warnings![0]!.message, /POSIX locks \(fcntl, lockf\) on \/mnt\/shared are refused at once with ENOSYS: .*--no-plocks/);
    assert.match(r.warnings![0]!.fix, /without --no-plocks.*-o localflocks.*corrupt data/);
    const local = await mountVolume(b(), sys, volume, { device: '/dev/vda', dir: '/mnt/b', options: ['localflocks'], controller: async () => 'o2stack daemon (pid 1)', plockServer: off });
    assert.equal(local.warnings, undefined);
    const served = await mountVolume(b(), sys, volume, { device: '/dev/vda', dir: '/mnt/c', controller: async () => 'x', plockServer: async () => ({ who: 'dlm_controld', serving: true, detail: 'dlm_controld (pid 9) serves them' }) });
    assert.equal(served.warnings, undefined);
  });

  it('findPlockServer: dlm_controld with enable_plock=0 (command line or dlm.conf), an o2stack daemon by its status, nobody', async function () {
    const { findPlockServer } = await import('../../lib/stack/mount.js');
    const proc = join(root, 'proc');
    mkdirSync(join(proc, '77'), { recursive: true });
    writeFileSync(join(proc, '77/comm'), 'dlm_controld\n');
    writeFileSync(join(proc, '77/cmdline'), 'dlm_controld\0--foreground\0');
    const conf = join(root, 'dlm.conf');
    writeFileSync(conf, '# tuned\nenable_plock=0\n');
    assert.deepEqual(await findPlockServer(undefined, { proc, dlmConf: conf }), { who: 'dlm_controld', serving: false, detail: 'dlm_controld (pid 77) runs with enable_plock=0' });
    writeFileSync(join(proc, '77/cmdline'), ['dlm_controld', '-p', '1', ''].join('\0'));
    assert.equal((await findPlockServer(undefined, { proc, dlmConf: conf })).serving, true, 'the command line wins over dlm.conf');
    rmSync(join(proc, '77'), { recursive: true });
    const none = await findPlockServer(join(root, 'none.sock'), { proc, dlmConf: conf });
    assert.deepEqual([none.who, none.serving], ['nobody', false]);
    const { ControlServer } = await import('../../lib/stack/daemon/controlSocket.js');
    for (const [status, want] of [
      [{ pid: 5, plocks: { mode: 'cluster', reason: null } }, true],
      [{ pid: 5, plocks: { mode: 'off', reason: 'switched off with --no-plocks' } }, false],
      [{ pid: 5 }, false],
    ] as const) {
      const sock = join(root, 'd.sock');
      const srv = new ControlServer(sock, { status: () => status });
      await srv.listen();
      try {
        assert.equal((await findPlockServer(sock, { proc, dlmConf: conf })).serving, want, JSON.stringify(status));
      } finally {
        srv.close();
      }
    }
  });

  it('refuses without a control daemon (mount(2) would wait forever), saying how to start one; nothing is mounted', async function () {
    dlmCluster('demo');
    await assert.rejects(
      mountVolume(b(), sys, volume, { device: '/dev/vda', dir: '/mnt/shared', controller: async () => undefined }),
      (e: unknown) => e instanceof PreflightError && e.issues[0]!.code === 'E_PF_NO_CONTROLD' && /wait for one forever/.test(e.message) && /systemctl start o2stack-daemon/.test(e.hint),
    );
    assert.deepEqual(mounts, []);
  });

  it("refuses when fs/dlm runs another cluster, or none yet", async function () {
    dlmCluster('other');
    await assert.rejects(
      mountVolume(b(), sys, volume, { device: '/dev/vda', dir: '/mnt/shared', controller: async () => 'dlm_controld (pid 9)' }),
      (e: unknown) => e instanceof PreflightError && e.issues[0]!.code === 'E_PF_CLUSTER_MISMATCH' && /cluster 'demo', but fs\/dlm runs cluster 'other'/.test(e.message),
    );
    rmSync(join(root, 'sys/kernel/config/dlm'), { recursive: true });
    await assert.rejects(
      mountVolume(b(), sys, volume, { device: '/dev/vda', dir: '/mnt/shared', controller: async () => 'dlm_controld (pid 9)' }),
      (e: unknown) => e instanceof PreflightError && e.issues[0]!.code === 'E_PF_NO_DLM_CLUSTER',
    );
    assert.deepEqual(mounts, []);
  });

  it('finds no controller where neither dlm_controld nor an o2stack daemon socket answers', async function () {
    assert.equal(await findController(join(root, 'no-daemon.sock')), undefined);
  });

  it('counts a standalone o2stack daemon as the controller, not one that only tracks beside dlm_controld', async function () {
    const { ControlServer } = await import('../../lib/stack/daemon/controlSocket.js');
    for (const [status, want] of [
      [{ pid: 4242 }, /^o2stack daemon \(pid 4242, /],
      [{ pid: 4243, mode: 'beside-dlm_controld' }, undefined],
    ] as const) {
      const sock = join(root, `daemon-${status.pid}.sock`);
      const server = new ControlServer(sock, { status: () => status });
      await server.listen();
      try {
        const found = await findController(sock);
        if (want) assert.match(found ?? '', want);
        else assert.equal(found, undefined, 'a tracking daemon answers no lockspace join');
      } finally {
        server.close();
      }
    }
  });
});
