// o2stack mount / umount: preflight, heartbeat (o2cb), mount(2), and clean-up on failure so that a
// failed mount leaves no region running and no stale configfs entry. User-stack volumes are
// mounted only when a control daemon will answer the lockspace join (otherwise mount(2) waits
// for it forever) and fs/dlm runs the volume's cluster.
import { readFileSync } from 'node:fs';
import { dlmControldServesPlocks, plockWarning, type PlockServer, type PlockWarning } from '../model/plockWarning.js';
import type { KernelBackend } from '../kernel/backend.js';
import { KernelError } from '../kernel/errors.js';
import type { SystemOps } from '../kernel/system.js';
import type { HeartbeatRegion } from '../model/heartbeatFile.js';
import { checkClusterOption } from '../model/mountHelper.js';
import { type PreflightIssue, preflightMount } from '../model/preflight.js';
import type { Superblock } from '../model/superblock.js';
import { detectStack } from './detect.js';
import { regionDev, startRegion, stopRegion } from './heartbeat.js';

export interface VolumeInfo {
  superblock: Superblock;
  /** local heartbeat geometry (o2cb local volumes) */
  heartbeat?: HeartbeatRegion;
}

/** Reads a device's superblock (and heartbeat geometry when needed). */
export type VolumeReader = (device: string, options: { heartbeat: boolean }) => Promise<VolumeInfo>;

export class PreflightError extends Error {
  readonly code = 'E_PREFLIGHT';
  constructor(readonly device: string, readonly issues: PreflightIssue[]) {
    super(`cannot mount ${device}:\n` + issues.map((i) => `  ${i.message}\n    fix: ${i.fix}`).join('\n'));
    this.name = 'PreflightError';
  }

  get hint(): string {
    return this.issues.map((i) => i.fix).join('; ');
  }
}

export class MountError extends Error {
  readonly code: string;
  constructor(override readonly cause: KernelError, readonly device: string, readonly dir: string, readonly options: string, readonly cleanup: string[], readonly hint: string) {
    super(`mount -t ocfs2 -o ${options} ${device} ${dir} failed: ${cause.code}${hint ? ` — ${hint}` : ''}${cleanup.length ? `\n  cleaned up: ${cleanup.join('; ')}` : '\n  nothing was left running'}`);
    this.name = 'MountError';
    this.code = cause.code;
  }
}

export interface MountRequest {
  device: string;
  dir: string;
  /** extra mount options, e.g. ["noatime", "localflocks"] */
  options?: string[];
  /** user stack: who answers lockspace joins (default: dlm_controld, or the o2stack daemon's socket) */
  controller?: () => Promise<string | undefined>;
  /** user stack: who serves POSIX locks (default: findPlockServer()) */
  plockServer?: () => Promise<PlockServer>;
  /** mount(2) flags (MS_RDONLY, MS_NOATIME...: lib/model/mountHelper.ts MS) */
  flags?: number;
  /** heartbeat= / cluster_stack= the caller was given: refused unless they match the disk */
  givenClusterOptions?: { heartbeat?: string; clusterStack?: string };
  /** run the preflight only: start nothing, mount nothing (mount -f) */
  dryRun?: boolean;
}

/** The running control daemon for the user stack, described; undefined when there is none. */
export async function findController(socketPath = process.env.O2STACK_DAEMON_SOCKET): Promise<string | undefined> {
  // loaded here only: o2cb mounts need none of it
  const { findDlmControld } = await import('./daemon/controld.js');
  const controld = findDlmControld();
  if (controld) return `dlm_controld (pid ${controld.pid})`;
  const { DEFAULT_SOCKET, request } = await import('./daemon/controlSocket.js');
  const path = socketPath ?? DEFAULT_SOCKET;
  try {
    const st = (await request(path, 'status', 3000)) as { pid?: number; mode?: string };
    // beside dlm_controld the daemon only tracks: with dlm_controld gone, nobody answers joins
    if (st.mode === 'beside-dlm_controld') return undefined;
    return `o2stack daemon (pid ${st.pid ?? '?'}, ${path})`;
  } catch {
    return undefined;
  }
}

/**
 * Who serves /dev/dlm_plock: dlm_controld (unless enable_plock=0), or the o2stack daemon on its
 * socket (its status' plocks.mode; a daemon without that field predates POSIX-lock support).
 */
