// Where the o2hb region of a volume lives: the `heartbeat` system file, found through the system
// directory (//heartbeat), must be one extent of at least 255 fs blocks. The region is then
// 255 sector-sized blocks starting at that extent (ocfs2-tools' rules;
// docs/kernel-interfaces.md#heartbeat-file).
// Pure: all reads go through the reader, as in superblock.ts.
import {
  type AsyncBlockReader,
  type BlockReader,
  DINODE,
  type Geometry,
  type Io,
  type Superblock,
  VolumeFormatError,
  blockCheckOk,
  INCOMPAT,
  readExact,
  runAsync,
  runSync,
  superblockIo,
  u64,
} from './superblock.js';

/** o2hb slots: one per possible node number (O2NM_MAX_NODES). */
export const HEARTBEAT_BLOCKS = 255;
export const HEARTBEAT_FILE_NAME = 'heartbeat';

export type HeartbeatFileErrorCode = 'E_HB_NOT_FOUND' | 'E_HB_FRAGMENTED' | 'E_HB_TOO_SMALL' | 'E_HB_SECTOR_SIZE' | 'E_HB_CORRUPT';

export class HeartbeatFileError extends VolumeFormatError {
  declare readonly code: HeartbeatFileErrorCode;
  constructor(code: HeartbeatFileErrorCode, message: string, hint: string, details?: Record<string, unknown>) {
    super({ code, message, hint, details });
    this.name = 'HeartbeatFileError';
  }
}

/** The o2hb region geometry, in the units configfs takes (block_bytes, start_block, blocks). */
export interface HeartbeatRegion {
  /** First region block, in sectors (blockBytes units). */
  startBlock: number;
  /** Always 255. */
  blocks: number;
  /** The device's logical sector size. */
  blockBytes: number;
  /** First fs block of the heartbeat file. */
  fsBlock: number;
  /** Clusters in its one extent. */
  clusters: number;
  /** Block number of the heartbeat inode. */
  inode: number;
}

const I_FLAGS_VALID = 0x1;
const DYN_INLINE_DATA = 0x1;
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const EXTENT_LIST = DINODE.id2; // l_tree_depth, l_count, l_next_free_rec, then 16-byte records at +0x10
const INLINE_DATA = DINODE.id2; // id_count, then the data at +8
const EXTENT_BLOCK_LIST = 0x30; // ocfs2_extent_block.h_list
const DIRENT_HEADER = 12; // inode u64, rec_len u16, name_len u8, file_type u8
const MAX_TREE_DEPTH = 8; // far above anything mkfs makes; bounds the walk on corrupt input
const MAX_DIR_BLOCKS = 65536;

const FSCK = 'run fsck.ocfs2 -f on the device';

interface Extent {
  cpos: number;
  clusters: number;
  blkno: number;
}

function corrupt(what: string, details?: Record<string, unknown>): HeartbeatFileError {
  return new HeartbeatFileError('E_HB_CORRUPT', what, FSCK, details);
}

function* readBlock(g: Geometry, sb: Superblock, blkno: number, what: string): Io<Buffer> {
  const offset = blkno * sb.blockSize;
  if (!Number.isSafeInteger(offset) || blkno < 0) throw corrupt(`${what}: block ${blkno} is out of range`, { blkno });
  return yield* readExact(g, offset, sb.blockSize, () => corrupt(`${what} at block ${blkno} lies past the end of the device (${g.size} bytes)`, { blkno, size: g.size }));
}

/** An inode block, checked the way the kernel checks any dinode it reads. */
function* readInode(g: Geometry, sb: Superblock, blkno: number, what: string): Io<Buffer> {
  const b = yield* readBlock(g, sb, blkno, what);
  if (b.subarray(0, 7).toString('latin1') !== 'INODE01') throw corrupt(`${what} at block ${blkno} has no inode signature`, { blkno });
  if (u64(b, DINODE.blkno) !== blkno) throw corrupt(`${what} at block ${blkno} records block number ${b.readBigUInt64LE(DINODE.blkno)}`, { blkno });
  if ((b.readUInt32LE(DINODE.flags) & I_FLAGS_VALID) === 0) throw corrupt(`${what} at block ${blkno} is not marked valid`, { blkno });
  if (sb.incompat & INCOMPAT.META_ECC && !blockCheckOk(b, DINODE.check)) throw corrupt(`${what} at block ${blkno} fails its checksum`, { blkno });
  return b;
}

