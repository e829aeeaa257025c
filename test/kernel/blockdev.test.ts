// Block reader and volume discovery: a fake /sys + /dev tree over mkfs.ocfs2 images (any device
// name, partitions, dm over a held path, empty and unreadable devices), and real loop devices
// when losetup works here.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KernelError } from '../../lib/kernel/errors.js';
import { VolumeLookupError, findByLabel, findByUuid, inspectVolume, openBlockDevice, scanVolumes } from '../../lib/kernel/blockdev.js';
import { readSuperblock } from '../../lib/model/superblock.js';
import { makeImage, ocfs2ToolsMissing } from '../support/ocfs2Images.js';

interface FakeDev {
  name: string;
  image?: string; // omitted: /dev node missing
  sectors?: number;
  lbs?: number;
  parent?: string; // partition of
  holders?: string[];
  dmName?: string;
}

/** sysfs the way the kernel lays it out: class/block symlinks into devices/, partitions inside their disk. */
function fakeTree(root: string, devs: FakeDev[]): void {
  mkdirSync(join(root, 'sys/class/block'), { recursive: true });
  mkdirSync(join(root, 'dev'), { recursive: true });
  for (const d of devs) {
    const dir = d.parent ? join(root, 'sys/devices/virtual/block', d.parent, d.name) : join(root, 'sys/devices/virtual/block', d.name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'size'), `${d.sectors ?? 131072}\n`);
    writeFileSync(join(dir, 'uevent'), `MAJOR=1\nMINOR=1\nDEVNAME=${d.name}\nDEVTYPE=${d.parent ? 'partition' : 'disk'}\n`);
    if (!d.parent) {
      mkdirSync(join(dir, 'queue'));
      writeFileSync(join(dir, 'queue/logical_block_size'), `${d.lbs ?? 512}\n`);
    }
    mkdirSync(join(dir, 'holders'));
    for (const h of d.holders ?? []) writeFileSync(join(dir, 'holders', h), '');
    if (d.dmName) {
      mkdirSync(join(dir, 'dm'));
      writeFileSync(join(dir, 'dm/name'), `${d.dmName}\n`);
    }
    symlinkSync(dir, join(root, 'sys/class/block', d.name));
    if (d.image) symlinkSync(d.image, join(root, 'dev', d.name));
  }
}

