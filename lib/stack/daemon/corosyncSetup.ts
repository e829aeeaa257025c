// The daemon's corosync side at start: connect (quorum, cmap), read the cluster name and nodelist,
// resolve host names in ring addresses, and check them (lib/model/daemonCorosync.ts). On any
// failure the connections are closed again.
import { lookup } from 'node:dns/promises';
import { CorosyncError, type RetryOptions } from '../../kernel/corosync.js';
import { corosyncHostnames, daemonSetupFromCorosync, type DaemonCorosyncSetup } from '../../model/daemonCorosync.js';
import { CorosyncMembership } from '../membership/corosync.js';

export { DaemonCorosyncError } from '../../model/daemonCorosync.js';

/** corosync could not be reached (not running, or not in this network namespace). */
export class CorosyncUnreachable extends Error {
  readonly code = 'E_COROSYNC_DOWN';
  readonly hint = 'start corosync: systemctl start corosync (its configuration: /etc/corosync/corosync.conf)';
  constructor(override readonly cause: CorosyncError) {
    super(`cannot reach corosync (${cause.code} from ${cause.call}): is it running?`);
    this.name = 'CorosyncUnreachable';
  }
}

export async function corosyncDaemonSetup(
  want: { clusterName?: string; nodeId?: number },
  options: RetryOptions & { membership?: CorosyncMembership } = {},
): Promise<{ membership: CorosyncMembership; setup: DaemonCorosyncSetup }> {
  const membership = options.membership ?? new CorosyncMembership({ ...options });
  try {
    try {
      await membership.start();
    } catch (e) {
      // E_NO_COROSYNC (an addon built without corosync) passes through: not a "start it" problem
      if (e instanceof CorosyncError && e.code !== 'E_NO_COROSYNC') throw new CorosyncUnreachable(e);
      throw e;
    }
    const cfg = membership.corosyncConfig!;
    const resolved: Record<string, string> = {};
    for (const h of corosyncHostnames(cfg)) {
      try {
        resolved[h] = (await lookup(h)).address;
      } catch {
        /* reported by the check, with the node */
      }
    }
    return { membership, setup: daemonSetupFromCorosync(want, cfg, membership.localNodeId(), resolved) };
  } catch (e) {
    await membership.close();
    throw e;
  }
}
