// Kernel paths of the cluster stack (docs/kernel-interfaces.md). Pure string helpers.
import { type O2nmAttribute, relativePath } from './o2nmAttributes.js';

export const CONFIGFS = '/sys/kernel/config';
export const O2NM_ROOT = `${CONFIGFS}/cluster`;
export const DLM_ROOT = `${CONFIGFS}/dlm`;
export const SYS_FS_OCFS2 = '/sys/fs/ocfs2';
export const SYS_FS_O2CB = '/sys/fs/o2cb';
export const HB_CTL_PATH_SYSCTL = '/proc/sys/fs/ocfs2/nm/hb_ctl_path';
/** where o2cb's init mounts ocfs2_dlmfs (fsck.ocfs2, tunefs.ocfs2 and debugfs.ocfs2 -w take cluster locks there) */
export const DLMFS_DIR = '/dlm';
export const DLMFS_TYPE = 'ocfs2_dlmfs';

export const o2nm = {
  cluster: (c: string) => `${O2NM_ROOT}/${c}`,
  /** an attribute of the table (o2nmAttributes.ts); owner: the node or region it belongs to */
  attr: (c: string, a: O2nmAttribute, owner?: string) => `${O2NM_ROOT}/${c}/${relativePath(a, owner)}`,
  clusterAttr: (c: string, attr: ClusterAttr) => `${O2NM_ROOT}/${c}/${attr}`,
  nodes: (c: string) => `${O2NM_ROOT}/${c}/node`,
  node: (c: string, n: string) => `${O2NM_ROOT}/${c}/node/${n}`,
  nodeAttr: (c: string, n: string, attr: NodeAttr) => `${O2NM_ROOT}/${c}/node/${n}/${attr}`,
  heartbeat: (c: string) => `${O2NM_ROOT}/${c}/heartbeat`,
  heartbeatAttr: (c: string, attr: 'dead_threshold' | 'mode') => `${O2NM_ROOT}/${c}/heartbeat/${attr}`,
  region: (c: string, r: string) => `${O2NM_ROOT}/${c}/heartbeat/${r}`,
  regionAttr: (c: string, r: string, attr: RegionAttr) => `${O2NM_ROOT}/${c}/heartbeat/${r}/${attr}`,
};

export type ClusterAttr = 'idle_timeout_ms' | 'keepalive_delay_ms' | 'reconnect_delay_ms' | 'fence_method';
export type NodeAttr = 'num' | 'ipv4_address' | 'ipv4_port' | 'local';
export type RegionAttr = 'block_bytes' | 'start_block' | 'blocks' | 'dev' | 'pid';
