import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DlmControlModel, type DaemonAction, type DaemonEvent } from '../../lib/model/dlmDaemon.js';
import { changeTag, decodeStart, encodeStart, GroupBarrier, lockspaceGroupName, lockspaceOfGroup } from '../../lib/model/lockspaceGroup.js';
import type { GroupMember, GroupMemberChange, MembershipReason } from '../../lib/model/membership.js';

const C = '/sys/kernel/config/dlm/cluster';
const K = '/sys/kernel/dlm';
const LS = 'AB12CD';
const pidOf = (id: number) => id * 100;
const fencedIds = (s: { fenced: { nodeid: number }[] }) => s.fenced.map((f) => f.nodeid).sort();

// A cluster of daemon models under a CPG-like hub: one global queue of deliveries (confchgs and
// messages), each delivered to the group's members of that moment, in the same order everywhere
// (virtual synchrony). Each node has a tiny kernel: configfs members, control, event_done.
class Sim {
  readonly models = new Map<number, DlmControlModel>();
  readonly groups = new Map<string, GroupMember[]>();
  readonly queue: { to: number[]; ev: DaemonEvent }[] = [];
  readonly kernel = new Map<number, { members: Map<string, Set<number>>; control: Map<string, string>; eventDone: Map<string, string[]>; comms: Set<number> }>();
  readonly fenced: { by: number; nodeid: number }[] = [];
  /** nodes whose model asked to exit (a stateful merge lost) */
  readonly exits: number[] = [];
  readonly groupEvents = new Map<number, { ls: string; nodes: number[] }[]>();
  autoFence = true;
  /** deliveries held back (messages only) to reorder them: delivered by release() */
  hold: ((e: DaemonEvent, to: number) => boolean) | undefined;
  readonly held: { to: number; ev: DaemonEvent }[] = [];
  t = 0;
  /** a partition: the sides, each a list of nodes; group views are then kept per side ('group#side') */
  sides: number[][] | undefined;

  constructor(readonly ids: number[]) {
    for (const id of ids) {
      this.models.set(id, new DlmControlModel({ localNodeId: id, nodes: ids.map((i) => ({ nodeid: i, addresses: [`192.0.2.${i}`] })), membership: 'groups' }));
      this.kernel.set(id, { members: new Map(), control: new Map(), eventDone: new Map(), comms: new Set(ids) });
      this.groupEvents.set(id, []);
    }
  }

  model(id: number): DlmControlModel {
    return this.models.get(id)!;
  }

  feed(id: number, ev: DaemonEvent): void {
    if (!this.models.has(id)) return;
    this.act(id, this.model(id).handle(ev));
  }

  /** the key of a group's view as node id sees it (its side's, while partitioned) */
  private gk(group: string, id: number): string {
    return this.sides ? `${group}#${this.sides.findIndex((s) => s.includes(id))}` : group;
  }

  /** The network splits: each side sees the others leave with nodedown (quorum is fed by the test). */
  partition(sides: number[][]): void {
    this.sides = sides;
    for (const [g, ms] of [...this.groups]) {
      this.groups.delete(g);
      sides.forEach((side, i) => {
        const here = ms.filter((m) => side.includes(m.nodeid));
        const gone = ms.filter((m) => !side.includes(m.nodeid));
        if (here.length === 0) return;
        this.groups.set(`${g}#${i}`, here);
        if (gone.length > 0) this.confchg(g, here, [], gone.map((m) => ({ ...m, reason: 'nodedown' as MembershipReason })));
      });
    }
  }

