// MembershipSource: where the user stack learns who is in the cluster and in each group.
//
// The user stack needs three things from a cluster membership service
// (docs/user-stack-daemon.md#membership):
//   1. the cluster's node membership and whether it is quorate (gates recovery and fencing);
//   2. process groups (one per lockspace, plus a daemon group) whose member changes are seen in
//      the same order on every member, with why each member joined or left;
//   3. messages multicast to a group, delivered to every member (the sender too) in one agreed
//      order, interleaved consistently with the member changes (virtual synchrony).
//
// Two implementations ship: lib/stack/membership/corosync.ts (corosync CPG + quorum, the real
// thing) and lib/stack/membership/static.ts (a fixed node list in one process: for tests and
// the VM demo without corosync; deterministic, and it can simulate a node leaving).
//
// Plugging in another cluster tool
// --------------------------------
// Any object implementing MembershipSource works. The contract, which both shipped
// implementations follow and the user stack relies on:
//   * start() connects and, once it resolves, localNodeId(), quorum() and isQuorate() answer.
//     It emits nothing before it resolves.
//   * joinGroup(g) resolves once the join was requested; the first 'members' event for g that
//     lists this node (pid included) in `joined` follows. leaveGroup(g) resolves after the
//     local leave was delivered (or a bounded wait): no more events for g after that.
//   * 'members' events for a group come in the same order on every member. Each carries the
//     whole member list after the change, plus `joined` and `left` with a reason. A node that
//     crashed or dropped out of the cluster leaves with 'nodedown'; a process that died without
//     leaving leaves with 'procdown'; an orderly leaveGroup() gives 'leave'.
//   * send(g, data) multicasts to g's members in a total order that is the same on every
//     member; the sender receives its own message too ('message' event). Sends from one source
//     are delivered in the order they were made.
//   * 'quorum' events carry the cluster nodes now in the membership, the quorate flag and the
//     nodes that joined or left since the previous event.
//   * 'down' means the source lost its membership service for good (corosync stopped): all
//     groups are gone, nothing more will be emitted, and the stack must treat this node as out.
//   * Events are emitted from the event loop, never synchronously inside a method call.
//   * Node ids are positive integers that are stable for a node (corosync nodeids).
import type { EventEmitter } from 'node:events';

/** Why a member is in a `joined` or `left` list. */
export type MembershipReason =
  /** joined with joinGroup (or its cpg_join) */
  | 'join'
  /** left with leaveGroup */
  | 'leave'
  /** its node left the cluster (crash, network loss, corosync stopped) */
  | 'nodedown'
  /** already a member on a node that has just (re)joined the cluster: a partition merge */
  | 'nodeup'
  /** the process ended (or closed its connection) without leaving */
  | 'procdown';

export interface GroupMember {
  nodeid: number;
  /** The member process on that node (corosync reports the pid; static sources use 1). */
  pid: number;
  /** From the node list, when the source knows it. */
  name?: string;
}

export interface GroupMemberChange extends GroupMember {
  reason: MembershipReason;
}

export interface MembersChangedEvent {
  group: string;
  /** Every member after this change, sorted by nodeid then pid. */
  members: GroupMember[];
  joined: GroupMemberChange[];
  left: GroupMemberChange[];
}

export interface GroupMessageEvent {
  group: string;
  nodeid: number;
  pid: number;
  data: Buffer;
}

export interface QuorumChangedEvent {
  quorate: boolean;
  /** Cluster nodes in the membership now, sorted. */
  nodes: number[];
  joined: number[];
  left: number[];
}

export interface MembershipEvents {
  members: [MembersChangedEvent];
  message: [GroupMessageEvent];
  quorum: [QuorumChangedEvent];
  down: [Error];
}

export interface ClusterNode {
  nodeid: number;
  name?: string;
  /** First link address, when known (corosync ring0_addr). */
  addr?: string;
}

/** A cluster membership service, as seen by the user stack. See the contract above. */
export interface MembershipSource extends EventEmitter<MembershipEvents> {
  /** 'corosync', 'static', or a plug-in's own name. */
  readonly kind: string;
  start(): Promise<void>;
  localNodeId(): number;
  /** The configured cluster nodes (all of them, up or not), when known. */
  clusterNodes(): ClusterNode[];
  /** Cluster membership now (from the last quorum event). */
  quorum(): QuorumChangedEvent;
  isQuorate(): boolean;
  /** Members of a joined group as of its last 'members' event ([] if not joined). */
  members(group: string): GroupMember[];
  joinGroup(group: string): Promise<void>;
  leaveGroup(group: string): Promise<void>;
  send(group: string, data: Buffer | string): Promise<void>;
  /**
   * Optional: multicasts now if it can without waiting — true once sent, false when it must wait
   * (then send() queues it behind what waits, in order); throws what send() would reject with. For
   * a caller that sends per request and wants no promise for the common case.
   */
  sendNow?(group: string, data: Buffer | string): boolean;
  /** Disconnects (groups are closed without leaving: others see 'procdown'). Idempotent. */
  close(): Promise<void>;
}

export function compareMembers(a: GroupMember, b: GroupMember): number {
  return a.nodeid - b.nodeid || a.pid - b.pid;
}

/** Majority of the given votes (votequorum's default rule with one vote per node). */
export function hasMajority(present: number, expected: number): boolean {
  return present * 2 > expected;
}
