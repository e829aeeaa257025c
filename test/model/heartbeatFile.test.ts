// The heartbeat region of real volumes, compared with debugfs.ocfs2's view of //heartbeat, and the
// typed errors for the ways the file can be unusable.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { HeartbeatFileError, readHeartbeatRegion, readHeartbeatRegionAsync } from '../../lib/model/heartbeatFile.js';
import { type BlockReader, VolumeFormatError, readSuperblock } from '../../lib/model/superblock.js';
import { STANDARD_IMAGES, debugfsStat, fileReader, headOf, makeImages, ocfs2ToolsMissing } from '../support/ocfs2Images.js';

const KEEP = 4 << 20; // every system structure of a fresh image lies in its first 4 MiB

/** An image in memory (first 4 MiB, editable); the rest reads as zeros, as a sparse file would. */
function memImage(path: string, sectorSize = 512): BlockReader & { bytes: Buffer } {
  const r = fileReader(path);
  const size = r.size;
  r.close();
  const bytes = headOf(path, Math.min(KEEP, size));
  return {
    size,
    sectorSize,
    bytes,
    read(offset, length) {
      const out = Buffer.alloc(Math.max(0, Math.min(length, size - offset)));
      if (offset < bytes.length) bytes.copy(out, 0, offset, Math.min(bytes.length, offset + length));
      return out;
    },
  };
}

