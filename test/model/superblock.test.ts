// The superblock reader against ocfs2-tools' view of real volumes (recorded fixtures, and fresh
// images when mkfs.ocfs2 is installed), the kernel's stack rules, typed errors, and fuzzing.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import {
  type Superblock,
  SuperblockError,
  bufferReader,
  featureNames,
  ocfs2Crc32,
  probeBlockSizes,
  readSuperblock,
  readSuperblockAsync,
} from '../../lib/model/superblock.js';
import { type DebugfsStats, STANDARD_IMAGES, debugfsStats, fileReader, headOf, makeImages, ocfs2ToolsMissing } from '../support/ocfs2Images.js';

const FIXTURES = new URL('../fixtures/superblock/', import.meta.url);
const expected = JSON.parse(readFileSync(new URL('expected.json', FIXTURES), 'utf8')) as Record<string, { debugfs: DebugfsStats }>;
const fixture = (name: string) => gunzipSync(readFileSync(new URL(`${name}.head.gz`, FIXTURES)));

/** Our reading must equal what debugfs.ocfs2 printed for the same volume. */
function assertMatchesDebugfs(sb: Superblock, d: DebugfsStats): void {
  assert.equal(sb.uuid, d.uuid);
  assert.match(sb.uuid, /^[0-9A-F]{32}$/);
  assert.equal(sb.label, d.label);
  assert.equal(sb.blockSize, d.blockSize);
  assert.equal(sb.clusterSize, d.clusterSize);
  assert.equal(sb.slots, d.slots);
  assert.equal(sb.rootBlkno, d.rootBlkno);
  assert.equal(sb.systemDirBlkno, d.systemDirBlkno);
  assert.deepEqual([sb.compat, sb.incompat, sb.roCompat], [d.compat, d.incompat, d.roCompat]);
  assert.deepEqual([...sb.features].sort(), [...d.features].sort());
  if (d.stackLine === 'classic o2cb') {
    assert.equal(sb.stack, null);
    assert.equal(sb.userStack, false);
  } else {
    assert.deepEqual(sb.stack, { name: d.stackLine, clusterName: d.clusterName, globalHeartbeat: d.globalHeartbeat });
    assert.equal(sb.userStack, d.stackLine !== 'o2cb');
  }
  assert.equal(sb.heartbeatDevice, d.features.includes('heartbeat-device'));
  assert.equal(sb.localMount, d.features.includes('local'));
}

