// The OCFS2 superblock, read the way the kernel reads it (fs/ocfs2/super.c: ocfs2_sb_probe,
// ocfs2_verify_volume, ocfs2_initialize_super), over a reader so that this module does no I/O.
// Layout facts: kernel-interfaces.md §6; offsets are from the start of the superblock's block.
//
// Parsing is written once as generators that yield read requests; runSync/runAsync drive them
// against a synchronous or an asynchronous reader.
import { crc32 } from 'node:zlib';

/** Random access to a device or image. read() may return fewer bytes at the end of the device. */
export interface BlockReader {
  /** Bytes. */
  size: number;
  /** Logical sector size in bytes (512 for image files). */
  sectorSize: number;
  read(offset: number, length: number): Buffer;
}

export interface AsyncBlockReader {
  size: number;
  sectorSize: number;
  read(offset: number, length: number): Promise<Buffer>;
}

export interface ReadRequest {
  offset: number;
  length: number;
}

/** A parse step: yields reads, receives their bytes, returns T. */
export type Io<T> = Generator<ReadRequest, T, Buffer>;

export interface Geometry {
  size: number;
  sectorSize: number;
}

export function runSync<T>(make: (g: Geometry) => Io<T>, reader: BlockReader): T {
  const it = make({ size: reader.size, sectorSize: reader.sectorSize });
  let step = it.next();
  while (!step.done) step = it.next(reader.read(step.value.offset, step.value.length));
  return step.value;
}

export async function runAsync<T>(make: (g: Geometry) => Io<T>, reader: AsyncBlockReader): Promise<T> {
  const it = make({ size: reader.size, sectorSize: reader.sectorSize });
  let step = it.next();
  while (!step.done) step = it.next(await reader.read(step.value.offset, step.value.length));
  return step.value;
}

/** A reader over bytes in memory (tests, extracted fixtures). */
export function bufferReader(buf: Buffer, sectorSize = 512): BlockReader {
  return {
    size: buf.length,
    sectorSize,
    read: (offset, length) => buf.subarray(Math.max(0, offset), Math.max(0, Math.min(buf.length, offset + length))),
  };
}

// ---------------------------------------------------------------------------------------------
// Errors

export interface VolumeFormatErrorFields {
  code: string;
  message: string;
  /** What to do about it. */
  hint: string;
  details?: Record<string, unknown>;
}

/** Bytes on a device that are not what OCFS2 needs; `code` is stable, `hint` says what to do. */
export class VolumeFormatError extends Error {
  readonly code: string;
  readonly hint: string;
  readonly details: Record<string, unknown>;
  constructor(f: VolumeFormatErrorFields) {
    super(f.message);
    this.name = 'VolumeFormatError';
    this.code = f.code;
    this.hint = f.hint;
    this.details = f.details ?? {};
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, hint: this.hint, ...this.details };
  }
}

export type SuperblockErrorCode = 'E_SB_NOT_OCFS2' | 'E_SB_CORRUPT' | 'E_SB_TRUNCATED' | 'E_SB_UNSUPPORTED';

export class SuperblockError extends VolumeFormatError {
  declare readonly code: SuperblockErrorCode;
  constructor(code: SuperblockErrorCode, message: string, hint: string, details?: Record<string, unknown>) {
    super({ code, message, hint, details });
    this.name = 'SuperblockError';
  }
}

// ---------------------------------------------------------------------------------------------
// Constants (ocfs2_fs.h)

export const SUPERBLOCK_BLKNO = 2;
export const MIN_BLOCK_SIZE = 512;
export const MAX_BLOCK_SIZE = 4096;
export const MAX_SLOTS = 255;
const SIGNATURE = 'OCFSV2';

/** Byte offsets inside an ocfs2_dinode, and of the superblock inside it (id2 at 0xC0). */
export const DINODE = {
  signature: 0x00,
  clusters: 0x14,
  size: 0x20,
  mode: 0x28,
  flags: 0x2c,
  blkno: 0x50,
  dynFeatures: 0x76,
  check: 0x80,
  id2: 0xc0,
} as const;

const SB = {
  majorRev: 0xc0,
  minorRev: 0xc2,
  compat: 0xdc,
  incompat: 0xe0,
  roCompat: 0xe4,
  rootBlkno: 0xe8,
  systemDirBlkno: 0xf0,
  blocksizeBits: 0xf8,
  clustersizeBits: 0xfc,
  maxSlots: 0x100,
  label: 0x110,
  uuid: 0x150,
  ciStack: 0x160,
  ciStackFlags: 0x164,
  ciCluster: 0x168,
  end: 0x200, // the superblock fits the smallest block
} as const;

