// The o2cb lifecycle: start (select the o2cb stack, register the cluster with its timeouts and
// heartbeat mode, install the unmount helper) and stop (unregister; refused while volumes are
// mounted). Both are idempotent: a second start or stop does nothing and says so.
import type { KernelBackend } from '../kernel/backend.js';
import { ModprobeError, type SystemOps } from '../kernel/system.js';
import type { ClusterConfig, Timeouts } from '../model/cluster.js';
import { type O2nmPlan, planRollback } from '../model/o2nmPlan.js';
import { isUserStackMount } from '../model/mounts.js';
import { DLMFS_DIR, DLMFS_TYPE, HB_CTL_PATH_SYSCTL, O2NM_ROOT, o2nm } from '../model/paths.js';
import { KernelError } from '../kernel/errors.js';
import type { O2nmClusterState } from '../model/o2nmState.js';
import { detectStack } from './detect.js';
import { type GlobalRegion, type RegionLocator, applyGlobalRegions, locateRegionOnDisk, planGlobalRegions } from './globalHeartbeat.js';
import { stopRegion } from './heartbeat.js';
import { planFromCluster } from './o2cbConfig.js';
import { ApplyError, applyO2nmPlan, describeStep, runRollback } from './o2nmApply.js';
import { StackError, selectStack } from './select.js';

export { RegionError, type RegionLocator, locateRegionOnDisk } from './globalHeartbeat.js';

export interface StartOptions {
  /** this machine's node name (default: from the host name) */
  node?: string;
  /** finds global heartbeat devices (default: discovery over /sys/class/block) */
  locateRegion?: RegionLocator;
  /** install this path as the kernel's unmount helper (/proc/sys/fs/ocfs2/nm/hb_ctl_path) */
  hbCtlPath?: string;
  /** where each timeout comes from (cluster.conf or the o2cb defaults file), for the plan's explanations */
  timeoutSources?: Partial<Record<keyof Timeouts, string>>;
  /** this host's IPv4 addresses: the plan warns when the local node's address is not one of them */
  hostAddresses?: string[];
  configFile?: string;
}

export interface StartResult {
  cluster: string;
  localNode: string | null;
  actions: string[];
  plan: O2nmPlan;
  alreadyRunning: boolean;
  /** global heartbeat regions, as this start left them */
  regions: GlobalRegion[];
  /** global heartbeat: fewer than 3 regions, an unconfigured region left running because it is pinned */
  warnings: string[];
}

