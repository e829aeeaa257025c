// npm run test:cluster — real corosync 3-node clusters in network namespaces, driven through the
// addon's corosync surface, lib/kernel/corosync.ts and CorosyncMembership, by one agent per node
// running inside that node's namespace (test/cluster/agent.ts).
//
// Needs root and corosync (test/support/ensureCorosync.ts installs it with test/cluster/setup.sh;
// no rebuild: the addon dlopens corosync's libraries). When something is missing the whole suite
// is skipped and the reason printed. Uses only 192.0.2.0/24 inside namespaces it creates; cleans up by PID.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { CpgGroup } from '../../lib/kernel/corosync.js';
import { loadNative } from '../../lib/kernel/native.js';
import { Agent, clusterPrerequisites, NetnsCluster, now, type AgentEvent } from './netns.js';
import { membershipContract, type ContractEvent } from '../contract/membership.contract.js';

const GROUP = 'o2s:ls:test';
const FORM_MS = 20000; // membership formation / recovery bound per wait

interface Member {
  nodeid: number;
  pid: number;
  reason?: string;
}

const ids = (xs: { nodeid: number }[]) => xs.map((x) => x.nodeid).sort((a, b) => a - b);
const isMembers = (e: AgentEvent) => e.event === 'members' && e.data.group === GROUP;
const groupHas = (want: number[]) => (e: AgentEvent) => isMembers(e) && JSON.stringify(ids(e.data.members)) === JSON.stringify(want);
const quorumIs = (quorate: boolean, nodes: number[]) => (e: AgentEvent) =>
  e.event === 'quorum' && e.data.quorate === quorate && JSON.stringify(e.data.nodes) === JSON.stringify(nodes);