export const INCOMPAT = {
  HEARTBEAT_DEV: 0x0002,
  RESIZE_INPROG: 0x0004,
  LOCAL_MOUNT: 0x0008,
  SPARSE_ALLOC: 0x0010,
  TUNEFS_INPROG: 0x0020,
  INLINE_DATA: 0x0040,
  USERSPACE_STACK: 0x0080,
  EXTENDED_SLOT_MAP: 0x0100,
  XATTR: 0x0200,
  INDEXED_DIRS: 0x0400,
  META_ECC: 0x0800,
  REFCOUNT_TREE: 0x1000,
  DISCONTIG_BG: 0x2000,
  CLUSTERINFO: 0x4000,
  APPEND_DIO: 0x8000,
} as const;

/** Bits the kernel (6.x) mounts; any other incompat bit makes mount fail with EINVAL. */
export const INCOMPAT_SUPPORTED = 0x0008 | 0x0010 | 0x0040 | 0x0100 | 0x0080 | 0x0200 | 0x0800 | 0x0400 | 0x1000 | 0x2000 | 0x4000 | 0x8000;

/** Feature names as ocfs2-tools prints them (debugfs.ocfs2 stats, tunefs.ocfs2 -Q %M/%H/%O). */
const COMPAT_NAMES: Record<number, string> = { 0x1: 'backup-super', 0x2: 'strict-journal-super' };
const INCOMPAT_NAMES: Record<number, string> = {
  0x0002: 'heartbeat-device',
  0x0004: 'resize-in-progress',
  0x0008: 'local',
  0x0010: 'sparse',
  0x0020: 'tunefs-in-progress',
  0x0040: 'inline-data',
  0x0080: 'userspace-stack',
  0x0100: 'extended-slotmap',
  0x0200: 'xattr',
  0x0400: 'indexed-dirs',
  0x0800: 'metaecc',
  0x1000: 'refcount',
  0x2000: 'discontig-bg',
  0x4000: 'clusterinfo',
  0x8000: 'append-dio',
};
const RO_COMPAT_NAMES: Record<number, string> = { 0x1: 'unwritten', 0x2: 'usrquota', 0x4: 'grpquota' };

export const O2CB_GLOBAL_HEARTBEAT_FLAG = 0x01;

function names(mask: number, table: Record<number, string>, kind: string): string[] {
  const out: string[] = [];
  for (let bit = 1; bit !== 0 && bit <= mask; bit = (bit << 1) >>> 0) {
    if (mask & bit) out.push(table[bit] ?? `${kind}-0x${bit.toString(16)}`);
  }
  return out;
}

/** Named features, compat then incompat then ro-compat, each in bit order; unknown bits as e.g. "incompat-0x10000". */
export function featureNames(compat: number, incompat: number, roCompat: number): string[] {
  return [...names(compat, COMPAT_NAMES, 'compat'), ...names(incompat, INCOMPAT_NAMES, 'incompat'), ...names(roCompat, RO_COMPAT_NAMES, 'ro-compat')];
}

// ---------------------------------------------------------------------------------------------
// The result

export interface ClusterStack {
  /** The 4-character stack label: "o2cb", "pcmk", "cman"... */
  name: string;
  clusterName: string;
  /** o2cb global heartbeat (ci_stackflags bit 0 on an o2cb volume). */
  globalHeartbeat: boolean;
}

