// corosync in three VMs (vm/run-cluster.sh 3: nK = 192.0.2.K, NODE=K, NODES=3, one private L2
// link for all three): Debian's corosync 3.1.7 started in each guest by vm/guest-cluster.sh
// (through test/vm/support/corosync.ts) with knet and plain votequorum (three votes, two make
// quorum: no two_node). Every node sees one ring of three, quorate, through cmap, corosync's
// quorum (CorosyncMembership) and a CPG group in which each node multicasts a message: all three
// must be delivered to every node in the same (agreed) order. Then n3 powers off with corosync
// running (its suite ends, its VM powers off: no goodbye), and n1 and n2 see node 3 leave the
// quorum and the group and stay quorate with nodes 1, 2 (corosync-quorumtool: 2 members,
// quorate). n1 and n2 say so to each other over CPG before either stops corosync (one alone
// would not be quorate). The smoke test of the three-VM harness; figures: "o2stack-figure:".
import { strict as assert } from 'node:assert';
import { CpgGroup, corosyncAvailability, readCorosyncConfig, type CpgConfchg, type CpgMessage } from '../../../lib/kernel/corosync.js';
import { CorosyncMembership } from '../../../lib/stack/membership/corosync.js';
import type { QuorumChangedEvent } from '../../../lib/model/membership.js';
import { clusterLogs, corosyncPid, startCorosync, stopCorosync, waitCorosyncMembers } from '../support/corosync.js';
import { answersPing, requireTestVm, vmNode, waitFor } from '../support/kernel.js';
import { figure } from '../support/run.js';

const NODES = [1, 2, 3];
const me = Number(process.env.NODE);
const DYING = 3;
const GROUP = 'o2stack:vm-corosync3-test';