function expectHbError(fn: () => unknown, code: string, re?: RegExp): HeartbeatFileError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof HeartbeatFileError, `expected HeartbeatFileError ${code}, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  assert.ok(err.hint.length > 10);
  if (re) assert.match(err.message, re);
  return err;
}

describe('heartbeat file', function () {
  let dir = '';
  let images: Record<string, string> = {};
  before(function () {
    const why = ocfs2ToolsMissing();
    if (why) {
      console.log(`    (skipped: ${why})`);
      this.skip();
    }
    dir = mkdtempSync(join(tmpdir(), 'o2s-hb-'));
    images = makeImages(dir);
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  for (const spec of STANDARD_IMAGES) {
    it(`${spec.name}: region matches debugfs.ocfs2's heartbeat extent`, async function () {
      const path = images[spec.name]!;
      const r = fileReader(path);
      try {
        const sb = readSuperblock(r);
        const hb = readHeartbeatRegion(r, sb);
        // debugfs cannot list a heartbeat device's inline system directory (it lacks the
        // inline-data feature bit), so there we ask it about the inode we found instead.
        const truth = debugfsStat(path, spec.heartbeatDevice ? `<${hb.inode}>` : '//heartbeat');
        assert.match(truth.flags, /Heartbeat/);
        assert.equal(truth.inode, hb.inode);
        assert.equal(truth.treeDepth, 0);
        assert.equal(truth.records.length, 1);
        assert.equal(hb.fsBlock, truth.records[0]!.blkno);
        assert.equal(hb.clusters, truth.records[0]!.clusters);
        assert.equal(hb.startBlock, (truth.records[0]!.blkno * sb.blockSize) / 512);
        assert.equal(hb.blocks, 255);
        assert.equal(hb.blockBytes, 512);
        assert.ok(hb.clusters * sb.clusterSize >= 255 * sb.blockSize);
        assert.deepEqual(readHeartbeatRegion(r), hb, 'reads the superblock itself when not given one');
        assert.deepEqual(await readHeartbeatRegionAsync({ size: r.size, sectorSize: 512, read: async (o, l) => r.read(o, l) }), hb);
      } finally {
        r.close();
      }
    });
  }

  it('on a 4K-sector device the region counts 4K blocks', function () {
    const r = memImage(images.o2cb!, 4096);
    const hb = readHeartbeatRegion(r);
    assert.equal(hb.blockBytes, 4096);
    assert.equal(hb.startBlock, hb.fsBlock);
  });

  it('refuses a block size below the sector size', function () {
    const r512 = memImage(images.b512!, 512);
    const sb = readSuperblock(r512);
    expectHbError(() => readHeartbeatRegion({ ...r512, sectorSize: 1024 }, sb), 'E_HB_SECTOR_SIZE', /block size \(512\) is smaller than the device's sector size \(1024\)/);
  });

  /** The heartbeat inode's block offset in an in-memory image. */
  function hbInode(r: ReturnType<typeof memImage>) {
    const sb = readSuperblock(r);
    const hb = readHeartbeatRegion(r, sb);
    return { sb, off: hb.inode * sb.blockSize };
  }

  it('a fragmented heartbeat file (two extents, or an extent tree) is refused', function () {
    const r = memImage(images.o2cb!);
    const { off } = hbInode(r);
    r.bytes.writeUInt16LE(2, off + 0xc4);
    expectHbError(() => readHeartbeatRegion(r), 'E_HB_FRAGMENTED', /2 records, tree depth 0/);
    r.bytes.writeUInt16LE(1, off + 0xc4);
    r.bytes.writeUInt16LE(1, off + 0xc0);
    expectHbError(() => readHeartbeatRegion(r), 'E_HB_FRAGMENTED', /tree depth 1/);
    r.bytes.writeUInt16LE(0, off + 0xc0);
    r.bytes.writeUInt16LE(0, off + 0xc4);
    expectHbError(() => readHeartbeatRegion(r), 'E_HB_FRAGMENTED', /0 records/);
  });

  it('a heartbeat file of fewer than 255 blocks is refused', function () {
    const r = memImage(images.o2cb!);
    const { off } = hbInode(r);
    r.bytes.writeUInt16LE(254, off + 0xd0 + 4);
    const e = expectHbError(() => readHeartbeatRegion(r), 'E_HB_TOO_SMALL', /holds 254 blocks; o2hb needs 255/);
    assert.equal(e.details.fsBlocks, 254);
  });

  it('a heartbeat extent past the end of the device is corrupt', function () {
    const r = memImage(images.o2cb!);
    const { off } = hbInode(r);
    r.bytes.writeBigUInt64LE(BigInt(r.size / 4096 - 10), off + 0xd0 + 8);
    expectHbError(() => readHeartbeatRegion(r), 'E_HB_CORRUPT', /runs past the end of the device/);
  });

  it('no heartbeat entry in the system directory (inline and extent-mapped directories)', function () {
    for (const name of ['o2cb', 'b512']) {
      const r = memImage(images[name]!);
      const idx = r.bytes.indexOf(Buffer.from('heartbeat', 'latin1')); // the directory entry's name
      assert.ok(idx > 0);
      r.bytes.write('heartbeaT', idx, 'latin1');
      expectHbError(() => readHeartbeatRegion(r), 'E_HB_NOT_FOUND', /no \/\/heartbeat system file/);
    }
  });

  it('a broken system directory is corrupt, with the block named', function () {
    const r = memImage(images.o2cb!);
    const sb = readSuperblock(r);
    r.bytes.write('XXXXXXX', sb.systemDirBlkno * sb.blockSize, 'latin1');
    expectHbError(() => readHeartbeatRegion(r), 'E_HB_CORRUPT', /system directory at block 6 has no inode signature/);
    const r2 = memImage(images.o2cb!);
    r2.bytes.writeUInt16LE(5, sb.systemDirBlkno * sb.blockSize + 0xc8 + 8); // first entry's rec_len
    expectHbError(() => readHeartbeatRegion(r2), 'E_HB_CORRUPT', /bad directory entry at byte 0 \(rec_len 5/);
  });

  it('fuzz: edits to the system directory and heartbeat inode give a region or a typed error', function () {
    const base = STANDARD_IMAGES.map((s) => {
      const r = memImage(images[s.name]!);
      const sb = readSuperblock(r);
      const hb = readHeartbeatRegion(r, sb);
      const sysdir = sb.systemDirBlkno * sb.blockSize;
      return { r, targets: [sysdir, hb.inode * sb.blockSize], bs: sb.blockSize, orig: Buffer.from(r.bytes) };
    });
    fc.assert(
      fc.property(fc.nat(base.length - 1), fc.array(fc.tuple(fc.nat(1), fc.nat(4095), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 12 }), (i, edits) => {
        const { r, targets, bs, orig } = base[i]!;
        orig.copy(r.bytes);
        for (const [t, at, v] of edits) r.bytes[targets[t]! + (at % bs)] = v;
        try {
          const hb = readHeartbeatRegion(r);
          assert.equal(hb.blocks, 255);
        } catch (e) {
          if (!(e instanceof VolumeFormatError)) throw e;
        }
      }),
      { numRuns: 500 },
    );
  });
});
