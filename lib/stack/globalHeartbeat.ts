// o2cb global heartbeat: the regions of cluster.conf's `heartbeat:` stanzas, each named by the UUID
// of a heartbeat device (mkfs.ocfs2 -H) and found by that UUID through discovery — no device-name
// allowlist (ocfs2-tools' o2cb scans only the devices its list names, and misses dm/nvme/virtio ones).
//   planGlobalRegions: reads only (configfs state, block devices). Every configured region that is
//     not running is located before anything changes, so an unknown UUID fails with nothing done.
//   applyGlobalRegions: starts the missing regions one after another (each `dev` write blocks
//     ≈10 s for the first region, ≈6 s for the others, off the main thread), then stops running
//     regions that are no longer configured — after the starts, so quorum never dips while a device
//     is being replaced. A pinned one (EBUSY: ≤ 3 regions and a mount) stays and is reported.
//     A failed start stops the regions this call started.
// Kernel rules kept: heartbeat/mode is written by the o2nm plan before any region exists; at most
// O2NM_MAX_REGIONS (32) regions (checked by the configuration validator, EFBIG from the kernel).
import type { KernelBackend } from '../kernel/backend.js';
import { findByUuid, inspectVolume } from '../kernel/blockdev.js';
import { KernelError } from '../kernel/errors.js';
import { readO2nmState } from '../kernel/o2nm.js';
import { type ClusterConfig, O2NM_MAX_REGIONS } from '../model/cluster.js';
import { type RegionSpec, startRegion, stopRegion } from './heartbeat.js';

/** Where a global heartbeat region lives: the device holding that UUID and its heartbeat geometry. */
export type RegionLocator = (uuid: string) => RegionSpec;

/** Regions with ≤ this many are all pinned while anything is mounted (the kernel's O2HB_PIN_CUT_OFF). */
export const O2HB_PIN_CUT_OFF = 3;

export class RegionError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly hint: string,
  ) {
    super(message);
    this.name = 'RegionError';
  }
}

/** The default locator: the block device whose superblock has this UUID (no device-name allowlist). */
export const locateRegionOnDisk: RegionLocator = (uuid) => {
  const v = findByUuid(uuid);
  if (!v) {
    throw new RegionError('E_REGION_NOT_FOUND', `no block device holds the heartbeat region ${uuid}`, 'o2stack volume list shows the OCFS2 volumes found; check that the heartbeat device is attached to this node, or remove its heartbeat: stanza from cluster.conf');
  }
  const info = inspectVolume(v.device);
  if (!info.heartbeat) {
    throw new RegionError('E_REGION_GEOMETRY', `${v.device} (${uuid}): ${info.heartbeatError?.message ?? 'no heartbeat area'}`, info.heartbeatError?.hint ?? 'make heartbeat devices with mkfs.ocfs2 -H');
  }
  return { uuid, device: v.device, blockBytes: info.heartbeat.blockBytes, startBlock: info.heartbeat.startBlock, blocks: info.heartbeat.blocks };
};

export interface GlobalRegion {
  uuid: string;
  device: string;
  /** started by this call (false: it was already running) */
  started: boolean;
  ms: number;
}

export interface GlobalRegionPlan {
  cluster: string;
  /** configured regions in configuration order: running ones with their device, the others located */
  regions: ({ uuid: string; running: true; device: string } | { uuid: string; running: false; spec: RegionSpec })[];
  /** regions in the kernel that the configuration no longer lists */
  unconfigured: string[];
  warnings: string[];
}

export function quorumWarnings(configured: number): string[] {
  if (configured >= O2HB_PIN_CUT_OFF) return [];
  return [
    `${configured} global heartbeat region(s) configured: use ${O2HB_PIN_CUT_OFF} or more — with ${O2HB_PIN_CUT_OFF} or fewer all regions are pinned while anything is mounted, and losing half of them fences the node`,
  ];
}

/** Reads only. Throws RegionError for a configured region whose device is not found (nothing changed yet). */
export function planGlobalRegions(b: KernelBackend, cluster: ClusterConfig, locate: RegionLocator = locateRegionOnDisk): GlobalRegionPlan {
  if (cluster.heartbeatRegions.length > O2NM_MAX_REGIONS) {
    throw new RegionError('E_REGION_TOO_MANY', `${cluster.heartbeatRegions.length} heartbeat regions configured; the kernel allows at most ${O2NM_MAX_REGIONS}`, 'remove heartbeat: stanzas from cluster.conf');
  }
  const running = readO2nmState(b).clusters.find((c) => c.name === cluster.name)?.heartbeat.regions ?? [];
  const regions: GlobalRegionPlan['regions'] = cluster.heartbeatRegions.map((uuid) => {
    const cur = running.find((r) => r.name === uuid && r.dev !== '');
    return cur ? { uuid, running: true as const, device: `/dev/${cur.dev}` } : { uuid, running: false as const, spec: locate(uuid) };
  });
  return {
    cluster: cluster.name,
    regions,
    unconfigured: running.filter((r) => !cluster.heartbeatRegions.includes(r.name)).map((r) => r.name),
    warnings: quorumWarnings(cluster.heartbeatRegions.length),
  };
}

export interface GlobalRegionResult {
  regions: GlobalRegion[];
  /** unconfigured regions stopped */
  stopped: string[];
  /** unconfigured regions left running because a mount pins them */
  pinned: string[];
  actions: string[];
  warnings: string[];
}

export async function applyGlobalRegions(b: KernelBackend, plan: GlobalRegionPlan): Promise<GlobalRegionResult> {
  const out: GlobalRegionResult = { regions: [], stopped: [], pinned: [], actions: [], warnings: [...plan.warnings] };
  const startedNow: string[] = [];
  try {
    for (const r of plan.regions) {
      if (r.running) {
        out.regions.push({ uuid: r.uuid, device: r.device, started: false, ms: 0 });
        continue;
      }
      const s = await startRegion(b, plan.cluster, r.spec);
      if (s.started) startedNow.push(r.uuid);
      out.regions.push({ uuid: r.uuid, device: r.spec.device, started: s.started, ms: s.ms });
      if (s.started) out.actions.push(`started global heartbeat region ${r.uuid} on ${r.spec.device} (${(s.ms / 1000).toFixed(1)} s)`);
    }
  } catch (e) {
    const undone = undoStarts(b, plan.cluster, startedNow);
    if (undone.length && e instanceof Error) e.message += ` (stopped the ${undone.length} region(s) this start had started)`;
    throw e;
  }
  for (const uuid of plan.unconfigured) {
    try {
      if (stopRegion(b, plan.cluster, uuid).stopped) {
        out.stopped.push(uuid);
        out.actions.push(`stopped heartbeat region ${uuid} (no longer configured)`);
      }
    } catch (e) {
      if (!(e instanceof KernelError && e.code === 'EBUSY')) throw e;
      out.pinned.push(uuid);
      out.warnings.push(`heartbeat region ${uuid} is no longer configured but stays running: a mounted volume pins it (with ${O2HB_PIN_CUT_OFF} or fewer regions all are pinned); unmount, then o2stack start again`);
    }
  }
  return out;
}

/** Stops these regions (newest first); returns the ones stopped. Errors are left to the caller's error. */
export function undoStarts(b: KernelBackend, cluster: string, uuids: string[]): string[] {
  const done: string[] = [];
  for (const uuid of [...uuids].reverse()) {
    try {
      stopRegion(b, cluster, uuid);
      done.push(uuid);
    } catch {
      /* reported through the original error */
    }
  }
  return done;
}
