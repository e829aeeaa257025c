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
