// The plock replication model on a simulated process group: one totally ordered delivery queue
// (what CPG gives), member changes delivered in it, each node's PlockModel fed what it delivers.
// Checked: only the requesting node answers, waiters are answered where they wait, the joiner gets
// the table at the barrier and applies only what came after, a dead member's locks are dropped and
// its waiters' successors granted, every request is answered (property: random requests, joins,
// deaths; every synced table equal; nothing left unanswered once the group is quiet).
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { GroupMember, GroupMemberChange } from '../../lib/model/membership.js';
import { decodePlockMessage, ENOLCK, ENOSYS, PlockModel, type PlockAction, type PlockKernelRequest } from '../../lib/model/plockSync.js';

const LS = 'A1B2C3D4E5F60718293A4B5C6D7E8F90';
const FSID = 777;
const EOF = 0x7fffffffffffffffn;

interface Req extends PlockKernelRequest {
  node: number;
  id: number;
}

type Member = { nodeid: number; pid: number };
type Delivery = { kind: 'msg'; from: Member; data: string | Uint8Array } | { kind: 'change'; members: Member[]; joined: Member[]; left: (Member & { reason: GroupMemberChange['reason'] })[] };
const key = (m: Member) => `${m.nodeid}:${m.pid}`;

/** A group of nodes with one delivery order. Each join is a new incarnation (pid). */
class Bus {
  /** every incarnation's model, until its departure is delivered */
  private readonly byKey = new Map<string, PlockModel<Req>>();
  /** the current incarnation of each node (the test's view: who can ask) */
  private readonly live = new Map<number, Member>();
  /** membership as of the last delivered change */
  private delivered: Member[] = [];
  readonly queue: Delivery[] = [];
  readonly answers = new Map<number, { rv: number; fields?: unknown; node: number }[]>();
  readonly logs: string[] = [];
  readonly asked = new Map<number, Req>();
  /** incarnations running the previous daemon: JSON only (no `bin` in plock-state), binary messages ignored */
  private readonly old = new Set<string>();
  /** binary request messages delivered; and of those, ones a synced previous-version member missed */
  binary = 0;
  binaryMissedByOld = 0;
  private nextId = 1;
  private nextPid = 1;

  get members(): number[] {
    return [...this.live.keys()].sort((a, b) => a - b);
  }

  pidOf(id: number): number | undefined {
    return this.live.get(id)?.pid;
  }

  /** the current model of a node */
  model(id: number): PlockModel<Req> {
    return this.byKey.get(key(this.live.get(id)!))!;
  }

  /** old: this incarnation runs the previous daemon */
  join(id: number, off?: string, old = false): void {
    const me = { nodeid: id, pid: this.nextPid++ };
    if (old) this.old.add(key(me));
    this.byKey.set(key(me), new PlockModel<Req>({ localNodeId: id, fsidOf: () => FSID, ...(off ? { off } : {}) }));
    this.live.set(id, me);
    this.queue.push({ kind: 'change', members: [...this.live.values()], joined: [me], left: [] });
  }

  die(id: number, reason: GroupMemberChange['reason'] = 'nodedown'): void {
    const me = this.live.get(id)!;
    this.live.delete(id);
    this.queue.push({ kind: 'change', members: [...this.live.values()], joined: [], left: [{ ...me, reason }] });
  }

  /** node `node`'s kernel asks */
  ask(node: number, r: Partial<PlockKernelRequest> & { optype: number }): number {
    const id = this.nextId++;
    const req: Req = { ex: true, wait: false, flags: 0, pid: 100 + node, fsid: FSID, number: 1n, start: 0n, end: EOF, owner: BigInt(node * 1000), answerable: true, ...r, node, id };
    this.asked.set(id, req);
    this.run(this.live.get(node)!, this.model(node).requests([req]));
    return id;
  }