function expectSbError(fn: () => unknown, code: string, message?: RegExp): SuperblockError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof SuperblockError, `expected SuperblockError ${code}, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  assert.ok(err.hint.length > 10, 'every error says what to do');
  if (message) assert.match(err.message, message);
  return err;
}

/** The o2cb fixture with its superblock (4K blocks, at 8192) editable. */
function o2cbHead(): Buffer {
  return Buffer.from(fixture('o2cb'));
}
const SBO = 8192;

describe('superblock: recorded fixtures (debugfs.ocfs2 truth)', function () {
  for (const name of Object.keys(expected)) {
    it(`${name}: reads as debugfs.ocfs2 saw it`, async function () {
      const head = fixture(name);
      const sb = readSuperblock(bufferReader(head));
      assertMatchesDebugfs(sb, expected[name]!.debugfs);
      assert.deepEqual(await readSuperblockAsync({ size: head.length, sectorSize: 512, read: async (o, l) => head.subarray(o, o + l) }), sb);
      // Only the first 16 KiB were kept, so the reader notices the filesystem is larger than the "device".
      assert.ok(sb.warnings.some((w) => /device only 16384/.test(w)));
    });
  }

  it('o2cb, pcmk, global, local and classic volumes give the stacks the kernel would use', function () {
    const sb = (n: string) => readSuperblock(bufferReader(fixture(n)));
    assert.deepEqual(sb('o2cb').stack, { name: 'o2cb', clusterName: 'demo', globalHeartbeat: false });
    assert.deepEqual(sb('global').stack, { name: 'o2cb', clusterName: 'demo', globalHeartbeat: true });
    assert.deepEqual(sb('pcmk').stack, { name: 'pcmk', clusterName: 'hacluster', globalHeartbeat: false });
    assert.equal(sb('pcmk').userStack, true);
    assert.equal(sb('local').stack, null);
    assert.equal(sb('local').localMount, true);
    assert.equal(sb('classic').stack, null);
    assert.equal(sb('hbdev').heartbeatDevice, true);
    assert.equal(sb('b512').blockSize, 512);
    assert.equal(sb('b512').offset, 1024);
  });
});

describe('superblock: kernel rules on edited superblocks', function () {
  const setIncompat = (b: Buffer, v: number) => b.writeUInt32LE(v >>> 0, SBO + 0xe0);

  it('cluster info is ignored without USERSPACE_STACK or CLUSTERINFO, whatever the bytes say', function () {
    const b = o2cbHead();
    setIncompat(b, b.readUInt32LE(SBO + 0xe0) & ~0x4000);
    b.write('pcmk', SBO + 0x160, 'latin1');
    b[SBO + 0x164] = 1;
    const sb = readSuperblock(bufferReader(b));
    assert.equal(sb.stack, null);
    assert.equal(sb.userStack, false);
    assert.ok(!sb.features.includes('clusterinfo'));
  });

  it('USERSPACE_STACK alone makes the info valid; the global flag counts only for o2cb', function () {
    const b = o2cbHead();
    setIncompat(b, (b.readUInt32LE(SBO + 0xe0) & ~0x4000) | 0x80);
    b.write('cman', SBO + 0x160, 'latin1');
    b[SBO + 0x164] = 1;
    let sb = readSuperblock(bufferReader(b));
    assert.deepEqual(sb.stack, { name: 'cman', clusterName: 'demo', globalHeartbeat: false });
    assert.equal(sb.userStack, true);
    b.write('o2cb', SBO + 0x160, 'latin1');
    sb = readSuperblock(bufferReader(b));
    assert.deepEqual(sb.stack, { name: 'o2cb', clusterName: 'demo', globalHeartbeat: true });
    assert.equal(sb.userStack, false);
  });

  it('a 16-character cluster name needs no NUL; a short stack label is refused like the kernel does', function () {
    const b = o2cbHead();
    b.write('abcdefghijklmnop', SBO + 0x168, 'latin1');
    assert.equal(readSuperblock(bufferReader(b)).stack?.clusterName, 'abcdefghijklmnop');
    b.fill(0, SBO + 0x162, SBO + 0x164);
    expectSbError(() => readSuperblock(bufferReader(b)), 'E_SB_CORRUPT', /stack label "o2" is shorter than 4/);
  });

  it('names unknown feature bits instead of dropping them, and warns the kernel would refuse them', function () {
    assert.deepEqual(featureNames(0x1, 0x10008, 0x8), ['backup-super', 'local', 'incompat-0x10000', 'ro-compat-0x8']);
    const b = o2cbHead();
    setIncompat(b, b.readUInt32LE(SBO + 0xe0) | 0x20000);
    const sb = readSuperblock(bufferReader(b));
    assert.ok(sb.features.includes('incompat-0x20000'));
    assert.ok(sb.warnings.some((w) => /0x20000 are not supported/.test(w)));
    // bit 31: the mask is shown unsigned (it was "0x-...")
    setIncompat(b, b.readUInt32LE(SBO + 0xe0) | 0x80000000);
    const hi = readSuperblock(bufferReader(b));
    assert.ok(hi.warnings.some((w) => /incompat features 0x80020000 are not supported/.test(w)), hi.warnings.join('; '));
  });

  it('checks the META_ECC crc32e when the feature is set', function () {
    const b = o2cbHead();
    setIncompat(b, b.readUInt32LE(SBO + 0xe0) | 0x800);
    const block = Buffer.from(b.subarray(SBO, SBO + 4096));
    block.fill(0, 0x80, 0x88);
    b.writeUInt32LE(ocfs2Crc32(block), SBO + 0x80);
    assert.equal(readSuperblock(bufferReader(b)).checksum, 'ok');
    b[SBO + 0x111] ^= 1; // a label byte
    const sb = readSuperblock(bufferReader(b));
    assert.equal(sb.checksum, 'mismatch');
    assert.ok(sb.warnings.some((w) => /checksum/.test(w)));
    assert.equal(readSuperblock(bufferReader(o2cbHead())).checksum, 'none');
  });

  it('probes from the sector size up: a 512-byte-block volume is invisible on a 4K-sector device', function () {
    assert.deepEqual(probeBlockSizes(512), [512, 1024, 2048, 4096]);
    assert.deepEqual(probeBlockSizes(4096), [4096]);
    const head = fixture('b512');
    assert.equal(readSuperblock(bufferReader(head, 512)).blockSize, 512);
    expectSbError(() => readSuperblock(bufferReader(head, 4096)), 'E_SB_NOT_OCFS2', /no OCFSV2 signature at 8K/);
    assert.equal(readSuperblock(bufferReader(o2cbHead(), 4096)).blockSize, 4096);
    expectSbError(() => readSuperblock(bufferReader(o2cbHead(), 8192)), 'E_SB_UNSUPPORTED', /sector size is 8192/);
    expectSbError(() => readSuperblock(bufferReader(o2cbHead(), 1000)), 'E_SB_UNSUPPORTED');
  });
});

describe('superblock: typed errors', function () {
  it('zeros: not OCFS2, with the size and the four probe offsets', function () {
    const e = expectSbError(() => readSuperblock(bufferReader(Buffer.alloc(1 << 20))), 'E_SB_NOT_OCFS2', /1\.0 MiB .*no OCFSV2 signature at 1K\/2K\/4K\/8K; found zeros/);
    assert.deepEqual(e.details.probedOffsets, [1024, 2048, 4096, 8192]);
    assert.equal(e.details.size, 1 << 20);
  });

  it('recognises common other contents', function () {
    const ext = Buffer.alloc(1 << 16);
    ext.writeUInt16LE(0xef53, 0x438);
    expectSbError(() => readSuperblock(bufferReader(ext)), 'E_SB_NOT_OCFS2', /ext2\/3\/4/);
    const xfs = Buffer.alloc(1 << 16);
    xfs.write('XFSB', 0);
    expectSbError(() => readSuperblock(bufferReader(xfs)), 'E_SB_NOT_OCFS2', /XFS/);
    const gpt = Buffer.alloc(1 << 16);
    gpt.write('EFI PART', 512);
    expectSbError(() => readSuperblock(bufferReader(gpt)), 'E_SB_NOT_OCFS2', /GPT partition table \(use a partition/);
  });

  it('tiny and cut-short devices are truncated', function () {
    expectSbError(() => readSuperblock(bufferReader(Buffer.alloc(0))), 'E_SB_TRUNCATED', /only 0 bytes/);
    expectSbError(() => readSuperblock(bufferReader(Buffer.alloc(1500))), 'E_SB_TRUNCATED');
    expectSbError(() => readSuperblock(bufferReader(o2cbHead().subarray(0, SBO + 700))), 'E_SB_TRUNCATED', /cut short: the device ends after 700 of its 4096 bytes/);
  });

  it('a reader that returns short reads within the size is truncated too', function () {
    const b = o2cbHead();
    const r = { size: b.length, sectorSize: 512, read: (o: number, l: number) => b.subarray(o, o + Math.min(l, 600)) };
    expectSbError(() => readSuperblock(r), 'E_SB_TRUNCATED');
  });

  const corruptions: [string, (b: Buffer) => void, string, RegExp][] = [
    ['wrong block number', (b) => b.writeBigUInt64LE(7n, SBO + 0x50), 'E_SB_CORRUPT', /block number is 7, not 2/],
    ['block size bits disagree', (b) => b.writeUInt32LE(11, SBO + 0xf8), 'E_SB_CORRUPT', /block size bits 11/],
    ['cluster size out of range', (b) => b.writeUInt32LE(21, SBO + 0xfc), 'E_SB_CORRUPT', /cluster size bits 21/],
    ['no root directory', (b) => b.writeBigUInt64LE(0n, SBO + 0xe8), 'E_SB_CORRUPT', /root or system directory/],
    ['no system directory', (b) => b.writeBigUInt64LE(0n, SBO + 0xf0), 'E_SB_CORRUPT', /root or system directory/],
    ['too many slots', (b) => b.writeUInt16LE(256, SBO + 0x100), 'E_SB_CORRUPT', /256 node slots/],
    ['no slots', (b) => b.writeUInt16LE(0, SBO + 0x100), 'E_SB_CORRUPT', /0 node slots \(1 to 255 on a volume/],
    ['other revision', (b) => b.writeUInt16LE(91, SBO + 0xc2), 'E_SB_UNSUPPORTED', /revision 0\.91/],
    ['OCFS1 sector 0', (b) => b.writeUInt32LE(2, 4), 'E_SB_UNSUPPORTED', /OCFS \(version 1\)/],
  ];
  for (const [what, edit, code, re] of corruptions) {
    it(`${what} → ${code}`, function () {
      const b = o2cbHead();
      edit(b);
      expectSbError(() => readSuperblock(bufferReader(b)), code, re);
    });
  }

  it('errors serialise with code, message, hint and details', function () {
    const e = expectSbError(() => readSuperblock(bufferReader(Buffer.alloc(65536))), 'E_SB_NOT_OCFS2');
    const j = JSON.parse(JSON.stringify(e)) as Record<string, unknown>;
    assert.equal(j.code, 'E_SB_NOT_OCFS2');
    assert.equal(j.size, 65536);
    assert.ok(typeof j.hint === 'string' && typeof j.message === 'string');
  });
});

describe('superblock: fuzz (any bytes → a result or a SuperblockError)', function () {
  const sectors = fc.constantFrom(512, 1024, 2048, 4096, 8192, 100, 0);
  const check = (buf: Buffer, sector: number) => {
    try {
      const sb = readSuperblock(bufferReader(buf, sector));
      assert.match(sb.uuid, /^[0-9A-F]{32}$/);
      assert.ok([512, 1024, 2048, 4096].includes(sb.blockSize));
    } catch (e) {
      if (!(e instanceof SuperblockError)) throw e;
    }
  };

  it('random bytes of any length', function () {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 20000 }), sectors, (a, s) => check(Buffer.from(a), s)), { numRuns: 300 });
  });

  it('random bytes with the signature planted at a probe offset', function () {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 9000, maxLength: 13000 }), fc.constantFrom(1024, 2048, 4096, 8192), fc.boolean(), (a, off, fixup) => {
        const b = Buffer.from(a);
        b.write('OCFSV2', off, 'latin1');
        if (fixup) {
          // make the early checks pass so the later fields get fuzzed too
          b.writeUInt16LE(0, off + 0xc0);
          b.writeUInt16LE(90, off + 0xc2);
          b.writeBigUInt64LE(2n, off + 0x50);
          b.writeUInt32LE(Math.log2(off / 2), off + 0xf8);
          b.writeUInt32LE(4, 4);
        }
        check(b, 512);
      }),
      { numRuns: 400 },
    );
  });

  it('real superblocks with random byte edits', function () {
    const heads = Object.keys(expected).map((n) => fixture(n));
    fc.assert(
      fc.property(fc.nat(heads.length - 1), fc.array(fc.tuple(fc.nat(16383), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 40 }), (i, edits) => {
        const b = Buffer.from(heads[i]!);
        for (const [at, v] of edits) b[at] = v;
        check(b, 512);
      }),
      { numRuns: 600 },
    );
  });
});

describe('superblock: fresh mkfs.ocfs2 images', function () {
  let dir = '';
  let images: Record<string, string> = {};
  before(function () {
    const why = ocfs2ToolsMissing();
    if (why) {
      console.log(`    (skipped: ${why})`);
      this.skip();
    }
    dir = mkdtempSync(join(tmpdir(), 'o2s-sb-'));
    images = makeImages(dir);
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  for (const spec of STANDARD_IMAGES) {
    it(`${spec.name}: matches debugfs.ocfs2 stats`, function () {
      const r = fileReader(images[spec.name]!);
      try {
        const sb = readSuperblock(r);
        assertMatchesDebugfs(sb, debugfsStats(images[spec.name]!));
        assert.deepEqual(sb.warnings, []);
        // mkfs -H makes a 1 MiB filesystem whatever the device size ("larger than required")
        if (spec.heartbeatDevice) assert.ok(sb.fsBytes <= r.size);
        else assert.equal(sb.fsBytes, r.size);
        if (spec.label) assert.equal(sb.label, spec.label);
      } finally {
        r.close();
      }
    });
  }

  it('edits of fresh superblocks never throw anything but SuperblockError', function () {
    const heads = STANDARD_IMAGES.map((s) => headOf(images[s.name]!, 16384));
    fc.assert(
      fc.property(fc.nat(heads.length - 1), fc.nat(511), fc.integer({ min: 0, max: 255 }), (i, at, v) => {
        const b = Buffer.from(heads[i]!);
        const sb = readSuperblock(bufferReader(b));
        b[sb.offset + at] = v;
        try {
          readSuperblock(bufferReader(b));
        } catch (e) {
          if (!(e instanceof SuperblockError)) throw e;
        }
      }),
      { numRuns: 500 },
    );
  });
});
