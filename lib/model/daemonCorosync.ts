// What the o2stack daemon takes from a running corosync (docs/user-stack-daemon.md#corosync, as
// dlm_controld does): the cluster name (totem.cluster_name: fs/dlm's cluster_name must equal it,
// and the volumes' too) and every node's id and addresses from the nodelist (the dlm comms). Pure:
// the cmap read and any host name lookups are done by the caller.
import { isIP } from 'node:net';
import type { CorosyncConfig } from '../kernel/corosync.js';
import type { DlmMember } from './dlm.js';

const CONF = '/etc/corosync/corosync.conf';

export type DaemonCorosyncErrorCode = 'E_CLUSTER_NAME' | 'E_NO_CLUSTER_NAME' | 'E_NO_NODELIST' | 'E_LOCAL_NODE' | 'E_NODE_ID' | 'E_NODE_ADDRESS';

export class DaemonCorosyncError extends Error {
  constructor(
    readonly code: DaemonCorosyncErrorCode,
    message: string,
    readonly hint: string,
  ) {
    super(message);
    this.name = 'DaemonCorosyncError';
  }
}

export interface DaemonCorosyncSetup {
  clusterName: string;
  localNodeId: number;
  nodes: (DlmMember & { name?: string })[];
}

/** Node addresses in the nodelist that are host names, not IP literals (the caller resolves them). */
export function corosyncHostnames(cfg: CorosyncConfig): string[] {
  return [...new Set(cfg.nodes.flatMap((n) => n.ringAddrs.filter((a) => a !== undefined && isIP(a) === 0)))];
}

/**
 * Checks corosync's configuration against what the daemon was asked for and returns the fs/dlm
 * cluster name and comms. `resolved` maps host names in ring addresses to IP addresses.
 */
export function daemonSetupFromCorosync(
  want: { clusterName?: string; nodeId?: number },
  cfg: CorosyncConfig,
  localNodeId: number,
  resolved: Record<string, string> = {},
): DaemonCorosyncSetup {
  const name = cfg.clusterName;
  if (name === undefined || name === '') {
    throw new DaemonCorosyncError('E_NO_CLUSTER_NAME', 'corosync has no totem.cluster_name', `set "cluster_name: NAME" in the totem section of ${CONF} (NAME: the cluster the volumes were made with, mkfs.ocfs2 --cluster-name), then: systemctl restart corosync`);
  }
  if (want.clusterName !== undefined && want.clusterName !== name) {
    throw new DaemonCorosyncError(
      'E_CLUSTER_NAME',
      `--cluster ${want.clusterName} does not match corosync's totem.cluster_name '${name}': fs/dlm's cluster name must equal corosync's (the kernel refuses a mount whose cluster name differs)`,
      `run the daemon with --cluster ${name} (or without --cluster), or set "cluster_name: ${want.clusterName}" in the totem section of ${CONF} and: systemctl restart corosync`,
    );
  }
  if (cfg.nodes.length === 0) {
    throw new DaemonCorosyncError('E_NO_NODELIST', 'corosync has no nodelist: the daemon takes every node\'s id and address from it', `add a nodelist to ${CONF} (node { nodeid: N  ring0_addr: ADDRESS } for every node), then: systemctl restart corosync`);
  }
  if (want.nodeId !== undefined && want.nodeId !== localNodeId) {
    throw new DaemonCorosyncError('E_NODE_ID', `--node-id ${want.nodeId} but corosync says this node is ${localNodeId}`, `omit --node-id (corosync decides), or fix the nodeid of this node in ${CONF}`);
  }
  if (!cfg.nodes.some((n) => n.nodeid === localNodeId)) {
    throw new DaemonCorosyncError(
      'E_LOCAL_NODE',
      `this node (corosync node id ${localNodeId}) is not in corosync's nodelist (${cfg.nodes.map((n) => n.nodeid).join(', ')}): it has no address for the dlm`,
      `add "node { nodeid: ${localNodeId}  ring0_addr: ADDRESS }" to the nodelist in ${CONF} on every node, then: systemctl restart corosync`,
    );
  }
  const nodes = cfg.nodes.map((n) => {
    const raw = n.ringAddrs.filter((a): a is string => a !== undefined).slice(0, 3);
    if (raw.length === 0) throw new DaemonCorosyncError('E_NODE_ADDRESS', `node ${n.nodeid} in corosync's nodelist has no ring0_addr`, `give node ${n.nodeid} a "ring0_addr: ADDRESS" in ${CONF}, then: systemctl restart corosync`);
    const addresses = raw.map((a) => {
      if (isIP(a) !== 0) return a;
      const ip = resolved[a];
      if (ip === undefined) throw new DaemonCorosyncError('E_NODE_ADDRESS', `node ${n.nodeid}'s address '${a}' does not resolve to an IP address`, `put an IP address in ${CONF}, or make '${a}' resolvable (/etc/hosts)`);
      return ip;
    });
    return { ...(n.name !== undefined ? { name: n.name } : {}), nodeid: n.nodeid, addresses };
  });
  // the dlm wants one address family for every comm (the local node's first address decides)
  const fam = isIP(nodes.find((n) => n.nodeid === localNodeId)!.addresses[0]!);
  for (const n of nodes) {
    n.addresses = n.addresses.filter((a) => isIP(a) === fam);
    if (n.addresses.length === 0) throw new DaemonCorosyncError('E_NODE_ADDRESS', `node ${n.nodeid} has no IPv${fam} address, the family of this node's first address`, `give every node an IPv${fam} ring0_addr in ${CONF}`);
  }
  return { clusterName: name, localNodeId, nodes };
}
