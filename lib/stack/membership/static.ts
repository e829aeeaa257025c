// A static, in-process membership: a fixed node list, no corosync. For tests and the VM demo.
//
// StaticCluster is a hub that simulates a whole cluster in one process. Each node's
// MembershipSource comes from cluster.source(nodeid). Group joins, leaves, messages and node
// failures go through ONE queue, drained on the event loop, so every source sees the changes of
// a group and its messages in the same order (as CPG's virtual synchrony guarantees), and a run is
// fully deterministic: the same calls always give the same events in the same order.
//
// Simulation:
//   cluster.nodeDown(id)  the node leaves the cluster (as a crash or a killed corosync would):
//                         its source gets 'down'; every other source sees its group members
//                         leave with 'nodedown', then a 'quorum' event with the node in `left`
//   cluster.nodeUp(id)    the node is back in the cluster membership ('quorum' joined); a new
//                         source for it can then start and join groups
//   source.close()        the process ends without leaving: others see 'procdown'
//   StaticMembership.standalone({localNodeId, nodes}) is one node's source with its own hub, for
//   single-process use; the hub is reachable as source.cluster to simulate the peers.
//
// Quorum: majority of the configured nodes (one vote each) unless quorum: 'always'.
import { EventEmitter } from 'node:events';
import {
  compareMembers,
  hasMajority,
  type ClusterNode,
  type GroupMember,
  type GroupMemberChange,
  type MembershipEvents,
  type MembershipReason,
  type MembershipSource,
  type QuorumChangedEvent,
} from '../../model/membership.js';

export interface StaticClusterOptions {
  /** The configured nodes (node ids, or nodes with names/addresses). */
  nodes: (number | ClusterNode)[];
  /** Nodes that are down at the start (default none). */
  down?: number[];
  /** 'majority' (default): quorate while more than half of the nodes are up. 'always': always. */
  quorum?: 'majority' | 'always';
}

type Delivery = () => void;

export class StaticCluster {
  readonly nodes: ClusterNode[];
  private readonly quorumRule: 'majority' | 'always';
  private readonly up = new Set<number>();
  private readonly live = new Map<number, StaticMembership>();
  /** group -> members in join order */
  private readonly groups = new Map<string, GroupMember[]>();
  private readonly queue: Delivery[] = [];
  private draining = false;
  private idle: (() => void)[] = [];

  constructor(options: StaticClusterOptions) {
    const seen = new Set<number>();
    this.nodes = options.nodes.map((n) => (typeof n === 'number' ? { nodeid: n } : { ...n }));
    for (const n of this.nodes) {
      if (!Number.isInteger(n.nodeid) || n.nodeid <= 0) throw new RangeError(`node ids are positive integers: ${n.nodeid}`);
      if (seen.has(n.nodeid)) throw new RangeError(`node id ${n.nodeid} is listed twice`);
      seen.add(n.nodeid);
    }
    if (this.nodes.length === 0) throw new RangeError('a static cluster needs at least one node');
    this.quorumRule = options.quorum ?? 'majority';
    const down = new Set(options.down ?? []);
    for (const n of this.nodes) if (!down.has(n.nodeid)) this.up.add(n.nodeid);
  }

  /** The live source of a node (created on first use; a new one after the old one ended). */
  source(nodeid: number): StaticMembership {
    this.node(nodeid);
    let s = this.live.get(nodeid);
    if (!s) {
      s = new StaticMembership(this, nodeid);
      this.live.set(nodeid, s);
    }
    return s;
  }

  isUp(nodeid: number): boolean {
    return this.up.has(nodeid);
  }

  quorumState(joined: number[] = [], left: number[] = []): QuorumChangedEvent {
    const nodes = [...this.up].sort((a, b) => a - b);
    const quorate = this.quorumRule === 'always' || hasMajority(nodes.length, this.nodes.length);
    return { quorate, nodes, joined: [...joined], left: [...left] };
  }

  /** Members of a group now (after every queued change was applied). */
  groupMembers(group: string): GroupMember[] {
    return (this.groups.get(group) ?? []).map((m) => ({ ...m })).sort(compareMembers);
  }

  /** The node leaves the cluster (see the file comment). */
  nodeDown(nodeid: number): Promise<void> {
    this.node(nodeid);
    if (!this.up.has(nodeid)) return this.settle();
    this.up.delete(nodeid);
    const dead = this.live.get(nodeid);
    if (dead) {
      this.live.delete(nodeid);
      dead.ended = true;
      this.enqueue(() => dead.deliverDown(new Error(`static membership: node ${nodeid} was taken down (simulated)`)));
    }
    for (const [group, members] of this.groups) {
      const gone = members.filter((m) => m.nodeid === nodeid);
      if (gone.length === 0) continue;
      this.changeGroup(group, [], gone.map((m) => ({ ...m, reason: 'nodedown' as const })));
    }
    const q = this.quorumState([], [nodeid]);
    this.broadcastQuorum(q);
    return this.settle();
  }

