// Read-only access to block devices and image files, and OCFS2 volume discovery over every block
// device the kernel lists in /sys/class/block. No name allowlist: NVMe, virtio, md, dm, loop,
// partitions and anything newer are all probed (ocfs2-tools' scandisk allowlist, ocfs2-tools.md
// §4.3.1, is the mistake not to repeat). Roots are parameters so tests can use fake trees.
import { closeSync, fstatSync, openSync, readFileSync, readSync, readdirSync, realpathSync, constants as C } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { KernelError, toKernelError } from './errors.js';
import { type HeartbeatRegion, HeartbeatFileError, readHeartbeatRegion } from '../model/heartbeatFile.js';
import { type BlockReader, type ClusterStack, type Superblock, SuperblockError, readSuperblock } from '../model/superblock.js';

export interface Roots {
  /** Prefix for /sys (default '/'). */
  sysRoot?: string;
  /** Prefix for /dev (default '/'). */
  devRoot?: string;
}

export interface BlockDevice extends BlockReader {
  /** The path opened. */
  path: string;
  /** A block device (true) or a regular file such as an image (false). */
  isBlockDevice: boolean;
  /** Kernel name (sda1, nvme0n1, dm-0) for block devices. */
  kernelName: string | null;
  close(): void;
}

const OPEN_HINTS: Record<string, string> = {
  ENOENT: 'check the path; o2stack volume list shows the OCFS2 volumes on this machine',
  EACCES: 'reading a device needs root (or membership of the disk group)',
  EPERM: 'reading a device needs root (or membership of the disk group)',
  ENXIO: 'the device is gone or has no medium',
  EISDIR: 'give a block device or an image file, not a directory',
  EIO: 'the device reports I/O errors; check dmesg',
};

function kernelError(e: unknown, path: string, syscall: string): unknown {
  const k = toKernelError(e);
  if (k instanceof KernelError) {
    k.path = path;
    k.syscall = k.syscall || syscall;
    k.hint = k.hint ?? OPEN_HINTS[k.code];
    k.message = KernelError.describe(k);
  }
  return k;
}