  private run(m: Member, acts: PlockAction<Req>[]): void {
    for (const a of acts) {
      if (a.type === 'send') {
        let data = a.data;
        if (this.old.has(key(m))) {
          assert.equal(typeof data, 'string', `node ${m.nodeid} (previous version) sent a binary message`);
          // what a previous daemon's plock-state says: nothing about the binary form
          if (typeof data === 'string' && data.startsWith('{"type":"plock-state"')) data = JSON.stringify({ ...(JSON.parse(data) as object), bin: undefined });
        }
        this.queue.push({ kind: 'msg', from: m, data });
      }
      else if (a.type === 'answer') {
        assert.equal(a.req.node, m.nodeid, `node ${m.nodeid} answered node ${a.req.node}'s request`);
        const l = this.answers.get(a.req.id) ?? [];
        l.push({ rv: a.rv, node: m.nodeid, ...(a.fields ? { fields: a.fields } : {}) });
        this.answers.set(a.req.id, l);
      } else this.logs.push(`n${m.nodeid} ${a.level}: ${a.msg}`);
    }
  }

  /** Delivers up to max queued items (and what they make members send), in queue order. */
  settle(max = 10_000): void {
    for (let i = 0; i < max && this.queue.length; i++) {
      const d = this.queue.shift()!;
      if (d.kind === 'change') {
        const members: GroupMember[] = d.members.map((m) => ({ ...m }));
        const joined: GroupMemberChange[] = d.joined.map((m) => ({ ...m, reason: 'join' }));
        this.delivered = members;
        for (const l of d.left) this.byKey.delete(key(l));
        for (const m of members) this.run(m, this.byKey.get(key(m))!.groupChange(LS, { members, joined, left: d.left }));
      } else {
        // sent after its sender's departure was decided: never delivered
        if (!this.delivered.some((m) => key(m) === key(d.from))) continue;
        const msg = decodePlockMessage(d.data);
        assert.ok(msg, `undecodable message ${String(d.data)}`);
        const bin = typeof d.data !== 'string';
        if (bin) this.binary++;
        for (const m of this.delivered) {
          const model = this.byKey.get(key(m))!;
          // a previous daemon takes a binary message for one of ours it does not know and ignores it:
          // harmless only before its table is loaded (the snapshot has the request)
          if (bin && this.old.has(key(m))) {
            if (model.view(LS)[0]?.synced) this.binaryMissedByOld++;
            continue;
          }
          this.run(m, model.message(LS, d.from, msg));
        }
      }
    }
  }

  rv(id: number): number | undefined {
    const a = this.answers.get(id);
    assert.ok(!a || a.length === 1, `request ${id} answered ${a?.length} times`);
    return a?.[0]?.rv;
  }

  tables(): string[] {
    return this.members.map((n) => JSON.stringify(this.model(n).view(LS)[0]?.locks) + JSON.stringify(this.model(n).view(LS)[0]?.waiters));
  }
}

