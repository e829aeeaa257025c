// What to do when the kernel refuses a configfs operation: errno + which attribute → the fix.
// Each case was reproduced on Debian's 6.1 kernel (test/vm/suites). An attribute's own hints are
// in the attribute table (o2nmAttributes.ts); its write-once, unique and requires rules give the rest.
import { type O2nmAttributeTable, O2NM_ATTRIBUTES, andList, attributeNamed } from './o2nmAttributes.js';

export interface HintContext {
  op: 'mkdir' | 'rmdir' | 'write' | 'read' | 'writefd';
  path: string;
  code: string;
}

const leaf = (p: string) => p.slice(p.lastIndexOf('/') + 1);
const isNodeDir = (p: string) => /\/cluster\/[^/]+\/node\/[^/]+$/.test(p);
const isClusterDir = (p: string) => /^\/sys\/kernel\/config\/cluster\/[^/]+$/.test(p);
const isRegionDir = (p: string) => /\/cluster\/[^/]+\/heartbeat\/[^/]+$/.test(p);

export function hintFor({ op, path, code }: HintContext): string | undefined {
  const attr = leaf(path);
  if (code === 'ENOENT' && path.startsWith('/sys/kernel/config')) {
    return 'configfs is not mounted or the cluster modules are not loaded: o2stack start (or modprobe ocfs2_stack_o2cb && mount -t configfs none /sys/kernel/config)';
  }
  if (code === 'EACCES' || code === 'EPERM') return 'cluster configuration needs root (CAP_SYS_ADMIN): run o2stack as root';
  if (op === 'mkdir' && isClusterDir(path) && code === 'ENOSPC') {
    return 'another cluster is registered; the kernel holds one at a time: o2stack show, then unmount its volumes and o2stack stop';
  }
  if (op === 'mkdir' && code === 'EEXIST') return 'it already exists: run o2stack plan to see the current state';
  if (op === 'mkdir' && code === 'ENAMETOOLONG') return isRegionDir(path) ? 'region names are at most 32 characters (a volume UUID)' : 'node names are at most 64 characters';
  if (op === 'mkdir' && code === 'EFBIG') return 'at most 32 global heartbeat regions';
  if (op === 'rmdir' && code === 'EBUSY') {
    if (isNodeDir(path)) return 'the node is in use: it is the local node with heartbeat running, or o2net is connected to it; unmount the OCFS2 volumes (o2stack umount) and stop heartbeat first';
    if (isRegionDir(path)) return 'the heartbeat region is in use by a mounted volume: unmount it first';
    return 'it is in use';
  }
  if (op === 'rmdir' && code === 'ENOTEMPTY') return 'remove what is inside first (nodes and heartbeat regions)';
  if (op !== 'write' && op !== 'writefd') return undefined;
  return attributeHint(attr, code);
}

/** The fix for a refused write to an attribute of the table: its own hint, else what its rules say. */
export function attributeHint(name: string, code: string, table: O2nmAttributeTable = O2NM_ATTRIBUTES): string | undefined {
  const a = attributeNamed(name, table);
  if (!a) return undefined;
  const own = a.hints?.[code];
  if (own !== undefined) return own;
  if (code === 'EBUSY' && a.writeOnce) return `${a.name} is write-once and already set: remove the node and add it again (o2stack apply does this when the node is not in use)`;
  if (code === 'EEXIST' && a.unique) return `another node already has this ${a.plan?.what ?? a.name}`;
  if (code === 'EINVAL' && a.requires?.length) return `set ${andList(a.requires)} before ${a.name}`;
  return undefined;
}
