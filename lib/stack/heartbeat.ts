// o2hb disk heartbeat regions: start (mkdir + geometry + the device's fd written to `dev`, which
// blocks for seconds while the kernel checks the disk, so it runs off the main thread) and stop
// (rmdir). Idempotent: a running region is left alone; a stale, never-started one is replaced.
import { reportedWait } from './progress.js';
import type { AttrOp, KernelBackend } from '../kernel/backend.js';
import { BatchError } from '../kernel/backend.js';
import { KernelError } from '../kernel/errors.js';
import { hintFor } from '../model/hints.js';
import { o2nm } from '../model/paths.js';

export interface RegionSpec {
  /** region name: the volume UUID (local mode) or the heartbeat device's UUID (global mode) */
  uuid: string;
  device: string;
  blockBytes: number;
  startBlock: number;
  blocks: number;
}

export interface RegionStartResult {
  uuid: string;
  started: boolean;
  /** it was already running (nothing done) */
  alreadyRunning: boolean;
  /** the block device the kernel reports (`dev`), e.g. "vdb" */
  dev: string;
  ms: number;
}

export function regionStartOps(cluster: string, r: RegionSpec): AttrOp[] {
  return [
    { op: 'mkdir', path: o2nm.region(cluster, r.uuid) },
    { op: 'write', path: o2nm.regionAttr(cluster, r.uuid, 'block_bytes'), data: `${r.blockBytes}\n` },
    { op: 'write', path: o2nm.regionAttr(cluster, r.uuid, 'start_block'), data: `${r.startBlock}\n` },
    { op: 'write', path: o2nm.regionAttr(cluster, r.uuid, 'blocks'), data: `${r.blocks}\n` },
    { op: 'writefd', path: o2nm.regionAttr(cluster, r.uuid, 'dev'), device: r.device },
  ];
}

export function regionDev(b: KernelBackend, cluster: string, uuid: string): string | undefined {
  return b.tryRead(o2nm.regionAttr(cluster, uuid, 'dev'))?.trim();
}

export async function startRegion(b: KernelBackend, cluster: string, r: RegionSpec): Promise<RegionStartResult> {
  const t0 = Date.now();
  const dev = regionDev(b, cluster, r.uuid);
  if (dev) return { uuid: r.uuid, started: false, alreadyRunning: true, dev, ms: 0 };
  if (dev === '') b.rmdir(o2nm.region(cluster, r.uuid)); // left by an interrupted start: never started, not pinned
  try {
    // the write of the device's fd to `dev` returns once the region's heartbeat has settled (seconds)
    await reportedWait(`starting heartbeat on ${r.device} (region ${r.uuid})`, b.batchAsync(regionStartOps(cluster, r)));
  } catch (e) {
    // Nothing half-started stays behind: a region directory without a running thread would make
    // the next start fail with EEXIST and confuse status.
    try {
      if (b.tryList(o2nm.region(cluster, r.uuid))) b.rmdir(o2nm.region(cluster, r.uuid));
    } catch {
      /* reported below through the original error */
    }
    if (e instanceof BatchError) {
      e.hint = hintFor({ op: e.failedOp.op, path: e.failedOp.path, code: e.code });
      if (e.failedOp.op === 'writefd' && e.code === 'EINVAL') {
        e.hint = `heartbeat did not start on ${r.device}: the local node must be set (o2stack start), the device's logical sector size must be ${r.blockBytes} bytes, and the region not already running (dmesg says which)`;
      }
    }
    throw e;
  }
  return { uuid: r.uuid, started: true, alreadyRunning: false, dev: regionDev(b, cluster, r.uuid) ?? '', ms: Date.now() - t0 };
}

export interface RegionStopResult {
  uuid: string;
  stopped: boolean;
  /** the region did not exist */
  notRunning: boolean;
}

export function stopRegion(b: KernelBackend, cluster: string, uuid: string): RegionStopResult {
  try {
    b.rmdir(o2nm.region(cluster, uuid));
    return { uuid, stopped: true, notRunning: false };
  } catch (e) {
    if (e instanceof KernelError && e.code === 'ENOENT') return { uuid, stopped: false, notRunning: true };
    if (e instanceof KernelError && e.code === 'EBUSY') {
      e.hint = `heartbeat region ${uuid} is pinned by a mounted volume: unmount it first (o2stack umount DIR)`;
    }
    throw e;
  }
}