export async function findPlockServer(socketPath = process.env.O2STACK_DAEMON_SOCKET, o: { proc?: string; dlmConf?: string } = {}): Promise<PlockServer> {
  const { findDlmControld } = await import('./daemon/controld.js');
  const controld = findDlmControld(o.proc);
  if (controld) {
    let cmdline: string[] = [];
    try {
      cmdline = readFileSync(`${o.proc ?? '/proc'}/${controld.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    } catch {
      /* gone, or no /proc: its default (on) */
    }
    let conf: string | undefined;
    try {
      conf = readFileSync(o.dlmConf ?? '/etc/dlm/dlm.conf', 'utf8');
    } catch {
      conf = undefined;
    }
    const on = dlmControldServesPlocks(cmdline, conf);
    return { who: 'dlm_controld', serving: on, detail: on ? `dlm_controld (pid ${controld.pid}) serves them` : `dlm_controld (pid ${controld.pid}) runs with enable_plock=0` };
  }
  const { DEFAULT_SOCKET, request } = await import('./daemon/controlSocket.js');
  const path = socketPath ?? DEFAULT_SOCKET;
  let st: { pid?: number; plocks?: { mode?: string; reason?: string | null } };
  try {
    st = (await request(path, 'status', 3000)) as typeof st;
  } catch {
    return { who: 'nobody', serving: false, detail: 'no control daemon runs' };
  }
  if (st.plocks?.mode === 'cluster') return { who: 'o2stack daemon', serving: true, detail: `the o2stack daemon (pid ${st.pid ?? '?'}) serves them` };
  if (st.plocks === undefined) return { who: 'nobody', serving: false, detail: `the o2stack daemon on ${path} (pid ${st.pid ?? '?'}) is a version without POSIX-lock support` };
  return { who: 'o2stack daemon', serving: false, detail: `the o2stack daemon (pid ${st.pid ?? '?'}) has them off: ${st.plocks.reason ?? 'no reason given'}` };
}

export interface MountResult {
  device: string;
  dir: string;
  uuid: string;
  kind: string;
  options: string;
  cluster?: string;
  heartbeat?: { started: boolean; alreadyRunning: boolean; ms: number; dev: string };
  mountMs: number;
  /** mounted, but something the operator should know (W_PLOCK_UNSERVED: POSIX locks not served) */
  warnings?: PlockWarning[];
  /** the preflight passed and nothing was done (MountRequest.dryRun) */
  dryRun?: boolean;
}

function mountHint(code: string): string {
  switch (code) {
    case 'ENOTCONN':
      return 'o2net could not connect to every heartbeating node within 60 s: check that all nodes use the same cluster.conf and timeouts, that TCP port 7777 (the node port) is open between them, and dmesg for "o2net"';
    case 'EBUSY':
      return 'a different cluster stack is in use (dmesg: "A different cluster stack is in use"): o2stack status';
    case 'EINVAL':
      return 'the kernel rejected the volume or its options: dmesg says why (heartbeat mode, cluster name, stack)';
    case 'EROFS':
      return 'the device is read-only: heartbeat needs to write; mount with -o ro only on a volume without heartbeat, or make the device writable';
    case 'ENODEV':
      return 'the ocfs2 module is not loaded: o2stack start';
    case 'ENOENT':
      return 'the mount point or the device does not exist';
    default:
      return 'dmesg has the kernel\'s reason';
  }
}

export async function mountVolume(b: KernelBackend, sys: SystemOps, readVolume: VolumeReader, req: MountRequest): Promise<MountResult> {
  const det = detectStack(b);
  const first = await readVolume(req.device, { heartbeat: false });
  const warnings: PlockWarning[] = [];
  const pf = preflightMount(first.superblock, req.device, { clusterStack: det.stackglue.clusterStack, activePlugin: det.stackglue.activePlugin, o2nm: det.o2cb.state, mounts: det.mounts });
  if (pf.issues.length) throw new PreflightError(req.device, pf.issues);
  if (pf.kind === 'user') {
    const issues: PreflightIssue[] = [];
    const controller = await (req.controller ?? (() => findController()))();
    if (!controller) {
      issues.push({
        code: 'E_PF_NO_CONTROLD',
        message: `${req.device} uses the '${first.superblock.stack?.name}' user stack, and no control daemon runs to answer its lockspace join (mount(2) would wait for one forever)`,
        fix: 'start one first: systemctl start o2stack-daemon (or o2stack daemon --fence-agent AGENT; O2STACK_DAEMON_SOCKET names a non-default socket), or dlm_controld',
      });
    }
    const volumeCluster = first.superblock.stack?.clusterName;
    const dlmCluster = b.tryRead('/sys/kernel/config/dlm/cluster/cluster_name')?.trim();
    if (controller && dlmCluster === undefined) {
      issues.push({ code: 'E_PF_NO_DLM_CLUSTER', message: `${controller} runs, but fs/dlm has no cluster configured (/sys/kernel/config/dlm/cluster)`, fix: 'wait until the daemon is ready (o2stack daemon-ctl status), or look at its log' });
    } else if (controller && volumeCluster && dlmCluster !== volumeCluster) {
      issues.push({
        code: 'E_PF_CLUSTER_MISMATCH',
        message: `${req.device} belongs to cluster '${volumeCluster}', but fs/dlm runs cluster '${dlmCluster}' (set by ${controller})`,
        fix: `run the cluster the volume was made for (corosync's totem.cluster_name '${volumeCluster}'), or, with the volume unmounted everywhere: tunefs.ocfs2 --update-cluster-stack ${req.device} on a node of cluster '${dlmCluster}'`,
      });
    }
    if (issues.length) throw new PreflightError(req.device, issues);
    const w = plockWarning({ target: req.dir, options: req.options ?? [], server: await (req.plockServer ?? (() => findPlockServer()))() });
    if (w) warnings.push(w);
  }
  if (req.givenClusterOptions) checkClusterOption(req.givenClusterOptions, pf.clusterOption, req.device);
  const uuid = first.superblock.uuid;
  const options = [pf.clusterOption, ...(req.options ?? [])].join(',');
  if (req.dryRun) {
    return { device: req.device, dir: req.dir, uuid, kind: pf.kind, options, ...(pf.cluster ? { cluster: pf.cluster } : {}), mountMs: 0, ...(warnings.length ? { warnings } : {}), dryRun: true };
  }
  const cleanup: string[] = [];
  let hb: MountResult['heartbeat'];
  if (pf.kind === 'o2cb-local') {
    const vol = await readVolume(req.device, { heartbeat: true });
    const g = vol.heartbeat!;
    const r = await startRegion(b, pf.cluster!, { uuid, device: req.device, blockBytes: g.blockBytes, startBlock: g.startBlock, blocks: g.blocks });
    hb = { started: r.started, alreadyRunning: r.alreadyRunning, ms: r.ms, dev: r.dev };
  }
  const t0 = Date.now();
  try {
    await sys.mount(req.device, req.dir, 'ocfs2', options, req.flags ?? 0);
  } catch (e) {
    if (hb?.started) {
      try {
        stopRegion(b, pf.cluster!, uuid);
        cleanup.push(`stopped heartbeat region ${uuid}`);
      } catch (se) {
        cleanup.push(`could NOT stop heartbeat region ${uuid}: ${(se as Error).message} (stop it with: o2stack hb-ctl -K -u ${uuid})`);
      }
    }
    if (e instanceof KernelError) throw new MountError(e, req.device, req.dir, options, cleanup, mountHint(e.code));
    throw e;
  }
  return { device: req.device, dir: req.dir, uuid, kind: pf.kind, options, ...(pf.cluster ? { cluster: pf.cluster } : {}), ...(hb ? { heartbeat: hb } : {}), mountMs: Date.now() - t0, ...(warnings.length ? { warnings } : {}) };
}

