// What to do when the kernel refuses a configfs operation: errno + which attribute → the fix.
// Each case was reproduced on Debian's 6.1 kernel (test/vm/suites).

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
  switch (attr) {
    case 'ipv4_port':
    case 'ipv4_address':
    case 'num':
      if (code === 'EBUSY') return `${attr} is write-once and already set: remove the node and add it again (o2stack apply does this when the node is not in use)`;
      if (code === 'EEXIST') return attr === 'num' ? 'another node already has this number' : 'another node already has this address';
      if (code === 'ERANGE') return attr === 'num' ? 'node numbers are 0–254' : attr === 'ipv4_port' ? 'ports are 1–65534' : 'each octet must be 0–255';
      if (code === 'EINVAL') return attr === 'num' ? 'set ipv4_port and ipv4_address before num' : `the value is not a valid ${attr === 'ipv4_port' ? 'port' : 'IPv4 address'}`;
      break;
    case 'local':
      if (code === 'EINVAL') return 'set ipv4_port, ipv4_address and num before local';
      if (code === 'EBUSY')
        return "another node is the local node (o2stack apply moves it by removing that node and adding it again), or a local node was cleared by writing 0 to its 'local', after which some kernels (Debian's 6.1.0-50) take no local node until the cluster is removed: o2stack stop, then o2stack start";
      if (code === 'EADDRNOTAVAIL') return "the node's IPv4 address is not configured on this host: check `ip -4 addr` and the node's ip_address";
      if (code === 'EADDRINUSE') return "the node's port is already in use on this host: check `ss -ltnp` for the port";
      break;
    case 'idle_timeout_ms':
    case 'keepalive_delay_ms':
      if (code === 'EINVAL') return 'keepalive_delay_ms must stay below idle_timeout_ms, and neither can change while o2net peers are connected: change them on all nodes while the cluster is stopped';
      if (code === 'ERANGE') return 'the value must be below 4294967295';
      break;
    case 'fence_method':
      if (code === 'EINVAL') return 'fence_method takes "reset" or "panic" followed by a newline';
      break;
    case 'mode':
      if (code === 'EINVAL') return 'heartbeat mode is "local" or "global"';
      break;
    case 'dev':
      if (code === 'EINVAL') return 'heartbeat cannot start: the local node must be set, block_bytes/start_block/blocks written and matching the device, and the region not started already';
      if (code === 'EIO') return 'the heartbeat start was interrupted or the region was removed while starting';
      break;
    case 'block_bytes':
      if (code === 'ERANGE' || code === 'EINVAL') return "block_bytes must be the device's logical sector size (a power of two, 512–4096)";
      break;
    case 'blocks':
      if (code === 'ERANGE') return 'blocks is 1–255';
      break;
  }
  if (code === 'EINVAL' && /\/(block_bytes|start_block|blocks)$/.test(path)) return 'region geometry cannot change once heartbeat has started';
  return undefined;
}
