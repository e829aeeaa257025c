import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DlmControlModel, type DaemonAction, type DaemonEvent } from '../../lib/model/dlmDaemon.js';
import { isVolumeLockspace, legacyDownMessages } from '../../lib/model/legacyDown.js';

const A = 'A0000000000000000000000000000001';
const B = 'B0000000000000000000000000000002';
const C = 'C0000000000000000000000000000003';
const D = 'D0000000000000000000000000000004';
const nodes = [1, 2, 3].map((i) => ({ nodeid: i, addresses: [`192.0.2.${i}`] }));
const downsOf = (acts: DaemonAction[]) => acts.flatMap((a) => (a.type === 'down' ? [`${a.uuid} ${a.nodeid}`] : []));

describe('legacy DOWN messages (pure)', function () {
  it('every volume the dead node had that this node has too, sorted by UUID', function () {
    // given out of order, with a volume only the dead node had and one the dead node never had
    const view = new Map<string, number[]>([[C, [1, 2]], [D, [2, 3]], [A, [1, 3]], [B, [3, 2, 1]]]);
    assert.deepEqual(legacyDownMessages({ dead: 2, localNodeId: 1, view }), [{ uuid: B, nodeid: 2 }, { uuid: C, nodeid: 2 }]);
    assert.deepEqual(legacyDownMessages({ dead: 2, localNodeId: 3, view }), [{ uuid: B, nodeid: 2 }, { uuid: D, nodeid: 2 }]);
    // a plain object works as well; nothing shared, nothing sent
    assert.deepEqual(legacyDownMessages({ dead: 3, localNodeId: 1, view: { [C]: [1, 2] } }), []);
  });

  it('the same order on every node, whatever order each one learned the volumes in', function () {
    const uuid = fc.stringMatching(/^[0-9A-F]{32}$/);
    const volumes = fc.uniqueArray(fc.tuple(uuid, fc.subarray([1, 2, 3, 4, 5], { minLength: 1 })), { selector: ([u]) => u, maxLength: 12 });
    fc.assert(
      fc.property(volumes, fc.integer({ min: 1, max: 5 }), fc.integer(), (vols, dead, seed) => {
        const shuffled = [...vols].sort((x, y) => ((x[0].charCodeAt(seed & 31) ^ seed) % 7) - ((y[0].charCodeAt(seed & 31) ^ seed) % 7));
        const lists = [1, 2, 3, 4, 5].filter((n) => n !== dead).map((local) => ({ local, downs: legacyDownMessages({ dead, localNodeId: local, view: new Map(local % 2 ? vols : shuffled) }) }));
        for (const { local, downs } of lists) {
          assert.deepEqual(downs.map((d) => d.uuid), [...downs.map((d) => d.uuid)].sort(), 'sorted');
          assert.ok(downs.every((d) => d.nodeid === dead));
          assert.deepEqual(new Set(downs.map((d) => d.uuid)), new Set(vols.filter(([, ns]) => ns.includes(dead) && ns.includes(local)).map(([u]) => u)));
        }
        // two nodes' lists agree on the relative order of the volumes both send
        for (const x of lists) {
          for (const y of lists) {
            const both = (l: typeof x) => l.downs.map((d) => d.uuid).filter((u) => x.downs.some((d) => d.uuid === u) && y.downs.some((d) => d.uuid === u));
            assert.deepEqual(both(x), both(y));
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('never the local node; node ids checked; only ocfs2 volume lockspaces (32 uppercase hex)', function () {
    assert.throws(() => legacyDownMessages({ dead: 1, localNodeId: 1, view: { [A]: [1] } }), /node 1 is this node: .*BUG_ON/);
    assert.throws(() => legacyDownMessages({ dead: 0, localNodeId: 1, view: {} }), /dead node id must be an integer from 1/);
    assert.throws(() => legacyDownMessages({ dead: 2, localNodeId: 2 ** 31, view: {} }), /local node id must be an integer from 1/);
    // another fs/dlm user's lockspace, and a lowercase name the kernel would not match
    assert.deepEqual(legacyDownMessages({ dead: 2, localNodeId: 1, view: { clvmd: [1, 2], [A.toLowerCase()]: [1, 2], [B]: [1, 2] } }), [{ uuid: B, nodeid: 2 }]);
    assert.equal(isVolumeLockspace(A), true);
    assert.equal(isVolumeLockspace(`${A}0`), false);
  });
});

describe('legacy DOWN in the daemon model', function () {
  const at = (t: number) => t;

  function modelWith(membership: 'static' | 'groups' = 'static', legacy = true) {
    const m = new DlmControlModel({ localNodeId: 1, nodes, legacy, membership, maxFenceRounds: 1 });
    return m;
  }

  /** whether these actions start lockspace ls (control 1) */
  const starts = (acts: DaemonAction[], ls: string) => acts.some((a) => a.type === 'ops' && a.ops.some((o) => o.path === `/sys/kernel/dlm/${ls}/control` && o.data === '1'));

  /** groups mode with volume A joining: its group's changes, and every listed node's start message delivered */
  function groupsWithA() {
    const g = modelWith('groups');
    g.handle({ type: 'online', ls: A, at: at(1) });
    const change = (ids: number[], left: number[] = []) => g.handle({ type: 'group-change', ls: A, members: ids.map((nodeid) => ({ nodeid, pid: 1 })), joined: [], left: left.map((nodeid) => ({ nodeid, pid: 1, reason: 'nodedown' as const })), at: at(2) });
    const startAll = (acts: DaemonAction[], ids: number[]) => {
      const send = acts.find((a): a is Extract<DaemonAction, { type: 'group-send' }> => a.type === 'group-send')!;
      return ids.flatMap((nodeid) => g.handle({ type: 'group-message', ls: A, nodeid, pid: 1, data: send.data, at: at(3) }));
    };
    return { g, change, startAll };
  }

  it('static: nothing at the death or on a failed fence; after the fence succeeded, DOWN in UUID order before the restart', function () {
    const m = modelWith();
    for (const ls of [C, 'clvmd', A]) m.handle({ type: 'online', ls, at: at(1) });
    const died = m.handle({ type: 'node-down', nodeid: 2, at: at(10) });
    assert.deepEqual(downsOf(died), []);
    assert.ok(died.some((a) => a.type === 'fence'));
    const failed = m.handle({ type: 'fence-result', nodeid: 2, ok: false, at: at(20) });
    assert.deepEqual(downsOf(failed), [], 'no DOWN before the fence succeeded');
    // a lockspace joining meanwhile (mounting here after the death) is no connection yet
    m.handle({ type: 'online', ls: B, at: at(25) });
    const ok = m.handle({ type: 'fence-result', nodeid: 2, ok: true, at: at(30), manual: true });
    assert.deepEqual(downsOf(ok), [`${A} 2`, `${C} 2`]);
    const firstDown = ok.findIndex((a) => a.type === 'down');
    const firstStart = ok.findIndex((a) => a.type === 'ops' && a.ops.some((o) => o.path.endsWith('/control') && o.data === '1'));
    const commGone = ok.findIndex((a) => a.type === 'ops' && a.ops.some((o) => o.op === 'rmdir' && o.path.endsWith('/comms/2')));
    assert.ok(firstDown >= 0 && firstDown < firstStart && firstDown < commGone, 'DOWNs come before the comm removal and any restart');
    // a second result for the same death sends nothing again
    assert.deepEqual(downsOf(m.handle({ type: 'fence-result', nodeid: 2, ok: true, at: at(40), manual: true })), []);
  });

  it('groups: only the volumes the dead node was in, as the kernel had their members; not one unmounted here since', function () {
    const m = modelWith('groups');
    const change = (ls: string, ids: number[], left: { nodeid: number; reason: 'nodedown' | 'leave' }[] = []) =>
      m.handle({ type: 'group-change', ls, members: ids.map((nodeid) => ({ nodeid, pid: 100 + nodeid })), joined: [], left: left.map((l) => ({ ...l, pid: 100 + l.nodeid })), at: at(2) });
    // A: 1,2  B: 1,3  C: 1,2  D: 1,2 (D is unmounted here before the fence ends)
    const groups: Record<string, number[]> = { [A]: [1, 2], [B]: [1, 3], [C]: [1, 2], [D]: [1, 2] };
    for (const [ls, ids] of Object.entries(groups)) {
      m.handle({ type: 'online', ls, at: at(1) });
      const acts = change(ls, ids);
      const send = acts.find((a): a is Extract<DaemonAction, { type: 'group-send' }> => a.type === 'group-send')!;
      for (const nodeid of ids) m.handle({ type: 'group-message', ls, nodeid, pid: 100 + nodeid, data: send.data, at: at(3) });
      assert.equal(m.lockspaces.get(ls)?.state, 'running', ls);
    }
    const d1 = change(C, [1], [{ nodeid: 2, reason: 'nodedown' }]);
    const d2 = m.handle({ type: 'node-down', nodeid: 2, at: at(5) });
    assert.deepEqual(downsOf([...d1, ...d2]), []);
    m.handle({ type: 'offline', ls: D, at: at(6) });
    const ok = m.handle({ type: 'fence-result', nodeid: 2, ok: true, at: at(7) });
    assert.deepEqual(downsOf(ok), [`${A} 2`, `${C} 2`]);
    assert.ok(ok.findIndex((a) => a.type === 'down') < ok.findIndex((a) => a.type === 'ops'));
  });

  it('a DOWN that failed: the volume stays stopped through later recoveries (static and groups)', function () {
    const m = modelWith();
    for (const ls of [A, B]) m.handle({ type: 'online', ls, at: at(1) });
    m.handle({ type: 'node-down', nodeid: 2, at: at(2) });
    m.handle({ type: 'fence-result', nodeid: 2, ok: true, at: at(3), manual: true });
    const f = m.handle({ type: 'down-result', uuid: A, nodeid: 2, ok: false, detail: 'EIO', at: at(4) });
    assert.ok(starts(m.handle({ type: 'down-result', uuid: B, nodeid: 2, ok: true, at: at(4) }), B));
    assert.ok(f.some((a) => a.type === 'log' && a.level === 'error' && /stays stopped: ocfs2 to learn that node 2 died \(DOWN failed: EIO\)/.test(a.msg)));
    assert.equal(m.lockspaces.get(A)?.state, 'stopped');
    // node 3 dies while inquorate and is acknowledged by hand: B restarts when quorum is back
    const later = [
      ...m.handle({ type: 'quorum', quorate: false, at: at(5) }),
      ...m.handle({ type: 'node-down', nodeid: 3, at: at(6) }),
      ...m.handle({ type: 'fence-result', nodeid: 3, ok: true, at: at(7), manual: true }),
    ];
    assert.deepEqual(downsOf(later), [`${A} 3`, `${B} 3`]);
    for (const uuid of [A, B]) later.push(...m.handle({ type: 'down-result', uuid, nodeid: 3, ok: true, at: at(7) }));
    const back = m.handle({ type: 'quorum', quorate: true, at: at(8) });
    assert.ok(starts(back, B) && !starts([...later, ...back], A));
    // and a node death handled while quorate (node 2 back, then dead again)
    m.handle({ type: 'node-up', nodeid: 2, at: at(8) });
    m.handle({ type: 'node-down', nodeid: 2, at: at(8) });
    assert.ok(!starts(m.handle({ type: 'fence-result', nodeid: 2, ok: true, at: at(8) }), A));
    // unmounted: forgotten, and a new mount of it is a new lockspace
    m.handle({ type: 'offline', ls: A, at: at(9) });
    assert.ok(starts(m.handle({ type: 'online', ls: A, at: at(10) }), A));

    const { g, change, startAll } = groupsWithA();
    assert.ok(starts(startAll(change([1, 2]), [1, 2]), A));
    const gone = change([1], [2]);
    g.handle({ type: 'node-down', nodeid: 2, at: at(4) });
    assert.deepEqual(downsOf(g.handle({ type: 'fence-result', nodeid: 2, ok: true, at: at(5) })), [`${A} 2`]);
    g.handle({ type: 'down-result', uuid: A, nodeid: 2, ok: false, detail: 'EIO', at: at(6) });
    // the barrier of the change completes, then node 3 joins the group: no start of A either way
    assert.ok(!starts(startAll(gone, [1]), A));
    assert.ok(!starts(startAll(change([1, 3]), [1, 3]), A));
    assert.equal(g.lockspaces.get(A)?.state, 'stopped');
  });

  it('a DOWN is a request: the volume starts only once its result says it was written (static and groups)', function () {
    const m = modelWith();
    for (const ls of [A, B]) m.handle({ type: 'online', ls, at: at(1) });
    m.handle({ type: 'node-down', nodeid: 2, at: at(2) });
    const fenced = m.handle({ type: 'fence-result', nodeid: 2, ok: true, at: at(3) });
    assert.deepEqual(downsOf(fenced), [`${A} 2`, `${B} 2`]);
    assert.ok(!starts(fenced, A) && !starts(fenced, B), 'started in the event that requested their DOWN');
    assert.deepEqual(m.lockspaces.get(A)?.downsPending, [2]);
    const a = m.handle({ type: 'down-result', uuid: A, nodeid: 2, ok: true, at: at(4) });
    assert.ok(starts(a, A) && !starts(a, B));
    assert.equal(m.lockspaces.get(A)?.state, 'running');
    assert.equal(m.lockspaces.get(A)?.downsPending, undefined);
    // the result for a volume unmounted meanwhile: nothing
    m.handle({ type: 'offline', ls: B, at: at(5) });
    assert.deepEqual(m.handle({ type: 'down-result', uuid: B, nodeid: 2, ok: true, at: at(6) }), []);

    const { g, change, startAll } = groupsWithA();
    assert.ok(starts(startAll(change([1, 2]), [1, 2]), A));
    const gone = change([1], [2]);
    g.handle({ type: 'node-down', nodeid: 2, at: at(4) });
    const gf = g.handle({ type: 'fence-result', nodeid: 2, ok: true, at: at(5) });
    assert.deepEqual(downsOf(gf), [`${A} 2`]);
    // the barrier completes while the DOWN is unanswered: no start, and it says what it waits for
    assert.ok(!starts([...gf, ...startAll(gone, [1])], A));
    assert.match(g.lockspaces.get(A)?.waitingFor ?? '', /node 2's death \(DOWN\)/);
    assert.ok(starts(g.handle({ type: 'down-result', uuid: A, nodeid: 2, ok: true, at: at(6) }), A));
  });

  it('not in legacy mode: never a DOWN', function () {
    const m = modelWith('static', false);
    m.handle({ type: 'online', ls: A, at: at(1) });
    m.handle({ type: 'node-down', nodeid: 2, at: at(2) });
    assert.deepEqual(downsOf(m.handle({ type: 'fence-result', nodeid: 2, ok: true, at: at(3), manual: true })), []);
  });

  it('random runs: a DOWN only after its node was fenced, once per death and volume it shared, before that volume restarts; never the local node', function () {
    const ids = [1, 2, 3];
    const vols = [A, B, C];
    const evArb = fc.oneof(
      { weight: 3, arbitrary: fc.record({ type: fc.constant('online' as const), ls: fc.constantFrom(...vols) }) },
      { weight: 1, arbitrary: fc.record({ type: fc.constant('offline' as const), ls: fc.constantFrom(...vols) }) },
      { weight: 2, arbitrary: fc.record({ type: fc.constant('node-down' as const), nodeid: fc.constantFrom(...ids) }) },
      { weight: 2, arbitrary: fc.record({ type: fc.constant('node-up' as const), nodeid: fc.constantFrom(...ids) }) },
      { weight: 3, arbitrary: fc.record({ type: fc.constant('fence-result' as const), nodeid: fc.constantFrom(...ids), ok: fc.boolean() }) },
      { weight: 1, arbitrary: fc.record({ type: fc.constant('quorum' as const), quorate: fc.boolean() }) },
    );
    let sent = 0;
    fc.assert(
      fc.property(fc.array(evArb, { maxLength: 60 }), (evs) => {
        const m = new DlmControlModel({ localNodeId: 1, nodes, legacy: true, maxFenceRounds: 2 });
        const fencePending = new Set<number>();
        /** per failed node: the running volumes it was a member of at its death, still owed a DOWN */
        const owed = new Map<number, Set<string>>();
        const fenced = new Set<number>();
        /** DOWNs requested and not yet answered ("uuid nodeid") */
        const unanswered = new Set<string>();
        let t = 0;
        const feed = (e: DaemonEvent) => {
          const acts = m.handle(e);
          if (e.type === 'down-result') unanswered.delete(`${e.uuid} ${e.nodeid}`);
          const fencedNow = e.type === 'fence-result' && e.ok;
          if (fencedNow) fenced.add(e.nodeid);
          for (const a of acts) {
            if (a.type === 'fence') fencePending.add(a.nodeid);
            if (a.type === 'down') {
              sent++;
              assert.notEqual(a.nodeid, 1, 'DOWN for the local node');
              assert.ok(fencedNow && e.nodeid === a.nodeid, `DOWN ${a.uuid} ${a.nodeid} outside its node's successful fence result (${e.type})`);
              assert.ok(owed.get(a.nodeid)?.delete(a.uuid), `DOWN ${a.uuid} ${a.nodeid} not owed (twice, or a volume it did not share)`);
              unanswered.add(`${a.uuid} ${a.nodeid}`);
            }
            if (a.type === 'ops') {
              for (const o of a.ops) {
                const k = /^\/sys\/kernel\/dlm\/([^/]+)\/control$/.exec(o.path);
                if (k && o.data === '1') for (const [n, set] of owed) assert.ok(!(fenced.has(n) && set.has(k[1]!)), `${k[1]} restarted before DOWN for node ${n}`);
                if (k && o.data === '1') for (const d of unanswered) assert.ok(!d.startsWith(`${k[1]} `), `${k[1]} restarted before the result of DOWN ${d}`);
              }
            }
          }
          // unmounted, or made again (the old one's offline was lost): a new connection, nothing owed
          if (e.type === 'offline' || e.type === 'online') for (const set of owed.values()) set.delete(e.ls);
          if (fencedNow) {
            // everything owed for it went out in this result (those still mounted here)
            for (const u of owed.get(e.nodeid) ?? []) assert.fail(`DOWN ${u} ${e.nodeid} missing`);
            owed.delete(e.nodeid);
            fenced.delete(e.nodeid);
          }
          // as the daemon does: each DOWN's result after the event's other actions (written)
          for (const a of acts) if (a.type === 'down') feed({ type: 'down-result', uuid: a.uuid, nodeid: a.nodeid, ok: true, at: e.at });
        };
        for (const e of evs) {
          t += 10;
          if (e.type === 'fence-result') {
            if (!fencePending.delete(e.nodeid)) continue;
            feed({ type: 'fence-result', nodeid: e.nodeid, ok: e.ok, at: t });
          } else if (e.type === 'node-down') {
            const n = m.nodes.get(e.nodeid)!;
            if (!n.local && n.state === 'up') owed.set(e.nodeid, new Set([...m.lockspaces.values()].filter((l) => l.members.includes(e.nodeid) && l.members.includes(1)).map((l) => l.name)));
            feed({ type: 'node-down', nodeid: e.nodeid, at: t });
          } else if (e.type === 'online' || e.type === 'offline') {
            feed({ type: e.type, ls: e.ls, at: t });
          } else if (e.type === 'node-up') feed({ type: 'node-up', nodeid: e.nodeid, at: t });
          else feed({ type: 'quorum', quorate: e.quorate, at: t });
        }
        feed({ type: 'quorum', quorate: true, at: ++t });
        for (let i = 0; i < 10 && fencePending.size > 0; i++) {
          for (const id of [...fencePending]) {
            fencePending.delete(id);
            feed({ type: 'fence-result', nodeid: id, ok: true, at: ++t });
          }
        }
        for (const n of m.nodes.values()) if (n.state === 'failed') feed({ type: 'fence-result', nodeid: n.nodeid, ok: true, at: ++t, manual: true });
        assert.deepEqual([...owed], [], 'a fenced death with a DOWN never sent');
      }),
      { numRuns: 400 },
    );
    assert.ok(sent > 20, `the runs sent only ${sent} DOWNs`);
  });
});