  /** The network heals: each side sees the others' members join with nodeup (CPG's merge). */
  merge(): void {
    this.sides = undefined;
    const base = new Map<string, GroupMember[][]>();
    for (const [k, ms] of [...this.groups]) {
      this.groups.delete(k);
      const g = k.replace(/#\d+$/, '');
      base.set(g, [...(base.get(g) ?? []), ms]);
    }
    for (const [g, views] of base) {
      const all = views.flat().sort((a, b) => a.nodeid - b.nodeid);
      this.groups.set(g, all);
      for (const here of views) {
        const others = all.filter((m) => !here.some((h) => h.nodeid === m.nodeid));
        if (others.length > 0) this.confchg(g, all, others.map((m) => ({ ...m, reason: 'nodeup' as MembershipReason })), [], here.map((m) => m.nodeid));
      }
    }
  }

  private confchg(group: string, members: GroupMember[], joined: GroupMemberChange[], left: GroupMemberChange[], to = members.map((m) => m.nodeid)): void {
    const ls = lockspaceOfGroup(group)!;
    this.queue.push({ to, ev: { type: 'group-change', ls, members, joined, left, at: 0 } });
  }

  act(id: number, acts: DaemonAction[]): void {
    const k = this.kernel.get(id)!;
    for (const a of acts) {
      if (a.type === 'group-join') {
        const ms = [...(this.groups.get(this.gk(a.group, id)) ?? []), { nodeid: id, pid: pidOf(id) }].sort((x, y) => x.nodeid - y.nodeid);
        this.groups.set(this.gk(a.group, id), ms);
        this.confchg(a.group, ms, [{ nodeid: id, pid: pidOf(id), reason: 'join' }], []);
      } else if (a.type === 'group-leave') {
        const ms = (this.groups.get(this.gk(a.group, id)) ?? []).filter((m) => m.nodeid !== id);
        this.groups.set(this.gk(a.group, id), ms);
        if (ms.length > 0) this.confchg(a.group, ms, [], [{ nodeid: id, pid: pidOf(id), reason: 'leave' }]);
      } else if (a.type === 'group-send') {
        const to = (this.groups.get(this.gk(a.group, id)) ?? []).map((m) => m.nodeid);
        this.queue.push({ to, ev: { type: 'group-message', ls: a.ls, nodeid: id, pid: pidOf(id), data: a.data, at: 0 } });
      } else if (a.type === 'group') {
        this.groupEvents.get(id)!.push({ ls: a.ls, nodes: a.nodes });
      } else if (a.type === 'exit') {
        this.exits.push(id);
      } else if (a.type === 'fence') {
        this.fenced.push({ by: id, nodeid: a.nodeid });
        if (this.autoFence) this.queue.push({ to: [id], ev: { type: 'fence-result', nodeid: a.nodeid, ok: true, at: 0 } });
      } else if (a.type === 'ops') {
        for (const o of a.ops) {
          let m: RegExpExecArray | null;
          if ((m = /spaces\/([^/]+)\/nodes\/(\d+)$/.exec(o.path))) {
            const set = k.members.get(m[1]!) ?? new Set<number>();
            k.members.set(m[1]!, set);
            if (o.op === 'mkdir') set.add(Number(m[2]));
            else if (o.op === 'rmdir') set.delete(Number(m[2]));
          } else if ((m = /spaces\/([^/]+)$/.exec(o.path)) && o.op === 'rmdir') {
            k.members.delete(m[1]!);
          } else if ((m = /comms\/(\d+)$/.exec(o.path)) && o.op === 'rmdir') {
            k.comms.delete(Number(m[1]));
          } else if ((m = /dlm\/([^/]+)\/control$/.exec(o.path))) {
            k.control.set(m[1]!, String(o.data));
          } else if ((m = /dlm\/([^/]+)\/event_done$/.exec(o.path))) {
            k.eventDone.set(m[1]!, [...(k.eventDone.get(m[1]!) ?? []), String(o.data)]);
          }
        }
      }
    }
  }

  /** One delivery from the queue; false when empty. */
  step(): boolean {
    const d = this.queue.shift();
    if (!d) return false;
    for (const to of d.to) {
      const ev = { ...d.ev, at: ++this.t } as DaemonEvent;
      if (this.hold?.(ev, to)) this.held.push({ to, ev });
      else this.feed(to, ev);
    }
    return true;
  }

  /** Delivers until quiet (bounded). */
  run(max = 2000): void {
    for (let i = 0; i < max; i++) if (!this.step()) return;
    assert.fail(`no quiet after ${max} deliveries`);
  }

  release(order: (a: { to: number; ev: DaemonEvent }, b: { to: number; ev: DaemonEvent }) => number = () => 0): void {
    this.hold = undefined;
    const h = this.held.splice(0).sort(order);
    for (const x of h) this.feed(x.to, x.ev);
  }

  online(id: number, ls = LS): void {
    this.feed(id, { type: 'online', ls, at: ++this.t });
  }

  offline(id: number, ls = LS): void {
    this.feed(id, { type: 'offline', ls, at: ++this.t });
  }

  /** The node dies: its group memberships end with nodedown, the others' quorum drops it. */
  kill(id: number, quorumFirst = false): void {
    this.models.delete(id);
    const downs = () => {
      for (const o of this.ids) if (o !== id && this.models.has(o)) this.queue.push({ to: [o], ev: { type: 'node-down', nodeid: id, at: 0 } });
    };
    if (quorumFirst) downs();
    for (const [g, ms] of this.groups) {
      if (!ms.some((m) => m.nodeid === id)) continue;
      const left = ms.filter((m) => m.nodeid !== id);
      this.groups.set(g, left);
      if (left.length > 0) this.confchg(g, left, [], [{ nodeid: id, pid: pidOf(id), reason: 'nodedown' as MembershipReason }]);
    }
    if (!quorumFirst) downs();
  }

  /** The node's daemon exits (the node stays in the cluster): its groups say procdown, no quorum event. */
  exitDaemon(id: number): void {
    this.models.delete(id);
    for (const [g, ms] of this.groups) {
      if (!ms.some((m) => m.nodeid === id)) continue;
      const left = ms.filter((m) => m.nodeid !== id);
      this.groups.set(g, left);
      if (left.length > 0) this.confchg(g, left, [], [{ nodeid: id, pid: pidOf(id), reason: 'procdown' as MembershipReason }]);
    }
  }

  members(id: number, ls = LS): number[] {
    return [...(this.kernel.get(id)!.members.get(ls) ?? [])].sort((a, b) => a - b);
  }

  state(id: number, ls = LS): string | undefined {
    return this.model(id).lockspaces.get(ls)?.state;
  }
}

describe('lockspace groups (CPG barrier) in the daemon model', function () {
  it('tags, names and start messages', function () {
    assert.equal(lockspaceGroupName('X'), 'dlm:ls:X');
    assert.equal(lockspaceOfGroup('dlm:ls:X'), 'X');
    assert.equal(lockspaceOfGroup('o2s:other'), undefined);
    const a = changeTag({ members: [{ nodeid: 2, pid: 5 }, { nodeid: 1, pid: 9 }], joined: [{ nodeid: 2, pid: 5, reason: 'join' }], left: [] });
    assert.equal(a, 'm=1:9,2:5;j=2:5/join;l=');
    assert.equal(changeTag({ members: [{ nodeid: 1, pid: 9 }, { nodeid: 2, pid: 5 }], joined: [{ nodeid: 2, pid: 5, reason: 'join' }], left: [] }), a, 'order-independent');
    assert.deepEqual(decodeStart(encodeStart({ type: 'start', ls: 'X', tag: a })), { type: 'start', ls: 'X', tag: a });
    assert.equal(decodeStart('{"type":"other"}'), undefined);
    assert.equal(decodeStart('not json'), undefined);
  });

  it('barrier: complete only with every member\'s start for the same change; stale, early, duplicate and foreign starts', function () {
    const b = new GroupBarrier();
    const m1 = { nodeid: 1, pid: 1 };
    const m2 = { nodeid: 2, pid: 2 };
    const m3 = { nodeid: 3, pid: 3 };
    const t1 = b.change({ members: [m1, m2], joined: [{ ...m2, reason: 'join' }], left: [] });
    assert.equal(b.start(m1, t1), 'counted');
    assert.equal(b.start(m1, t1), 'duplicate');
    assert.equal(b.start(m3, t1), 'not-a-member');
    assert.equal(b.complete(), false);
    assert.deepEqual(b.missing(), [2]);
    const t2 = b.change({ members: [m1, m2, m3], joined: [{ ...m3, reason: 'join' }], left: [] });
    assert.equal(b.start(m2, t1), 'stale', 'a start for the superseded change');
    // a start for a change not seen yet: kept for the next change only
    const t3 = changeTag({ members: [m1, m2], joined: [], left: [{ ...m3, reason: 'leave' }] });
    assert.equal(b.start(m2, t3), 'early');
    for (const m of [m1, m2, m3]) b.start(m, t2);
    assert.equal(b.complete(), true);
    assert.deepEqual(b.nodeIds(), [1, 2, 3]);
    assert.equal(b.change({ members: [m1, m2], joined: [], left: [{ ...m3, reason: 'leave' }] }), t3);
    assert.deepEqual(b.missing(), [1], "m2's early start counts for the change it named");
  });

  it('one node: online joins the group; its own start completes the barrier; join answered with event_done 0', function () {
    const s = new Sim([1, 2, 3]);
    s.online(1);
    assert.equal(s.state(1), 'joining');
    assert.match(s.model(1).lockspaces.get(LS)!.waitingFor!, /first change of group dlm:ls:/);
    s.run();
    assert.equal(s.state(1), 'running');
    assert.deepEqual(s.members(1), [1]);
    assert.deepEqual(s.kernel.get(1)!.eventDone.get(LS), ['0']);
    assert.deepEqual(s.model(1).groups(), [{ ls: LS, nodes: [1], joined: [], left: [] }]);
  });

  it('a node joining a running lockspace: the others stop, all exchange starts, identical members everywhere; the joiner gets event_done 0 once', function () {
    const s = new Sim([1, 2, 3]);
    s.online(1);
    s.run();
    s.online(2);
    // node 2's confchg reaches node 1 (which stops), both send starts
    s.step();
    assert.equal(s.kernel.get(1)!.control.get(LS), '0', 'node 1 stopped for the change');
    assert.equal(s.state(1), 'stopped');
    s.run();
    for (const id of [1, 2]) {
      assert.equal(s.state(id), 'running');
      assert.deepEqual(s.members(id), [1, 2]);
      assert.equal(s.kernel.get(id)!.control.get(LS), '1');
    }
    assert.deepEqual(s.kernel.get(2)!.eventDone.get(LS), ['0']);
    assert.deepEqual(s.kernel.get(1)!.eventDone.get(LS), ['0'], 'node 1 answered only its own join');
    s.online(3);
    s.run();
    for (const id of [1, 2, 3]) assert.deepEqual(s.members(id), [1, 2, 3]);
    for (const id of [1, 2, 3]) assert.deepEqual(s.groupEvents.get(id)!.at(-1), { ls: LS, nodes: [1, 2, 3] });
    assert.deepEqual(s.fenced, []);
  });

  it('two nodes joining at once (two confchgs back to back): the stale starts are ignored; all end with the same three members', function () {
    const s = new Sim([1, 2, 3]);
    s.online(1);
    s.run();
    s.online(2);
    s.online(3);
    s.run();
    for (const id of [1, 2, 3]) {
      assert.equal(s.state(id), 'running');
      assert.deepEqual(s.members(id), [1, 2, 3]);
    }
    assert.deepEqual(s.kernel.get(2)!.eventDone.get(LS), ['0']);
    assert.deepEqual(s.kernel.get(3)!.eventDone.get(LS), ['0']);
  });

  it('message reorderings: starts delivered in opposite orders on different nodes give the same result; nothing starts before the last start', function () {
    for (const reverse of [false, true]) {
      const s = new Sim([1, 2, 3]);
      for (const id of [1, 2]) s.online(id);
      s.run();
      s.hold = (e) => e.type === 'group-message';
      s.online(3);
      s.run();
      for (const id of [1, 2, 3]) assert.notEqual(s.state(id), 'running', `node ${id} started before any start message`);
      // node 1 gets the starts in one order, node 2 and 3 in the other
      s.release((a, b) => {
        const ka = a.ev.type === 'group-message' ? a.ev.nodeid : 0;
        const kb = b.ev.type === 'group-message' ? b.ev.nodeid : 0;
        return (a.to === 1) !== reverse ? ka - kb : kb - ka;
      });
      for (const id of [1, 2, 3]) assert.deepEqual([s.state(id), s.members(id)], ['running', [1, 2, 3]], `node ${id}`);
    }
  });

  it('a stale start (sent for a change that was superseded before it arrived) does not complete the newer barrier', function () {
    const s = new Sim([1, 2, 3]);
    for (const id of [1, 2]) s.online(id);
    s.run();
    // node 3 joins; before the starts for that change arrive, node 2 leaves cleanly
    s.online(3);
    s.step(); // confchg +3 to 1,2,3: three starts queued
    s.offline(2); // node 2's leave queued after the starts
    // move node 2's leave confchg before the starts: starts for +3 arrive after the -2 change
    const leave = s.queue.pop()!;
    s.queue.unshift(leave);
    s.step();
    for (let i = 0; i < 3; i++) s.step(); // the three stale starts
    for (const id of [1, 3]) assert.notEqual(s.state(id), 'running', `node ${id} started on stale starts`);
    s.run();
    for (const id of [1, 3]) assert.deepEqual([s.state(id), s.members(id)], ['running', [1, 3]], `node ${id}`);
    assert.deepEqual(s.kernel.get(3)!.eventDone.get(LS), ['0']);
  });

  it('clean leave (the peer unmounts): removed from the lockspace on the others without fencing; its comm stays', function () {
    const s = new Sim([1, 2, 3]);
    for (const id of [1, 2, 3]) s.online(id);
    s.run();
    s.offline(2);
    assert.deepEqual(s.kernel.get(2)!.eventDone.get(LS), ['0', '0'], 'join then leave answered');
    assert.equal(s.kernel.get(2)!.members.has(LS), false);
    s.run();
    for (const id of [1, 3]) {
      assert.deepEqual([s.state(id), s.members(id)], ['running', [1, 3]]);
      assert.ok(s.kernel.get(id)!.comms.has(2), 'comm of a cleanly leaving node stays');
      assert.deepEqual(s.groupEvents.get(id)!.at(-1), { ls: LS, nodes: [1, 3] });
    }
    assert.deepEqual(s.fenced, []);
    assert.equal(s.model(1).nodes.get(2)!.state, 'up');
  });

  it('a member dies (nodedown): stop, fence, comm removed, restart without it; either order of the CPG change and the quorum event', function () {
    for (const quorumFirst of [false, true]) {
      const s = new Sim([1, 2, 3]);
      for (const id of [1, 2, 3]) s.online(id);
      s.run();
      s.autoFence = false;
      s.kill(3, quorumFirst);
      s.run();
      for (const id of [1, 2]) {
        assert.equal(s.state(id), 'stopped', 'no restart before the fence succeeds');
        assert.equal(s.kernel.get(id)!.control.get(LS), '0');
        assert.match(s.model(id).lockspaces.get(LS)!.waitingFor!, /fencing of node 3/);
      }
      assert.deepEqual(s.fenced.map((f) => f.nodeid), [3, 3]);
      for (const id of [1, 2]) s.feed(id, { type: 'fence-result', nodeid: 3, ok: true, at: ++s.t });
      s.run();
      for (const id of [1, 2]) {
        assert.deepEqual([s.state(id), s.members(id)], ['running', [1, 2]], `node ${id} (quorum first: ${quorumFirst})`);
        assert.equal(s.kernel.get(id)!.comms.has(3), false, 'the dead node\'s comm is removed (ocfs2 recovers its slot)');
        assert.equal(s.kernel.get(id)!.control.get(LS), '1');
      }
    }
  });

  it('a member dies mid-barrier (before sending its start): the barrier restarts without it after fencing', function () {
    const s = new Sim([1, 2, 3]);
    for (const id of [1, 2]) s.online(id);
    s.run();
    s.online(3);
    s.step(); // +3 delivered: starts from 1,2,3 queued; node 3 dies before its start goes out
    s.queue.splice(s.queue.findIndex((d) => d.ev.type === 'group-message' && d.ev.nodeid === 3), 1);
    s.kill(3);
    s.run();
    for (const id of [1, 2]) {
      assert.deepEqual([s.state(id), s.members(id)], ['running', [1, 2]], `node ${id}`);
      assert.equal(s.kernel.get(id)!.comms.has(3), false);
    }
    assert.deepEqual(s.fenced.map((f) => f.nodeid).sort(), [3, 3]);
  });

  it('quorum lost: starts and fencing wait; a join is answered -ETIMEDOUT by its timer and leaves the group; recovery when quorum returns', function () {
    const s = new Sim([1, 2, 3]);
    for (const id of [1, 2, 3]) s.online(id);
    s.run();
    s.feed(1, { type: 'quorum', quorate: false, at: ++s.t });
    s.kill(3);
    s.kill(2);
    s.run();
    assert.equal(s.state(1), 'stopped');
    assert.deepEqual(s.fenced, [], 'no fencing without quorum');
    assert.equal(s.model(1).lockspaces.get(LS)!.waitingFor, 'quorum');
    s.online(1, 'NEW');
    s.run();
    assert.equal(s.state(1, 'NEW'), 'joining');
    const t = s.model(1).handle({ type: 'join-timeout', ls: 'NEW', at: ++s.t });
    assert.deepEqual(t.filter((a) => a.type === 'group-leave').map((a) => a.type), ['group-leave']);
    s.act(1, t);
    assert.deepEqual(s.kernel.get(1)!.eventDone.get('NEW'), ['-110']);
    s.feed(1, { type: 'quorum', quorate: true, at: ++s.t });
    s.run();
    assert.deepEqual([s.state(1), s.members(1)], ['running', [1]]);
    assert.deepEqual(fencedIds(s), [2, 3]);
  });

  it('CPG nodedown first, then the quorum event that drops the node and says inquorate: no fencing (the partition lost)', function () {
    const s = new Sim([1, 2, 3]);
    for (const id of [1, 2, 3]) s.online(id);
    s.run();
    // node 1 is cut off from 2 and 3: its group says nodedown for both before quorum speaks
    s.models.delete(2);
    s.models.delete(3);
    s.groups.set(lockspaceGroupName(LS), [{ nodeid: 1, pid: pidOf(1) }]);
    s.queue.push({ to: [1], ev: { type: 'group-change', ls: LS, members: [{ nodeid: 1, pid: pidOf(1) }], joined: [], left: [2, 3].map((i) => ({ nodeid: i, pid: pidOf(i), reason: 'nodedown' as const })), at: 0 } });
    s.run();
    assert.deepEqual(s.fenced, [], 'fenced before the quorum service dropped the nodes');
    assert.equal(s.kernel.get(1)!.control.get(LS), '0');
    // the executor feeds a lost quorum before the node-downs of the same event
    s.feed(1, { type: 'quorum', quorate: false, at: ++s.t });
    s.feed(1, { type: 'node-down', nodeid: 2, at: ++s.t });
    s.feed(1, { type: 'node-down', nodeid: 3, at: ++s.t });
    s.run();
    assert.deepEqual(s.fenced, [], 'fenced without quorum');
    assert.equal(s.state(1), 'stopped');
  });

  /** Three running nodes split 1,2 | 3: the minority (3) loses quorum, each side sees the other go. */
  function partitionThree(autoFence: boolean): Sim {
    const s = new Sim([1, 2, 3]);
    s.autoFence = autoFence;
    for (const id of [1, 2, 3]) s.online(id);
    s.run();
    s.partition([[1, 2], [3]]);
    s.feed(3, { type: 'quorum', quorate: false, at: ++s.t });
    for (const id of [1, 2]) s.feed(3, { type: 'node-down', nodeid: id, at: ++s.t });
    for (const id of [1, 2]) s.feed(id, { type: 'node-down', nodeid: 3, at: ++s.t });
    s.run();
    return s;
  }

  /** partitionThree, with the majority's fence of 3 succeeding (an agent that powers nothing): it goes on. */
  function splitThree(): Sim {
    const s = partitionThree(true);
    assert.deepEqual(s.fenced.filter((f) => f.by === 3), [], 'the inquorate side fenced');
    assert.deepEqual(fencedIds(s), [3, 3]);
    for (const id of [1, 2]) assert.deepEqual([s.state(id), s.members(id)], ['running', [1, 2]], `node ${id}`);
    assert.equal(s.state(3), 'stopped');
    return s;
  }

  for (const quorumFirst of [true, false]) {
    it(`a partition heals (stateful merge), ${quorumFirst ? 'the quorum event' : 'the group changes'} first on the minority: it fences nobody and yields (exits); the majority fails the merged node again, fences it and restarts without it`, function () {
      const s = splitThree();
      const before = s.fenced.length;
      const quorum3 = () => {
        for (const id of [1, 2]) s.feed(3, { type: 'node-up', nodeid: id, at: ++s.t });
        s.feed(3, { type: 'quorum', quorate: true, at: ++s.t });
      };
      // the majority's quorum service sees node 3 again (its corosync ran on)
      for (const id of [1, 2]) s.feed(id, { type: 'node-up', nodeid: 3, at: ++s.t });
      if (quorumFirst) quorum3();
      assert.deepEqual(s.fenced.filter((f) => f.by === 3), [], 'the minority fenced the majority once quorate again');
      s.merge();
      s.run();
      if (!quorumFirst) quorum3();
      s.run();
      assert.deepEqual(s.exits, [3], 'the minority yields, and only it');
      assert.deepEqual(s.fenced.filter((f) => f.by === 3), [], 'the minority fenced someone');
      assert.equal(s.kernel.get(3)!.control.get(LS), '0');
      // the majority does not start with the merged node (its lock state is stale) ...
      for (const id of [1, 2]) {
        assert.equal(s.model(id).nodes.get(3)!.state === 'up', false, `node ${id} has 3 up`);
        assert.notEqual(s.state(id), 'running', `node ${id} runs with stale node 3 in the group`);
      }
      // fenced again: still in the quorum membership (the executor says node-up), it is not taken
      // back with its stale state ...
      for (const id of [1, 2]) s.feed(id, { type: 'node-up', nodeid: 3, at: ++s.t });
      for (const id of [1, 2]) assert.equal(s.model(id).nodes.get(3)!.state, 'down');
      // ... and when 3's daemon exits, the others restart without it, fencing it no third time
      s.exitDaemon(3);
      s.run();
      assert.deepEqual(s.fenced.slice(before).map((f) => f.nodeid), [3, 3]);
      for (const id of [1, 2]) assert.deepEqual([s.state(id), s.members(id)], ['running', [1, 2]], `node ${id}`);
    });
  }

  it('a partition heals before the fence succeeded: the merged node stays failed and is fenced; the minority yields', function () {
    const s = partitionThree(false);
    s.merge();
    for (const id of [1, 2]) s.feed(3, { type: 'node-up', nodeid: id, at: ++s.t });
    s.feed(3, { type: 'quorum', quorate: true, at: ++s.t });
    s.run();
    assert.deepEqual(s.exits, [3]);
    for (const id of [1, 2]) {
      assert.equal(s.model(id).nodes.get(3)!.state, 'failed');
      assert.notEqual(s.state(id), 'running');
    }
    for (const id of [1, 2]) s.feed(id, { type: 'fence-result', nodeid: 3, ok: true, at: ++s.t });
    s.exitDaemon(3);
    s.run();
    for (const id of [1, 2]) assert.deepEqual([s.state(id), s.members(id)], ['running', [1, 2]], `node ${id}`);
    assert.deepEqual(s.fenced.filter((f) => f.by === 3), []);
  });

  it('a node failed by a stateful merge and fenced is taken back once a new daemon of its joins the daemon group', function () {
    const m = new DlmControlModel({ localNodeId: 1, nodes: [1, 2].map((i) => ({ nodeid: i, addresses: [`192.0.2.${i}`] })), membership: 'groups' });
    m.handle({ type: 'daemon-members', nodes: [1, 2], at: 0 });
    m.handle({ type: 'node-down', nodeid: 2, at: 1 });
    m.handle({ type: 'fence-result', nodeid: 2, ok: true, at: 2 });
    m.handle({ type: 'daemon-members', nodes: [1], at: 3 });
    const merged = m.handle({ type: 'daemon-members', nodes: [1, 2], joined: [{ nodeid: 2, pid: 9, reason: 'nodeup' }], at: 4 });
    assert.deepEqual(merged.filter((a) => a.type === 'fence').map((a) => a.type === 'fence' && a.nodeid), [2]);
    assert.equal(merged.some((a) => a.type === 'exit'), false, 'the side that kept quorum yielded');
    m.handle({ type: 'fence-result', nodeid: 2, ok: true, at: 5 });
    m.handle({ type: 'node-up', nodeid: 2, at: 6 });
    assert.equal(m.nodes.get(2)!.state, 'down');
    m.handle({ type: 'daemon-members', nodes: [1], at: 7 });
    const back = m.handle({ type: 'daemon-members', nodes: [1, 2], joined: [{ nodeid: 2, pid: 11, reason: 'join' }], at: 8 });
    assert.equal(m.nodes.get(2)!.state, 'up');
    assert.ok(back.some((a) => a.type === 'ops' && a.ops.some((o) => o.op === 'mkdir' && o.path.endsWith('/comms/2'))), 'comm not made again');
  });

  it('without quorum, failed nodes come back with new daemons (they restarted): no yield; they are fenced once quorum and their daemons are back', function () {
    const m = new DlmControlModel({ localNodeId: 1, nodes: [1, 2, 3].map((i) => ({ nodeid: i, addresses: [`192.0.2.${i}`] })), membership: 'groups' });
    m.handle({ type: 'daemon-members', nodes: [1, 2, 3], at: 0 });
    m.handle({ type: 'quorum', quorate: false, at: 1 });
    m.handle({ type: 'node-down', nodeid: 2, at: 2 });
    m.handle({ type: 'node-down', nodeid: 3, at: 2 });
    m.handle({ type: 'daemon-members', nodes: [1], at: 3 });
    const up = [...m.handle({ type: 'node-up', nodeid: 2, at: 4 }), ...m.handle({ type: 'quorum', quorate: true, at: 5 })];
    assert.deepEqual(up.filter((a) => a.type === 'fence').map((a) => a.type === 'fence' && a.nodeid), [3], 'node 2, back unfenced while this node had no quorum, waits for its daemon');
    const j = m.handle({ type: 'daemon-members', nodes: [1, 2], joined: [{ nodeid: 2, pid: 9, reason: 'join' }], at: 6 });
    assert.equal(j.some((a) => a.type === 'exit'), false);
    assert.deepEqual(j.filter((a) => a.type === 'fence').map((a) => a.type === 'fence' && a.nodeid), [2]);
  });

  it('without quorum, a failed node comes back but its daemon never shows (stopped): after the merge wait (post-join delay) it is fenced; a timer of an earlier return, or of a node gone again, does nothing', function () {
    const m = new DlmControlModel({ localNodeId: 1, nodes: [1, 2, 3].map((i) => ({ nodeid: i, addresses: [`192.0.2.${i}`] })), membership: 'groups', mergeWaitMs: 5000 });
    m.handle({ type: 'daemon-members', nodes: [1, 2, 3], at: 0 });
    m.handle({ type: 'quorum', quorate: false, at: 1 });
    m.handle({ type: 'node-down', nodeid: 2, at: 2 });
    m.handle({ type: 'node-down', nodeid: 3, at: 2 });
    m.handle({ type: 'daemon-members', nodes: [1], at: 3 });
    const timers = (acts: DaemonAction[]) => acts.flatMap((a) => (a.type === 'timer' ? [a] : []));
    const fences = (acts: DaemonAction[]) => acts.flatMap((a) => (a.type === 'fence' ? [a.nodeid] : []));
    const up2 = m.handle({ type: 'node-up', nodeid: 2, at: 4 });
    assert.deepEqual(timers(up2), [{ type: 'timer', afterMs: 5000, timer: { kind: 'merge-wait', nodeid: 2, since: 4 } }]);
    const up3 = m.handle({ type: 'node-up', nodeid: 3, at: 4 });
    assert.deepEqual(fences(m.handle({ type: 'quorum', quorate: true, at: 5 })), [], 'nobody is fenced while their daemons may still show');
    // node 3 leaves again, comes back: its first timer is void, the second counts
    m.handle({ type: 'node-down', nodeid: 3, at: 6 });
    assert.deepEqual(m.handle({ type: 'timer', timer: timers(up3)[0]!.timer, at: 4004 }), []);
    const again3 = timers(m.handle({ type: 'node-up', nodeid: 3, at: 7 }));
    assert.equal(again3.length, 1);
    // node 2's wait is over with no daemon of its in the group: fenced, by this node (the only daemon member)
    const over2 = m.handle({ type: 'timer', timer: timers(up2)[0]!.timer, at: 5004 });
    assert.deepEqual(fences(over2), [2]);
    assert.ok(over2.some((a) => a.type === 'log' && /node 2 has been back in the membership for 5000 ms without its daemon/.test(a.msg)));
    assert.deepEqual(m.handle({ type: 'timer', timer: timers(up2)[0]!.timer, at: 5005 }), [], 'a timer fires once');
    assert.deepEqual(fences(m.handle({ type: 'timer', timer: again3[0]!.timer, at: 5007 })), [3]);
  });

  it('without quorum, a failed node merges back within the merge wait: this node yields, and the timer does nothing after', function () {
    const m = new DlmControlModel({ localNodeId: 3, nodes: [1, 2, 3].map((i) => ({ nodeid: i, addresses: [`192.0.2.${i}`] })), membership: 'groups', mergeWaitMs: 5000 });
    m.handle({ type: 'daemon-members', nodes: [1, 2, 3], at: 0 });
    m.handle({ type: 'quorum', quorate: false, at: 1 });
    m.handle({ type: 'node-down', nodeid: 1, at: 2 });
    m.handle({ type: 'daemon-members', nodes: [3], at: 3 });
    const up = m.handle({ type: 'node-up', nodeid: 1, at: 4 });
    const t = up.find((a) => a.type === 'timer');
    assert.ok(t && t.type === 'timer');
    const merged = m.handle({ type: 'daemon-members', nodes: [1, 3], joined: [{ nodeid: 1, pid: 9, reason: 'nodeup' }], at: 5 });
    assert.ok(merged.some((a) => a.type === 'exit'));
    assert.deepEqual(m.handle({ type: 'timer', timer: t.timer, at: 5004 }), []);
  });

  it('procdown (the daemon died, its node is still in the cluster): fenced without waiting for a quorum change', function () {
    const s = new Sim([1, 2, 3]);
    for (const id of [1, 2, 3]) s.online(id);
    s.run();
    s.models.delete(3);
    const ms = [1, 2].map((i) => ({ nodeid: i, pid: pidOf(i) }));
    s.groups.set(lockspaceGroupName(LS), ms);
    s.queue.push({ to: [1, 2], ev: { type: 'group-change', ls: LS, members: ms, joined: [], left: [{ nodeid: 3, pid: pidOf(3), reason: 'procdown' }], at: 0 } });
    s.run();
    assert.deepEqual(fencedIds(s), [3, 3]);
    for (const id of [1, 2]) assert.deepEqual([s.state(id), s.members(id)], ['running', [1, 2]]);
  });

  it('a join whose group cannot be joined is answered at once; membership lost answers pending joins -ENOTCONN', function () {
    const m = new DlmControlModel({ localNodeId: 1, nodes: [{ nodeid: 1, addresses: ['192.0.2.1'] }], membership: 'groups' });
    m.handle({ type: 'online', ls: 'A', at: 1 });
    const f = m.handle({ type: 'group-failed', ls: 'A', errno: 107, detail: 'CS_ERR_LIBRARY', at: 2 });
    assert.deepEqual(f.flatMap((a) => (a.type === 'ops' ? a.ops.map((o) => `${o.path} ${String(o.data)}`) : [])), [`${K}/A/event_done -107`]);
    m.handle({ type: 'online', ls: 'B', at: 3 });
    const d = m.handle({ type: 'membership-down', detail: 'corosync stopped', at: 4 });
    assert.deepEqual(d.flatMap((a) => (a.type === 'ops' ? a.ops.map((o) => `${o.path} ${String(o.data)}`) : [])), [`${K}/B/event_done -107`]);
    const late = m.handle({ type: 'online', ls: 'C', at: 5 });
    assert.ok(late.some((a) => a.type === 'ops' && a.ops.some((o) => o.path === `${K}/C/event_done` && o.data === '-107')));
    assert.equal(m.lockspaces.size, 0);
    void C;
  });

  it('a running lockspace adopted at start rejoins its group and restarts with the group members', function () {
    const m = new DlmControlModel({ localNodeId: 1, nodes: [1, 2].map((i) => ({ nodeid: i, addresses: [`192.0.2.${i}`] })), membership: 'groups' });
    assert.deepEqual(m.adopt('A', [1, 2], 0), [{ type: 'group-join', ls: 'A', group: 'dlm:ls:A' }]);
    const c = m.handle({ type: 'group-change', ls: 'A', members: [{ nodeid: 1, pid: 7 }], joined: [{ nodeid: 1, pid: 7, reason: 'join' }], left: [], at: 1 });
    const send = c.find((a) => a.type === 'group-send');
    assert.ok(send && send.type === 'group-send');
    const r = m.handle({ type: 'group-message', ls: 'A', nodeid: 1, pid: 7, data: send.data, at: 2 });
    assert.deepEqual(r.flatMap((a) => (a.type === 'ops' ? a.ops.map((o) => `${o.op} ${o.path.replace(C, 'C')}`) : [])), ['rmdir C/spaces/A/nodes/2', `write ${K}/A/control`]);
  });

  it('random joins, clean leaves, deaths and reorder-free delivery: the members agree on every node, every join is answered once, no dead member is started unfenced', function () {
    const ids = [1, 2, 3, 4];
    const step = fc.oneof(
      fc.record({ k: fc.constant('online' as const), id: fc.constantFrom(...ids) }),
      fc.record({ k: fc.constant('offline' as const), id: fc.constantFrom(...ids) }),
      fc.record({ k: fc.constant('kill' as const), id: fc.constantFrom(2, 3, 4) }),
      fc.record({ k: fc.constant('deliver' as const), n: fc.integer({ min: 1, max: 6 }) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
        const s = new Sim(ids);
        const dead = new Set<number>();
        const inLs = new Set<number>();
        for (const st of steps) {
          if (st.k === 'deliver') for (let i = 0; i < st.n; i++) s.step();
          else if (dead.has(st.id)) continue;
          else if (st.k === 'online') {
            if (inLs.has(st.id)) continue;
            inLs.add(st.id);
            s.online(st.id);
          } else if (st.k === 'offline') {
            if (!inLs.has(st.id) || s.state(st.id) !== 'running') continue;
            inLs.delete(st.id);
            s.offline(st.id);
          } else {
            if (dead.size >= 1) continue; // keep quorum (3 of 4)
            dead.add(st.id);
            inLs.delete(st.id);
            s.kill(st.id);
          }
        }
        s.run();
        const live = ids.filter((i) => !dead.has(i) && inLs.has(i));
        for (const id of live) {
          assert.equal(s.state(id), 'running', `node ${id}: ${JSON.stringify(s.model(id).lockspaces.get(LS))}`);
          assert.deepEqual(s.members(id), live, `node ${id}'s members`);
          assert.equal(s.kernel.get(id)!.eventDone.get(LS)?.filter((x) => x === '0').length ?? 0, 1 + (s.kernel.get(id)!.eventDone.get(LS)!.length - 1), 'every answer is 0');
          for (const d of dead) assert.equal(s.kernel.get(id)!.comms.has(d), false, `dead node ${d}'s comm removed on node ${id}`);
        }
        for (const f of s.fenced) assert.ok(dead.has(f.nodeid), `node ${f.nodeid} fenced but it only left cleanly`);
      }),
      { numRuns: 300 },
    );
  });
});
