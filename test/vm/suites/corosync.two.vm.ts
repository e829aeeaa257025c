// corosync in two VMs (vm/run-two.sh: n1 = 192.0.2.1, n2 = 192.0.2.2, NODE=1|2): Debian's
// corosync 3.1.7 from vm/setup.sh's cache, started in each guest by vm/guest-cluster.sh (through
// test/vm/support/corosync.ts) with knet on the private link and two_node votequorum. Both then
// talk to it through the project's addon (built on the host against libcpg/libquorum/libcmap,
// the same sonames in the guest): cmap configuration, quorum with nodes 1 and 2 through
// CorosyncMembership, a CPG group where each node multicasts a message the other receives. Then
// n2 stops its corosync and n1 sees node 2 leave the group and the quorum, and stays quorate
// (two_node), which the dlm_controld and daemon-on-corosync suites rely on.
import { strict as assert } from 'node:assert';
import { CpgGroup, corosyncAvailability, readCorosyncConfig, type CpgConfchg, type CpgMessage } from '../../../lib/kernel/corosync.js';
import { CorosyncMembership } from '../../../lib/stack/membership/corosync.js';
import type { QuorumChangedEvent } from '../../../lib/model/membership.js';
import { clusterLogs, corosyncPid, startCorosync, stopCorosync } from '../support/corosync.js';
import { requireTestVm, waitFor } from '../support/kernel.js';

const me = Number(process.env.NODE);
const peer = 3 - me;
const GROUP = 'o2stack:vm-corosync-test';
const figure = (s: string) => console.log(`o2stack-figure: ${s}`);

