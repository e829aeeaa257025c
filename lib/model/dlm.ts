// The fs/dlm control plane as plans (docs/kernel-interfaces.md#fs-dlm-configfs,
// docs/user-stack-daemon.md#lockspace-sequence): what a control daemon writes at start, to answer
// a lockspace join or leave, and when a member dies.
// Pure: returns AttrOps for the executor (the daemon, or a test answering joins by hand).
import { isIPv4, isIPv6 } from 'node:net';
import type { AttrOp } from '../kernel/backend.js';
import { DLM_ROOT } from './paths.js';

export const DLM_CLUSTER = `${DLM_ROOT}/cluster`;
export const dlmPaths = {
  comm: (id: number) => `${DLM_CLUSTER}/comms/${id}`,
  space: (ls: string) => `${DLM_CLUSTER}/spaces/${ls}`,
  spaceNode: (ls: string, id: number) => `${DLM_CLUSTER}/spaces/${ls}/nodes/${id}`,
  sysfs: (ls: string, attr: 'control' | 'event_done' | 'id') => `/sys/kernel/dlm/${ls}/${attr}`,
};

export interface DlmMember {
  nodeid: number;
  /** up to 3 addresses, IPv4 or IPv6 (the family must match the local node's first address) */
  addresses: string[];
}

/**
 * struct sockaddr_storage (128 bytes) holding a sockaddr_in or sockaddr_in6: the dlm `addr`
 * attribute takes exactly these bytes (family in host order; the port is ignored by the kernel).
 */
export function sockaddrStorage(ip: string): Buffer {
  const b = Buffer.alloc(128);
  if (isIPv4(ip)) {
    b.writeUInt16LE(2, 0); // AF_INET
    ip.split('.').forEach((o, i) => (b[4 + i] = Number(o)));
  } else if (isIPv6(ip)) {
    b.writeUInt16LE(10, 0); // AF_INET6
    expandIPv6(ip).forEach((g, i) => b.writeUInt16BE(g, 8 + 2 * i));
  } else {
    throw new TypeError(`'${ip}' is not an IPv4 or IPv6 address`);
  }
  return b;
}

function expandIPv6(ip: string): number[] {
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const parse = (s: string | undefined) => (s ? s.split(':').filter(Boolean) : []);
  let h = parse(head);
  let t = parse(tail);
  const v4 = (arr: string[]) => {
    const last = arr[arr.length - 1];
    if (last && last.includes('.')) {
      const o = last.split('.').map(Number);
      arr.splice(arr.length - 1, 1, ((o[0]! << 8) | o[1]!).toString(16), ((o[2]! << 8) | o[3]!).toString(16));
    }
    return arr;
  };
  h = v4(h);
  t = v4(t);
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.map((g) => Number.parseInt(g, 16));
}

/** The global lockspace id written to /sys/kernel/dlm/<ls>/id: FNV-1a 32 of the name (never 0), the same on every node. */
export function lockspaceId(name: string): number {
  let h = 0x811c9dc5;
  for (const c of Buffer.from(name)) h = Math.imul(h ^ c, 0x01000193) >>> 0;
  return h === 0 ? 1 : h;
}

export interface DlmClusterConfig {
  /** must equal corosync's cluster name and the volumes' (checked by the kernel when recoverCallbacks) */
  clusterName: string;
  /** 1: ocfs2 learns of node death through dlm recovery callbacks (NO_CONTROLD mode) */
  recoverCallbacks: boolean;
  localNodeId: number;
  members: DlmMember[];
}

/** Daemon start: the cluster directory, its settings, and a comm per member (nodeid, then local, then addresses). */
export function dlmStartOps(c: DlmClusterConfig, existingComms: number[] = []): AttrOp[] {
  if (!c.members.some((m) => m.nodeid === c.localNodeId)) throw new Error(`the local node ${c.localNodeId} is not a member`);
  const ops: AttrOp[] = [
    { op: 'mkdir', path: DLM_CLUSTER },
    // stored verbatim: no newline
    { op: 'write', path: `${DLM_CLUSTER}/cluster_name`, data: c.clusterName },
    { op: 'write', path: `${DLM_CLUSTER}/recover_callbacks`, data: c.recoverCallbacks ? '1' : '0' },
  ];
  for (const m of c.members) {
    if (existingComms.includes(m.nodeid)) continue;
    ops.push(...commOps(m, m.nodeid === c.localNodeId));
  }
  return ops;
}

