// The POSIX lock table: the rules one by one, then fast-check against a byte-by-byte reference
// model (small offsets, two inodes, owners on two nodes): results, what every owner holds on every
// byte, the waiter queues and the table's own invariants after any sequence of operations.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { OFFSET_MAX, PlockTable, type Plock } from '../../lib/model/plockTable.js';

const L = (nodeid: number, owner: number, start: number | bigint, end: number | bigint, ex = true, pid = owner): Plock => ({ nodeid, owner: BigInt(owner), pid, start: BigInt(start), end: BigInt(end), ex });
const shape = (t: PlockTable) => t.locks().map(({ number, lock: l }) => `${number}:${l.nodeid}/${l.owner} ${l.ex ? 'EX' : 'SH'} ${l.start}-${l.end === OFFSET_MAX ? 'EOF' : l.end}`);

describe('model/plockTable: POSIX record locks', function () {
  it('a lock by the same owner splits, replaces and merges; an upgrade and a downgrade are just locks', function () {
    const t = new PlockTable();
    assert.equal(t.lock(1n, L(1, 7, 0, 99), false).result, 'granted');
    t.lock(1n, L(1, 7, 10, 19, false), false);
    assert.deepEqual(shape(t), ['1:1/7 EX 0-9', '1:1/7 SH 10-19', '1:1/7 EX 20-99']);
    t.lock(1n, L(1, 7, 10, 19, true), false); // upgrade back: merges into one
    assert.deepEqual(shape(t), ['1:1/7 EX 0-99']);
    t.lock(1n, L(1, 7, 100, 109, true), false); // adjacent: merged
    assert.deepEqual(shape(t), ['1:1/7 EX 0-109']);
    t.unlock(1n, { nodeid: 1, owner: 7n }, 50n, 59n);
    assert.deepEqual(shape(t), ['1:1/7 EX 0-49', '1:1/7 EX 60-109']);
    assert.deepEqual(t.counts(), { inodes: 1, locks: 2, waiters: 0 });
  });

  it('owners conflict only when one is exclusive; owners are (node, owner) pairs', function () {
    const t = new PlockTable();
    t.lock(5n, L(1, 7, 0, 9, false), false);
    assert.equal(t.lock(5n, L(2, 8, 5, 15, false), false).result, 'granted', 'shared + shared');
    const r = t.lock(5n, L(2, 9, 8, 8, true), false);
    assert.equal(r.result, 'conflict');
    assert.deepEqual(r.result === 'conflict' && r.conflict, L(1, 7, 0, 9, false), 'the first conflicting lock (lowest start)');
    assert.equal(t.lock(5n, L(2, 7, 100, 100), false).result, 'granted', 'owner 7 on node 2 is not owner 7 on node 1');
    assert.deepEqual(t.get(5n, L(3, 1, 0, OFFSET_MAX)), L(1, 7, 0, 9, false));
    assert.equal(t.get(5n, L(1, 7, 0, 4)), undefined, 'an owner never conflicts with itself... ');
    assert.deepEqual(t.get(5n, L(1, 7, 0, 20)), L(2, 8, 5, 15, false), '...but with the others');
  });

  it('waiters are FIFO, granted when the locks change (unlock, downgrade, closeOwner, purgeNode); an identical waiter is queued once', function () {
    const t = new PlockTable();
    t.lock(1n, L(1, 1, 0, 99), false);
    assert.equal(t.lock(1n, L(2, 2, 0, 9, false), true).result, 'waiting');
    assert.equal(t.lock(1n, L(2, 2, 0, 9, false), true).result, 'waiting');
    assert.equal(t.lock(1n, L(3, 3, 5, 5, true), true).result, 'waiting');
    assert.equal(t.counts().waiters, 2);
    // a downgrade to shared frees the shared waiter, not the exclusive one
    const d = t.lock(1n, L(1, 1, 0, 99, false), false);
    assert.deepEqual(d.granted.map((g) => g.lock.owner), [2n]);
    assert.deepEqual(t.closeOwner(1n, { nodeid: 1, owner: 1n }), []);
    assert.deepEqual(t.purgeNode(2).map((g) => [g.number, g.lock.nodeid]), [[1n, 3]]);
    assert.deepEqual(shape(t), ['1:3/3 EX 5-5']);
    // closeOwner drops waiters too (a killed F_SETLKW)
    t.lock(1n, L(4, 4, 5, 5), true);
    assert.deepEqual(t.closeOwner(1n, { nodeid: 4, owner: 4n }), []);
    assert.equal(t.counts().waiters, 0);
    assert.equal(t.cancelWaiter(1n, L(4, 4, 5, 5)), false);
    t.unlock(1n, { nodeid: 3, owner: 3n }, 0n, OFFSET_MAX);
    assert.deepEqual(t.counts(), { inodes: 0, locks: 0, waiters: 0 }, 'an inode with nothing is gone');
  });

  it('u64 exact: inode numbers and owners past 2^53, ranges up to OFFSET_MAX; bad ranges throw', function () {
    const t = new PlockTable();
    const big = 0xfffffffffffffff0n;
    t.lock(big, { nodeid: 1, owner: big, pid: 1, start: OFFSET_MAX - 1n, end: OFFSET_MAX, ex: true }, false);
    assert.equal(t.lock(big + 1n, { nodeid: 1, owner: 1n, pid: 1, start: 0n, end: OFFSET_MAX, ex: true }, false).result, 'granted', 'another inode');
    assert.equal(t.lock(big, { nodeid: 2, owner: big, pid: 1, start: OFFSET_MAX, end: OFFSET_MAX, ex: false }, false).result, 'conflict');
    assert.throws(() => t.lock(1n, L(1, 1, 5, 4), false), RangeError);
    assert.throws(() => t.get(1n, { ...L(1, 1, 0, 0), end: OFFSET_MAX + 1n }), RangeError);
    const back = PlockTable.fromSnapshot(JSON.parse(JSON.stringify(t.snapshot())));
    assert.deepEqual(back.snapshot(), t.snapshot());
  });

  it('fromSnapshot refuses garbage with a clear error', function () {
    for (const bad of [null, {}, { v: 2, inodes: [] }, { v: 1, inodes: [['x', [], []]] }, { v: 1, inodes: [['1', [[1, '1', 1, '5', '4', 1]], []]] }, { v: 1, inodes: [['1', [[1, '1', 1, '0', '9', 1], [2, '2', 1, '5', '6', 0]], []]] }]) {
      assert.throws(() => PlockTable.fromSnapshot(bad), /plock table snapshot/);
    }
  });

  // ---- the reference model: every byte of two small inodes, who holds it in which mode ----
  type Owner = { nodeid: number; owner: number };
  const MAXB = 31;
  const ok = (o: Owner) => `${o.nodeid}/${o.owner}`;
  class Ref {
    bytes = new Map<number, Map<string, boolean>[]>(); // inode -> byte -> ownerKey -> ex
    waiters = new Map<number, Plock[]>();
    private ino(n: number) {
      let b = this.bytes.get(n);
      if (!b) this.bytes.set(n, (b = Array.from({ length: MAXB + 1 }, () => new Map())));
      return b;
    }
    conflicts(n: number, r: Plock): boolean {
      const b = this.ino(n);
      for (let i = Number(r.start); i <= Number(r.end); i++) for (const [k, ex] of b[i]!) if (k !== ok({ nodeid: r.nodeid, owner: Number(r.owner) }) && (ex || r.ex)) return true;
      return false;
    }
    set(n: number, r: Plock) {
      const b = this.ino(n);
      for (let i = Number(r.start); i <= Number(r.end); i++) b[i]!.set(ok({ nodeid: r.nodeid, owner: Number(r.owner) }), r.ex);
    }
    clear(n: number, o: Owner, s: number, e: number) {
      const b = this.ino(n);
      for (let i = s; i <= e; i++) b[i]!.delete(ok(o));
    }
    grant(n: number): Plock[] {
      const out: Plock[] = [];
      const q = this.waiters.get(n) ?? [];
      for (let again = true; again; ) {
        again = false;
        for (let i = 0; i < q.length; i++) {
          if (this.conflicts(n, q[i]!)) continue;
          const [w] = q.splice(i, 1);
          this.set(n, w!);
          out.push(w!);
          again = true;
          break;
        }
      }
      return out;
    }
    lock(n: number, r: Plock, wait: boolean): [string, Plock[]] {
      if (this.conflicts(n, r)) {
        if (!wait) return ['conflict', []];
        const q = this.waiters.get(n) ?? [];
        if (!q.some((w) => w.nodeid === r.nodeid && w.owner === r.owner && w.pid === r.pid && w.start === r.start && w.end === r.end && w.ex === r.ex)) q.push(r);
        this.waiters.set(n, q);
        return ['waiting', []];
      }
      this.clear(n, { nodeid: r.nodeid, owner: Number(r.owner) }, Number(r.start), Number(r.end));
      this.set(n, r);
      return ['granted', this.grant(n)];
    }
    view(n: number): string[] {
      return this.ino(n).map((m) => [...m].map(([k, ex]) => `${k}${ex ? 'X' : 'S'}`).sort().join(','));
    }
  }
  const tableView = (t: PlockTable, n: number): string[] => {
    const out = Array.from({ length: MAXB + 1 }, () => [] as string[]);
    for (const { number, lock: l } of t.locks()) if (number === BigInt(n)) for (let i = Number(l.start); i <= Math.min(Number(l.end), MAXB); i++) out[i]!.push(`${l.nodeid}/${l.owner}${l.ex ? 'X' : 'S'}`);
    return out.map((x) => x.sort().join(','));
  };
  const invariants = (t: PlockTable) => {
    const all = t.locks();
    for (let i = 0; i < all.length; i++)
      for (let j = i + 1; j < all.length; j++) {
        const a = all[i]!;
        const b = all[j]!;
        if (a.number !== b.number || a.lock.end < b.lock.start || b.lock.end < a.lock.start) {
          // the same owner's same-mode locks must not even touch
          if (a.number === b.number && a.lock.nodeid === b.lock.nodeid && a.lock.owner === b.lock.owner && a.lock.ex === b.lock.ex) assert.ok(a.lock.end + 1n !== b.lock.start && b.lock.end + 1n !== a.lock.start, `mergeable locks left apart: ${JSON.stringify([a, b], (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`);
          continue;
        }
        assert.ok(!(a.lock.nodeid === b.lock.nodeid && a.lock.owner === b.lock.owner), 'an owner has overlapping locks');
        assert.ok(!(a.lock.ex || b.lock.ex), 'two conflicting locks granted');
      }
    // no waiter that could be granted is left waiting
    for (const { number, lock: w } of t.waiters()) assert.ok(t.get(number, w) !== undefined, 'a waiter that fits is still waiting');
  };

  it('property: any sequence of lock/unlock/get/closeOwner/purgeNode/cancelWaiter matches the reference model, invariants hold, snapshots round-trip', function () {
    const owner = fc.record({ nodeid: fc.integer({ min: 1, max: 2 }), owner: fc.integer({ min: 1, max: 3 }) });
    const range = fc.tuple(fc.integer({ min: 0, max: MAXB }), fc.integer({ min: 0, max: 8 })).map(([s, len]) => [s, Math.min(MAXB, s + len)] as const);
    const op = fc.oneof(
      fc.record({ t: fc.constant('lock' as const), n: fc.integer({ min: 1, max: 2 }), o: owner, r: range, ex: fc.boolean(), wait: fc.boolean(), pid: fc.integer({ min: 1, max: 3 }) }),
      fc.record({ t: fc.constant('unlock' as const), n: fc.integer({ min: 1, max: 2 }), o: owner, r: range }),
      fc.record({ t: fc.constant('get' as const), n: fc.integer({ min: 1, max: 2 }), o: owner, r: range, ex: fc.boolean() }),
      fc.record({ t: fc.constant('close' as const), n: fc.integer({ min: 1, max: 2 }), o: owner }),
      fc.record({ t: fc.constant('purge' as const), nodeid: fc.integer({ min: 1, max: 2 }) }),
      fc.record({ t: fc.constant('snapshot' as const) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        let t = new PlockTable();
        const ref = new Ref();
        for (const o of ops) {
          if (o.t === 'lock') {
            const req = { nodeid: o.o.nodeid, owner: BigInt(o.o.owner), pid: o.pid, start: BigInt(o.r[0]), end: BigInt(o.r[1]), ex: o.ex };
            const got = t.lock(BigInt(o.n), req, o.wait);
            const [want, grants] = ref.lock(o.n, req, o.wait);
            assert.equal(got.result, want);
            assert.deepEqual(got.granted.map((g) => ok({ nodeid: g.lock.nodeid, owner: Number(g.lock.owner) })), grants.map((g) => ok({ nodeid: g.nodeid, owner: Number(g.owner) })));
            if (got.result === 'conflict') assert.ok(got.conflict.start <= req.end && got.conflict.end >= req.start && (got.conflict.ex || req.ex) && !(got.conflict.nodeid === req.nodeid && got.conflict.owner === req.owner));
          } else if (o.t === 'unlock') {
            const got = t.unlock(BigInt(o.n), { nodeid: o.o.nodeid, owner: BigInt(o.o.owner) }, BigInt(o.r[0]), BigInt(o.r[1]));
            ref.clear(o.n, o.o, o.r[0], o.r[1]);
            assert.equal(got.length, ref.grant(o.n).length);
          } else if (o.t === 'get') {
            const req = { nodeid: o.o.nodeid, owner: BigInt(o.o.owner), pid: 1, start: BigInt(o.r[0]), end: BigInt(o.r[1]), ex: o.ex };
            assert.equal(t.get(BigInt(o.n), req) !== undefined, ref.conflicts(o.n, req));
          } else if (o.t === 'close') {
            t.closeOwner(BigInt(o.n), { nodeid: o.o.nodeid, owner: BigInt(o.o.owner) });
            ref.waiters.set(o.n, (ref.waiters.get(o.n) ?? []).filter((w) => !(w.nodeid === o.o.nodeid && w.owner === BigInt(o.o.owner))));
            ref.clear(o.n, o.o, 0, MAXB);
            ref.grant(o.n);
          } else if (o.t === 'purge') {
            t.purgeNode(o.nodeid);
            for (const n of [1, 2]) {
              ref.waiters.set(n, (ref.waiters.get(n) ?? []).filter((w) => w.nodeid !== o.nodeid));
              for (const ow of [1, 2, 3]) ref.clear(n, { nodeid: o.nodeid, owner: ow }, 0, MAXB);
              ref.grant(n);
            }
          } else {
            t = PlockTable.fromSnapshot(JSON.parse(JSON.stringify(t.snapshot())));
          }
          for (const n of [1, 2]) {
            assert.deepEqual(tableView(t, n), ref.view(n));
            assert.deepEqual(
              t.waiters().filter((w) => w.number === BigInt(n)).map((w) => `${w.lock.nodeid}/${w.lock.owner}:${w.lock.start}-${w.lock.end}`),
              (ref.waiters.get(n) ?? []).map((w) => `${w.nodeid}/${w.owner}:${w.start}-${w.end}`),
            );
          }
          invariants(t);
        }
      }),
      { numRuns: 400 },
    );
  });
});
