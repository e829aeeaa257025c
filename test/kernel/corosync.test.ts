// The corosync surface on a host without a reachable corosync, the TypeScript wrapper over a
// scripted native surface, and the static membership source. (Real corosync clusters:
// test/cluster, npm run test:cluster.)
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readlinkSync, readFileSync } from 'node:fs';
import {
  CorosyncError,
  corosyncAvailability,
  corosyncConfigFromCmap,
  CpgGroup,
  Quorum,
  readCorosyncConfig,
  retryTryAgain,
} from '../../lib/kernel/corosync.js';
import { loadNative, type NativeCorosync, type NativeCorosyncAvailable, type NativeCsEvent, type NativeCsHandle } from '../../lib/kernel/native.js';
import type { MembersChangedEvent, MembershipSource, QuorumChangedEvent } from '../../lib/model/membership.js';
import { StaticCluster, StaticMembership } from '../../lib/stack/membership/static.js';
import { runWithBothCopies, source } from '../support/twoCopies.js';

const root = process.getuid?.() === 0;

/** Can this process create a network namespace (unshare -n)? */
function canUnshareNet(): boolean {
  if (!root) return false;
  const r = spawnSync('unshare', ['-n', 'true'], { stdio: 'ignore' });
  return r.status === 0;
}

/** corosync processes whose network namespace is ours (their IPC would be reachable). */
function corosyncInOurNetns(): number[] {
  const mine = readlinkSync('/proc/self/ns/net');
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, 'utf8').trim() !== 'corosync') continue;
      if (readlinkSync(`/proc/${d}/ns/net`) === mine) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