  /** The node rejoins the cluster membership. */
  nodeUp(nodeid: number): Promise<void> {
    this.node(nodeid);
    if (this.up.has(nodeid)) return this.settle();
    this.up.add(nodeid);
    this.broadcastQuorum(this.quorumState([nodeid], []));
    return this.settle();
  }

  /** Resolves once every queued event has been emitted. */
  settle(): Promise<void> {
    if (this.queue.length === 0 && !this.draining) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  // ---- used by StaticMembership ----

  node(nodeid: number): ClusterNode {
    const n = this.nodes.find((x) => x.nodeid === nodeid);
    if (!n) throw new RangeError(`node ${nodeid} is not in the static node list (${this.nodes.map((x) => x.nodeid).join(', ')})`);
    return n;
  }

  join(source: StaticMembership, group: string): void {
    const members = this.groups.get(group) ?? [];
    if (members.some((m) => m.nodeid === source.nodeid && m.pid === source.pid)) {
      throw Object.assign(new Error(`already in group '${group}'`), { code: 'CS_ERR_EXIST' });
    }
    const m = this.member(source);
    this.changeGroup(group, [{ ...m, reason: 'join' }], []);
  }

  leave(source: StaticMembership, group: string, reason: MembershipReason): void {
    const members = this.groups.get(group) ?? [];
    const m = members.find((x) => x.nodeid === source.nodeid && x.pid === source.pid);
    if (!m) return;
    this.changeGroup(group, [], [{ ...m, reason }]);
  }

  send(source: StaticMembership, group: string, data: Buffer): void {
    const members = this.groups.get(group) ?? [];
    if (!members.some((m) => m.nodeid === source.nodeid && m.pid === source.pid)) {
      throw Object.assign(new Error(`not in group '${group}': join it first`), { code: 'CS_ERR_NOT_EXIST' });
    }
    const recipients = members.map((m) => this.live.get(m.nodeid)).filter((s): s is StaticMembership => s !== undefined);
    const msg = { group, nodeid: source.nodeid, pid: source.pid, data: Buffer.from(data) };
    this.enqueue(() => {
      for (const r of recipients) r.deliverMessage({ ...msg, data: Buffer.from(msg.data) });
    });
  }

  /** A source ended (close or nodeDown): it is no longer the node's live source. */
  ended(source: StaticMembership): void {
    if (this.live.get(source.nodeid) === source) this.live.delete(source.nodeid);
    for (const [group, members] of this.groups) {
      if (members.some((m) => m.nodeid === source.nodeid && m.pid === source.pid)) this.leave(source, group, 'procdown');
    }
  }

  enqueue(d: Delivery): void {
    this.queue.push(d);
    if (!this.draining) {
      this.draining = true;
      setImmediate(() => this.drain());
    }
  }

  private member(source: StaticMembership): GroupMember {
    const n = this.node(source.nodeid);
    const m: GroupMember = { nodeid: source.nodeid, pid: source.pid };
    if (n.name !== undefined) m.name = n.name;
    return m;
  }

  private changeGroup(group: string, joined: GroupMemberChange[], left: GroupMemberChange[]): void {
    const before = this.groups.get(group) ?? [];
    const isLeft = (m: GroupMember) => left.some((l) => l.nodeid === m.nodeid && l.pid === m.pid);
    const after = [...before.filter((m) => !isLeft(m)), ...joined.map(({ reason: _r, ...m }) => m)];
    if (after.length === 0) this.groups.delete(group);
    else this.groups.set(group, after);
    const members = after.map((m) => ({ ...m })).sort(compareMembers);
    // Recipients: the members after the change, plus those that left with 'leave' (a leaving
    // process sees its own leave, as with CPG).
    const recipients = new Set<StaticMembership>();
    for (const m of after) {
      const s = this.live.get(m.nodeid);
      if (s && s.pid === m.pid) recipients.add(s);
    }
    for (const l of left) {
      const s = this.live.get(l.nodeid);
      if (s && s.pid === l.pid && l.reason === 'leave') recipients.add(s);
    }
    const ev = { group, members, joined: joined.map((j) => ({ ...j })), left: left.map((l) => ({ ...l })) };
    this.enqueue(() => {
      for (const r of recipients) r.deliverMembers(structuredClone(ev));
    });
  }

  private broadcastQuorum(q: QuorumChangedEvent): void {
    const recipients = [...this.live.values()].filter((s) => this.up.has(s.nodeid));
    this.enqueue(() => {
      for (const r of recipients) r.deliverQuorum({ ...q, nodes: [...q.nodes], joined: [...q.joined], left: [...q.left] });
    });
  }

  private drain(): void {
    // Bounded per turn so a runaway sender cannot starve the loop; the rest on the next turn.
    for (let i = 0; i < 10000 && this.queue.length > 0; i++) {
      const d = this.queue.shift() as Delivery;
      d();
    }
    if (this.queue.length > 0) {
      setImmediate(() => this.drain());
      return;
    }
    this.draining = false;
    const idle = this.idle;
    this.idle = [];
    for (const f of idle) f();
  }
}

/** One node's view of a StaticCluster. */
export class StaticMembership extends EventEmitter<MembershipEvents> implements MembershipSource {
  readonly kind = 'static';
  readonly cluster: StaticCluster;
  readonly nodeid: number;
  /** The simulated member process id (1 on every node). */
  readonly pid = 1;
  /** Set when the source was closed or its node taken down. */
  ended = false;
  private started = false;
  private readonly joinedGroups = new Map<string, GroupMember[]>();
  private readonly leaving = new Map<string, () => void>();
  private lastQuorum: QuorumChangedEvent;