export interface Superblock {
  /** 32 uppercase hex characters: the o2hb region, lockspace and DOWN name. */
  uuid: string;
  label: string;
  blockSize: number;
  clusterSize: number;
  slots: number;
  /** Clusters in the filesystem (the superblock inode's i_clusters). */
  clusters: number;
  /** clusters × clusterSize: how large the filesystem says the device is. */
  fsBytes: number;
  compat: number;
  incompat: number;
  roCompat: number;
  features: string[];
  /** Cluster info is valid and names a stack other than o2cb. */
  userStack: boolean;
  /** null when the volume records no cluster info (classic o2cb, or local). */
  stack: ClusterStack | null;
  heartbeatDevice: boolean;
  localMount: boolean;
  rootBlkno: number;
  systemDirBlkno: number;
  /** META_ECC block check: "none" without the feature. The kernel would try ECC repair on a mismatch; we only report. */
  checksum: 'none' | 'ok' | 'mismatch';
  /** Byte offset of the superblock (2 × blockSize). */
  offset: number;
  /** Things the kernel would refuse at mount time although the superblock reads. */
  warnings: string[];
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** Reads exactly length bytes or fails as truncated. */
export function* readExact(g: Geometry, offset: number, length: number, onShort: (got: number) => Error): Io<Buffer> {
  if (offset < 0 || offset + length > g.size) throw onShort(Math.max(0, g.size - offset));
  const b = yield { offset, length };
  if (b.length < length) throw onShort(b.length);
  return b.length === length ? b : b.subarray(0, length);
}

/** A u64 that must fit a JS number; otherwise null. */
export function u64(b: Buffer, off: number): number | null {
  const v = b.readBigUInt64LE(off);
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? null : Number(v);
}

function cString(b: Buffer): Buffer {
  const nul = b.indexOf(0);
  return nul < 0 ? b : b.subarray(0, nul);
}

/** crc32_le(~0) without final inversion, as ocfs2_block_check_compute does. */
export function ocfs2Crc32(data: Buffer): number {
  return ~crc32(data) >>> 0;
}

/** Checks a block's ocfs2_block_check at checkOff (crc32e; the ECC half is not verified). */
export function blockCheckOk(block: Buffer, checkOff: number): boolean {
  const copy = Buffer.from(block);
  const stored = copy.readUInt32LE(checkOff);
  copy.fill(0, checkOff, checkOff + 8);
  return ocfs2Crc32(copy) === stored;
}

/** What else the first bytes look like, for a helpful "not OCFS2" message. */
function* whatIsThere(g: Geometry): Io<string> {
  if (g.size === 0) return 'an empty device';
  const probes: [number, Buffer, string][] = [
    [0x438, Buffer.from([0x53, 0xef]), 'an ext2/3/4 filesystem'],
    [0, Buffer.from('XFSB'), 'an XFS filesystem'],
    [0x10040, Buffer.from('_BHRfS_M'), 'a btrfs filesystem'],
    [0x218, Buffer.from('LVM2 001'), 'an LVM2 physical volume'],
    [0x1000, Buffer.from([0xa9, 0x2b, 0x4e, 0xfc]), 'a LUKS2 or other encrypted container'],
    [0, Buffer.from('LUKS\xba\xbe', 'latin1'), 'a LUKS encrypted container'],
    [0xff6, Buffer.from('SWAPSPACE2'), 'a swap area'],
    [0x200, Buffer.from('EFI PART'), 'a GPT partition table (use a partition, e.g. /dev/sdb1)'],
    [0x08, Buffer.from('OracleCFS'), 'an OCFS (version 1) volume'],
  ];
  for (const [off, magic, label] of probes) {
    if (off + magic.length > g.size) continue;
    const b = yield { offset: off, length: magic.length };
    if (b.length >= magic.length && b.subarray(0, magic.length).equals(magic)) return label;
  }
  if (g.size >= 512) {
    const mbr = yield { offset: 0, length: 512 };
    if (mbr.length === 512 && mbr[510] === 0x55 && mbr[511] === 0xaa) return 'an MBR partition table or boot sector (use a partition, e.g. /dev/sdb1)';
  }
  const head = yield { offset: 0, length: Math.min(g.size, 16384) };
  if (head.every((x) => x === 0)) return 'zeros (the device is blank)';
  return 'no known signature';
}

function describeSize(n: number): string {
  const u = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < u.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} bytes` : `${v.toFixed(v < 10 ? 1 : 0)} ${u[i]} (${n} bytes)`;
}

// ---------------------------------------------------------------------------------------------
// Probe

/** The block sizes the kernel probes on a device with this sector size. */
export function probeBlockSizes(sectorSize: number): number[] {
  const out: number[] = [];
  for (let bs = Math.max(MIN_BLOCK_SIZE, sectorSize); bs <= MAX_BLOCK_SIZE; bs *= 2) out.push(bs);
  return out;
}

export function* superblockIo(g: Geometry): Io<Superblock> {
  if (!Number.isSafeInteger(g.size) || g.size < 0) throw new SuperblockError('E_SB_TRUNCATED', `invalid device size ${g.size}`, 'pass the device size in bytes');
  if (!Number.isInteger(g.sectorSize) || g.sectorSize < 512 || (g.sectorSize & (g.sectorSize - 1)) !== 0) {
    throw new SuperblockError('E_SB_UNSUPPORTED', `invalid logical sector size ${g.sectorSize}`, 'the sector size must be a power of two of at least 512');
  }
  if (g.sectorSize > MAX_BLOCK_SIZE) {
    throw new SuperblockError('E_SB_UNSUPPORTED', `the device's logical sector size is ${g.sectorSize} bytes; OCFS2 blocks are at most 4096 bytes, so the kernel cannot use it`, 'use a device with 512-byte or 4096-byte logical sectors', {
      sectorSize: g.sectorSize,
    });
  }
  const sizes = probeBlockSizes(g.sectorSize);

  // Sector 0 of a real OCFS1 volume: the kernel refuses it before probing (ocfs2_sb_probe).
  if (g.size >= 0x11) {
    const s0 = yield { offset: 0, length: 0x11 };
    if (s0.length >= 0x11 && (s0.readUInt32LE(4) === 2 || s0.subarray(8, 17).toString('latin1') === 'OracleCFS')) {
      throw new SuperblockError('E_SB_UNSUPPORTED', 'this is an OCFS (version 1) volume, which OCFS2 cannot mount', 'copy the data off with OCFS1 tools, then make an OCFS2 filesystem with mkfs.ocfs2', {
        size: g.size,
      });
    }
  }

  const probed: number[] = [];
  for (const bs of sizes) {
    const offset = SUPERBLOCK_BLKNO * bs;
    if (offset + SIGNATURE.length > g.size) break;
    probed.push(offset);
    const sig = yield { offset, length: SIGNATURE.length };
    if (sig.length < SIGNATURE.length || sig.subarray(0, SIGNATURE.length).toString('latin1') !== SIGNATURE) continue;
    // Signature found: like the kernel, stop probing; the rest must be right at this size.
    return yield* verify(g, bs, offset);
  }
  const found = yield* whatIsThere(g);
  const at = probed.map((o) => (o >= 1024 ? `${o / 1024}K` : `${o}`)).join('/');
  if (g.size < SUPERBLOCK_BLKNO * sizes[0]! + SB.end) {
    throw new SuperblockError(
      'E_SB_TRUNCATED',
      `the device is only ${describeSize(g.size)}: too small to hold an OCFS2 superblock`,
      'check the device or image path; an OCFS2 volume is at least several megabytes',
      { size: g.size, found },
    );
  }
  throw new SuperblockError(
    'E_SB_NOT_OCFS2',
    `not an OCFS2 volume: ${describeSize(g.size)}, no OCFSV2 signature at ${at || 'any probe offset'}; found ${found}`,
    'check the device name (o2stack volume list shows the OCFS2 volumes), or make the filesystem with mkfs.ocfs2',
    { size: g.size, probedOffsets: probed, found },
  );
}