describe(`corosync in three VMs (this is n${me})`, function () {
  let membership: CorosyncMembership | undefined;
  let group: CpgGroup | undefined;
  const confchgs: CpgConfchg[] = [];
  const messages: CpgMessage[] = [];
  const quorumEvents: (QuorumChangedEvent & { at: number })[] = [];
  let failed = false;

  const text = (m: CpgMessage) => m.data.toString();
  /** Sends `${tag} n${me}` and waits (bounded) until every node in `from` has sent its own. */
  async function barrier(tag: string, from: number[], timeoutMs = 90_000): Promise<void> {
    await group!.send(`${tag} n${me}`);
    const seen = (n: number) => messages.some((m) => text(m) === `${tag} n${n}`);
    const all = await waitFor(() => from.every(seen), timeoutMs, 50);
    assert.ok(all, `'${tag}' never came from n${from.filter((n) => !seen(n)).join(', n')}; messages: ${messages.map(text).join(' | ')}`);
  }

  before(function () {
    requireTestVm();
    assert.equal(vmNode(3), me);
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') failed = true;
  });

  after(async function () {
    // n3 powers off with corosync running: that is the test (its VM ends right after this suite;
    // the handles are closed so this process can exit)
    group?.close();
    await membership?.close();
    if (failed) console.log(await clusterLogs());
    if (me === DYING && !failed) return;
    if (corosyncPid()) await stopCorosync().catch((e: unknown) => console.log(String(e)));
  });

  it('the addon has the corosync surface (built with libcpg, libquorum, libcmap)', function () {
    const a = corosyncAvailability();
    assert.ok(a.available, `no corosync in the addon: ${a.available ? '' : a.reason}`);
  });

  it('starts corosync (knet 192.0.2.1/2/3, votequorum): three members, quorate', async function () {
    this.timeout(300_000); // the other VMs may boot and start much later (up to 120 s is waited for)
    const s = await startCorosync({ clusterName: 'demo' }); // nodes: $NODES = 3
    assert.ok(s.pid > 0);
    figure(`n${me} corosync start -> 3 members quorate: ${s.ms} ms`);
  });

  it('reads the configuration from cmap: cluster demo, nodes 1, 2, 3, no two_node, this node', async function () {
    const c = await readCorosyncConfig();
    assert.equal(c.clusterName, 'demo');
    assert.deepEqual(c.nodes.map((n) => [n.nodeid, n.name, n.ring0Addr]), NODES.map((n) => [n, `n${n}`, `192.0.2.${n}`]));
    assert.equal(c.twoNode ?? false, false);
    assert.equal(c.quorumProvider, 'corosync_votequorum');
    assert.equal(c.localNodeId, me);
  });

  it('CorosyncMembership: local node id, quorate with nodes 1, 2, 3', async function () {
    membership = new CorosyncMembership();
    membership.on('quorum', (q) => quorumEvents.push({ ...q, at: Date.now() }));
    await membership.start();
    assert.equal(membership.localNodeId(), me);
    const q = membership.quorum();
    assert.equal(q.quorate, true);
    assert.deepEqual(q.nodes, NODES);
    assert.deepEqual(membership.clusterNodes().map((n) => [n.nodeid, n.name, n.addr]), NODES.map((n) => [n, `n${n}`, `192.0.2.${n}`]));
  });

  it('joins a CPG group with all three; every node gets the three messages in the same order', async function () {
    const t0 = Date.now();
    group = await CpgGroup.join(GROUP);
    group.on('confchg', (c) => confchgs.push(c));
    group.on('message', (m) => messages.push(m));
    assert.equal(group.localNodeId, me);
    const all = await waitFor(() => group!.members().map((m) => m.nodeid).sort().join(',') === '1,2,3', 120_000, 100);
    assert.ok(all, `group members: ${JSON.stringify(group.members())}`);
    figure(`n${me} cpg join -> three nodes in the group: ${Date.now() - t0} ms`);
    const t1 = Date.now();
    await group.send(`hello from n${me}`);
    const hellos = () => messages.map(text).filter((t) => t.startsWith('hello from n'));
    const got = await waitFor(() => hellos().length === 3, 60_000, 20);
    assert.ok(got, `hello messages: ${JSON.stringify(messages.map((m) => [m.nodeid, text(m)]))}`);
    figure(`n${me} cpg send -> all three messages received: ${Date.now() - t1} ms`);
    const mine = messages.find((m) => m.nodeid === me);
    assert.equal(mine && text(mine), `hello from n${me}`);
    assert.equal(mine?.pid, process.pid);
    assert.deepEqual([...hellos()].sort(), NODES.map((n) => `hello from n${n}`));
    // agreed order: what this node saw is what the others saw
    const order = hellos().join(',');
    await group.send(`order n${me} ${order}`);
    const orders = () => messages.map(text).filter((t) => t.startsWith('order n'));
    assert.ok(await waitFor(() => orders().length === 3, 60_000, 50), `order messages: ${orders().join(' | ')}`);
    console.log(`n${me} hello order: ${order}`);
    for (const o of orders()) assert.equal(o.replace(/^order n\d /, ''), order, `${o} differs from this node's order ${order}`);
    // a barrier before n3 powers off: every node has seen everything
    await barrier('done', NODES);
  });

  if (me === DYING) {
    it('n3 powers off with corosync running (its VM ends with this suite: no goodbye)', function () {
      const pid = corosyncPid();
      assert.ok(pid !== undefined, 'no corosync PID recorded');
      process.kill(pid, 0); // throws ESRCH if corosync is gone already
      console.log(`n3: READY_TO_DIE (corosync pid ${pid} running)`);
    });
    return;
  }

  it(`n${me}: n3 powers off; node 3 leaves the quorum and the group, nodes 1 and 2 stay quorate`, async function () {
    const tLast = Date.now();
    const gone = await waitFor(() => !answersPing('192.0.2.3'), 90_000, 100);
    assert.ok(gone, 'n3 still answers ping 90 s after its last message');
    const tGone = Date.now();
    const left = await waitFor(() => quorumEvents.some((q) => q.left.includes(DYING)), 60_000, 100);
    assert.ok(left, `no quorum change without node 3: ${JSON.stringify(quorumEvents)}`);
    const qLeft = quorumEvents.find((q) => q.left.includes(DYING))!;
    figure(`n${me}: n3 stopped answering ping ${tGone - tLast} ms after the barrier -> quorum without node 3: ${qLeft.at - tGone} ms`);
    const inGroup = await waitFor(() => group!.members().map((m) => m.nodeid).sort().join(',') === '1,2', 30_000, 100);
    assert.ok(inGroup, `group members: ${JSON.stringify(group!.members())}`);
    const c = confchgs.find((x) => x.left.some((m) => m.nodeid === DYING));
    console.log(`n${me}: node 3 left the group with reason '${c?.left[0]?.reason}'; quorum events: ${JSON.stringify(quorumEvents.map(({ quorate, nodes }) => ({ quorate, nodes })))}`);
    const q = membership!.quorum();
    assert.deepEqual(q.nodes, [1, 2]);
    assert.equal(q.quorate, true, 'nodes 1 and 2 lost quorum when n3 left (2 of 3 votes must be quorate)');
    await waitCorosyncMembers(2, 60); // corosync-quorumtool: 2 members, quorate
    assert.equal(membership!.isQuorate(), true);
    // n1 and n2 both checked before either stops corosync (one node alone is not quorate)
    await barrier('saw n3 gone', [1, 2]);
  });

  it(`n${me} leaves the group and stops corosync`, async function () {
    await group!.leave({ timeoutMs: 10_000 });
    assert.equal(group!.closed, true);
    await membership!.close();
    await stopCorosync();
    assert.equal(corosyncPid(), undefined);
  });
});
