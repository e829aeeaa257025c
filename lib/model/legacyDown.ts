// The legacy node-death path (docs/kernel-interfaces.md#ocfs2_control-modes, #ocfs2_control-down;
// docs/user-stack-daemon.md#legacy-mode): with dlm recover_callbacks = 0 every user-stack volume
// is a WITH_CONTROLD connection, and ocfs2 learns that a node died only from `DOWN <UUID> <node>`
// on /dev/ocfs2_control, once per volume. Pure.
//
// Which volumes: those the dead node had mounted (it holds a slot and maybe a dirty journal there)
// that this node has mounted too. The kernel ignores a DOWN whose UUID matches no connection here
// (the write succeeds and nothing happens), so the others would be needless writes on a device
// whose DOWN crashes some kernels. A volume still mounting here is skipped as well: the kernel
// ignores DOWN for it, and its mount checks the slots itself.
// Order: by UUID, so every survivor sends its DOWNs in the same order.
// Never the local node: the kernel BUGs (crashes) on a DOWN with its own node number.

export interface DownMessage {
  /** the volume's UUID: 32 uppercase hex digits, also its dlm lockspace name */
  uuid: string;
  /** the dead node */
  nodeid: number;
}

/**
 * An ocfs2 volume's lockspace name: its UUID as 32 uppercase hex digits. The kernel matches DOWN
 * against that string case-sensitively; other lockspaces (other users of fs/dlm) have other names.
 */
export function isVolumeLockspace(name: string): boolean {
  return /^[0-9A-F]{32}$/.test(name);
}

/** What each volume's members were before the death: uuid → node ids (the local node's included). */
export type VolumeView = ReadonlyMap<string, readonly number[]> | Readonly<Record<string, readonly number[]>>;

/**
 * The DOWN messages this node sends for the death of `dead`, in the order to send them, given the
 * cluster-wide view before the death (volume UUID → nodes that had it mounted).
 */
export function legacyDownMessages(c: { dead: number; localNodeId: number; view: VolumeView }): DownMessage[] {
  for (const [what, id] of [['dead node', c.dead], ['local node', c.localNodeId]] as const) {
    if (!Number.isSafeInteger(id) || id <= 0 || id > 0x7fffffff) throw new RangeError(`${what} id must be an integer from 1 to 2147483647 (got ${String(id)})`);
  }
  if (c.dead === c.localNodeId) throw new RangeError(`node ${c.dead} is this node: a DOWN with its own number crashes the kernel (BUG_ON), and a node does not recover itself`);
  const entries = c.view instanceof Map ? [...c.view] : Object.entries(c.view as Record<string, readonly number[]>);
  return entries
    .filter(([uuid, nodes]) => isVolumeLockspace(uuid) && nodes.includes(c.dead) && nodes.includes(c.localNodeId))
    .map(([uuid]) => uuid)
    .sort()
    .map((uuid) => ({ uuid, nodeid: c.dead }));
}