export async function startO2cb(b: KernelBackend, sys: SystemOps, cluster: ClusterConfig, options: StartOptions = {}): Promise<StartResult> {
  // Global mode: every configured heartbeat device is located before anything changes, so an
  // unknown UUID fails with nothing done.
  const global = cluster.heartbeatMode === 'global' ? planGlobalRegions(b, cluster, options.locateRegion ?? locateRegionOnDisk) : undefined;
  const sel = await selectStack(b, sys, 'o2cb');
  const actions = [...sel.actions];
  const { plan } = planFromCluster(b, cluster, { node: options.node, timeoutSources: options.timeoutSources, hostAddresses: options.hostAddresses, configFile: options.configFile });
  let applied;
  try {
    // a failure undoes every step that ran: no half-started cluster is left behind
    applied = applyO2nmPlan(b, plan, { rollback: 'all' });
  } catch (e) {
    if (e instanceof ApplyError) e.message = `${startFailureSummary(cluster.name, e.rolledBack.length, e.rollbackFailed.length, e.notUndone)}\n${e.message}`;
    throw e;
  }
  if (!applied.noop) actions.push(`registered cluster '${cluster.name}' (${applied.applied.length} configfs operations)`);
  // The liveness files o2stack status reads live in debugfs (the o2cb init script mounts it too).
  const debugfs = b.tryList('/sys/kernel/debug');
  if (debugfs !== undefined && debugfs.length === 0) {
    await sys.mount('debugfs', '/sys/kernel/debug', 'debugfs');
    actions.push('mount -t debugfs debugfs /sys/kernel/debug');
  }
  let hb: Awaited<ReturnType<typeof applyGlobalRegions>> | undefined;
  if (global) {
    try {
      hb = await applyGlobalRegions(b, global); // heartbeat/mode was written by the plan, before any region
    } catch (e) {
      // what this start registered goes too: a failed start leaves nothing half-started
      const undo = planRollback(plan, plan.steps.length);
      const r = runRollback(b, undo.steps);
      if (e instanceof Error) {
        const undone = r.rolledBack.length ? `undid the ${r.rolledBack.length} configfs operation(s) this start had made (${r.rolledBack.map(describeStep).join('; ')})` : 'this start had registered nothing else';
        const failed = r.rollbackFailed.length ? `; could NOT undo: ${r.rollbackFailed.map((f) => `${describeStep(f.step)}: ${f.error.code}`).join('; ')}` : '';
        const kept = undo.cannot.length ? `; not undone: ${undo.cannot.join('; ')}` : '';
        e.message += ` (${undone}${failed}${kept})`;
      }
      throw e;
    }
    actions.push(...hb.actions);
  }
  // fsck.ocfs2, tunefs.ocfs2 and debugfs.ocfs2 -w take their cluster locks through dlmfs. The
  // cluster itself runs without it, so a dlmfs failure is a warning, not a failed start.
  const warnings = [...(hb?.warnings ?? [])];
  try {
    actions.push(...(await mountDlmfs(b, sys)));
  } catch (e) {
    if (!(e instanceof KernelError || e instanceof ModprobeError)) throw e;
    warnings.push(`dlmfs not mounted: ${e.message}${e.hint ? ` (${e.hint})` : ''}`);
  }
  if (options.hbCtlPath) {
    const cur = b.tryRead(HB_CTL_PATH_SYSCTL)?.trim();
    if (cur !== options.hbCtlPath) {
      b.write(HB_CTL_PATH_SYSCTL, `${options.hbCtlPath}\n`);
      actions.push(`hb_ctl_path ${cur ?? '(unset)'} → ${options.hbCtlPath}`);
    }
  }
  return { cluster: cluster.name, localNode: plan.localNode ?? null, actions, plan, alreadyRunning: actions.length === 0, regions: hb?.regions ?? [], warnings };
}

export interface StopResult {
  clusters: string[];
  actions: string[];
  alreadyStopped: boolean;
}

/** The first line of a failed start's error: what happened to what it had registered. */
export function startFailureSummary(cluster: string, rolledBack: number, rollbackFailed: number, notUndone: string[]): string {
  if (rollbackFailed > 0) return `o2stack start failed for cluster '${cluster}' and could NOT undo all it had registered (${rollbackFailed} rollback step(s) failed, listed below): run o2stack stop ${cluster} once the cause is fixed`;
  const kept = notUndone.length ? `; ${notUndone.length} earlier change(s) cannot be undone (listed below)` : '';
  return rolledBack > 0
    ? `o2stack start failed for cluster '${cluster}'; it undid everything it had registered in this run (${rolledBack} configfs operation(s)): the kernel is as before${kept}`
    : `o2stack start failed for cluster '${cluster}' before it had registered anything${kept}`;
}