  constructor(cluster: StaticCluster, nodeid: number) {
    super();
    this.cluster = cluster;
    this.nodeid = nodeid;
    this.lastQuorum = cluster.quorumState();
  }

  /** A single node's source on a fresh hub (the hub is `.cluster`, to simulate the others). */
  static standalone(options: StaticClusterOptions & { localNodeId: number }): StaticMembership {
    return new StaticCluster(options).source(options.localNodeId);
  }

  async start(): Promise<void> {
    this.alive();
    if (this.started) return;
    if (!this.cluster.isUp(this.nodeid)) {
      throw Object.assign(new Error(`static membership: node ${this.nodeid} is down; cluster.nodeUp(${this.nodeid}) first`), { code: 'CS_ERR_LIBRARY' });
    }
    this.started = true;
    this.lastQuorum = this.cluster.quorumState();
    const initial = this.cluster.quorumState(this.lastQuorum.nodes, []);
    this.cluster.enqueue(() => this.deliverQuorum(initial));
  }

  localNodeId(): number {
    return this.nodeid;
  }

  clusterNodes(): ClusterNode[] {
    return this.cluster.nodes.map((n) => ({ ...n }));
  }

  quorum(): QuorumChangedEvent {
    return { ...this.lastQuorum, nodes: [...this.lastQuorum.nodes], joined: [...this.lastQuorum.joined], left: [...this.lastQuorum.left] };
  }

  isQuorate(): boolean {
    return this.lastQuorum.quorate;
  }

  members(group: string): GroupMember[] {
    return (this.joinedGroups.get(group) ?? []).map((m) => ({ ...m }));
  }

  async joinGroup(group: string): Promise<void> {
    this.running();
    if (group.length === 0) throw new TypeError('group must not be empty');
    if (this.joinedGroups.has(group)) throw Object.assign(new Error(`already in group '${group}'`), { code: 'CS_ERR_EXIST' });
    this.joinedGroups.set(group, []);
    this.cluster.join(this, group);
  }

  async leaveGroup(group: string): Promise<void> {
    this.running();
    if (!this.joinedGroups.has(group)) return;
    const done = new Promise<void>((resolve) => this.leaving.set(group, resolve));
    this.cluster.leave(this, group, 'leave');
    await done;
  }

  async send(group: string, data: Buffer | string): Promise<void> {
    this.sendNow(group, data);
  }

  /** Always sends at once (there is no flow control here). */
  sendNow(group: string, data: Buffer | string): boolean {
    this.running();
    if (!this.joinedGroups.has(group)) throw Object.assign(new Error(`not in group '${group}': join it first`), { code: 'CS_ERR_NOT_EXIST' });
    this.cluster.send(this, group, Buffer.from(data));
    return true;
  }

  async close(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    this.cluster.ended(this);
    this.joinedGroups.clear();
    for (const f of this.leaving.values()) f();
    this.leaving.clear();
  }

  // ---- deliveries from the hub (on the event loop, in hub order) ----

  deliverMembers(ev: MembershipEvents['members'][0]): void {
    const leavingSelf = ev.left.some((l) => l.nodeid === this.nodeid && l.pid === this.pid);
    if (leavingSelf) {
      this.joinedGroups.delete(ev.group);
      const f = this.leaving.get(ev.group);
      this.leaving.delete(ev.group);
      this.emit('members', ev);
      f?.();
      return;
    }
    if (this.ended || !this.joinedGroups.has(ev.group)) return;
    this.joinedGroups.set(ev.group, ev.members.map((m) => ({ ...m })));
    this.emit('members', ev);
  }

  deliverMessage(msg: MembershipEvents['message'][0]): void {
    if (this.ended || !this.joinedGroups.has(msg.group)) return;
    this.emit('message', msg);
  }

  deliverQuorum(q: QuorumChangedEvent): void {
    if (this.ended || !this.started) return;
    this.lastQuorum = q;
    this.emit('quorum', q);
  }

  deliverDown(err: Error): void {
    if (!this.started) return;
    this.joinedGroups.clear();
    for (const f of this.leaving.values()) f();
    this.leaving.clear();
    this.emit('down', err);
  }

  private alive(): void {
    if (this.ended) throw Object.assign(new Error(`static membership of node ${this.nodeid} has ended (closed or node down)`), { code: 'CS_ERR_BAD_HANDLE' });
  }

  private running(): void {
    this.alive();
    if (!this.started) throw Object.assign(new Error('static membership: call start() first'), { code: 'CS_ERR_BAD_HANDLE' });
  }
}