describe('model/plockSync: POSIX locks replicated over a process group', function () {
  it('one node: granted, unlocked, CLOSE takes no answer', function () {
    const b = new Bus();
    b.join(1);
    b.settle();
    const a = b.ask(1, { optype: 1, start: 0n, end: 9n });
    b.settle();
    assert.equal(b.rv(a), 0);
    const u = b.ask(1, { optype: 2, start: 0n, end: 9n });
    const c = b.ask(1, { optype: 2, flags: 1, answerable: false });
    b.settle();
    assert.equal(b.rv(u), 0);
    assert.equal(b.rv(c), undefined);
    assert.equal(b.model(1).view(LS)[0]!.locks.length, 0);
  });

  it('three nodes: EAGAIN and F_GETLK name the holder, a waiter is granted at the unlock, disjoint ranges never conflict, tables equal', function () {
    const b = new Bus();
    b.join(1);
    b.join(2);
    b.join(3);
    b.settle();
    const l1 = b.ask(1, { optype: 1, start: 100n, end: 199n });
    b.settle();
    assert.equal(b.rv(l1), 0);
    const l2 = b.ask(2, { optype: 1, start: 150n, end: 250n });
    const g2 = b.ask(2, { optype: 3, start: 150n, end: 250n });
    const w3 = b.ask(3, { optype: 1, start: 120n, end: 130n, wait: true });
    const d2 = b.ask(2, { optype: 1, start: 300n, end: 399n });
    b.settle();
    assert.equal(b.rv(l2), -11);
    assert.deepEqual(b.answers.get(g2)![0], { rv: 1, node: 2, fields: { ex: true, pid: 101, nodeid: 1, start: 100n, end: 199n } });
    assert.equal(b.rv(w3), undefined, 'n3 waits');
    assert.equal(b.rv(d2), 0, 'a disjoint range is granted');
    const views = b.tables();
    assert.equal(new Set(views).size, 1, 'every member holds the same table');
    assert.match(views[0]!, /"WAITING"|"waiters"|120/);
    const u1 = b.ask(1, { optype: 2, start: 100n, end: 199n });
    b.settle();
    assert.equal(b.rv(u1), 0);
    assert.equal(b.rv(w3), 0, 'n3 granted when n1 unlocked');
    assert.equal(b.answers.get(w3)![0]!.node, 3);
  });

  it('a joiner gets the table at the barrier and applies only what was delivered after it', function () {
    const b = new Bus();
    b.join(1);
    b.settle();
    const l1 = b.ask(1, { optype: 1, start: 0n, end: 9n });
    b.join(2); // the change lands after n1's lock in the delivery order
    const l1b = b.ask(1, { optype: 1, start: 20n, end: 29n }); // delivered between the change and the snapshot
    b.settle();
    assert.equal(b.rv(l1), 0);
    assert.equal(b.rv(l1b), 0);
    const v2 = b.model(2).view(LS)[0]!;
    assert.equal(v2.synced, true);
    assert.deepEqual(v2.locks.map((l) => l.lock.start), ['0', '20']);
    assert.equal(new Set(b.tables()).size, 1);
    const l2 = b.ask(2, { optype: 1, start: 5n, end: 5n });
    b.settle();
    assert.equal(b.rv(l2), -11);
  });

  it('a dead member loses its locks and waiters; the waiter behind it is granted on the survivor', function () {
    const b = new Bus();
    for (const n of [1, 2, 3]) b.join(n);
    b.settle();
    b.ask(3, { optype: 1, start: 0n, end: 99n });
    b.settle();
    const w1 = b.ask(1, { optype: 1, start: 50n, end: 60n, wait: true });
    b.ask(3, { optype: 1, start: 200n, end: 299n, wait: false });
    b.settle();
    assert.equal(b.rv(w1), undefined);
    b.die(3);
    b.settle();
    assert.equal(b.rv(w1), 0);
    assert.equal(new Set(b.tables()).size, 1);
    assert.ok(b.model(1).view(LS)[0]!.locks.every((l) => l.lock.nodeid !== 3));
  });

  it('the snapshot sender dies before its snapshot goes out: the joiner still gets a table and its requests are answered', function () {
    const b = new Bus();
    b.join(1);
    b.settle();
    b.ask(1, { optype: 1, start: 0n, end: 9n });
    b.settle();
    b.join(2);
    // deliver the change and n2's plock-state, then n1 dies before its own state goes out
    b.settle(1);
    b.die(1);
    b.settle();
    const r = b.ask(2, { optype: 1, start: 0n, end: 9n });
    b.settle();
    assert.equal(b.rv(r), 0, 'n1 is gone with its lock');
    assert.equal(b.model(2).view(LS)[0]!.synced, true);
  });

  it('two lockspaces, the same inode number and owner: a grant in one never answers a waiter of the other', function () {
    const fsids: Record<string, number> = { A: 11, B: 22 };
    const m = new PlockModel<Req>({ localNodeId: 1, fsidOf: (ls) => fsids[ls]! });
    const me = { nodeid: 1, pid: 1 };
    const answers: [number, number][] = [];
    // one member: everything sent is delivered back at once, in order
    const run = (acts: PlockAction<Req>[]): void => {
      for (const a of acts) {
        if (a.type === 'answer') answers.push([a.req.id, a.rv]);
        else if (a.type === 'send') run(m.message(a.ls, me, decodePlockMessage(a.data)!));
      }
    };
    for (const ls of ['A', 'B']) run(m.groupChange(ls, { members: [me], joined: [{ ...me, reason: 'join' }], left: [] }));
    const req = (id: number, fsid: number, owner: bigint, optype: number, wait = false): Req => ({ id, node: 1, optype, ex: true, wait, flags: 0, pid: 7, fsid, number: 5n, start: 0n, end: 9n, owner, answerable: true });
    run(m.requests([req(1, 11, 100n, 1), req(2, 22, 100n, 1)])); // owner 100 holds 0-9 on inode 5 in both
    run(m.requests([req(3, 11, 200n, 1, true), req(4, 22, 200n, 1, true)])); // owner 200 waits in both
    run(m.requests([req(5, 22, 100n, 2)])); // released in B only
    assert.deepEqual(answers, [[1, 0], [2, 0], [4, 0], [5, 0]], 'only B\'s waiter is granted');
  });

  it('plocks off: every request is answered at once with -ENOSYS; an unknown lockspace gets -ENOLCK', function () {
    const b = new Bus();
    b.join(1, 'switched off with --no-plocks');
    b.settle();
    const r = b.ask(1, { optype: 1, wait: true });
    assert.equal(b.rv(r), -ENOSYS);
    assert.equal(b.model(1).summary().mode, 'off');
    const b2 = new Bus();
    b2.join(1);
    b2.settle();
    const x = b2.ask(1, { optype: 3, fsid: 4242 });
    assert.equal(b2.rv(x), -ENOLCK);
  });

  it('switchOff and leave answer what is pending (-ENOLCK): nothing is left asleep', function () {
    const b = new Bus();
    b.join(1);
    b.join(2);
    b.settle();
    b.ask(2, { optype: 1, start: 0n, end: 9n });
    b.settle();
    const w = b.ask(1, { optype: 1, start: 0n, end: 9n, wait: true });
    const inFlight = b.ask(1, { optype: 3 }); // multicast, not yet delivered
    b.settle(1); // the waiter is queued in the table, the get still travels
    const acts = b.model(1).switchOff('membership lost');
    const answered = acts.filter((a) => a.type === 'answer').map((a) => (a as { req: Req }).req.id).sort();
    assert.deepEqual(answered, [w, inFlight].sort());
    assert.ok(acts.every((a) => a.type !== 'answer' || a.rv === -ENOLCK));
  });

  it('the binary form is used once every member said it reads it; a previous-version member joining switches all to JSON, its leaving back', function () {
    const b = new Bus();
    b.join(1);
    b.join(2);
    b.settle();
    const jsonBefore = b.binary;
    b.ask(1, { optype: 1, start: 0n, end: 9n });
    b.settle();
    assert.equal(b.binary, jsonBefore + 1, 'all members read the binary form: the request went binary');
    b.join(3, undefined, true);
    // requests made while n3's join travels: binary ones reach n3 before its table is loaded (harmless)
    const r1 = b.ask(2, { optype: 1, start: 10n, end: 19n });
    b.settle();
    const n = b.binary;
    const r2 = b.ask(1, { optype: 1, start: 20n, end: 29n });
    const r3 = b.ask(3, { optype: 1, start: 20n, end: 29n });
    b.settle();
    assert.equal(b.binary, n, 'a previous-version member is in the group: JSON only');
    assert.deepEqual([b.rv(r1), b.rv(r2), b.rv(r3)], [0, 0, -11]);
    assert.equal(b.binaryMissedByOld, 0);
    assert.equal(new Set(b.tables()).size, 1, `tables differ:\n${b.tables().join('\n')}`);
    b.die(3, 'leave');
    b.settle();
    b.ask(2, { optype: 2, start: 0n, end: 99n });
    b.settle();
    assert.equal(b.binary, n + 1, 'n3 left: binary again');
    // what `o2stack status` shows of it
    assert.ok(b.model(1).summary().counters.sentBinary >= 1 && b.model(1).summary().counters.sentJson >= 1);
    assert.equal(b.model(2).summary().counters.sentBinary + b.model(2).summary().counters.sentJson, 2, "n2 asked twice");
  });

  it('a request message naming another lockspace (or a binary one this daemon cannot read) is logged and ignored', function () {
    const m = new PlockModel<Req>({ localNodeId: 1, fsidOf: () => FSID });
    const me = { nodeid: 1, pid: 1 };
    m.groupChange(LS, { members: [me], joined: [{ ...me, reason: 'join' }], left: [] });
    const op = { type: 'plock' as const, op: 'lock' as const, rid: 1, ex: true, wait: false, pid: 5, number: 1n, start: 0n, end: 9n, owner: 1n };
    const acts = [...m.message(LS, { nodeid: 2, pid: 9 }, { ...op, fsid: FSID + 1 }), ...m.message(LS, { nodeid: 2, pid: 9 }, { ...op, ls: 'OTHER' }), ...m.message(LS, { nodeid: 2, pid: 9 }, { type: 'plock-refused', why: 'format version 2' })];
    assert.deepEqual(acts.map((a) => a.type), ['log', 'log', 'log']);
    assert.match((acts[2] as { msg: string }).msg, /format version 2/);
    assert.equal(m.summary().counters.applied, 0);
  });

  it('property: random requests, joins and deaths — every synced table is the same, every request answered once', function () {
    const step = fc.oneof(
      fc.record({ t: fc.constant('ask' as const), node: fc.integer({ min: 1, max: 4 }), optype: fc.constantFrom(1, 1, 2, 3), ex: fc.boolean(), wait: fc.boolean(), start: fc.integer({ min: 0, max: 20 }), len: fc.integer({ min: 0, max: 10 }), owner: fc.integer({ min: 0, max: 1 }), number: fc.constantFrom(1n, 2n) }),
      fc.record({ t: fc.constant('deliver' as const), n: fc.integer({ min: 1, max: 6 }) }),
      // a (re)join may be a daemon of the previous version (JSON only)
      fc.record({ t: fc.constant('churn' as const), node: fc.integer({ min: 1, max: 4 }), old: fc.boolean() }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const b = new Bus();
        b.join(1);
        b.join(2);
        b.settle();
        const mine = new Map<number, [number, number]>(); // request id -> [node, its incarnation then]
        for (const s of steps) {
          if (s.t === 'ask') {
            if (!b.members.includes(s.node)) continue;
            const id = b.ask(s.node, { optype: s.optype, ex: s.ex, wait: s.optype === 1 && s.wait, start: BigInt(s.start), end: BigInt(s.start + s.len), owner: BigInt(s.node * 1000 + s.owner), number: s.number });
            mine.set(id, [s.node, b.pidOf(s.node)!]);
          } else if (s.t === 'deliver') b.settle(s.n);
          else if (b.members.includes(s.node)) {
            if (b.members.length > 1) b.die(s.node, s.node % 2 ? 'leave' : 'nodedown');
          } else b.join(s.node, undefined, s.old);
        }
        b.settle();
        assert.equal(b.binaryMissedByOld, 0, 'a previous-version member with its table loaded was sent a binary request');
        assert.equal(new Set(b.tables()).size, 1, `tables differ:\n${b.tables().join('\n')}`);
        for (const n of b.members) assert.equal(b.model(n).view(LS)[0]!.synced, true);
        // a node out of the group holds nothing and waits for nothing
        const view = b.model(b.members[0]!).view(LS)[0]!;
        for (const l of [...view.locks, ...view.waiters]) assert.ok(b.members.includes(l.lock.nodeid), `node ${l.lock.nodeid} left but still has ${JSON.stringify(l)}`);
        // every request of a living node is answered exactly once, unless it waits in the table
        for (const [id, [node, pid]] of mine) {
          if (b.pidOf(node) !== pid) continue; // that incarnation died with its requests
          const a = b.answers.get(id);
          const req = b.asked.get(id)!;
          const queued = () => b.model(node).view(LS)[0]!.waiters.some((w) => w.lock.nodeid === node && w.lock.pid === req.pid && w.lock.start === req.start.toString() && w.number === req.number.toString());
          if (a) assert.equal(a.length, 1, `request ${id} answered ${a.length} times`);
          else assert.ok(req.wait && req.answerable && queued(), `request ${id} of node ${node} (${JSON.stringify(req, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}) never answered`);
        }
      }),
      { numRuns: 300 },
    );
  });
});
