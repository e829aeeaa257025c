// o2stack status: one read-only snapshot of the stack — modules, stack label, the o2cb cluster and
// its nodes (configured / heartbeating / connected), heartbeat regions, OCFS2 mounts.
// Liveness comes from the kernel's debugfs (o2hb/livenodes, o2net/connected_nodes); status never
// mounts debugfs itself (o2stack start does), it says when it is missing.
import type { KernelBackend } from '../kernel/backend.js';
import type { Timeouts } from '../model/cluster.js';
import { stateToConfig } from '../model/o2nmState.js';
import { type StackDetection, detectStack } from './detect.js';

export const DEBUGFS = '/sys/kernel/debug';

export interface NodeStatus {
  name: string;
  number: number;
  ipAddress: string;
  port: number;
  local: boolean;
  /** null when unknown (debugfs not mounted) */
  heartbeating: boolean | null;
  connected: boolean | null;
}

export interface RegionStatus {
  uuid: string;
  device: string | null;
  running: boolean;
  pid: number | null;
  liveNodes: number[] | null;
}

export interface StackStatus {
  schemaVersion: 1;
  kernelRelease: string;
  modules: StackDetection['modules'];
  stack: { label: string | null; inUse: 'o2cb' | 'user' | null; activePlugin: string | null; loadedPlugins: string[]; recoverCallbackSupport: boolean };
  cluster: null | {
    name: string;
    heartbeatMode: 'local' | 'global';
    localNode: string | null;
    timeouts: { heartbeatDeadThreshold: number; idleTimeoutMs: number; keepaliveDelayMs: number; reconnectDelayMs: number };
    fenceMethod: string;
  };
  nodes: NodeStatus[];
  regions: RegionStatus[];
  mounts: { device: string; dir: string; stack: string; heartbeat: string | null }[];
  /** ocfs2_dlmfs (o2stack start mounts it on /dlm): where, and the dlm domains open there (tools holding cluster locks) */
  dlmfs: { mounted: boolean; dirs: string[]; domains: string[] };
  debugfs: boolean;
  notes: string[];
  /** online: a cluster with a local node is registered (and, in global mode, a region runs) */
  online: boolean;
}

/** "1 2 5 \n" → [1, 2, 5] */
export function parseNodeList(text: string | undefined): number[] | null {
  if (text === undefined) return null;
  return text.split(/\s+/).filter(Boolean).map(Number).filter((n) => Number.isInteger(n));
}

export function readStatus(b: KernelBackend, det: StackDetection = detectStack(b)): StackStatus {
  const notes: string[] = [];
  const debugfs = b.tryList(`${DEBUGFS}/o2hb`) !== undefined || b.tryList(`${DEBUGFS}/o2net`) !== undefined;
  const c = det.o2cb.state.clusters[0];
  const live = debugfs ? parseNodeList(b.tryRead(`${DEBUGFS}/o2hb/livenodes`)) : null;
  const connected = debugfs ? parseNodeList(b.tryRead(`${DEBUGFS}/o2net/connected_nodes`)) : null;
  if (c && !debugfs) notes.push('heartbeat and connection state need debugfs: mount -t debugfs none /sys/kernel/debug (o2stack start mounts it)');
  const local = c?.nodes.find((n) => n.local);
  const nodes: NodeStatus[] = (c?.nodes ?? [])
    .map((n) => ({
      name: n.name,
      number: n.num,
      ipAddress: n.ipv4Address,
      port: n.ipv4Port,
      local: n.local,
      heartbeating: live ? live.includes(n.num) : null,
      // o2net lists peers only; the local node counts as connected to itself
      connected: connected ? n.local || connected.includes(n.num) : null,
    }))
    .sort((a, b2) => a.number - b2.number);
  const regions: RegionStatus[] = (c?.heartbeat.regions ?? []).map((r) => ({
    uuid: r.name,
    device: r.dev ? `/dev/${r.dev}` : null,
    running: r.dev !== '',
    pid: r.pid ?? null,
    liveNodes: debugfs ? parseNodeList(b.tryRead(`${DEBUGFS}/o2hb/${r.name}/livenodes`)) : null,
  }));
  const online = Boolean(c && local && (c.heartbeat.mode === 'local' || regions.some((r) => r.running)));
  return {
    schemaVersion: 1,
    kernelRelease: det.kernelRelease,
    modules: det.modules,
    stack: { label: det.stackglue.clusterStack, inUse: det.stack, activePlugin: det.stackglue.activePlugin, loadedPlugins: det.stackglue.loadedPlugins, recoverCallbackSupport: det.stackglue.recoverCallbackSupport },
    cluster: c
      ? {
          name: c.name,
          heartbeatMode: c.heartbeat.mode,
          localNode: local?.name ?? null,
          timeouts: stateToConfig(c).timeouts as Required<Timeouts>,
          fenceMethod: c.fenceMethod,
        }
      : null,
    nodes,
    regions,
    mounts: det.mounts.map((m) => ({ device: m.device, dir: m.dir, stack: m.clusterStack ?? 'o2cb', heartbeat: m.heartbeat ?? null })),
    dlmfs: det.dlmfs,
    debugfs,
    notes,
    online,
  };
}

export function formatStatus(s: StackStatus): string {
  const yn = (v: boolean | null) => (v === null ? '?' : v ? 'yes' : 'no');
  const out = [
    `kernel ${s.kernelRelease}; stack ${s.stack.label ?? 'not loaded'}${s.stack.activePlugin ? ` (in use: ${s.stack.activePlugin})` : ''}`,
  ];
  if (!s.cluster) out.push('o2cb cluster: not registered (o2stack start)');
  else {
    const t = s.cluster.timeouts;
    out.push(
      `cluster ${s.cluster.name}: ${s.online ? 'online' : 'offline'}, local node ${s.cluster.localNode ?? 'none'}, heartbeat ${s.cluster.heartbeatMode}, dead threshold ${t.heartbeatDeadThreshold} (${(t.heartbeatDeadThreshold - 1) * 2} s), idle ${t.idleTimeoutMs} ms, keepalive ${t.keepaliveDelayMs} ms`,
      '  num  node                 address:port           heartbeating  connected',
      ...s.nodes.map((n) => `  ${String(n.number).padStart(3)}  ${(n.name + (n.local ? ' *' : '')).padEnd(20)} ${`${n.ipAddress}:${n.port}`.padEnd(22)} ${yn(n.heartbeating).padEnd(13)} ${yn(n.connected)}`),
    );
    for (const r of s.regions) out.push(`  region ${r.uuid} ${r.running ? `on ${r.device} (o2hb pid ${r.pid})` : 'not started'}${r.liveNodes ? `, live nodes ${r.liveNodes.join(' ') || 'none'}` : ''}`);
  }
  out.push(s.mounts.length ? `mounts:\n${s.mounts.map((m) => `  ${m.device} on ${m.dir} (${m.stack}${m.heartbeat ? `, heartbeat=${m.heartbeat}` : ''})`).join('\n')}` : 'mounts: none');
  if (s.cluster || s.dlmfs.mounted) out.push(s.dlmfs.mounted ? `dlmfs: mounted on ${s.dlmfs.dirs.join(', ')}${s.dlmfs.domains.length ? `, domains ${s.dlmfs.domains.join(' ')}` : ', no domains'}` : 'dlmfs: not mounted (fsck.ocfs2 and tunefs.ocfs2 cannot take cluster locks: o2stack start mounts it on /dlm)');
  for (const n of s.notes) out.push(`note: ${n}`);
  return out.join('\n') + '\n';
}
