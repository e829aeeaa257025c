// MembershipSource over corosync: quorum from libquorum, one CPG connection per group (corosync
// allows one group per connection), node names from cmap's nodelist.
//
// 'down' is emitted once, when corosync goes away (any connection reports it): every group and
// the quorum connection are then closed, as dlm_controld exits in that case.
import { EventEmitter } from 'node:events';
import {
  CorosyncError,
  CpgGroup,
  Quorum,
  corosyncLocalNodeId,
  readCorosyncConfig,
  type CorosyncConfig,
  type CpgConfchg,
  type CpgMember,
  type QuorumChange,
  type RetryOptions,
} from '../../kernel/corosync.js';
import type { NativeCorosync } from '../../kernel/native.js';
import {
  compareMembers,
  type ClusterNode,
  type GroupMember,
  type GroupMemberChange,
  type MembershipEvents,
  type MembershipReason,
  type MembershipSource,
  type QuorumChangedEvent,
} from '../../model/membership.js';

export interface CorosyncMembershipOptions extends RetryOptions {
  /** Keep the process alive while connected (default true). */
  ref?: boolean;
  native?: NativeCorosync;
}

const notJoined = (group: string) => new CorosyncError({ code: 'CS_ERR_NOT_EXIST', csError: 12, call: 'cpg_mcast_joined', subject: group, hint: 'join the group first' });

export class CorosyncMembership extends EventEmitter<MembershipEvents> implements MembershipSource {
  readonly kind = 'corosync';
  private readonly options: CorosyncMembershipOptions;
  private q: Quorum | undefined;
  private config: CorosyncConfig | undefined;
  private nodeid = 0;
  private readonly groups = new Map<string, CpgGroup>();
  private lastQuorum: QuorumChangedEvent = { quorate: false, nodes: [], joined: [], left: [] };
  private isDown = false;
  private closed = false;

  constructor(options: CorosyncMembershipOptions = {}) {
    super();
    this.options = options;
  }

  /** The cmap configuration read at start (cluster name, nodelist). */
  get corosyncConfig(): CorosyncConfig | undefined {
    return this.config;
  }

  async start(): Promise<void> {
    if (this.q) return;
    this.config = await readCorosyncConfig(this.options);
    const q = await Quorum.open({ ...this.options, ref: this.options.ref });
    this.q = q;
    const initial = q.current as QuorumChange;
    this.lastQuorum = { quorate: initial.quorate, nodes: initial.members, joined: initial.members, left: [] };
    q.on('change', (c) => {
      this.lastQuorum = { quorate: c.quorate, nodes: c.members, joined: c.joined, left: c.left };
      this.emit('quorum', { ...this.lastQuorum });
    });
    q.on('down', (e) => this.goDown(e));
    // The local node id: from cmap's local_node_pos, else ask CPG on a short-lived connection.
    if (this.config.localNodeId !== undefined) {
      this.nodeid = this.config.localNodeId;
    } else {
      this.nodeid = await corosyncLocalNodeId(this.options);
    }
    // The initial state, after start() resolved, as an event too.
    const first = { ...this.lastQuorum };
    setImmediate(() => {
      if (!this.isDown && !this.closed) this.emit('quorum', first);
    });
  }

  localNodeId(): number {
    this.started();
    return this.nodeid;
  }

  clusterNodes(): ClusterNode[] {
    return (this.config?.nodes ?? []).map((n) => {
      const c: ClusterNode = { nodeid: n.nodeid };
      if (n.name !== undefined) c.name = n.name;
      if (n.ring0Addr !== undefined) c.addr = n.ring0Addr;
      return c;
    });
  }

  quorum(): QuorumChangedEvent {
    return { ...this.lastQuorum, nodes: [...this.lastQuorum.nodes], joined: [...this.lastQuorum.joined], left: [...this.lastQuorum.left] };
  }

  isQuorate(): boolean {
    return this.lastQuorum.quorate;
  }

  members(group: string): GroupMember[] {
    const g = this.groups.get(group);
    return g ? g.members().map((m) => this.member(m)).sort(compareMembers) : [];
  }

  async joinGroup(group: string): Promise<void> {
    this.started();
    if (this.groups.has(group)) throw new CorosyncError({ code: 'CS_ERR_EXIST', csError: 14, call: 'cpg_join', subject: group, hint: 'already joined' });
    const g = await CpgGroup.join(group, this.options);
    if (this.isDown || this.closed) {
      g.close();
      throw new CorosyncError({ code: 'CS_ERR_BAD_HANDLE', csError: 9, call: 'cpg_join', subject: group, hint: 'the membership source is closed' });
    }
    this.groups.set(group, g);
    g.on('confchg', (c) => this.emit('members', this.change(c)));
    // the group's message object itself (group, nodeid, pid, data): one object per message
    g.on('message', (m) => this.emit('message', m));
    g.on('down', (e) => this.goDown(e));
  }

  async leaveGroup(group: string): Promise<void> {
    const g = this.groups.get(group);
    if (!g) return;
    await g.leave(this.options);
    this.groups.delete(group);
  }

  // not async: g.send's promise is returned as it is (POSIX locks come through sendNow below)
  send(group: string, data: Buffer | string): Promise<void> {
    const g = this.groups.get(group);
    if (!g) return Promise.reject(notJoined(group));
    return g.send(data);
  }

  sendNow(group: string, data: Buffer | string): boolean {
    const g = this.groups.get(group);
    if (!g) throw notJoined(group);
    return g.sendNow(data);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const g of this.groups.values()) g.close();
    this.groups.clear();
    this.q?.close();
  }

  ref(): void {
    this.q?.ref();
    for (const g of this.groups.values()) g.ref();
  }

  unref(): void {
    this.q?.unref();
    for (const g of this.groups.values()) g.unref();
  }

  private started(): void {
    if (!this.q) throw new CorosyncError({ code: 'CS_ERR_BAD_HANDLE', csError: 9, call: 'start', hint: 'call start() first' });
  }

  private goDown(e: Error): void {
    if (this.isDown || this.closed) return;
    this.isDown = true;
    for (const g of this.groups.values()) g.close();
    this.groups.clear();
    this.q?.close();
    this.emit('down', e);
  }

  private nodeName(nodeid: number): string | undefined {
    return this.config?.nodes.find((n) => n.nodeid === nodeid)?.name;
  }

  private member(m: { nodeid: number; pid: number }): GroupMember {
    const out: GroupMember = { nodeid: m.nodeid, pid: m.pid };
    const name = this.nodeName(m.nodeid);
    if (name !== undefined) out.name = name;
    return out;
  }

  private memberChange(m: CpgMember): GroupMemberChange {
    // CPG's 'undefined' only appears in member lists; in joined/left it would be a corosync bug.
    const reason: MembershipReason = m.reason === 'undefined' ? 'procdown' : m.reason;
    return { ...this.member(m), reason };
  }

  private change(c: CpgConfchg): MembershipEvents['members'][0] {
    return {
      group: c.group,
      members: c.members.map((m) => this.member(m)).sort(compareMembers),
      joined: c.joined.map((m) => this.memberChange(m)),
      left: c.left.map((m) => this.memberChange(m)),
    };
  }
}
