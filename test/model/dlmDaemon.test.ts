import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { AttrOp } from '../../lib/kernel/backend.js';
import { lockspaceId } from '../../lib/model/dlm.js';
import { daemonStartPlan, DlmControlModel, parseMembersFile, type DaemonAction, type DaemonEvent } from '../../lib/model/dlmDaemon.js';

const C = '/sys/kernel/config/dlm/cluster';
const show = (ops: AttrOp[]) => ops.map((o) => `${o.op} ${o.path.replace(C, 'C').replace('/sys/kernel/dlm/', 'K/')}${typeof o.data === 'string' ? ` ${o.data}` : o.data ? ` <${o.data.length} bytes>` : ''}`);
const opsOf = (acts: DaemonAction[]) => acts.flatMap((a) => (a.type === 'ops' ? a.ops : []));
const nodes = [
  { name: 'n1', nodeid: 1, addresses: ['192.0.2.1'] },
  { name: 'n2', nodeid: 2, addresses: ['192.0.2.2'] },
];

describe('dlm daemon model', function () {
  it('members file: NAME=ID@ADDR lines, comments, errors with line numbers', function () {
    assert.deepEqual(parseMembersFile('# demo\nn1=1@192.0.2.1\n\nn2 = 2 @ 192.0.2.2,10.0.0.2  # two links\n3@::1\n'), [
      { name: 'n1', nodeid: 1, addresses: ['192.0.2.1'] },
      { name: 'n2', nodeid: 2, addresses: ['192.0.2.2', '10.0.0.2'] },
      { nodeid: 3, addresses: ['::1'] },
    ]);
    assert.throws(() => parseMembersFile('n1=1@1.1.1.1\nn1=2@1.1.1.2'), /line 2: name n1 is listed twice/);
    assert.throws(() => parseMembersFile('n1=0@1.1.1.1'), /line 1: node id 0/);
    assert.throws(() => parseMembersFile('n1 1 1.1.1.1'), /line 1: .* is not NAME=ID@ADDR/);
    assert.throws(() => parseMembersFile('n1=1@192.0.2.1\nn2=2@999.1.1.1'), /line 2: '999.1.1.1' is not an IPv4 or IPv6 address/);
    assert.throws(() => parseMembersFile('n1=1@1.2.3'), /line 1: '1.2.3' is not an IPv4/);
    assert.throws(() => parseMembersFile('# nothing'), /no nodes/);
  });

  it('start plan: cluster dir, cluster_name, recover_callbacks, protocol (only with no lockspace), missing comms; adopts and pending', function () {
    const fresh = daemonStartPlan({ clusterName: 'demo', localNodeId: 1, members: nodes }, { clusterDir: false, comms: [], spaces: {}, sysfs: [] });
    assert.deepEqual(show(fresh.ops), [
      'mkdir C', 'write C/cluster_name demo', 'write C/recover_callbacks 1', 'write C/protocol 0',
      'mkdir C/comms/1', 'write C/comms/1/nodeid 1', 'write C/comms/1/local 1', 'write C/comms/1/addr <128 bytes>',
      'mkdir C/comms/2', 'write C/comms/2/nodeid 2', 'write C/comms/2/addr <128 bytes>',
    ]);
    const again = daemonStartPlan({ clusterName: 'demo', localNodeId: 1, members: nodes }, { clusterDir: true, comms: [1], spaces: { A: [1, 2] }, sysfs: ['A', 'B'] });
    assert.deepEqual(show(again.ops), ['write C/cluster_name demo', 'write C/recover_callbacks 1', 'mkdir C/comms/2', 'write C/comms/2/nodeid 2', 'write C/comms/2/addr <128 bytes>']);
    assert.deepEqual(again.adopt, [{ ls: 'A', members: [1, 2] }]);
    assert.deepEqual(again.pending, ['B']);
    assert.throws(() => daemonStartPlan({ clusterName: 'a b', localNodeId: 1, members: nodes }, { clusterDir: false, comms: [], spaces: {}, sysfs: [] }), /no spaces/);
    // legacy mode: ocfs2 volumes then connect WITH_CONTROLD (node deaths through /dev/ocfs2_control)
    const legacy = daemonStartPlan({ clusterName: 'demo', localNodeId: 1, members: nodes, recoverCallbacks: false }, { clusterDir: false, comms: [], spaces: {}, sysfs: [] });
    assert.deepEqual(show(legacy.ops).slice(0, 4), ['mkdir C', 'write C/cluster_name demo', 'write C/recover_callbacks 0', 'write C/protocol 0']);
  });

  it('join → running, with every up node; leave answers event_done 0', function () {
    const m = new DlmControlModel({ localNodeId: 1, nodes });
    const a = m.handle({ type: 'online', ls: 'LS', at: 1 });
    assert.deepEqual(show(opsOf(a)), [
      'mkdir C/spaces/LS', 'mkdir C/spaces/LS/nodes/1', 'write C/spaces/LS/nodes/1/nodeid 1', 'mkdir C/spaces/LS/nodes/2', 'write C/spaces/LS/nodes/2/nodeid 2',
      `write K/LS/id ${lockspaceId('LS')}`, 'write K/LS/control 1', 'write K/LS/event_done 0',
    ]);
    assert.equal(m.lockspaces.get('LS')?.state, 'running');
    const l = m.handle({ type: 'offline', ls: 'LS', at: 2 });
    assert.deepEqual(show(opsOf(l)), ['rmdir C/spaces/LS/nodes/1', 'rmdir C/spaces/LS/nodes/2', 'rmdir C/spaces/LS', 'write K/LS/event_done 0']);
    assert.equal(m.lockspaces.size, 0);
  });

  it('member death: control 0, fence, then comm and member removed before control 1; joins wait for the fencing', function () {
    const m = new DlmControlModel({ localNodeId: 1, nodes });
    m.handle({ type: 'online', ls: 'LS', at: 1 });
    const d = m.handle({ type: 'node-down', nodeid: 2, at: 1000 });
    assert.deepEqual(show(opsOf(d)), ['write K/LS/control 0']);
    assert.deepEqual(d.find((x) => x.type === 'fence'), { type: 'fence', nodeid: 2, failTime: 1000, round: 1, delayMs: 0 });
    assert.equal(m.lockspaces.get('LS')?.state, 'stopped');
    // a new join meanwhile waits
    assert.deepEqual(opsOf(m.handle({ type: 'online', ls: 'NEW', at: 1100 })), []);
    assert.equal(m.lockspaces.get('NEW')?.waitingFor, 'fencing of node 2');
    // failed fencing: retried, nothing restarted
    const f = m.handle({ type: 'fence-result', nodeid: 2, ok: false, at: 1200 });
    assert.deepEqual(opsOf(f), []);
    assert.equal(f.find((x) => x.type === 'fence')?.type, 'fence');
    const ok = m.handle({ type: 'fence-result', nodeid: 2, ok: true, at: 1300 });
    assert.deepEqual(show(opsOf(ok)), [
      'rmdir C/comms/2', 'rmdir C/spaces/LS/nodes/2', 'write K/LS/control 1',
      'mkdir C/spaces/NEW', 'mkdir C/spaces/NEW/nodes/1', 'write C/spaces/NEW/nodes/1/nodeid 1', `write K/NEW/id ${lockspaceId('NEW')}`, 'write K/NEW/control 1', 'write K/NEW/event_done 0',
    ]);
    assert.deepEqual(m.lockspaces.get('LS'), { name: 'LS', state: 'running', members: [1], since: 1300 });
    // it comes back: comm recreated (nodeid before addr)
    assert.deepEqual(show(opsOf(m.handle({ type: 'node-up', nodeid: 2, at: 2000 }))), ['mkdir C/comms/2', 'write C/comms/2/nodeid 2', 'write C/comms/2/addr <128 bytes>']);
  });

  it('quorum gates fencing and starts; join timeout and failed join ops are answered with a negative errno', function () {
    const m = new DlmControlModel({ localNodeId: 1, nodes: [...nodes, { nodeid: 3, addresses: ['192.0.2.3'] }] });
    m.handle({ type: 'quorum', quorate: false, at: 0 });
    assert.deepEqual(opsOf(m.handle({ type: 'online', ls: 'A', at: 1 })), []);
    assert.deepEqual(show(opsOf(m.handle({ type: 'join-timeout', ls: 'A', at: 2 }))), ['write K/A/event_done -110']);
    assert.deepEqual(m.handle({ type: 'join-timeout', ls: 'A', at: 3 }), []);
    m.handle({ type: 'online', ls: 'B', at: 4 });
    const q = m.handle({ type: 'quorum', quorate: true, at: 5 });
    assert.equal(show(opsOf(q)).at(-1), 'write K/B/event_done 0');
    const f = m.handle({ type: 'ops-failed', ls: 'B', answers: 'join', errno: 2, at: 6, eventDoneWritten: false });
    assert.deepEqual(show(opsOf(f)).slice(-1), ['write K/B/event_done -2']);
    // death while inquorate: stopped, fencing held until quorum returns
    m.handle({ type: 'online', ls: 'C', at: 7 });
    m.handle({ type: 'quorum', quorate: false, at: 8 });
    const d = m.handle({ type: 'node-down', nodeid: 3, at: 9 });
    assert.equal(d.some((x) => x.type === 'fence'), false);
    assert.equal(m.handle({ type: 'quorum', quorate: true, at: 10 }).some((x) => x.type === 'fence'), true);
  });

  it('rescan: unknown waiting lockspaces are joined, vanished ones forgotten, configured ones adopted', function () {
    const m = new DlmControlModel({ localNodeId: 1, nodes });
    m.handle({ type: 'online', ls: 'GONE', at: 0 });
    const r = m.handle({ type: 'rescan', sysfs: ['WAIT', 'RUN'], spaces: { RUN: [1, 2], GONE: [1, 2] }, at: 1 });
    assert.equal(m.lockspaces.has('GONE'), false);
    assert.equal(m.lockspaces.get('RUN')?.state, 'running');
    assert.equal(m.lockspaces.get('WAIT')?.state, 'running');
    assert.ok(show(opsOf(r)).includes('write K/WAIT/event_done 0'));
  });

  it('static mode: a lockspace adopted at start is started again (the previous daemon\'s exit stopped it); with a member down it waits, stopped, and restarts after the fence', function () {
    const m = new DlmControlModel({ localNodeId: 1, nodes });
    const a = m.adopt('A', [1, 2], 0);
    assert.deepEqual(show(opsOf(a)), ['write K/A/control 1']);
    assert.equal(a.find((x) => x.type === 'ops' && x.bestEffort), a.find((x) => x.type === 'ops'), 'best effort: EINVAL when it still runs');
    assert.equal(m.lockspaces.get('A')?.state, 'running');
    const m2 = new DlmControlModel({ localNodeId: 1, nodes });
    m2.handle({ type: 'node-down', nodeid: 2, at: 0 });
    const b = m2.adopt('B', [1, 2], 1);
    assert.deepEqual(opsOf(b), [], 'not started with a dead, unfenced member');
    assert.equal(m2.lockspaces.get('B')?.state, 'stopped');
    const f = m2.handle({ type: 'fence-result', nodeid: 2, ok: true, at: 2 });
    assert.ok(show(opsOf(f)).includes('write K/B/control 1'), show(opsOf(f)).join('; '));
  });

  // ---- model test: random event sequences against a tiny fs/dlm configfs and kernel ----
  it('model: every join answered exactly once; no start with an unfenced dead member or while inquorate; comm gone before a dead node\'s restart; ops always valid', function () {
    const ids = [1, 2, 3];
    const lsNames = ['A', 'B', 'C'];
    const evArb = fc.oneof(
      fc.record({ type: fc.constant('online' as const), ls: fc.constantFrom(...lsNames) }),
      fc.record({ type: fc.constant('offline' as const), ls: fc.constantFrom(...lsNames) }),
      fc.record({ type: fc.constant('node-down' as const), nodeid: fc.constantFrom(...ids) }),
      fc.record({ type: fc.constant('node-up' as const), nodeid: fc.constantFrom(...ids) }),
      fc.record({ type: fc.constant('fence-result' as const), nodeid: fc.constantFrom(...ids), ok: fc.boolean() }),
      fc.record({ type: fc.constant('quorum' as const), quorate: fc.boolean() }),
      fc.record({ type: fc.constant('join-timeout' as const), ls: fc.constantFrom(...lsNames) }),
    );
    fc.assert(
      fc.property(fc.array(evArb, { maxLength: 60 }), (evs) => {
        const m = new DlmControlModel({ localNodeId: 1, nodes: ids.map((i) => ({ nodeid: i, addresses: [`192.0.2.${i}`] })), maxFenceRounds: 2 });
        // the kernel: configfs dirs, comms, lockspaces waiting for event_done
        const dirs = new Set<string>([C, ...ids.map((i) => `${C}/comms/${i}`)]);
        const waiting = new Map<string, 'join' | 'leave'>();
        const kernelLs = new Set<string>();
        const answered = new Map<string, number>();
        let quorate = true;
        const fencePending = new Set<number>();
        const dead = new Set<number>();
        const commRemovedAfterDeath = new Set<number>();
        const apply = (acts: DaemonAction[]) => {
          for (const a of acts) {
            assert.notEqual(a.type, 'down', 'a DOWN outside legacy mode');
            if (a.type === 'fence') {
              assert.ok(quorate, 'fencing while inquorate');
              fencePending.add(a.nodeid);
            }
            if (a.type !== 'ops') continue;
            for (const o of a.ops) {
              const valid = (() => {
                if (o.op === 'mkdir') {
                  if (dirs.has(o.path)) return false;
                  dirs.add(o.path);
                  return true;
                }
                if (o.op === 'rmdir') {
                  if (!dirs.has(o.path) || [...dirs].some((d) => d.startsWith(`${o.path}/`) && !d.endsWith('/nodes'))) return false;
                  dirs.delete(o.path);
                  const cm = /comms\/(\d+)$/.exec(o.path);
                  if (cm && dead.has(Number(cm[1]))) commRemovedAfterDeath.add(Number(cm[1]));
                  return true;
                }
                const sp = /spaces\/([^/]+)\/nodes\/(\d+)\/nodeid$/.exec(o.path);
                if (sp) {
                  // comm before the member's nodeid
                  assert.ok(dirs.has(`${C}/comms/${sp[2]}`), `nodeid for ${sp[2]} in ${sp[1]} written with no comm`);
                  return dirs.has(o.path.replace(/\/nodeid$/, ''));
                }
                const k = /^\/sys\/kernel\/dlm\/([^/]+)\/(\w+)$/.exec(o.path);
                if (k) {
                  const [, ls, attr] = k;
                  if (!kernelLs.has(ls!)) return false;
                  if (attr === 'event_done') {
                    if (!waiting.has(ls!)) assert.fail(`stray event_done for ${ls}`);
                    const kind = waiting.get(ls!)!;
                    waiting.delete(ls!);
                    if (kind === 'join') {
                      answered.set(ls!, (answered.get(ls!) ?? 0) + 1);
                      if (o.data !== '0') kernelLs.delete(ls!);
                    } else kernelLs.delete(ls!);
                  }
                  if (attr === 'control' && o.data === '1') {
                    assert.ok(quorate, `start of ${ls} while inquorate`);
                    const members = [...dirs].filter((d) => d.startsWith(`${C}/spaces/${ls}/nodes/`)).map((d) => Number(d.split('/').pop()));
                    for (const mm of members) {
                      assert.ok(!dead.has(mm) || commRemovedAfterDeath.has(mm), `start of ${ls} with dead node ${mm} whose comm is still there`);
                      const st = m.nodes.get(mm)!.state;
                      assert.notEqual(st, 'failed', `start of ${ls} with unfenced dead member ${mm}`);
                    }
                  }
                  return true;
                }
                return true;
              })();
              if (!valid && !a.bestEffort) assert.fail(`invalid op ${o.op} ${o.path} in '${a.why}'`);
            }
          }
        };
        let t = 0;
        const feed = (e: DaemonEvent) => apply(m.handle(e));
        for (const e of evs) {
          t += 10;
          if (e.type === 'online') {
            if (kernelLs.has(e.ls)) continue; // the kernel refuses a second lockspace of that name
            kernelLs.add(e.ls);
            waiting.set(e.ls, 'join');
            feed({ type: 'online', ls: e.ls, at: t });
          } else if (e.type === 'offline') {
            if (!kernelLs.has(e.ls) || waiting.has(e.ls)) continue; // only a joined lockspace is released
            waiting.set(e.ls, 'leave');
            feed({ type: 'offline', ls: e.ls, at: t });
          } else if (e.type === 'fence-result') {
            if (!fencePending.delete(e.nodeid)) continue;
            feed({ type: 'fence-result', nodeid: e.nodeid, ok: e.ok, at: t });
          } else if (e.type === 'node-down') {
            if (e.nodeid !== 1 && m.nodes.get(e.nodeid)!.state === 'up') {
              dead.add(e.nodeid);
              commRemovedAfterDeath.delete(e.nodeid);
            }
            feed({ type: 'node-down', nodeid: e.nodeid, at: t });
          } else if (e.type === 'node-up') {
            if (m.nodes.get(e.nodeid)!.state === 'down') dead.delete(e.nodeid);
            feed({ type: 'node-up', nodeid: e.nodeid, at: t });
          } else if (e.type === 'quorum') {
            quorate = e.quorate;
            feed({ type: 'quorum', quorate: e.quorate, at: t });
          } else {
            feed({ type: 'join-timeout', ls: e.ls, at: t });
          }
        }
        // the end: quorum back, every fence succeeds (or is acknowledged), join timers fire
        quorate = true;
        feed({ type: 'quorum', quorate: true, at: ++t });
        for (let i = 0; i < 10 && fencePending.size > 0; i++) {
          for (const id of [...fencePending]) {
            fencePending.delete(id);
            feed({ type: 'fence-result', nodeid: id, ok: true, at: ++t });
          }
        }
        for (const n of m.nodes.values()) if (n.state === 'failed') feed({ type: 'fence-result', nodeid: n.nodeid, ok: true, at: ++t, manual: true });
        for (const ls of lsNames) feed({ type: 'join-timeout', ls, at: ++t });
        assert.deepEqual([...waiting.entries()].filter(([, k]) => k === 'join'), [], 'a join was left unanswered');
        for (const [ls, n] of answered) assert.ok(n >= 1, ls);
        // every lockspace the kernel still has is running with only live members
        for (const l of m.lockspaces.values()) {
          assert.equal(l.state, 'running', `${l.name} ${l.state}`);
          for (const mm of l.members) assert.equal(m.nodes.get(mm)!.state, 'up');
        }
      }),
      { numRuns: 400 },
    );
  });
});

