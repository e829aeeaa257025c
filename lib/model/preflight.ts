// Before a mount: compare what the disk says (superblock) with what is running (stack detection)
// and name every mismatch with the command that fixes it. Pure.
import type { Ocfs2Mount } from './mounts.js';
import type { O2nmState } from './o2nmState.js';
import type { Superblock } from './superblock.js';

export interface RunningStack {
  /** /sys/fs/ocfs2/cluster_stack, null when stackglue is not loaded */
  clusterStack: string | null;
  activePlugin: string | null;
  o2nm: O2nmState;
  mounts: Ocfs2Mount[];
}

export interface PreflightIssue {
  code: string;
  message: string;
  fix: string;
}

export interface PreflightResult {
  /** how the volume mounts: o2cb local/global heartbeat, a user stack, or a local (non-clustered) volume */
  kind: 'o2cb-local' | 'o2cb-global' | 'user' | 'local';
  /** the heartbeat= or cluster_stack= option the kernel needs */
  clusterOption: string;
  /** the registered o2cb cluster (o2cb kinds) */
  cluster?: string;
  issues: PreflightIssue[];
}

/** The heartbeat= or cluster_stack= option the kernel needs for this volume (at mount and remount alike). */
export function clusterOptionFor(sb: Superblock): string {
  if (sb.heartbeatDevice) return 'heartbeat=global';
  if (sb.localMount) return 'heartbeat=none';
  if (sb.userStack && sb.stack) return `cluster_stack=${sb.stack.name}`;
  return sb.stack?.globalHeartbeat === true ? 'heartbeat=global' : 'heartbeat=local';
}

export function preflightMount(sb: Superblock, device: string, running: RunningStack): PreflightResult {
  const issues: PreflightIssue[] = [];
  const already = running.mounts.find((m) => m.device === device);
  if (already) issues.push({ code: 'E_PF_MOUNTED', message: `${device} is already mounted on ${already.dir}`, fix: `use ${already.dir}, or o2stack umount ${already.dir} first` });

  if (sb.heartbeatDevice) {
    issues.push({ code: 'E_PF_HB_DEVICE', message: `${device} is a heartbeat-only device (formatted with mkfs.ocfs2 -H); it holds global heartbeat and cannot be mounted`, fix: 'mount the data volumes; list this device as a heartbeat region in cluster.conf' });
    return { kind: 'o2cb-global', clusterOption: 'heartbeat=global', issues };
  }
  if (sb.localMount) return { kind: 'local', clusterOption: 'heartbeat=none', issues };

  const running0 = running.clusterStack;
  if (sb.userStack && sb.stack) {
    const label = sb.stack.name;
    if (running0 !== label) {
      issues.push({
        code: 'E_PF_STACK_MISMATCH',
        message: `${device} was formatted for the '${label}' user stack (cluster '${sb.stack.clusterName}'), but the running stack is ${running0 ? `'${running0}'` : 'not selected'}`,
        fix: `o2stack select ${label} (with no o2cb volume mounted), or, to move the volume to o2cb: tunefs.ocfs2 --update-cluster-stack ${device} on a node running o2cb with the volume unmounted everywhere`,
      });
    }
    return { kind: 'user', clusterOption: `cluster_stack=${label}`, issues };
  }

  // o2cb volume (with or without recorded cluster info)
  const global = sb.stack?.globalHeartbeat === true;
  const kind = global ? 'o2cb-global' : 'o2cb-local';
  const clusterOption = global ? 'heartbeat=global' : 'heartbeat=local';
  if (running0 !== 'o2cb') {
    issues.push({
      code: 'E_PF_STACK_MISMATCH',
      message: `${device} is an o2cb volume, but the running stack is ${running0 ? `'${running0}'` : 'not selected (the ocfs2 modules are not loaded)'}`,
      fix: running0 ? 'o2stack select o2cb (with no user-stack volume mounted), then o2stack start' : 'o2stack start',
    });
    return { kind, clusterOption, issues };
  }
  if (running.activePlugin && running.activePlugin !== 'o2cb') {
    issues.push({ code: 'E_PF_STACK_BUSY', message: `the '${running.activePlugin}' plugin is in use by other mounts; o2cb volumes cannot be mounted beside them`, fix: 'unmount the user-stack volumes first' });
  }
  const reg = running.o2nm.clusters[0];
  if (!running.o2nm.available || !reg) {
    issues.push({ code: 'E_PF_NO_CLUSTER', message: 'no o2cb cluster is registered on this node', fix: 'o2stack start (registers the cluster from /etc/ocfs2/cluster.conf)' });
    return { kind, clusterOption, issues };
  }
  if (sb.stack && sb.stack.clusterName !== reg.name) {
    issues.push({
      code: 'E_PF_CLUSTER_NAME',
      message: `${device} belongs to cluster '${sb.stack.clusterName}', but the registered cluster is '${reg.name}'`,
      fix: `register cluster '${sb.stack.clusterName}' (o2stack stop; o2stack start --cluster ${sb.stack.clusterName}), or rename the volume's cluster: tunefs.ocfs2 --update-cluster-stack ${device} with the volume unmounted everywhere`,
    });
  }
  const local = reg.nodes.find((n) => n.local);
  if (!local) {
    issues.push({ code: 'E_PF_NO_LOCAL_NODE', message: `cluster '${reg.name}' has no local node: no configured node is this machine`, fix: 'o2stack apply --node NAME (the node that is this machine), or fix its name in cluster.conf to match `hostname -s`' });
  }
  if (reg.heartbeat.mode !== (global ? 'global' : 'local')) {
    issues.push({
      code: 'E_PF_HB_MODE',
      message: `${device} uses ${global ? 'global' : 'local'} heartbeat, but the cluster runs ${reg.heartbeat.mode} heartbeat`,
      fix: global ? 'set heartbeat_mode = global for the cluster in cluster.conf, restart the cluster (o2stack stop; o2stack start)' : 'set heartbeat_mode = local in cluster.conf and restart the cluster, or convert the volume: tunefs.ocfs2 --update-cluster-stack',
    });
  }
  if (global && !reg.heartbeat.regions.some((r) => r.dev !== '')) {
    issues.push({ code: 'E_PF_NO_GLOBAL_HB', message: 'global heartbeat is not running on any region', fix: 'add heartbeat devices to cluster.conf (heartbeat: region = UUID) and o2stack start' });
  }
  return { kind, clusterOption, cluster: reg.name, issues };
}