/** Mounts ocfs2_dlmfs at /dlm (loading its module, making the directory) unless it is there. */
export async function mountDlmfs(b: KernelBackend, sys: SystemOps): Promise<string[]> {
  const det = detectStack(b);
  if (det.dlmfs.dirs.includes(DLMFS_DIR)) return [];
  const actions: string[] = [];
  if (!det.modules.ocfs2_dlmfs) {
    await sys.modprobe(DLMFS_TYPE);
    actions.push(`modprobe ${DLMFS_TYPE}`);
  }
  if (b.tryList(DLMFS_DIR) === undefined) {
    try {
      b.mkdir(DLMFS_DIR);
    } catch (e) {
      if (e instanceof KernelError) e.hint = `${DLMFS_DIR} must be a directory for ocfs2_dlmfs: move what is there away`;
      throw e;
    }
    actions.push(`mkdir ${DLMFS_DIR}`);
  }
  try {
    await sys.mount(DLMFS_TYPE, DLMFS_DIR, DLMFS_TYPE);
  } catch (e) {
    if (e instanceof KernelError) e.hint = `ocfs2_dlmfs did not mount on ${DLMFS_DIR} (dmesg says why); the cluster runs, but fsck.ocfs2 and tunefs.ocfs2 cannot take cluster locks until it does: mount -t ocfs2_dlmfs ocfs2_dlmfs ${DLMFS_DIR}`;
    throw e;
  }
  actions.push(`mount -t ${DLMFS_TYPE} ${DLMFS_TYPE} ${DLMFS_DIR}`);
  return actions;
}

/** Stops the o2cb cluster: every registered cluster, or only the one named (an error if it is not registered). */
export async function stopO2cb(b: KernelBackend, sys: SystemOps, only?: string): Promise<StopResult> {
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
  // a dlm domain open in dlmfs is a tool holding a cluster lock: nothing is stopped under it
  if (det.dlmfs.domains.length) {
    throw new StackError(
      'E_STOP_DLMFS_BUSY',
      `cannot stop the o2cb cluster: programs hold cluster locks through ${det.dlmfs.dirs.join(', ')} (dlm domains ${det.dlmfs.domains.join(', ')}: fsck.ocfs2, tunefs.ocfs2 or debugfs.ocfs2 -w running?)`,
      `let them finish (fuser -vm ${det.dlmfs.dirs[0]} names them), then o2stack stop`,
    );
  }
  let clusters = det.o2cb.state.clusters;
  if (only !== undefined) {
    clusters = clusters.filter((c) => c.name === only);
    if (clusters.length === 0) {
      const reg = det.o2cb.state.clusters.map((c) => c.name);
      if (reg.length) throw new StackError('E_STOP_NOT_REGISTERED', `cluster '${only}' is not registered (the kernel has: ${reg.join(', ')})`, `o2stack stop ${reg[0]} to stop that one, or o2stack stop to stop every cluster`);
    }
  }
  for (const c of clusters) removeCluster(b, c, actions);
  // then dlmfs, as o2cb's init script unmounts it after taking the cluster offline (not while
  // another cluster stays registered)
  const othersRemain = det.o2cb.state.clusters.length > clusters.length;
  for (const dir of othersRemain ? [] : det.dlmfs.dirs) {
    try {
      await sys.umount(dir);
    } catch (e) {
      if (e instanceof KernelError && e.code === 'EBUSY') e.hint = `a program uses ${dir} (fuser -vm ${dir} names it): let it finish, then o2stack stop`;
      throw e;
    }
    actions.push(`umount ${dir} (${DLMFS_TYPE})`);
  }
  return { clusters: clusters.map((c) => c.name), actions, alreadyStopped: actions.length === 0 };
}

/** Heartbeat regions (EBUSY while pinned comes back with its hint), then nodes, then the cluster. */
export function removeCluster(b: KernelBackend, c: O2nmClusterState, actions: string[]): void {
  for (const r of c.heartbeat.regions) {
    stopRegion(b, c.name, r.name);
    actions.push(`stopped heartbeat region ${r.name}`);
  }
  // The local node last: it owns the o2net listener.
  const nodes = [...c.nodes].sort((x, y) => Number(x.local) - Number(y.local));
  for (const n of nodes) b.rmdir(o2nm.node(c.name, n.name));
  if (nodes.length) actions.push(`removed ${nodes.length} node${nodes.length === 1 ? '' : 's'} of '${c.name}'`);
  b.rmdir(`${O2NM_ROOT}/${c.name}`);
  actions.push(`unregistered cluster '${c.name}'`);
}