describe('daemon start plan: comms left by an earlier run', function () {
  const members = [
    { nodeid: 1, addresses: ['192.0.2.1'] },
    { nodeid: 2, addresses: ['2001:db8::2'] },
  ];
  const base = { clusterDir: true, comms: [1, 2], spaces: {}, sysfs: [] as string[] };
  const C = '/sys/kernel/config/dlm/cluster';
  const plan = (commAddrs: Record<number, string[]>, sysfs: string[] = []) => daemonStartPlan({ clusterName: 'demo', localNodeId: 1, members }, { ...base, sysfs, commAddrs });

  it('same addresses (IPv6 spelled otherwise): kept as they are', function () {
    const p = plan({ 1: ['192.0.2.1'], 2: ['2001:0db8:0:0::2'] });
    assert.equal(p.ops.some((o) => o.path.startsWith(`${C}/comms/`)), false);
  });

  it('a node whose address changed, no lockspace running: its comm removed, then made again with the new address', function () {
    const p = plan({ 1: ['192.0.2.1'], 2: ['2001:db8::9'] });
    const paths = p.ops.map((o) => `${o.op} ${o.path.replace(C, '')}`);
    assert.deepEqual(paths.filter((x) => x.includes('/comms/')), ['rmdir /comms/2', 'mkdir /comms/2', 'write /comms/2/nodeid', 'write /comms/2/addr']);
    assert.ok(paths.indexOf('rmdir /comms/2') > paths.indexOf('write /cluster_name'));
  });

  it('changed while lockspaces run: refused, naming the node, both addresses and the fix; nothing planned', function () {
    assert.throws(
      () => plan({ 1: ['192.0.2.1'], 2: ['2001:db8::9'] }, ['A1000000000000000000000000000001']),
      (e: Error & { hint?: string }) => /node 2: 2001:db8::9 in fs\/dlm, 2001:db8::2 now/.test(e.message) && /1 lockspace\(s\) run/.test(e.message) && /o2stack umount/.test(e.hint ?? ''),
    );
  });
});
