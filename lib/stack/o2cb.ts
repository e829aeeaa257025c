// The o2cb lifecycle: start (select the o2cb stack, register the cluster with its timeouts and
// heartbeat mode, install the unmount helper) and stop (unregister; refused while volumes are
// mounted). Both are idempotent: a second start or stop does nothing and says so.
import type { KernelBackend } from '../kernel/backend.js';
import type { SystemOps } from '../kernel/system.js';
import type { ClusterConfig } from '../model/cluster.js';
import type { O2nmPlan } from '../model/o2nmPlan.js';
import { isUserStackMount } from '../model/mounts.js';
import { HB_CTL_PATH_SYSCTL, O2NM_ROOT, o2nm } from '../model/paths.js';
import { findByUuid, inspectVolume } from '../kernel/blockdev.js';
import { readO2nmState } from '../kernel/o2nm.js';
import { detectStack } from './detect.js';
import { type RegionSpec, startRegion, stopRegion } from './heartbeat.js';
import { planFromCluster } from './o2cbConfig.js';
import { applyO2nmPlan } from './o2nmApply.js';
import { StackError, selectStack } from './select.js';

/** Where a global heartbeat region lives: the device holding that UUID and its heartbeat geometry. */
export type RegionLocator = (uuid: string) => RegionSpec;

export interface StartOptions {
  /** this machine's node name (default: from the host name) */
  node?: string;
  /** finds global heartbeat devices (default: discovery over /sys/class/block) */
  locateRegion?: RegionLocator;
  /** install this path as the kernel's unmount helper (/proc/sys/fs/ocfs2/nm/hb_ctl_path) */
  hbCtlPath?: string;
}

export interface StartResult {
  cluster: string;
  localNode: string | null;
  actions: string[];
  plan: O2nmPlan;
  alreadyRunning: boolean;
  /** global heartbeat regions, as this start left them */
  regions: { uuid: string; device: string; started: boolean; ms: number }[];
}

export class RegionError extends Error {
  constructor(readonly code: string, message: string, readonly hint: string) {
    super(message);
    this.name = 'RegionError';
  }
}

/** The default locator: the block device whose superblock has this UUID (no device-name allowlist). */
export const locateRegionOnDisk: RegionLocator = (uuid) => {
  const v = findByUuid(uuid);
  if (!v) throw new RegionError('E_REGION_NOT_FOUND', `no block device holds the heartbeat region ${uuid}`, 'o2stack volume list shows the OCFS2 volumes found; check that the heartbeat device is attached to this node');
  const info = inspectVolume(v.device);
  if (!info.heartbeat) throw new RegionError('E_REGION_GEOMETRY', `${v.device} (${uuid}): ${info.heartbeatError?.message ?? 'no heartbeat area'}`, info.heartbeatError?.hint ?? 'make heartbeat devices with mkfs.ocfs2 -H');
  return { uuid, device: v.device, blockBytes: info.heartbeat.blockBytes, startBlock: info.heartbeat.startBlock, blocks: info.heartbeat.blocks };
};

/**
 * Global mode: every configured region running, and running regions that are no longer configured
 * stopped. A region that cannot be found or started stops the regions this call started, so a
 * failed start leaves nothing half-running.
 */