function readRecords(b: Buffer, listOff: number, what: string): { depth: number; recs: Extent[] } {
  const depth = b.readUInt16LE(listOff);
  const count = b.readUInt16LE(listOff + 2);
  const used = b.readUInt16LE(listOff + 4);
  const room = Math.floor((b.length - listOff - 16) / 16);
  if (used > count || count > room) throw corrupt(`${what}: extent list claims ${used} of ${count} records, room for ${room}`);
  const recs: Extent[] = [];
  for (let i = 0; i < used; i++) {
    const r = listOff + 16 + i * 16;
    const blkno = u64(b, r + 8);
    if (blkno === null) throw corrupt(`${what}: extent ${i} points to an impossible block`);
    // Interior records count clusters in 32 bits; leaf records in 16 bits plus a flags byte.
    recs.push({ cpos: b.readUInt32LE(r), clusters: depth > 0 ? b.readUInt32LE(r + 4) : b.readUInt16LE(r + 4), blkno });
  }
  return { depth, recs };
}

/** The leaf extents of an inode, descending through extent blocks when the tree has depth. */
function* leafExtents(g: Geometry, sb: Superblock, inode: Buffer, what: string): Io<Extent[]> {
  const top = readRecords(inode, EXTENT_LIST, what);
  if (top.depth > MAX_TREE_DEPTH) throw corrupt(`${what}: extent tree depth ${top.depth}`);
  const out: Extent[] = [];
  const seen = new Set<number>();
  function* walk(list: { depth: number; recs: Extent[] }, level: number): Io<void> {
    if (list.depth === 0) {
      out.push(...list.recs);
      return;
    }
    for (const r of list.recs) {
      if (seen.has(r.blkno) || seen.size > MAX_DIR_BLOCKS) throw corrupt(`${what}: extent tree loops or is too large`);
      seen.add(r.blkno);
      const eb = yield* readBlock(g, sb, r.blkno, `${what} extent block`);
      if (eb.subarray(0, 7).toString('latin1') !== 'EXBLK01') throw corrupt(`${what}: block ${r.blkno} is not an extent block`, { blkno: r.blkno });
      const child = readRecords(eb, EXTENT_BLOCK_LIST, `${what} extent block ${r.blkno}`);
      if (child.depth !== list.depth - 1 || level > MAX_TREE_DEPTH) throw corrupt(`${what}: extent block ${r.blkno} has depth ${child.depth}, expected ${list.depth - 1}`);
      yield* walk(child, level + 1);
    }
  }
  yield* walk(top, 0);
  return out;
}

/** Finds name in one block of directory entries; returns its inode or null. */
function findEntry(data: Buffer, name: Buffer, what: string): number | null {
  let p = 0;
  while (p + DIRENT_HEADER <= data.length) {
    const recLen = data.readUInt16LE(p + 8);
    const nameLen = data[p + 10]!;
    if (recLen < DIRENT_HEADER || recLen % 4 !== 0 || p + recLen > data.length || DIRENT_HEADER + nameLen > recLen) {
      throw corrupt(`${what}: bad directory entry at byte ${p} (rec_len ${recLen}, name_len ${nameLen})`);
    }
    const ino = data.readBigUInt64LE(p);
    if (ino !== 0n && nameLen === name.length && data.subarray(p + DIRENT_HEADER, p + DIRENT_HEADER + nameLen).equals(name)) {
      const n = u64(data, p);
      if (n === null) throw corrupt(`${what}: entry ${name.toString()} points to an impossible inode`);
      return n;
    }
    p += recLen;
  }
  return null;
}

/** Looks a name up in the system directory: inline data, or extent-mapped directory blocks. */
function* lookupSystemFile(g: Geometry, sb: Superblock, fileName: string): Io<number | null> {
  const what = 'system directory';
  const dir = yield* readInode(g, sb, sb.systemDirBlkno, what);
  if ((dir.readUInt16LE(DINODE.mode) & S_IFMT) !== S_IFDIR) throw corrupt(`${what} inode ${sb.systemDirBlkno} is not a directory`);
  const iSize = u64(dir, DINODE.size);
  if (iSize === null) throw corrupt(`${what}: impossible size`);
  const name = Buffer.from(fileName, 'latin1');
  if (dir.readUInt16LE(DINODE.dynFeatures) & DYN_INLINE_DATA) {
    const count = dir.readUInt16LE(INLINE_DATA);
    const start = INLINE_DATA + 8;
    if (start + count > dir.length || iSize > count) throw corrupt(`${what}: inline data of ${iSize} bytes does not fit the inode (room ${count})`);
    return findEntry(dir.subarray(start, start + iSize), name, what);
  }
  const extents = yield* leafExtents(g, sb, dir, what);
  const blocksPerCluster = sb.clusterSize / sb.blockSize;
  const dirBlocks = Math.ceil(iSize / sb.blockSize);
  if (dirBlocks > MAX_DIR_BLOCKS) throw corrupt(`${what}: ${iSize} bytes is implausibly large`);
  for (const e of extents) {
    for (let i = 0; i < e.clusters * blocksPerCluster; i++) {
      if (e.cpos * blocksPerCluster + i >= dirBlocks) break; // past i_size: allocated, not directory data
      const block = yield* readBlock(g, sb, e.blkno + i, what);
      const ino = findEntry(block, name, `${what} block ${e.blkno + i}`);
      if (ino !== null) return ino;
    }
  }
  return null;
}