describe('corosync surface (no corosync reachable)', function () {
  this.timeout(30000);
  const surface = () => loadNative().corosync;

  it('a second copy of the library in the process (dist/index.cjs beside these sources) sees the same surface', function () {
    // the first copy replaces the addon's `corosync` with its getter; a second copy took that
    // getter's answer for the raw surface and said "no run-time corosync loader" on machines
    // without corosync's libraries
    const { esm, cjs } = runWithBothCopies(this, {
      imports: `import { corosyncAvailability } from ${source('lib/kernel/corosync.ts')};\nimport { loadNative } from ${source('lib/kernel/native.ts')};`,
      beforeCjs: 'loadNative();',
      body: 'console.log(JSON.stringify({ esm: corosyncAvailability(), cjs: cjs.corosyncAvailability() }));',
    }) as { esm: { available: boolean; reason?: string }; cjs: { available: boolean; reason?: string } };
    assert.deepEqual(esm, cjs);
    if (!esm.available) assert.doesNotMatch(esm.reason!, /no run-time corosync loader/);
  });

  it('is registered and says whether corosync\'s client libraries could be loaded, and if not why', function () {
    const s = surface();
    assert.ok(loadNative().surfaces.includes('corosync'));
    assert.ok(s);
    const a = corosyncAvailability();
    assert.equal(a.available, s.available);
    if (!s.available) {
      assert.match(s.reason, /^lib(cpg\.so\.4|quorum\.so\.5|cmap\.so\.4) could not be loaded \(.*\): .*apt-get install libcpg4 libquorum5 libcmap4/);
      assert.deepEqual(a, { available: false, reason: s.reason });
    } else {
      assert.equal(typeof s.cpgOpen, 'function');
      assert.deepEqual({ ...s.CPG_REASON }, { UNDEFINED: 0, JOIN: 1, LEAVE: 2, NODEDOWN: 3, NODEUP: 4, PROCDOWN: 5 });
      assert.equal(s.CS.CS_ERR_LIBRARY, 2);
      assert.equal(s.CS.CS_ERR_TRY_AGAIN, 6);
    }
  });

  it('an unavailable build fails every call with E_NO_COROSYNC carrying the reason', async function () {
    const reason = 'libcpg.so.4 could not be loaded (libcpg.so.4: cannot open shared object file): install them: apt-get install libcpg4 libquorum5 libcmap4';
    const native: NativeCorosync = { available: false, reason };
    assert.deepEqual(corosyncAvailability(native), { available: false, reason });
    for (const p of [CpgGroup.join('g', { native }), Quorum.open({ native }), readCorosyncConfig({ native })]) {
      await assert.rejects(p, (e: unknown) => {
        assert.ok(e instanceof CorosyncError);
        assert.equal(e.code, 'E_NO_COROSYNC');
        assert.equal(e.hint, reason);
        assert.match(e.message, /apt-get install libcpg4/);
        return true;
      });
    }
  });

  it('connecting where no corosync runs fails with CS_ERR_LIBRARY and the hint', function () {
    const s = surface();
    if (!s?.available) {
      console.log(`      skip: ${s ? s.reason : 'no corosync surface'}`);
      this.skip();
    }
    // A fresh network namespace has no corosync (its IPC sockets are per network namespace), so
    // this is deterministic even on a machine where corosync runs. Without root, run here when
    // no corosync shares our namespace.
    const script = `
      import { CpgGroup, Quorum, readCorosyncConfig } from './lib/kernel/corosync.ts';
      const out = [];
      for (const f of [() => CpgGroup.join('o2s-test', { attempts: 1 }), () => Quorum.open({ attempts: 1 }), () => readCorosyncConfig({ attempts: 1 })]) {
        try { await f(); out.push({ ok: true }); }
        catch (e) { out.push({ name: e.name, code: e.code, csError: e.csError, call: e.call, hint: e.hint, message: e.message, isCorosyncError: e.constructor.name }); }
      }
      console.log(JSON.stringify(out));`;
    let cmd: string[];
    if (canUnshareNet()) {
      cmd = ['unshare', '-n', process.execPath, '--import', 'tsx', '--input-type=module', '-e', script];
    } else {
      const others = corosyncInOurNetns();
      if (others.length > 0) {
        console.log(`      skip: corosync (pid ${others.join(', ')}) runs in this network namespace and we cannot unshare one (not root)`);
        this.skip();
      }
      cmd = [process.execPath, '--import', 'tsx', '--input-type=module', '-e', script];
    }
    const stdout = execFileSync(cmd[0] as string, cmd.slice(1), { encoding: 'utf8', timeout: 20000 });
    const results = JSON.parse(stdout.trim().split('\n').pop() as string) as Record<string, unknown>[];
    assert.equal(results.length, 3);
    const calls = ['cpg_model_initialize', 'quorum_model_initialize', 'cmap_initialize'];
    results.forEach((r, i) => {
      assert.equal(r.isCorosyncError, 'CorosyncError', JSON.stringify(r));
      assert.equal(r.code, 'CS_ERR_LIBRARY');
      assert.equal(r.csError, 2);
      assert.equal(r.call, calls[i]);
      assert.match(String(r.hint), /is corosync running\? systemctl start corosync/);
      assert.match(String(r.message), /^CS_ERR_LIBRARY: .*is corosync running\?/);
    });
  });
});