async function syncGlobalRegions(b: KernelBackend, cluster: ClusterConfig, locate: RegionLocator, actions: string[]): Promise<StartResult['regions']> {
  const running = readO2nmState(b).clusters.find((c) => c.name === cluster.name)?.heartbeat.regions ?? [];
  const out: StartResult['regions'] = [];
  const startedNow: string[] = [];
  try {
    for (const uuid of cluster.heartbeatRegions) {
      const cur = running.find((r) => r.name === uuid && r.dev !== '');
      if (cur) {
        out.push({ uuid, device: `/dev/${cur.dev}`, started: false, ms: 0 });
        continue;
      }
      const spec = locate(uuid);
      const r = await startRegion(b, cluster.name, spec);
      startedNow.push(uuid);
      out.push({ uuid, device: spec.device, started: true, ms: r.ms });
      actions.push(`started global heartbeat region ${uuid} on ${spec.device} (${(r.ms / 1000).toFixed(1)} s)`);
    }
  } catch (e) {
    for (const uuid of startedNow.reverse()) {
      try {
        stopRegion(b, cluster.name, uuid);
      } catch {
        /* reported through the original error */
      }
    }
    if (startedNow.length && e instanceof Error) e.message += ` (stopped the ${startedNow.length} region(s) this start had started)`;
    throw e;
  }
  for (const r of running) {
    if (cluster.heartbeatRegions.includes(r.name)) continue;
    stopRegion(b, cluster.name, r.name); // EBUSY (pinned by a mount) comes back with its hint
    actions.push(`stopped heartbeat region ${r.name} (no longer configured)`);
  }
  return out;
}

export async function startO2cb(b: KernelBackend, sys: SystemOps, cluster: ClusterConfig, options: StartOptions = {}): Promise<StartResult> {
  const sel = await selectStack(b, sys, 'o2cb');
  const actions = [...sel.actions];
  const { plan } = planFromCluster(b, cluster, { node: options.node });
  const applied = applyO2nmPlan(b, plan);
  if (!applied.noop) actions.push(`registered cluster '${cluster.name}' (${applied.applied.length} configfs operations)`);
  // The liveness files o2stack status reads live in debugfs (the o2cb init script mounts it too).
  const debugfs = b.tryList('/sys/kernel/debug');
  if (debugfs !== undefined && debugfs.length === 0) {
    await sys.mount('debugfs', '/sys/kernel/debug', 'debugfs');
    actions.push('mount -t debugfs debugfs /sys/kernel/debug');
  }
  const regions = cluster.heartbeatMode === 'global' ? await syncGlobalRegions(b, cluster, options.locateRegion ?? locateRegionOnDisk, actions) : [];
  if (options.hbCtlPath) {
    const cur = b.tryRead(HB_CTL_PATH_SYSCTL)?.trim();
    if (cur !== options.hbCtlPath) {
      b.write(HB_CTL_PATH_SYSCTL, `${options.hbCtlPath}\n`);
      actions.push(`hb_ctl_path ${cur ?? '(unset)'} → ${options.hbCtlPath}`);
    }
  }
  return { cluster: cluster.name, localNode: plan.localNode ?? null, actions, plan, alreadyRunning: actions.length === 0, regions };
}

export interface StopResult {
  clusters: string[];
  actions: string[];
  alreadyStopped: boolean;
}

export function stopO2cb(b: KernelBackend): StopResult {
  const det = detectStack(b);
  const o2cbMounts = det.mounts.filter((m) => !isUserStackMount(m));
  if (o2cbMounts.length) {
    throw new StackError(
      'E_STOP_MOUNTED',
      `cannot stop the o2cb cluster: OCFS2 volumes are mounted (${o2cbMounts.map((m) => `${m.device} on ${m.dir}`).join(', ')})`,
      `unmount them first: ${o2cbMounts.map((m) => `o2stack umount ${m.dir}`).join('; ')}`,
    );
  }
  const actions: string[] = [];
  const clusters = det.o2cb.state.clusters;
  for (const c of clusters) {
    for (const r of c.heartbeat.regions) {
      b.rmdir(o2nm.region(c.name, r.name));
      actions.push(`stopped heartbeat region ${r.name}`);
    }
    // The local node last: it owns the o2net listener.
    const nodes = [...c.nodes].sort((x, y) => Number(x.local) - Number(y.local));
    for (const n of nodes) b.rmdir(o2nm.node(c.name, n.name));
    if (nodes.length) actions.push(`removed ${nodes.length} node${nodes.length === 1 ? '' : 's'} of '${c.name}'`);
    b.rmdir(`${O2NM_ROOT}/${c.name}`);
    actions.push(`unregistered cluster '${c.name}'`);
  }
  return { clusters: clusters.map((c) => c.name), actions, alreadyStopped: actions.length === 0 };
}