describe('corosync cluster in network namespaces (3 nodes, knet, aes256/sha256)', function () {
  this.timeout(120000);
  let cluster: NetnsCluster | undefined;
  const agents = new Map<number, Agent>();
  const agent = (i: number) => agents.get(i) as Agent;
  let skipReason: string | undefined;

  async function startAgent(i: number, expectNodes: number[] = [1, 2, 3]): Promise<Agent> {
    const c = cluster as NetnsCluster;
    const a = c.startAgent(i);
    agents.set(i, a);
    await a.waitFor((e) => e.event === 'ready', FORM_MS, 'ready line');
    // start() retries CS_ERR_TRY_AGAIN (bounded) while corosync is still forming the ring.
    const r = await a.request<{ localNodeId: number; pid: number }>('start', {}, FORM_MS);
    assert.equal(r.localNodeId, i, `n${i}'s local node id`);
    assert.equal(r.pid, a.pid, 'the agent is the process ip netns exec started (tracked by PID)');
    await a.waitFor(quorumIs(true, expectNodes), FORM_MS, `quorate quorum event with nodes ${expectNodes}`);
    return a;
  }

  async function joinAll(nodes: number[]): Promise<void> {
    for (const i of nodes) await agent(i).request('join', { group: GROUP });
    await Promise.all(nodes.map((i) => agent(i).waitFor(groupHas(nodes), FORM_MS, `group ${GROUP} with members ${nodes}`)));
  }

  before(async function () {
    this.timeout(90000);
    const native = loadNative().corosync;
    skipReason = clusterPrerequisites();
    if (!skipReason && !native?.available) skipReason = native ? native.reason : 'the addon has no corosync surface';
    if (!skipReason) {
      cluster = new NetnsCluster();
      try {
        cluster.setup();
      } catch (e) {
        skipReason = `could not build the namespaces: ${(e as Error & { stderr?: Buffer }).stderr?.toString().trim() || (e as Error).message}`;
      }
    }
    if (!skipReason) {
      const c = cluster as NetnsCluster;
      for (let i = 1; i <= 3; i++) c.startCorosync(i);
      // corosync that cannot run here (no knet sockets, no crypto, no tmpfs mounts) exits at once.
      for (let i = 1; i <= 3; i++) {
        const died = await c.corosyncDiedWithin(i, i === 1 ? 1500 : 1);
        if (died) {
          skipReason = `corosync cannot run here: ${died}`;
          break;
        }
      }
    }
    if (skipReason) {
      console.log(`\n  SKIPPED: the corosync cluster suite cannot run here: ${skipReason}\n`);
      this.skip();
    }
    const t0 = now();
    for (let i = 1; i <= 3; i++) await startAgent(i);
    console.log(`      (3 corosyncs in ${cluster!.prefix}-n1..3, agents connected and quorate in ${Math.round(now() - t0)} ms)`);
  });

  after(async function () {
    this.timeout(60000);
    if (!cluster) return;
    if (this.currentTest?.state === 'failed' || process.exitCode) {
      for (let i = 1; i <= 3; i++) console.log(`--- corosync n${i} log (last lines)\n${cluster.corosyncLog(i).split('\n').slice(-15).join('\n')}`);
    }
    await cluster.teardown();
    cluster = undefined;
  });

  it('IPC is per network namespace: a client outside the node namespaces reaches no corosync', async function () {
    const c = cluster as NetnsCluster;
    // In the bridge namespace (no corosync there) an agent gets CS_ERR_LIBRARY with the hint.
    const outside = new Agent(0, c.switchNs, c.dir);
    try {
      await outside.waitFor((e) => e.event === 'ready', FORM_MS, 'ready line');
      await assert.rejects(outside.request('probe'), (e: Error & { code?: string; hint?: string }) => {
        assert.equal(e.code, 'CS_ERR_LIBRARY');
        assert.match(String(e.hint), /is corosync running\? systemctl start corosync/);
        return true;
      });
    } finally {
      await outside.stop();
    }
    // And this test process, in the root namespace: the three corosyncs run on this host, yet
    // unreachable. (Only meaningful when no corosync of the host's own runs in this namespace.)
    const hostCorosync = spawnHostCorosyncCheck();
    if (hostCorosync) {
      console.log(`      (root-namespace check not done: ${hostCorosync})`);
    } else {
      await assert.rejects(CpgGroup.join('o2s:probe', { attempts: 1 }), { name: 'CorosyncError', code: 'CS_ERR_LIBRARY' });
    }
    // Inside a node namespace the same probe succeeds and names that node.
    assert.deepEqual(await agent(2).request('probe'), { localNodeId: 2 });
  });

  it('membership forms: every node sees nodes 1, 2, 3, quorate, and knows its own node id', async function () {
    for (let i = 1; i <= 3; i++) {
      const q = await agent(i).request<{ quorate: boolean; nodes: number[] }>('quorum');
      assert.deepEqual(q, { ...q, quorate: true, nodes: [1, 2, 3] });
    }
  });

  // the MembershipSource contract, the same tests StaticCluster passes on the host
  // (test/stack/membershipContract.test.ts), here through each node's agent and real corosync
  membershipContract(
    'CorosyncMembership (3 corosyncs in namespaces)',
    () =>
      [1, 2, 3].map((i) => ({
        nodeid: i,
        pid: agent(i).pid,
        join: (g: string) => agent(i).request('join', { group: g }).then(() => undefined),
        leave: (g: string) => agent(i).request('leave', { group: g }).then(() => undefined),
        send: (g: string, t: string) => agent(i).request('send', { group: g, data: t }).then(() => undefined),
        quorum: () => agent(i).request<{ nodes: number[]; quorate: boolean }>('quorum'),
        events: (): ContractEvent[] =>
          agent(i).events.flatMap((e): ContractEvent[] => {
            if (e.event === 'members') return [{ kind: 'members', group: e.data.group, members: e.data.members, joined: e.data.joined, left: e.data.left }];
            if (e.event === 'message') return [{ kind: 'message', group: e.data.group, nodeid: e.data.nodeid, pid: e.data.pid, text: e.data.text }];
            return [];
          }),
      })),
    { group: 'o2s:contract', timeoutMs: FORM_MS, inline: true },
  );

  it('cmap: cluster name and nodelist (nodeid, name, ring0_addr) on every node', async function () {
    for (let i = 1; i <= 3; i++) {
      const cfg = await agent(i).request<Record<string, unknown>>('config');
      assert.equal(cfg.clusterName, 'o2stest');
      assert.deepEqual(cfg.nodes, [1, 2, 3].map((n) => ({ index: n - 1, nodeid: n, name: `n${n}`, ring0Addr: `192.0.2.${n}`, ringAddrs: [`192.0.2.${n}`] })));
      assert.equal(cfg.localNodeId, i);
      assert.equal(cfg.quorumProvider, 'corosync_votequorum');
    }
  });

  it('CPG join on all nodes gives every node the same member list (node ids and pids)', async function () {
    await joinAll([1, 2, 3]);
    const want = [1, 2, 3].map((i) => ({ nodeid: i, pid: agent(i).pid, name: `n${i}` }));
    for (let i = 1; i <= 3; i++) assert.deepEqual(await agent(i).request('members', { group: GROUP }), want);
    // Virtual synchrony: from the moment the last node joined, all saw the same confchg sequence.
    const fromLast = (i: number) => {
      const evs = agent(i).events.filter(isMembers).map((e) => JSON.stringify(e.data));
      const k = evs.findIndex((s) => (JSON.parse(s).joined as Member[]).some((m) => m.nodeid === 3 && m.reason === 'join'));
      return evs.slice(k);
    };
    assert.ok(fromLast(3).length >= 1);
    assert.deepEqual(fromLast(1), fromLast(3));
    assert.deepEqual(fromLast(2), fromLast(3));
  });

  it('messages are delivered in the same (agreed) order on all nodes, senders included', async function () {
    const N = 100;
    const marks = [1, 2, 3].map((i) => agent(i).events.length);
    const t0 = now();
    await Promise.all([1, 2, 3].map((i) => agent(i).request('sendMany', { group: GROUP, prefix: `n${i}:`, count: N })));
    const seqs = await Promise.all(
      [1, 2, 3].map(async (i, k) => {
        const a = agent(i);
        const msgs = () => a.events.slice(marks[k]).filter((e) => e.event === 'message' && e.data.group === GROUP);
        await a.waitFor(() => msgs().length >= 3 * N, FORM_MS, `${3 * N} messages`, marks[k]);
        return msgs().map((e) => `${e.data.nodeid}/${e.data.text}`);
      }),
    );
    console.log(`      (${3 * N} messages from 3 senders delivered everywhere in ${Math.round(now() - t0)} ms)`);
    assert.equal(seqs[0]!.length, 3 * N);
    assert.deepEqual(seqs[1], seqs[0], 'n2 saw the same order as n1');
    assert.deepEqual(seqs[2], seqs[0], 'n3 saw the same order as n1');
    for (let s = 1; s <= 3; s++) {
      const mine = seqs[0]!.filter((m) => m.startsWith(`${s}/`)).map((m) => Number(m.split(':')[1]));
      assert.deepEqual(mine, Array.from({ length: N }, (_x, j) => j), `sender n${s}'s messages once each, in send order`);
    }
    // Interleaved: total order is not just "one sender after another" trivially (informational).
  });

  it('leave and rejoin: the others see reason leave, then join', async function () {
    const m1 = agent(1).events.length;
    await agent(2).request('leave', { group: GROUP });
    const e = await agent(1).waitFor(groupHas([1, 3]), FORM_MS, 'n2 leaving', m1);
    assert.deepEqual(e.data.left, [{ nodeid: 2, pid: agent(2).pid, name: 'n2', reason: 'leave' }]);
    assert.deepEqual(await agent(2).request('members', { group: GROUP }), []);
    const m3 = agent(3).events.length;
    await agent(2).request('join', { group: GROUP });
    const j = await agent(3).waitFor(groupHas([1, 2, 3]), FORM_MS, 'n2 rejoining', m3);
    assert.deepEqual(j.data.joined, [{ nodeid: 2, pid: agent(2).pid, name: 'n2', reason: 'join' }]);
  });

  it('a Worker thread joins a group on its own event loop; terminating it closes its connection', async function () {
    const WG = 'o2s:worker';
    const isW = (e: AgentEvent) => e.event === 'members' && e.data.group === WG;
    const w1 = agent(1).events.length;
    const started = await agent(1).request<{ localNodeId: number; info: { kind: string; refed: boolean; group: string } }>('workerStart', { group: WG });
    assert.equal(started.localNodeId, 1);
    assert.deepEqual([started.info.kind, started.info.refed, started.info.group], ['cpg', true, WG]);
    await agent(2).request('join', { group: WG });
    const both = await agent(2).waitFor((e) => isW(e) && e.data.members.length === 2, FORM_MS, 'worker and n2 in the group');
    assert.deepEqual(ids(both.data.members), [1, 2]);
    // n2 -> the worker (delivered on the worker's loop) and the worker -> n2.
    await agent(2).request('send', { group: WG, data: 'to the worker' });
    await agent(1).waitFor((e) => e.event === 'worker' && e.data.type === 'message' && e.data.text === 'to the worker', FORM_MS, 'message in the worker', w1);
    await agent(1).request('workerSend', { data: 'from the worker' });
    await agent(2).waitFor((e) => e.event === 'message' && e.data.group === WG && e.data.text === 'from the worker', FORM_MS, "the worker's message");
    const w2 = agent(2).events.length;
    await agent(1).request('workerTerminate');
    const gone = await agent(2).waitFor((e) => isW(e) && e.data.members.length === 1, FORM_MS, 'the worker leaving', w2);
    assert.deepEqual(gone.data.left, [{ nodeid: 1, pid: agent(1).pid, name: 'n1', reason: 'procdown' }]);
    await agent(2).request('leave', { group: WG });
    // The agent's main thread is unaffected.
    assert.deepEqual(ids(await agent(1).request<Member[]>('members', { group: GROUP })), [1, 2, 3]);
  });

  it('a member process killed with SIGKILL leaves with procdown; the cluster keeps quorum', async function () {
    const marks = [1, 2].map((i) => agent(i).events.length);
    const deadPid = agent(3).pid;
    agent(3).kill('SIGKILL');
    for (const [k, i] of [1, 2].entries()) {
      const e = await agent(i).waitFor(groupHas([1, 2]), FORM_MS, 'n3 process leaving', marks[k]);
      assert.deepEqual(e.data.left, [{ nodeid: 3, pid: deadPid, name: 'n3', reason: 'procdown' }]);
    }
    assert.ok(!agent(1).events.slice(marks[0]).some((e) => e.event === 'quorum'), 'no quorum change: the node is still in the ring');
    await startAgent(3);
    await agent(3).request('join', { group: GROUP });
    await Promise.all([1, 2, 3].map((i) => agent(i).waitFor(groupHas([1, 2, 3]), FORM_MS, 'n3 back in the group')));
  });

  it('a node whose corosync is SIGKILLed is seen leaving (nodedown) within the token timeout bound', async function () {
    const c = cluster as NetnsCluster;
    const rt = await agent(1).request<Record<string, number>>('cmap', { prefix: 'runtime.config.totem.' });
    const token = rt['runtime.config.totem.token'] as number;
    const consensus = rt['runtime.config.totem.consensus'] as number;
    const marks = [1, 2, 3].map((i) => agent(i).events.length);
    const t0 = now();
    await c.killCorosync(3, 'SIGKILL', false);
    const seen: number[] = [];
    for (const [k, i] of [1, 2].entries()) {
      const e = await agent(i).waitFor(groupHas([1, 2]), FORM_MS, 'n3 nodedown', marks[k]);
      assert.deepEqual(e.data.left.map((m: Member) => [m.nodeid, m.reason]), [[3, 'nodedown']]);
      seen.push(e.t - t0);
      const q = await agent(i).waitFor(quorumIs(true, [1, 2]), FORM_MS, 'quorum without n3', marks[k]);
      assert.deepEqual(q.data.left, [3]);
      assert.ok(q.t >= e.t, 'the group change comes first, then quorum (as observed: docs/user-stack-daemon.md#corosync-event-order)');
    }
    const down = await agent(3).waitFor((e) => e.event === 'down', FORM_MS, "n3's own 'down'", marks[2]);
    assert.equal(down.data.code, 'CS_ERR_LIBRARY');
    const bound = token + consensus + 1500;
    console.log(
      `      (corosync n3 SIGKILLed: n1 saw it leave after ${Math.round(seen[0]!)} ms, n2 after ${Math.round(seen[1]!)} ms; ` +
        `runtime token ${token} ms (configured ${c.tokenMs}), consensus ${consensus} ms, n3's agent saw 'down' after ${Math.round(down.t - t0)} ms; bound ${bound} ms)`,
    );
    for (const s of seen) assert.ok(s < bound, `detected after ${Math.round(s)} ms, more than token + consensus + 1500 = ${bound} ms`);
    assert.ok(Math.min(...seen) >= token * 0.5, `detection faster than half the token timeout (${Math.round(Math.min(...seen))} ms) is not a real failure detection`);

    // n3 returns: corosync restarted, a new agent rejoins.
    await agent(3).stop();
    const m1 = agent(1).events.length;
    c.startCorosync(3);
    await agent(1).waitFor(quorumIs(true, [1, 2, 3]), FORM_MS, 'n3 back in the quorum', m1);
    await startAgent(3);
    await agent(3).request('join', { group: GROUP });
    await Promise.all([1, 2, 3].map((i) => agent(i).waitFor(groupHas([1, 2, 3]), FORM_MS, 'n3 back in the group')));
  });

  it('quorum: killing 2 of 3 corosyncs leaves the survivor not quorate; it returns when they do', async function () {
    const c = cluster as NetnsCluster;
    const m1 = agent(1).events.length;
    await Promise.all([c.killCorosync(2, 'SIGTERM'), c.killCorosync(3, 'SIGTERM')]);
    const lost = await agent(1).waitFor(quorumIs(false, [1]), FORM_MS, 'quorum lost', m1);
    assert.deepEqual(lost.data.left.sort(), [2, 3]);
    assert.equal((await agent(1).request<{ quorate: boolean }>('quorum')).quorate, false);
    await agent(1).waitFor(groupHas([1]), FORM_MS, 'group down to n1', m1);
    // A graceful stop (SIGTERM) first closes corosync's client connections, which the others
    // see as 'procdown' while the node is still in the ring; a member still there when the node
    // leaves the ring goes with 'nodedown'. Either way each of n2's and n3's agents left once.
    const left = agent(1)
      .events.slice(m1)
      .filter(isMembers)
      .flatMap((e) => e.data.left as Member[]);
    assert.deepEqual(ids(left), [2, 3], JSON.stringify(left));
    assert.ok(left.every((m) => m.reason === 'procdown' || m.reason === 'nodedown'), JSON.stringify(left));
    console.log(`      (SIGTERM of corosync n2, n3: n1 saw ${left.map((m) => `n${m.nodeid} ${m.reason}`).join(', ')})`);
    for (const i of [2, 3]) await agent(i).waitFor((e) => e.event === 'down', FORM_MS, "'down' after corosync stopped");
    // Sending still works in a non-quorate partition (CPG does not gate on quorum; the stack must).
    await agent(1).request('send', { group: GROUP, data: 'alone' });
    await agent(1).waitFor((e) => e.event === 'message' && e.data.text === 'alone', FORM_MS, 'own message', m1);

    const m2 = agent(1).events.length;
    const t0 = now();
    c.startCorosync(2);
    const back = await agent(1).waitFor(quorumIs(true, [1, 2]), FORM_MS, 'quorum regained with n2', m2);
    console.log(`      (quorum regained ${Math.round(back.t - t0)} ms after corosync n2 was started)`);
    c.startCorosync(3);
    await agent(1).waitFor(quorumIs(true, [1, 2, 3]), FORM_MS, 'all three back', m2);
    for (const i of [2, 3]) {
      await agent(i).stop();
      await startAgent(i);
    }
  });
});

/** A reason not to run the root-namespace reachability check, or undefined. */
function spawnHostCorosyncCheck(): string | undefined {
  // corosync processes in this (the test's) network namespace would answer the probe.
  const mine = readlinkSync('/proc/self/ns/net');
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, 'utf8').trim() !== 'corosync') continue;
      if (readlinkSync(`/proc/${d}/ns/net`) === mine) return `a corosync (pid ${d}) runs in the test's own network namespace`;
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}