function readSysfs(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

/** sysfs directory of a block device, from its device number (/sys/dev/block/MAJ:MIN). */
function sysfsDirOf(rdev: bigint, sysRoot: string): string | null {
  const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
  const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
  try {
    return realpathSync(join(sysRoot, 'sys/dev/block', `${major}:${minor}`));
  } catch {
    return null;
  }
}

/** Logical sector size: the device's queue, or its parent's for a partition; 512 if unknown. */
function logicalBlockSize(sysDir: string): number {
  for (const p of [join(sysDir, 'queue/logical_block_size'), join(dirname(sysDir), 'queue/logical_block_size')]) {
    const v = Number(readSysfs(p));
    if (Number.isInteger(v) && v >= 512) return v;
  }
  return 512;
}

interface OpenOptions {
  sysRoot?: string;
  /** Used when the sysfs directory is already known (discovery). */
  sysDir?: string;
}

/** Opens a block device or image read-only (O_RDONLY; nothing is ever written). */
export function openBlockDevice(path: string, opts: OpenOptions = {}): BlockDevice {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused just below)
    fd = openSync(path, C.O_RDONLY | C.O_NONBLOCK);
  } catch (e) {
    throw kernelError(e, path, 'open');
  }
  try {
    const st = fstatSync(fd, { bigint: true });
    if (st.isDirectory()) throw new KernelError({ code: 'EISDIR', errno: -21, syscall: 'open', path, hint: OPEN_HINTS.EISDIR });
    if (!st.isBlockDevice() && !st.isFile()) {
      const kind = st.isFIFO() ? 'a FIFO' : st.isCharacterDevice() ? 'a character device' : st.isSocket() ? 'a socket' : 'not a block device or file';
      throw new KernelError({ code: 'ENOTBLK', errno: -15, syscall: 'open', path, hint: `${path} is ${kind}: give a block device (or an image file)` });
    }
    let size = Number(st.size);
    let sectorSize = 512;
    let kernelName: string | null = null;
    const isBlockDevice = st.isBlockDevice();
    const sysDir = opts.sysDir ?? (isBlockDevice ? sysfsDirOf(st.rdev, opts.sysRoot ?? '/') : null);
    if (sysDir) {
      // fstat gives size 0 for block devices; sysfs counts 512-byte sectors whatever the device's.
      const sectors = Number(readSysfs(join(sysDir, 'size')));
      if (isBlockDevice || opts.sysDir) size = Number.isFinite(sectors) ? sectors * 512 : 0;
      if (!isBlockDevice && opts.sysDir) size = Math.min(size, Number(st.size)); // a fake tree's image file
      sectorSize = logicalBlockSize(sysDir);
      kernelName = basename(sysDir);
    } else if (isBlockDevice) {
      throw new KernelError({ code: 'ENODEV', errno: -19, syscall: 'open', path, hint: `no sysfs entry for this block device under ${opts.sysRoot ?? '/'}sys/dev/block; is /sys mounted?` });
    } else if (!st.isFile()) {
      throw new KernelError({ code: 'ENOTBLK', errno: -15, syscall: 'open', path, hint: 'give a block device or an image file' });
    }
    let closed = false;
    return {
      path,
      size,
      sectorSize,
      isBlockDevice,
      kernelName,
      read(offset: number, length: number): Buffer {
        const n = Math.max(0, Math.min(length, size - offset));
        const b = Buffer.alloc(n);
        let got = 0;
        while (got < n) {
          let r: number;
          try {
            r = readSync(fd, b, got, n - got, offset + got);
          } catch (e) {
            throw kernelError(e, path, 'read');
          }
          if (r === 0) break; // end of device sooner than sysfs said: the reader sees a short read
          got += r;
        }
        return got === n ? b : b.subarray(0, got);
      },
      close() {
        if (!closed) closeSync(fd);
        closed = true;
      },
    };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// Inspect one volume

export interface VolumeInspection {
  device: string;
  size: number;
  sectorSize: number;
  isBlockDevice: boolean;
  superblock: Superblock;
  /** null when the heartbeat file is unusable (see heartbeatError) */
  heartbeat: HeartbeatRegion | null;
  heartbeatError: { code: string; message: string; hint: string } | null;
}

/** Superblock and heartbeat geometry of a device or image; throws KernelError or SuperblockError. */
export function inspectVolume(path: string, opts: OpenOptions = {}): VolumeInspection {
  const dev = openBlockDevice(path, opts);
  try {
    const superblock = readSuperblock(dev);
    let heartbeat: HeartbeatRegion | null = null;
    let heartbeatError: VolumeInspection['heartbeatError'] = null;
    try {
      heartbeat = readHeartbeatRegion(dev, superblock);
    } catch (e) {
      if (!(e instanceof HeartbeatFileError)) throw e;
      heartbeatError = { code: e.code, message: e.message, hint: e.hint };
    }
    return { device: path, size: dev.size, sectorSize: dev.sectorSize, isBlockDevice: dev.isBlockDevice, superblock, heartbeat, heartbeatError };
  } finally {
    dev.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Discovery

export interface VolumeInfo {
  /** /dev path as the kernel names it (not prefixed by the test root). */
  device: string;
  /** Kernel name: sda1, nvme0n1p2, dm-3, md0, loop7. */
  kernelName: string;
  /** Other names for it, e.g. /dev/mapper/NAME for device-mapper devices. */
  aliases: string[];
  /** Kernel names of devices stacked on this one (multipath, LVM); empty for a top-level device. */
  holders: string[];
  size: number;
  sectorSize: number;
  uuid: string;
  label: string;
  stack: ClusterStack | null;
  blockSize: number;
  clusterSize: number;
  slots: number;
  heartbeatDevice: boolean;
  localMount: boolean;
  features: string[];
}

export interface ScanResult {
  volumes: VolumeInfo[];
  /** Block devices looked at. */
  scanned: number;
  /** Devices of size 0 (empty loop devices, card readers without media). */
  empty: number;
  /** Devices that were readable and not OCFS2. */
  notOcfs2: number;
  /** Devices that could not be opened or read (counted, not fatal). */
  unreadable: { device: string; code: string }[];
  /** Devices with an OCFS2 signature but a damaged or unsupported superblock. */
  damaged: { device: string; code: string; message: string }[];
}

function listDir(p: string): string[] {
  try {
    return readdirSync(p).sort();
  } catch {
    return [];
  }
}

/** Every OCFS2 volume among the block devices in <sysRoot>/sys/class/block. */
export function scanVolumes(roots: Roots = {}): ScanResult {
  const sysRoot = roots.sysRoot ?? '/';
  const devRoot = roots.devRoot ?? '/';
  const classDir = join(sysRoot, 'sys/class/block');
  const out: ScanResult = { volumes: [], scanned: 0, empty: 0, notOcfs2: 0, unreadable: [], damaged: [] };
  for (const name of listDir(classDir)) {
    out.scanned++;
    let sysDir: string;
    try {
      sysDir = realpathSync(join(classDir, name));
    } catch {
      out.unreadable.push({ device: name, code: 'ENOENT' });
      continue;
    }
    const sectors = Number(readSysfs(join(sysDir, 'size')) ?? 0);
    if (!(sectors > 0)) {
      out.empty++;
      continue;
    }
    const devName = /^DEVNAME=(.+)$/m.exec(readSysfs(join(sysDir, 'uevent')) ?? '')?.[1] ?? name;
    const device = `/dev/${devName}`;
    let dev: BlockDevice;
    try {
      dev = openBlockDevice(join(devRoot, 'dev', devName), { sysDir });
    } catch (e) {
      out.unreadable.push({ device, code: (e as { code?: string }).code ?? 'EIO' });
      continue;
    }
    try {
      const sb = readSuperblock(dev);
      const dmName = readSysfs(join(sysDir, 'dm/name'));
      out.volumes.push({
        device,
        kernelName: name,
        aliases: dmName ? [`/dev/mapper/${dmName}`] : [],
        holders: listDir(join(sysDir, 'holders')),
        size: dev.size,
        sectorSize: dev.sectorSize,
        uuid: sb.uuid,
        label: sb.label,
        stack: sb.stack,
        blockSize: sb.blockSize,
        clusterSize: sb.clusterSize,
        slots: sb.slots,
        heartbeatDevice: sb.heartbeatDevice,
        localMount: sb.localMount,
        features: sb.features,
      });
    } catch (e) {
      if (e instanceof SuperblockError) {
        if (e.code === 'E_SB_NOT_OCFS2' || e.code === 'E_SB_TRUNCATED') out.notOcfs2++;
        else out.damaged.push({ device, code: e.code, message: e.message });
      } else if (e instanceof KernelError || (e as { code?: unknown }).code) {
        out.unreadable.push({ device, code: String((e as { code?: unknown }).code) });
      } else {
        throw e;
      }
    } finally {
      dev.close();
    }
  }
  return out;
}

/** Prefer the top of a stack: a multipath or dm device over the paths it holds. */
function topLevel(vs: VolumeInfo[]): VolumeInfo[] {
  const top = vs.filter((v) => v.holders.length === 0);
  return top.length ? top : vs;
}

export class VolumeLookupError extends Error {
  readonly code = 'E_VOLUME_AMBIGUOUS';
  constructor(
    message: string,
    readonly hint: string,
    readonly devices: string[],
  ) {
    super(message);
    this.name = 'VolumeLookupError';
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, hint: this.hint, devices: this.devices };
  }
}

/** The device holding the volume with this UUID (32 hex digits, dashes and case ignored), or null. */
export function findByUuid(uuid: string, roots: Roots = {}, scan?: ScanResult): VolumeInfo | null {
  const want = uuid.replace(/-/g, '').toUpperCase();
  const hits = topLevel((scan ?? scanVolumes(roots)).volumes.filter((v) => v.uuid === want));
  if (hits.length > 1) {
    throw new VolumeLookupError(
      `UUID ${want} is on ${hits.length} devices: ${hits.map((v) => v.device).join(', ')}`,
      'a cloned volume keeps the UUID; give it a new one with tunefs.ocfs2 --cloned-volume DEVICE',
      hits.map((v) => v.device),
    );
  }
  return hits[0] ?? null;
}

/** Top-level devices whose volume has this label (labels need not be unique). */
export function findByLabel(label: string, roots: Roots = {}, scan?: ScanResult): VolumeInfo[] {
  return topLevel((scan ?? scanVolumes(roots)).volumes.filter((v) => v.label === label));
}