/** A member's comm: nodeid first (addr is registered under the current nodeid), local, then each address. */
export function commOps(m: DlmMember, local: boolean): AttrOp[] {
  if (m.addresses.length === 0 || m.addresses.length > 3) throw new Error(`node ${m.nodeid}: 1 to 3 addresses, not ${m.addresses.length}`);
  return [
    { op: 'mkdir', path: dlmPaths.comm(m.nodeid) },
    { op: 'write', path: `${dlmPaths.comm(m.nodeid)}/nodeid`, data: String(m.nodeid) },
    ...(local ? [{ op: 'write' as const, path: `${dlmPaths.comm(m.nodeid)}/local`, data: '1' }] : []),
    ...m.addresses.map((a) => ({ op: 'write' as const, path: `${dlmPaths.comm(m.nodeid)}/addr`, data: sockaddrStorage(a) })),
  ];
}

/**
 * The answer to a lockspace `online` uevent once the members agree: the members (their comms must
 * exist already), the global id, start, and event_done 0 — the kernel waits uninterruptibly for it.
 */
export function joinOps(ls: string, memberIds: number[]): AttrOp[] {
  return [
    { op: 'mkdir', path: dlmPaths.space(ls) },
    ...memberIds.flatMap((id) => [
      { op: 'mkdir' as const, path: dlmPaths.spaceNode(ls, id) },
      { op: 'write' as const, path: `${dlmPaths.spaceNode(ls, id)}/nodeid`, data: String(id) },
    ]),
    { op: 'write', path: dlmPaths.sysfs(ls, 'id'), data: String(lockspaceId(ls)) },
    { op: 'write', path: dlmPaths.sysfs(ls, 'control'), data: '1' },
    { op: 'write', path: dlmPaths.sysfs(ls, 'event_done'), data: '0' },
  ];
}

/** A join that cannot be done is still answered: event_done with the negative errno (never leave the kernel waiting). */
export function failEventOps(ls: string, errno: number): AttrOp[] {
  return [{ op: 'write', path: dlmPaths.sysfs(ls, 'event_done'), data: String(-Math.abs(errno)) }];
}

/** The answer to `offline`: members and the space removed, event_done 0. */
export function leaveOps(ls: string, memberIds: number[]): AttrOp[] {
  return [
    ...memberIds.map((id) => ({ op: 'rmdir' as const, path: dlmPaths.spaceNode(ls, id) })),
    { op: 'rmdir', path: dlmPaths.space(ls) },
    { op: 'write', path: dlmPaths.sysfs(ls, 'event_done'), data: '0' },
  ];
}

/**
 * A member died (after fencing succeeded): stop every lockspace it was in, remove its comm (so the
 * kernel counts it as failed and calls ocfs2's recover_slot) and its space entries, start again.
 * Every node must have stopped before any node starts: the caller's membership layer orders that;
 * these are the local steps split at that barrier.
 */
export function memberDeathOps(lockspaces: string[], dead: number): { stop: AttrOp[]; restart: AttrOp[] } {
  return {
    stop: lockspaces.map((ls) => ({ op: 'write' as const, path: dlmPaths.sysfs(ls, 'control'), data: '0' })),
    restart: [
      { op: 'rmdir', path: dlmPaths.comm(dead) },
      ...lockspaces.map((ls) => ({ op: 'rmdir' as const, path: dlmPaths.spaceNode(ls, dead) })),
      ...lockspaces.map((ls) => ({ op: 'write' as const, path: dlmPaths.sysfs(ls, 'control'), data: '1' })),
    ],
  };
}