describe(`corosync in two VMs (this is n${me})`, function () {
  let membership: CorosyncMembership | undefined;
  let group: CpgGroup | undefined;
  const confchgs: CpgConfchg[] = [];
  const messages: CpgMessage[] = [];
  const quorumEvents: QuorumChangedEvent[] = [];
  let failed = false;

  before(function () {
    requireTestVm();
    assert.ok(me === 1 || me === 2, `NODE must be 1 or 2 (vm/run-two.sh), got ${process.env.NODE}`);
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') failed = true;
  });

  after(async function () {
    group?.close();
    await membership?.close();
    if (failed) console.log(await clusterLogs());
    if (corosyncPid()) await stopCorosync().catch((e: unknown) => console.log(String(e)));
  });

  it('the addon has the corosync surface (built with libcpg, libquorum, libcmap)', function () {
    const a = corosyncAvailability();
    assert.ok(a.available, `no corosync in the addon: ${a.available ? '' : a.reason}`);
  });

  it('starts corosync (knet 192.0.2.1/2, two_node): both nodes members, quorate', async function () {
    this.timeout(300_000); // the peer VM may boot and start much later (up to 120 s is waited for)
    const s = await startCorosync({ clusterName: 'demo' });
    assert.ok(s.pid > 0);
    figure(`n${me} corosync start -> 2 members quorate: ${s.ms} ms`);
  });

  it('reads the configuration from cmap: cluster demo, nodes 1 and 2, two_node, this node', async function () {
    const c = await readCorosyncConfig();
    assert.equal(c.clusterName, 'demo');
    assert.deepEqual(c.nodes.map((n) => [n.nodeid, n.name, n.ring0Addr]), [
      [1, 'n1', '192.0.2.1'],
      [2, 'n2', '192.0.2.2'],
    ]);
    assert.equal(c.twoNode, true);
    assert.equal(c.quorumProvider, 'corosync_votequorum');
    assert.equal(c.localNodeId, me);
  });

  it('CorosyncMembership: local node id, quorate with nodes 1 and 2', async function () {
    membership = new CorosyncMembership();
    membership.on('quorum', (q) => quorumEvents.push(q));
    await membership.start();
    assert.equal(membership.localNodeId(), me);
    const q = membership.quorum();
    assert.equal(q.quorate, true);
    assert.deepEqual(q.nodes, [1, 2]);
    assert.deepEqual(membership.clusterNodes().map((n) => [n.nodeid, n.name, n.addr]), [
      [1, 'n1', '192.0.2.1'],
      [2, 'n2', '192.0.2.2'],
    ]);
  });

  it('joins a CPG group, sees both nodes in it, and receives the message the peer multicasts', async function () {
    const t0 = Date.now();
    group = await CpgGroup.join(GROUP);
    group.on('confchg', (c) => confchgs.push(c));
    group.on('message', (m) => messages.push(m));
    assert.equal(group.localNodeId, me);
    const both = await waitFor(() => group!.members().map((m) => m.nodeid).sort().join(',') === '1,2', 120_000, 100);
    assert.ok(both, `group members: ${JSON.stringify(group.members())}`);
    figure(`n${me} cpg join -> both nodes in the group: ${Date.now() - t0} ms`);
    const t1 = Date.now();
    await group.send(`hello from n${me}`);
    const has = (n: number) => messages.some((m) => m.nodeid === n && m.data.toString() === `hello from n${n}`);
    const got = await waitFor(() => has(peer), 60_000, 20);
    assert.ok(got, `no message from n${peer}; got ${JSON.stringify(messages.map((m) => [m.nodeid, m.data.toString()]))}`);
    figure(`n${me} cpg send -> peer's message received: ${Date.now() - t1} ms`);
    // the sender gets its own message too, in the same agreed order as everyone
    assert.ok(await waitFor(() => has(me), 60_000, 20), 'our own message was not delivered to us');
    const mine = messages.find((m) => m.nodeid === me);
    assert.equal(mine?.data.toString(), `hello from n${me}`);
    assert.equal(mine?.pid, process.pid);
    // a barrier before n2 stops corosync: each node says it has seen everything
    await group.send(`done n${me}`);
    assert.ok(await waitFor(() => messages.some((m) => m.data.toString() === `done n${peer}`), 60_000, 50), 'the peer never said done');
    const order = messages.map((m) => m.data.toString());
    console.log(`n${me} message order: ${order.join(' | ')}`);
  });

  if (me === 2) {
    it('n2 stops its corosync (SIGTERM by PID): the connections report corosync gone', async function () {
      const down = new Promise<void>((r) => membership!.once('down', () => r()));
      await stopCorosync();
      const ok = await Promise.race([down.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 30_000))]);
      assert.ok(ok, "CorosyncMembership did not report 'down' within 30 s of corosync's exit");
    });
    return;
  }

  it('n1: node 2 leaves the CPG group and the quorum; n1 stays quorate (two_node)', async function () {
    const t0 = Date.now();
    const left = await waitFor(() => confchgs.some((c) => c.left.some((m) => m.nodeid === 2)), 120_000, 100);
    assert.ok(left, `no confchg with node 2 leaving: ${JSON.stringify(confchgs)}`);
    const gone = await waitFor(() => quorumEvents.some((q) => q.left.includes(2)), 60_000, 100);
    assert.ok(gone, `no quorum change without node 2: ${JSON.stringify(quorumEvents)}`);
    figure(`n1 saw node 2 leave (cpg + quorum) ${Date.now() - t0} ms after its last message`);
    const c = confchgs.find((x) => x.left.some((m) => m.nodeid === 2))!;
    console.log(`n1: node 2 left the group with reason '${c.left[0]!.reason}'`);
    assert.deepEqual(group!.members().map((m) => m.nodeid), [1]);
    const q = membership!.quorum();
    assert.deepEqual(q.nodes, [1]);
    assert.equal(q.quorate, true, 'n1 lost quorum when n2 left (two_node not in effect?)');
  });

  it('n1 leaves the group and stops corosync', async function () {
    await group!.leave({ timeoutMs: 10_000 });
    assert.equal(group!.closed, true);
    await membership!.close();
    await stopCorosync();
    assert.equal(corosyncPid(), undefined);
  });
});