function* verify(g: Geometry, bs: number, offset: number): Io<Superblock> {
  const truncated = (got: number) =>
    new SuperblockError(
      'E_SB_TRUNCATED',
      `the superblock at byte ${offset} is cut short: the device ends after ${got} of its ${bs} bytes`,
      'the device or image is truncated; use the whole device, or restore the image',
      { size: g.size, offset, blockSize: bs },
    );
  const b = yield* readExact(g, offset, bs, truncated);
  const corrupt = (what: string, extra?: Record<string, unknown>) =>
    new SuperblockError('E_SB_CORRUPT', `corrupt OCFS2 superblock at byte ${offset}: ${what}`, 'run fsck.ocfs2 -f on the device (it can restore a backup superblock with -r)', {
      offset,
      blockSize: bs,
      ...extra,
    });

  const major = b.readUInt16LE(SB.majorRev);
  const minor = b.readUInt16LE(SB.minorRev);
  if (major !== 0 || minor !== 90) {
    throw new SuperblockError('E_SB_UNSUPPORTED', `OCFS2 superblock revision ${major}.${minor}; the kernel and this tool understand 0.90 only`, 'use the tools of the release that made this volume', {
      offset,
      revision: `${major}.${minor}`,
    });
  }
  const blkno = u64(b, DINODE.blkno);
  if (blkno !== SUPERBLOCK_BLKNO) throw corrupt(`its block number is ${b.readBigUInt64LE(DINODE.blkno)}, not ${SUPERBLOCK_BLKNO}`);
  const bsBits = b.readUInt32LE(SB.blocksizeBits);
  if (bsBits > 31 || 2 ** bsBits !== bs) throw corrupt(`block size bits ${bsBits} do not match the ${bs}-byte block it was found in`);
  const csBits = b.readUInt32LE(SB.clustersizeBits);
  if (csBits < 12 || csBits > 20) throw corrupt(`cluster size bits ${csBits} are outside 12..20 (4 KiB..1 MiB)`);
  const rootBlkno = u64(b, SB.rootBlkno);
  const systemDirBlkno = u64(b, SB.systemDirBlkno);
  if (!rootBlkno || !systemDirBlkno) throw corrupt('root or system directory block number is 0 or out of range');
  const slots = b.readUInt16LE(SB.maxSlots);
  const compat = b.readUInt32LE(SB.compat);
  const incompat = b.readUInt32LE(SB.incompat);
  // a heartbeat device has no slots; a volume has 1 to 255
  if (slots > MAX_SLOTS || (slots === 0 && !(incompat & INCOMPAT.HEARTBEAT_DEV))) throw corrupt(`${slots} node slots (1 to ${MAX_SLOTS}${slots === 0 ? ' on a volume; only a heartbeat device has none' : ''})`);
  const roCompat = b.readUInt32LE(SB.roCompat);
  const warnings: string[] = [];

  let checksum: Superblock['checksum'] = 'none';
  if (incompat & INCOMPAT.META_ECC) {
    checksum = blockCheckOk(b, DINODE.check) ? 'ok' : 'mismatch';
    if (checksum === 'mismatch') warnings.push('the superblock checksum does not match; the kernel will try to repair one flipped bit and refuse the mount otherwise (fsck.ocfs2 -f)');
  }

  // Cluster info is valid only with USERSPACE_STACK or CLUSTERINFO (ocfs2_clusterinfo_valid).
  let stack: ClusterStack | null = null;
  if (incompat & (INCOMPAT.USERSPACE_STACK | INCOMPAT.CLUSTERINFO)) {
    const label = b.subarray(SB.ciStack, SB.ciStack + 4);
    if (label.includes(0)) throw corrupt(`the cluster stack label ${JSON.stringify(cString(label).toString('latin1'))} is shorter than 4 characters (the kernel refuses to mount it)`);
    const name = label.toString('latin1');
    const flags = b[SB.ciStackFlags]!;
    stack = {
      name,
      clusterName: cString(b.subarray(SB.ciCluster, SB.ciCluster + 16)).toString('latin1'),
      globalHeartbeat: name === 'o2cb' && (flags & O2CB_GLOBAL_HEARTBEAT_FLAG) !== 0,
    };
  }

  // >>> 0: the mask as unsigned (bit 31 set made it negative: "0x-ffdb")
  const unsupported = (incompat & ~INCOMPAT_SUPPORTED & ~INCOMPAT.HEARTBEAT_DEV) >>> 0;
  if (unsupported) warnings.push(`incompat features 0x${unsupported.toString(16)} are not supported by the kernel: mount fails with EINVAL`);
  if (incompat & INCOMPAT.RESIZE_INPROG) warnings.push('a resize was interrupted: run tunefs.ocfs2 or fsck.ocfs2 before mounting');
  if (incompat & INCOMPAT.TUNEFS_INPROG) warnings.push('a tunefs.ocfs2 operation was interrupted: run fsck.ocfs2 before mounting');

  const clusters = b.readUInt32LE(DINODE.clusters);
  const fsBytes = clusters * 2 ** csBits;
  if (fsBytes > g.size) warnings.push(`the filesystem is ${fsBytes} bytes but the device only ${g.size}: the device is truncated or the wrong one`);

  return {
    uuid: b.subarray(SB.uuid, SB.uuid + 16).toString('hex').toUpperCase(),
    label: cString(b.subarray(SB.label, SB.label + 64)).toString('utf8'),
    blockSize: bs,
    clusterSize: 2 ** csBits,
    slots,
    clusters,
    fsBytes,
    compat,
    incompat,
    roCompat,
    features: featureNames(compat, incompat, roCompat),
    userStack: stack !== null && stack.name !== 'o2cb',
    stack,
    heartbeatDevice: (incompat & INCOMPAT.HEARTBEAT_DEV) !== 0,
    localMount: (incompat & INCOMPAT.LOCAL_MOUNT) !== 0,
    rootBlkno,
    systemDirBlkno,
    checksum,
    offset,
    warnings,
  };
}

/** Reads and checks the superblock; throws SuperblockError for anything that is not a usable one. */
export function readSuperblock(reader: BlockReader): Superblock {
  return runSync(superblockIo, reader);
}

export function readSuperblockAsync(reader: AsyncBlockReader): Promise<Superblock> {
  return runAsync(superblockIo, reader);
}