describe('blockdev: reader', function () {
  it('opening a missing path is ENOENT with the path and the fix', function () {
    assert.throws(
      () => openBlockDevice('/nonexistent/disk'),
      (e: unknown) => e instanceof KernelError && e.code === 'ENOENT' && e.path === '/nonexistent/disk' && /volume list/.test(e.hint ?? '') && /ENOENT: open '\/nonexistent\/disk'/.test(e.message),
    );
  });

  it('directories and character devices are refused with a typed error', function () {
    assert.throws(() => openBlockDevice(tmpdir()), (e: unknown) => e instanceof KernelError && e.code === 'EISDIR');
    assert.throws(() => openBlockDevice('/dev/null'), (e: unknown) => e instanceof KernelError && e.code === 'ENOTBLK');
  });

  it('an image file: its size, 512-byte sectors, short reads at the end', function () {
    const dir = mkdtempSync(join(tmpdir(), 'o2s-bd-'));
    try {
      const p = join(dir, 'x.img');
      writeFileSync(p, Buffer.alloc(3000, 7));
      const d = openBlockDevice(p);
      assert.deepEqual([d.size, d.sectorSize, d.isBlockDevice, d.kernelName], [3000, 512, false, null]);
      assert.equal(d.read(2990, 100).length, 10);
      assert.equal(d.read(0, 4)[3], 7);
      d.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('blockdev: discovery over a fake /sys and /dev', function () {
  let dir = '';
  let root = '';
  const img: Record<string, string> = {};
  before(function () {
    const why = ocfs2ToolsMissing();
    if (why) {
      console.log(`    (skipped: ${why})`);
      this.skip();
    }
    dir = mkdtempSync(join(tmpdir(), 'o2s-scan-'));
    img.a = makeImage(dir, { name: 'a', label: 'shared', stack: 'o2cb', cluster: 'demo' });
    img.b = makeImage(dir, { name: 'b', label: 'pcmkvol', stack: 'pcmk', cluster: 'ha' });
    img.c = makeImage(dir, { name: 'c', label: 'shared', local: true });
    img.hb = makeImage(dir, { name: 'hb', label: 'hb', heartbeatDevice: true, blockSize: 1024, size: 4 << 20, stack: 'o2cb', cluster: 'demo', globalHeartbeat: true });
    img.zero = join(dir, 'zero.img');
    writeFileSync(img.zero, Buffer.alloc(1 << 20));
    root = join(dir, 'root');
    fakeTree(root, [
      { name: 'nvme0n1', image: img.zero, lbs: 512 },
      { name: 'nvme0n1p1', parent: 'nvme0n1', image: img.a },
      { name: 'md127', image: img.b },
      { name: 'dasda', image: img.c },
      { name: 'dm-3', image: img.hb, dmName: 'vg-hb', sectors: 8192 },
      { name: 'sdq', image: img.hb, holders: ['dm-3'], sectors: 8192 },
      { name: 'loop5', sectors: 0 },
      { name: 'sdz' }, // in sysfs, no /dev node
    ]);
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('finds every OCFS2 volume, whatever the device name, and counts the rest', function () {
    const s = scanVolumes({ sysRoot: root, devRoot: root });
    assert.deepEqual(
      s.volumes.map((v) => v.device),
      ['/dev/dasda', '/dev/dm-3', '/dev/md127', '/dev/nvme0n1p1', '/dev/sdq'],
    );
    assert.equal(s.scanned, 8);
    assert.equal(s.empty, 1);
    assert.equal(s.notOcfs2, 1);
    assert.deepEqual(s.unreadable, [{ device: '/dev/sdz', code: 'ENOENT' }]);
    assert.deepEqual(s.damaged, []);
    const md = s.volumes.find((v) => v.kernelName === 'md127')!;
    const r = openBlockDevice(img.b!);
    assert.equal(md.uuid, readSuperblock(r).uuid);
    r.close();
    assert.deepEqual(md.stack, { name: 'pcmk', clusterName: 'ha', globalHeartbeat: false });
    const dm = s.volumes.find((v) => v.kernelName === 'dm-3')!;
    assert.deepEqual(dm.aliases, ['/dev/mapper/vg-hb']);
    assert.equal(dm.heartbeatDevice, true);
    assert.equal(dm.size, 8192 * 512);
    assert.deepEqual(s.volumes.find((v) => v.kernelName === 'sdq')!.holders, ['dm-3']);
    assert.equal(s.volumes.find((v) => v.kernelName === 'dasda')!.localMount, true);
  });

  it('findByUuid prefers the device on top (dm over the path it holds); findByLabel lists all', function () {
    const hbUuid = readSuperblock(openBlockDevice(img.hb!)).uuid;
    assert.equal(findByUuid(hbUuid.toLowerCase(), { sysRoot: root, devRoot: root })?.device, '/dev/dm-3');
    assert.equal(findByUuid('00000000000000000000000000000000', { sysRoot: root, devRoot: root }), null);
    assert.deepEqual(
      findByLabel('shared', { sysRoot: root, devRoot: root }).map((v) => v.device),
      ['/dev/dasda', '/dev/nvme0n1p1'],
    );
  });

  it('the same UUID on two top-level devices is an ambiguity error with the fix', function () {
    const r2 = join(dir, 'root2');
    fakeTree(r2, [
      { name: 'vdb', image: img.a },
      { name: 'vdc', image: img.a },
    ]);
    const uuid = readSuperblock(openBlockDevice(img.a!)).uuid;
    assert.throws(() => findByUuid(uuid, { sysRoot: r2, devRoot: r2 }), (e: unknown) => e instanceof VolumeLookupError && /cloned-volume/.test(e.hint) && e.devices.length === 2);
  });

  it('sector size comes from sysfs (the parent disk for a partition)', function () {
    const r3 = join(dir, 'root3');
    fakeTree(r3, [
      { name: 'nvme1n1', image: img.zero, lbs: 4096 },
      { name: 'nvme1n1p1', parent: 'nvme1n1', image: img.a },
    ]);
    const s = scanVolumes({ sysRoot: r3, devRoot: r3 });
    assert.equal(s.volumes.length, 1);
    assert.equal(s.volumes[0]!.sectorSize, 4096);
  });

  it('inspectVolume gives the superblock and heartbeat geometry; a heartbeat device too', function () {
    const v = inspectVolume(img.a!);
    assert.equal(v.superblock.label, 'shared');
    assert.equal(v.heartbeat?.blocks, 255);
    assert.equal(v.heartbeatError, null);
    assert.equal(inspectVolume(img.hb!).heartbeat?.blockBytes, 512);
  });
});

describe('blockdev: real loop devices', function () {
  let dir = '';
  const loops: string[] = [];
  let image = '';
  before(function () {
    const why = ocfs2ToolsMissing() ?? (process.getuid?.() !== 0 ? 'not root' : null) ?? (spawnSync('losetup', ['--version']).status !== 0 ? 'no losetup' : null);
    if (why) {
      console.log(`    (skipped: ${why})`);
      this.skip();
    }
    dir = mkdtempSync(join(tmpdir(), 'o2s-loop-'));
    image = makeImage(dir, { name: 'loop', label: 'looped', stack: 'o2cb', cluster: 'demo', globalHeartbeat: true });
    for (const extra of [[], ['--sector-size', '4096']]) {
      const r = spawnSync('losetup', ['--find', '--show', '--read-only', ...extra, image], { encoding: 'utf8' });
      if (r.status !== 0) {
        console.log(`    (skipped: losetup failed: ${r.stderr.trim()})`);
        this.skip();
      }
      loops.push(r.stdout.trim());
    }
  });
  after(function () {
    for (const l of loops) spawnSync('losetup', ['-d', l]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('reads the block device: size and sector size from sysfs, same superblock as the file', function () {
    const file = readSuperblock(openBlockDevice(image));
    const d = openBlockDevice(loops[0]!);
    try {
      assert.equal(d.isBlockDevice, true);
      assert.equal(d.kernelName, loops[0]!.replace('/dev/', ''));
      assert.equal(d.size, 64 << 20);
      assert.equal(d.sectorSize, 512);
      assert.deepEqual(readSuperblock(d), file);
    } finally {
      d.close();
    }
    const d4 = openBlockDevice(loops[1]!);
    assert.equal(d4.sectorSize, 4096);
    d4.close();
  });

  it('discovery on the real /sys finds both loop devices; the heartbeat region is in 4K sectors on the 4K one', function () {
    const s = scanVolumes();
    const mine = s.volumes.filter((v) => loops.includes(v.device));
    assert.equal(mine.length, 2);
    assert.ok(mine.every((v) => v.label === 'looped' && v.stack?.globalHeartbeat === true));
    const i512 = inspectVolume(loops[0]!);
    const i4k = inspectVolume(loops[1]!);
    assert.equal(i512.heartbeat!.startBlock, i4k.heartbeat!.startBlock * 8);
    assert.equal(i4k.heartbeat!.blockBytes, 4096);
    assert.equal(i4k.heartbeat!.startBlock, i4k.heartbeat!.fsBlock);
  });
});