/** A scripted native surface: records calls, throws what it is told, delivers events on demand. */
function scriptedNative(script: { joinTryAgain?: number; sendTryAgain?: number[]; sendFails?: string } = {}) {
  const calls: string[] = [];
  let onEvents: ((e: NativeCsEvent[]) => void) | undefined;
  let joinLeft = script.joinTryAgain ?? 0;
  const sendPlan = [...(script.sendTryAgain ?? [])];
  const sent: string[] = [];
  const tryAgain = (call: string) => Object.assign(new Error(`CS_ERR_TRY_AGAIN: ${call}`), { code: 'CS_ERR_TRY_AGAIN', csError: 6, call });
  const h: NativeCsHandle = {};
  const native: NativeCorosyncAvailable = {
    available: true,
    cpgOpen(cb) {
      calls.push('cpgOpen');
      onEvents = cb;
      return h;
    },
    cpgJoin(_h, group) {
      calls.push(`cpgJoin ${group}`);
      if (joinLeft-- > 0) throw tryAgain('cpg_join');
    },
    cpgLeave(_h, group) {
      calls.push(`cpgLeave ${group}`);
    },
    cpgSend(_h, data) {
      if (script.sendFails !== undefined && String(data) === script.sendFails) throw Object.assign(new Error('CS_ERR_LIBRARY: cpg_mcast_joined'), { code: 'CS_ERR_LIBRARY', csError: 2, call: 'cpg_mcast_joined' });
      const n = sendPlan.length > 0 ? (sendPlan[0] as number) : 0;
      if (n > 0) {
        sendPlan[0] = n - 1;
        throw tryAgain('cpg_mcast_joined');
      }
      sendPlan.shift();
      sent.push(String(data));
    },
    cpgLocalNodeId: () => 7,
    cpgMembers: () => [],
    cpgMaxMessageSize: () => 1 << 20,
    quorumOpen(cb) {
      onEvents = cb;
      return h;
    },
    quorumGetQuorate: () => true,
    close() {
      calls.push('close');
      return true;
    },
    ref() {},
    unref() {},
    info: () => ({ kind: 'cpg', fd: 3, open: true, down: false, refed: true, dispatches: 0, events: 0, wakeups: 0, quorumType: 1 }),
    cmapGetPrefix: () => ({}),
    CPG_REASON: { UNDEFINED: 0, JOIN: 1, LEAVE: 2, NODEDOWN: 3, NODEUP: 4, PROCDOWN: 5 },
    CS: {},
  };
  return { native, calls, sent, emit: (e: NativeCsEvent[]) => onEvents?.(e) };
}

