// Real OCFS2 images for tests, made with mkfs.ocfs2 into sparse files, and what ocfs2-tools'
// own debugfs.ocfs2 says about them (the truth our readers are compared with).
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, fstatSync, openSync, readSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BlockReader } from '../../lib/model/superblock.js';

const SBIN = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'];

function tool(name: string): string | null {
  for (const d of SBIN) {
    const p = join(d, name);
    if (spawnSync('test', ['-x', p]).status === 0) return p;
  }
  return null;
}

/** Why image tests cannot run here, or null when mkfs.ocfs2 and debugfs.ocfs2 are installed. */
export function ocfs2ToolsMissing(): string | null {
  if (!tool('mkfs.ocfs2') || !tool('debugfs.ocfs2')) return 'mkfs.ocfs2/debugfs.ocfs2 not installed (apt-get install ocfs2-tools)';
  return null;
}

export interface ImageSpec {
  name: string;
  /** Bytes; sparse. */
  size?: number;
  blockSize?: number;
  clusterSize?: number;
  slots?: number;
  label?: string;
  stack?: string;
  cluster?: string;
  globalHeartbeat?: boolean;
  local?: boolean;
  heartbeatDevice?: boolean;
  features?: string;
}

/** The images every suite uses: each stack kind, every block size, a heartbeat device. */
export const STANDARD_IMAGES: ImageSpec[] = [
  { name: 'o2cb', label: 'test', stack: 'o2cb', cluster: 'demo' },
  { name: 'pcmk', label: 'pcmkvol', stack: 'pcmk', cluster: 'hacluster' },
  { name: 'global', label: 'glob', stack: 'o2cb', cluster: 'demo', globalHeartbeat: true },
  { name: 'local', label: 'loc', local: true },
  { name: 'classic', label: 'classic' },
  { name: 'ecc', label: 'ecc', stack: 'o2cb', cluster: 'demo', features: 'metaecc,usrquota,grpquota' },
  { name: 'b512', label: 'b512', blockSize: 512, stack: 'o2cb', cluster: 'demo', slots: 2 },
  { name: 'b1k', label: 'b1k', blockSize: 1024, clusterSize: 8192, stack: 'o2cb', cluster: 'demo', slots: 2 },
  { name: 'b2k', label: 'b2k', blockSize: 2048, clusterSize: 16384, stack: 'o2cb', cluster: 'demo', slots: 8 },
  // mkfs.ocfs2 1.8.7 cannot make a 4K-block heartbeat device ("Could not allocate 256 bits"); 1K works.
  { name: 'hbdev', label: 'hbd', heartbeatDevice: true, blockSize: 1024, size: 4 << 20, stack: 'o2cb', cluster: 'demo', globalHeartbeat: true },
];

export function mkfsArgs(s: ImageSpec): string[] {
  const a = ['-q', '-F', '-b', String(s.blockSize ?? 4096), '-C', String(s.clusterSize ?? 4096)];
  if (s.heartbeatDevice) a.push('-H');
  else if (s.local) a.push('-M', 'local');
  else a.push('-N', String(s.slots ?? 4), '-J', 'size=4M');
  if (s.label) a.push('-L', s.label);
  if (s.stack) a.push(`--cluster-stack=${s.stack}`, `--cluster-name=${s.cluster ?? 'demo'}`);
  if (s.globalHeartbeat) a.push('--global-heartbeat');
  if (s.features) a.push(`--fs-features=${s.features}`);
  return a;
}