export interface UmountResult {
  dir: string;
  device: string;
  uuid?: string;
  /** the heartbeat region was stopped by the kernel's hb_ctl helper, by us, or was not ours */
  heartbeat: 'stopped-by-helper' | 'stopped' | 'still-in-use' | 'none';
  umountMs: number;
}

export async function umountVolume(b: KernelBackend, sys: SystemOps, readVolume: VolumeReader, dir: string): Promise<UmountResult> {
  const det = detectStack(b);
  const m = det.mounts.find((x) => x.dir === dir || x.device === dir);
  if (!m) {
    throw new KernelError({ code: 'EINVAL', errno: -22, syscall: 'umount2', path: dir, hint: `${dir} is not an OCFS2 mount point (o2stack status lists them)` }, `${dir} is not a mounted OCFS2 volume`);
  }
  let uuid: string | undefined;
  try {
    uuid = (await readVolume(m.device, { heartbeat: false })).superblock.uuid;
  } catch {
    uuid = undefined; // unreadable device: unmount anyway
  }
  const t0 = Date.now();
  await sys.umount(m.dir);
  const umountMs = Date.now() - t0;
  const cluster = det.o2cb.state.clusters[0]?.name;
  let heartbeat: UmountResult['heartbeat'] = 'none';
  if (m.heartbeat === 'local' && uuid && cluster) {
    // The kernel runs hb_ctl_path -K -u UUID at unmount; if that helper is missing, stop it here.
    const stillMounted = detectStack(b).mounts.some((x) => x.device === m.device);
    if (regionDev(b, cluster, uuid) === undefined) heartbeat = 'stopped-by-helper';
    else if (stillMounted) heartbeat = 'still-in-use';
    else heartbeat = stopRegion(b, cluster, uuid).stopped ? 'stopped' : 'stopped-by-helper';
  }
  return { dir: m.dir, device: m.device, ...(uuid ? { uuid } : {}), heartbeat, umountMs };
}