describe('corosync TypeScript wrapper (scripted native surface)', function () {
  it('retries CS_ERR_TRY_AGAIN a bounded number of times, then gives up with the error', async function () {
    const ok = scriptedNative({ joinTryAgain: 3 });
    const g = await CpgGroup.join('grp', { native: ok.native, attempts: 5, delayMs: 1 });
    assert.equal(ok.calls.filter((c) => c === 'cpgJoin grp').length, 4);
    assert.equal(g.localNodeId, 7);
    g.close();

    const bad = scriptedNative({ joinTryAgain: 100 });
    await assert.rejects(CpgGroup.join('grp', { native: bad.native, attempts: 5, delayMs: 1 }), { name: 'CorosyncError', code: 'CS_ERR_TRY_AGAIN' });
    assert.equal(bad.calls.filter((c) => c === 'cpgJoin grp').length, 5);
    assert.equal(bad.calls.at(-1), 'close', 'the connection is closed after a failed join');

    let n = 0;
    await assert.rejects(
      retryTryAgain(() => {
        n++;
        throw Object.assign(new Error('x'), { code: 'CS_ERR_LIBRARY', csError: 2 });
      }),
      { code: 'CS_ERR_LIBRARY' },
    );
    assert.equal(n, 1, 'other errors are not retried');
  });

  it('keeps sends in call order when flow control makes one of them wait', async function () {
    const s = scriptedNative({ sendTryAgain: [0, 3, 0, 2] });
    const g = await CpgGroup.join('grp', { native: s.native, delayMs: 1 });
    await Promise.all(['a', 'b', 'c', 'd', 'e'].map((m) => g.send(m, { delayMs: 1 })));
    assert.deepEqual(s.sent, ['a', 'b', 'c', 'd', 'e']);
    g.close();
  });

  it('sendNow: sent at once when nothing waits; false under flow control or behind queued sends (send() then keeps the order); other errors thrown', async function () {
    const s = scriptedNative({ sendTryAgain: [0, 2], sendFails: 'bad' });
    const g = await CpgGroup.join('grp', { native: s.native, delayMs: 1 });
    assert.equal(g.sendNow('a'), true);
    assert.equal(g.sendNow('b'), false, 'CS_ERR_TRY_AGAIN: not sent, the caller queues it');
    const pb = g.send('b', { delayMs: 1 });
    assert.equal(g.sendNow('c'), false, 'b is queued: c may not overtake it');
    const pc = g.send('c', { delayMs: 1 });
    await Promise.all([pb, pc]);
    assert.equal(g.sendNow('d'), true, 'the queue is empty again');
    assert.deepEqual(s.sent, ['a', 'b', 'c', 'd']);
    assert.throws(() => g.sendNow('bad'), { name: 'CorosyncError', code: 'CS_ERR_LIBRARY' });
    await assert.rejects(g.send('bad'), { name: 'CorosyncError', code: 'CS_ERR_LIBRARY' });
    g.close();
    assert.equal(g.sendNow('e'), false, 'a closed group sends nothing');
  });

  it('maps confchg reasons and messages, and closes itself on down', async function () {
    const s = scriptedNative();
    const g = await CpgGroup.join('grp', { native: s.native });
    const seen: string[] = [];
    g.on('confchg', (c) => seen.push(`confchg ${c.members.map((m) => m.nodeid).join(',')} +${c.joined.map((m) => `${m.nodeid}:${m.reason}`)} -${c.left.map((m) => `${m.nodeid}:${m.reason}`)}`));
    g.on('message', (m) => seen.push(`message ${m.nodeid} ${m.data.toString()}`));
    g.on('down', (e) => seen.push(`down ${e.code}`));
    s.emit([
      { type: 'confchg', group: 'grp', members: [{ nodeid: 7, pid: 1, reason: 0 }, { nodeid: 8, pid: 2, reason: 0 }], joined: [{ nodeid: 8, pid: 2, reason: 1 }], left: [] },
      { type: 'message', group: 'grp', nodeid: 8, pid: 2, data: Buffer.from('hi') },
      { type: 'confchg', group: 'grp', members: [{ nodeid: 7, pid: 1, reason: 0 }], joined: [], left: [{ nodeid: 8, pid: 2, reason: 3 }] },
      { type: 'down', error: Object.assign(new Error('gone'), { code: 'CS_ERR_LIBRARY', csError: 2, call: 'cpg_dispatch' }) },
    ]);
    assert.deepEqual(seen, ['confchg 7,8 +8:join -', 'message 8 hi', 'confchg 7 + -8:nodedown', 'down CS_ERR_LIBRARY']);
    assert.deepEqual(g.members(), [{ nodeid: 7, pid: 1, reason: 'undefined' }]);
    assert.ok(g.closed && g.down);
    assert.equal(s.calls.at(-1), 'close');
  });

  it('builds the config from cmap keys (positions until the first without a nodeid)', function () {
    const cfg = corosyncConfigFromCmap({
      'totem.cluster_name': 'testcl',
      'nodelist.local_node_pos': 1,
      'nodelist.node.0.nodeid': 1,
      'nodelist.node.0.name': 'n1',
      'nodelist.node.0.ring0_addr': '192.0.2.1',
      'nodelist.node.1.nodeid': 2,
      'nodelist.node.1.ring0_addr': '192.0.2.2',
      'nodelist.node.1.ring1_addr': '198.51.100.2',
      'nodelist.node.3.nodeid': 4,
      'quorum.provider': 'corosync_votequorum',
      'quorum.two_node': 0,
    });
    assert.deepEqual(cfg, {
      clusterName: 'testcl',
      nodes: [
        { index: 0, nodeid: 1, name: 'n1', ring0Addr: '192.0.2.1', ringAddrs: ['192.0.2.1'] },
        { index: 1, nodeid: 2, ring0Addr: '192.0.2.2', ringAddrs: ['192.0.2.2', '198.51.100.2'] },
      ],
      localNodePos: 1,
      localNodeId: 2,
      quorumProvider: 'corosync_votequorum',
      twoNode: false,
    });
  });
});