/** From an already-read superblock: the heartbeat region of the volume on a device of geometry g. */
export function* heartbeatIo(g: Geometry, sb: Superblock): Io<HeartbeatRegion> {
  // o2hb's block_bytes is the sector size, and each fs block must hold whole sectors.
  if (sb.blockSize < g.sectorSize) {
    throw new HeartbeatFileError(
      'E_HB_SECTOR_SIZE',
      `the filesystem block size (${sb.blockSize}) is smaller than the device's sector size (${g.sectorSize}): o2hb cannot heartbeat on it`,
      `make the filesystem again with mkfs.ocfs2 -b ${Math.max(g.sectorSize, 4096)} (or larger than the sector size)`,
      { blockSize: sb.blockSize, sectorSize: g.sectorSize },
    );
  }
  const blkno = yield* lookupSystemFile(g, sb, HEARTBEAT_FILE_NAME);
  if (blkno === null) {
    throw new HeartbeatFileError('E_HB_NOT_FOUND', 'the volume has no //heartbeat system file', `${FSCK}; it recreates missing system files`, { uuid: sb.uuid });
  }
  const hb = yield* readInode(g, sb, blkno, 'heartbeat inode');
  if (hb.readUInt16LE(DINODE.dynFeatures) & DYN_INLINE_DATA) throw corrupt(`heartbeat inode ${blkno} holds inline data instead of an extent`, { inode: blkno });
  const { depth, recs } = readRecords(hb, EXTENT_LIST, 'heartbeat inode');
  if (depth !== 0 || recs.length !== 1) {
    throw new HeartbeatFileError(
      'E_HB_FRAGMENTED',
      `the heartbeat file is not one contiguous extent (${recs.length} record${recs.length === 1 ? '' : 's'}, tree depth ${depth}): o2hb needs one run of blocks`,
      'run fsck.ocfs2 -f; if it stays fragmented, recreate the volume with mkfs.ocfs2',
      { inode: blkno, records: recs.length, depth },
    );
  }
  const rec = recs[0]!;
  const fsBlocks = Math.floor((rec.clusters * sb.clusterSize) / sb.blockSize);
  if (fsBlocks < HEARTBEAT_BLOCKS) {
    throw new HeartbeatFileError(
      'E_HB_TOO_SMALL',
      `the heartbeat file holds ${fsBlocks} blocks; o2hb needs ${HEARTBEAT_BLOCKS}, one per node number`,
      `${FSCK}; mkfs.ocfs2 makes it ${HEARTBEAT_BLOCKS} blocks or more`,
      { inode: blkno, fsBlocks, clusters: rec.clusters },
    );
  }
  if ((rec.blkno + fsBlocks) * sb.blockSize > g.size) {
    throw corrupt(`the heartbeat file (blocks ${rec.blkno}..${rec.blkno + fsBlocks - 1}) runs past the end of the device (${g.size} bytes)`, { inode: blkno });
  }
  return {
    startBlock: (rec.blkno * sb.blockSize) / g.sectorSize,
    blocks: HEARTBEAT_BLOCKS,
    blockBytes: g.sectorSize,
    fsBlock: rec.blkno,
    clusters: rec.clusters,
    inode: blkno,
  };
}

export function readHeartbeatRegion(reader: BlockReader, sb?: Superblock): HeartbeatRegion {
  return runSync(function* (g) {
    return yield* heartbeatIo(g, sb ?? (yield* superblockIo(g)));
  }, reader);
}

export function readHeartbeatRegionAsync(reader: AsyncBlockReader, sb?: Superblock): Promise<HeartbeatRegion> {
  return runAsync(function* (g) {
    return yield* heartbeatIo(g, sb ?? (yield* superblockIo(g)));
  }, reader);
}