export function makeImage(dir: string, s: ImageSpec): string {
  const p = join(dir, `${s.name}.img`);
  writeFileSync(p, '');
  truncateSync(p, s.size ?? 64 << 20);
  const r = spawnSync(tool('mkfs.ocfs2')!, [...mkfsArgs(s), p], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mkfs.ocfs2 ${mkfsArgs(s).join(' ')} failed: ${r.stderr}`);
  return p;
}

export function makeImages(dir: string, specs = STANDARD_IMAGES): Record<string, string> {
  return Object.fromEntries(specs.map((s) => [s.name, makeImage(dir, s)]));
}

function debugfs(path: string, cmd: string): string {
  return execFileSync(tool('debugfs.ocfs2')!, ['-R', cmd, path], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export interface DebugfsStats {
  uuid: string;
  label: string;
  blockSize: number;
  clusterSize: number;
  slots: number;
  rootBlkno: number;
  systemDirBlkno: number;
  compat: number;
  incompat: number;
  roCompat: number;
  features: string[];
  /** "classic o2cb" when no cluster info. */
  stackLine: string;
  clusterName: string | null;
  globalHeartbeat: boolean;
}

function field(text: string, re: RegExp): string {
  const m = re.exec(text);
  if (!m) throw new Error(`debugfs.ocfs2 output lacks ${re}:\n${text}`);
  return m[1]!.trim();
}

/** debugfs.ocfs2 -R stats, parsed. */
export function debugfsStats(path: string): DebugfsStats {
  const t = debugfs(path, 'stats');
  const feat = (re: RegExp) => {
    const m = re.exec(t);
    if (!m) throw new Error(`no ${re} in debugfs output`);
    return { mask: Number(m[1]), names: (m[2] ?? '').trim().split(/\s+/).filter(Boolean) };
  };
  const c = feat(/Feature Compat: (\d+) ?(.*)/);
  const i = feat(/Feature Incompat: (\d+) ?(.*)/);
  const r = feat(/Feature RO compat: (\d+) ?(.*)/);
  const cn = /Cluster name: (.*)/.exec(t);
  return {
    uuid: field(t, /UUID: (\S+)/),
    label: field(t, /Label: (.*)/),
    blockSize: 2 ** Number(field(t, /Block Size Bits: (\d+)/)),
    clusterSize: 2 ** Number(field(t, /Cluster Size Bits: (\d+)/)),
    slots: Number(field(t, /Max Node Slots: (\d+)/)),
    rootBlkno: Number(field(t, /Root Blknum: (\d+)/)),
    systemDirBlkno: Number(field(t, /System Dir Blknum: (\d+)/)),
    compat: c.mask,
    incompat: i.mask,
    roCompat: r.mask,
    features: [...c.names, ...i.names, ...r.names],
    stackLine: field(t, /Cluster stack: (.*)/),
    clusterName: cn ? cn[1]!.trim() : null,
    globalHeartbeat: /Cluster flags: \d+ .*Globalheartbeat/.test(t),
  };
}

export interface DebugfsExtent {
  inode: number;
  flags: string;
  treeDepth: number;
  records: { cpos: number; clusters: number; blkno: number }[];
}

/** debugfs.ocfs2 -R 'stat SPEC' (e.g. //heartbeat or <12>), extent part parsed. */
export function debugfsStat(path: string, spec: string): DebugfsExtent {
  const t = debugfs(path, `stat ${spec}`);
  const records = [...t.matchAll(/^\s+\d+\s+(\d+)\s+(\d+)\s+(\d+)\s+0x[0-9a-f]+\s*$/gm)].map((m) => ({ cpos: Number(m[1]), clusters: Number(m[2]), blkno: Number(m[3]) }));
  return { inode: Number(field(t, /Inode: (\d+)/)), flags: field(t, /Flags: (.*)/), treeDepth: Number(field(t, /Tree Depth: (\d+)/)), records };
}

/** A synchronous reader over an image file (tests only; lib/kernel/blockdev.ts is the real one). */
export function fileReader(path: string, sectorSize = 512): BlockReader & { close(): void } {
  const fd = openSync(path, 'r');
  return {
    size: fstatSync(fd).size,
    sectorSize,
    read(offset, length) {
      const b = Buffer.alloc(length);
      return b.subarray(0, readSync(fd, b, 0, length, offset));
    },
    close: () => closeSync(fd),
  };
}

/** The first `bytes` of an image (holds the superblock at any block size). */
export function headOf(path: string, bytes = 16384): Buffer {
  const r = fileReader(path);
  try {
    return Buffer.from(r.read(0, bytes));
  } finally {
    r.close();
  }
}