/** Records every event of a source as one line. */
function record(s: MembershipSource, log: string[]): void {
  const who = `n${s.localNodeId()}`;
  const list = (xs: { nodeid: number; reason?: string }[]) => xs.map((x) => (x.reason ? `${x.nodeid}:${x.reason}` : `${x.nodeid}`)).join(',');
  s.on('members', (e: MembersChangedEvent) => log.push(`${who} members ${e.group} [${list(e.members)}] +[${list(e.joined)}] -[${list(e.left)}]`));
  s.on('message', (m) => log.push(`${who} message ${m.group} from ${m.nodeid}: ${m.data.toString()}`));
  s.on('quorum', (q: QuorumChangedEvent) => log.push(`${who} quorum ${q.quorate ? 'quorate' : 'NOT quorate'} [${q.nodes}] +[${q.joined}] -[${q.left}]`));
  s.on('down', (e) => log.push(`${who} down ${e.message}`));
}

describe('static membership source', function () {
  it('rejects bad node lists', function () {
    assert.throws(() => new StaticCluster({ nodes: [] }), RangeError);
    assert.throws(() => new StaticCluster({ nodes: [1, 1] }), /listed twice/);
    assert.throws(() => new StaticCluster({ nodes: [0] }), RangeError);
    assert.throws(() => new StaticCluster({ nodes: [1] }).source(2), /not in the static node list/);
  });

  it('a standalone node: quorum, its own group, loopback messages, leave', async function () {
    const s = StaticMembership.standalone({ localNodeId: 1, nodes: [{ nodeid: 1, name: 'a' }, { nodeid: 2, name: 'b' }, { nodeid: 3, name: 'c' }] });
    await assert.rejects(s.joinGroup('g'), /start\(\) first/);
    await s.start();
    const log: string[] = [];
    record(s, log);
    assert.equal(s.localNodeId(), 1);
    assert.deepEqual(s.clusterNodes().map((n) => n.name), ['a', 'b', 'c']);
    assert.ok(s.isQuorate());
    await s.joinGroup('g');
    await s.send('g', 'one');
    await s.send('g', Buffer.from('two'));
    await s.cluster.settle();
    assert.deepEqual(s.members('g'), [{ nodeid: 1, pid: 1, name: 'a' }]);
    await s.leaveGroup('g');
    await assert.rejects(s.send('g', 'x'), { code: 'CS_ERR_NOT_EXIST' });
    assert.deepEqual(log, [
      'n1 quorum quorate [1,2,3] +[1,2,3] -[]',
      'n1 members g [1] +[1:join] -[]',
      'n1 message g from 1: one',
      'n1 message g from 1: two',
      'n1 members g [] +[] -[1:leave]',
    ]);
    assert.deepEqual(s.members('g'), []);
  });

  it('three nodes: every member sees the same changes and messages in the same order', async function () {
    const c = new StaticCluster({ nodes: [1, 2, 3] });
    const srcs = [1, 2, 3].map((n) => c.source(n));
    const logs: string[][] = [[], [], []];
    for (const [i, s] of srcs.entries()) {
      await s.start();
      record(s, logs[i] as string[]);
    }
    for (const s of srcs) await s.joinGroup('ls');
    for (let k = 0; k < 5; k++) for (const s of srcs) await s.send('ls', `m${k} from ${s.localNodeId()}`);
    await c.settle();
    const strip = (l: string[]) => l.filter((x) => x.includes(' message ')).map((x) => x.slice(3));
    assert.equal(strip(logs[0] as string[]).length, 15);
    assert.deepEqual(strip(logs[1] as string[]), strip(logs[0] as string[]));
    assert.deepEqual(strip(logs[2] as string[]), strip(logs[0] as string[]));
    // The last member change everyone saw: all three.
    for (const s of srcs) assert.deepEqual(s.members('ls').map((m) => m.nodeid), [1, 2, 3]);
    assert.ok((logs[2] as string[]).includes('n3 members ls [1,2,3] +[3:join] -[]'));
    assert.ok(!(logs[2] as string[]).some((l) => l.includes('+[1:join]')), 'n3 joined after 1: it never sees 1 join');
    const again = [1, 2, 3].map((n) => c.source(n));
    assert.deepEqual(again, srcs, 'one live source per node');
  });

  it('simulates a node leaving the cluster, quorum loss and return', async function () {
    const c = new StaticCluster({ nodes: [1, 2, 3] });
    const srcs = [1, 2, 3].map((n) => c.source(n));
    const log: string[] = [];
    for (const s of srcs) {
      await s.start();
      await s.joinGroup('ls');
    }
    await c.settle();
    for (const s of srcs) record(s, log);
    await c.nodeDown(3);
    assert.deepEqual(log, [
      'n3 down static membership: node 3 was taken down (simulated)',
      'n1 members ls [1,2] +[] -[3:nodedown]',
      'n2 members ls [1,2] +[] -[3:nodedown]',
      'n1 quorum quorate [1,2] +[] -[3]',
      'n2 quorum quorate [1,2] +[] -[3]',
    ]);
    await assert.rejects(srcs[2]!.send('ls', 'x'), { code: 'CS_ERR_BAD_HANDLE' });
    log.length = 0;
    await c.nodeDown(2);
    assert.deepEqual(log.filter((l) => l.startsWith('n1')), ['n1 members ls [1] +[] -[2:nodedown]', 'n1 quorum NOT quorate [1] +[] -[2]']);
    assert.equal(srcs[0]!.isQuorate(), false);
    log.length = 0;
    await c.nodeUp(2);
    await c.nodeUp(3);
    const n3 = c.source(3);
    assert.notEqual(n3, srcs[2]);
    await n3.start();
    record(n3, log);
    await n3.joinGroup('ls');
    await c.settle();
    assert.deepEqual(log, [
      'n1 quorum quorate [1,2] +[2] -[]',
      'n1 quorum quorate [1,2,3] +[3] -[]',
      'n3 quorum quorate [1,2,3] +[1,2,3] -[]',
      'n1 members ls [1,3] +[3:join] -[]',
      'n3 members ls [1,3] +[3:join] -[]',
    ]);
  });

  it('a process that closes without leaving is seen leaving with procdown', async function () {
    const c = new StaticCluster({ nodes: [1, 2], quorum: 'always' });
    const [a, b] = [c.source(1), c.source(2)];
    await a.start();
    await b.start();
    await a.joinGroup('g');
    await b.joinGroup('g');
    await c.settle();
    const log: string[] = [];
    record(a, log);
    await b.close();
    await c.settle();
    assert.deepEqual(log, ['n1 members g [1] +[] -[2:procdown]']);
    await c.nodeDown(2);
    assert.ok(a.isQuorate(), "quorum: 'always'");
  });

  it('is deterministic: the same script gives the same event log', async function () {
    async function run(): Promise<string[]> {
      const c = new StaticCluster({ nodes: [1, 2, 3, 4] });
      const log: string[] = [];
      const srcs = [1, 2, 3, 4].map((n) => c.source(n));
      for (const s of srcs) {
        await s.start();
        record(s, log);
      }
      await Promise.all(srcs.map((s) => s.joinGroup('a')));
      await Promise.all(srcs.map((s, i) => s.send('a', `x${i}`)));
      await c.nodeDown(4);
      await srcs[0]!.leaveGroup('a');
      await c.settle();
      return log;
    }
    const one = await run();
    assert.ok(one.length > 30);
    assert.deepEqual(await run(), one);
  });
});
