// Three o2stack daemons in one process, each on its own fake kernel tree, sharing a StaticCluster
// hub as their membership (process groups, messages and node deaths as CPG gives them), with the
// lockspace uevents injected (InjectedUevents). The executor end to end: group joins, the start
// barrier, configfs writes, fencing, the control socket's `groups` and the CLI `o2stack groups`.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { request } from '../../lib/stack/daemon/controlSocket.js';
import type { DlmDaemon, GroupEvent } from '../../lib/stack/daemon/daemon.js';
import { FakeDaemonCluster } from '../support/fakeDaemonCluster.js';
import { runCli } from '../support/runCli.js';
import { until } from '../support/until.js';

const LS = '7A1B2C3D4E5F60718293A4B5C6D7E8F9';
const C = 'sys/kernel/config/dlm/cluster';


describe('o2stack daemon with lockspace groups (three daemons, one process, fake kernel trees)', function () {
  this.timeout(20000);
  let f: FakeDaemonCluster;
  const groupEvents = new Map<number, GroupEvent[]>();
  const daemons = new Map<number, DlmDaemon>();
  const root = (id: number) => f.root(id);
  const read = (id: number, p: string) => f.read(id, p);
  const members = (id: number) => f.members(id, LS);
  const fenceLog = () => f.fenceLog();
  const mount = (id: number, ls = LS) => f.mount(id, ls);
  const umount = (id: number) => f.umount(id, LS);
  const sock = (id: number) => f.socket(id);

  before(async function () {
    f = new FakeDaemonCluster('o2d-groups-');
    for (const id of [1, 2, 3]) {
      const d = await f.start(id);
      const evs: GroupEvent[] = [];
      d.on('group', (g) => evs.push(g));
      groupEvents.set(id, evs);
      daemons.set(id, d);
    }
  });

  after(async function () {
    await f.close();
  });

  it('two nodes mount: both join the group, pass the barrier and write the same members; the joins are answered 0', async function () {
    mount(1);
    await until(() => read(1, `sys/kernel/dlm/${LS}/event_done`) === '0', 'n1 event_done');
    assert.deepEqual(members(1), [1]);
    mount(2);
    await until(() => read(2, `sys/kernel/dlm/${LS}/event_done`) === '0' && members(1).length === 2 && read(1, `sys/kernel/dlm/${LS}/control`) === '1', 'n2 joined and n1 restarted');
    for (const id of [1, 2]) {
      assert.deepEqual(members(id), [1, 2]);
      assert.equal(read(id, `sys/kernel/dlm/${LS}/control`), '1');
    }
    assert.deepEqual(groupEvents.get(1)!.at(-1), { uuid: LS, nodes: [1, 2], joined: [2], left: [] });
    // n3 has not mounted it, and knows from the daemon group's announcements who has
    await until(() => daemons.get(3)!.groups().some((g) => g.nodes.join() === '1,2'), "n3's view of the volume");
    assert.deepEqual(await request(sock(3), 'groups'), [{ uuid: LS, nodes: [1, 2], state: 'not mounted here' }]);
    assert.deepEqual(groupEvents.get(3)!.at(-1), { uuid: LS, nodes: [1, 2], joined: [2], left: [] });
  });

  it('a third joins the running lockspace; group tracking agrees on all three (control socket and `o2stack groups`)', async function () {
    mount(3);
    await until(() => [1, 2, 3].every((id) => members(id).length === 3) && read(3, `sys/kernel/dlm/${LS}/event_done`) === '0', 'three members everywhere');
    for (const id of [1, 2, 3]) assert.deepEqual(await request(sock(id), 'groups'), [{ uuid: LS, nodes: [1, 2, 3], state: 'running' }]);
    const text = await runCli(['groups', '--socket', sock(2)]);
    assert.equal(text.code, 0, text.err);
    assert.equal(text.out, `${LS}  mounted on node 1,2,3  (this node: running)\n`);
    const json = await runCli(['groups', '--json', '--socket', sock(3)]);
    assert.deepEqual(JSON.parse(json.out), { groups: [{ uuid: LS, nodes: [1, 2, 3], state: 'running' }] });
    const none = await runCli(['groups', '--socket', join(f.dir, 'none.sock')]);
    assert.equal(none.code, 3, 'daemon not running: exit 3');
    assert.match(none.err, /not running/);
  });

  it("a peer's clean unmount: removed from the lockspace on the others without fencing; its comm stays", async function () {
    umount(2);
    await until(() => read(2, `sys/kernel/dlm/${LS}/event_done`) === '0' && [1, 3].every((id) => members(id).join() === '1,3' && read(id, `sys/kernel/dlm/${LS}/control`) === '1'), 'n2 removed on n1 and n3');
    assert.equal(fenceLog(), '');
    for (const id of [1, 3]) {
      assert.ok(existsSync(join(root(id), C, 'comms/2')), 'comm of n2 kept');
      assert.equal(read(id, `sys/kernel/dlm/${LS}/control`), '1');
      assert.deepEqual(groupEvents.get(id)!.at(-1), { uuid: LS, nodes: [1, 3], joined: [], left: [2] });
    }
    assert.equal(existsSync(join(root(2), C, 'spaces', LS)), false, "n2's own space removed");
    await until(() => daemons.get(2)!.groups()[0]?.nodes.join() === '1,3', "n2's view after its unmount");
    assert.deepEqual(daemons.get(2)!.groups(), [{ uuid: LS, nodes: [1, 3], state: 'not mounted here' }]);
    assert.deepEqual(groupEvents.get(2)!.at(-1), { uuid: LS, nodes: [1, 3], joined: [], left: [2] });
    const st = daemons.get(1)!.status() as { groups: unknown; memory: Record<string, number> };
    assert.deepEqual(st.groups, [{ uuid: LS, nodes: [1, 3], state: 'running' }]);
    // the soak samples the heap beside the RSS: both in MB, the heap inside the process's RSS
    assert.deepEqual(Object.keys(st.memory).sort(), ['external', 'heapTotal', 'heapUsed', 'rss']);
    assert.ok(st.memory.heapUsed > 0 && st.memory.heapUsed <= st.memory.heapTotal && st.memory.heapTotal < st.memory.rss, JSON.stringify(st.memory));
    mount(2);
    await until(() => [1, 2, 3].every((id) => members(id).length === 3), 'n2 back');
  });

  it('a node dies: one of the others (the lowest) fences it, both remove its comm and restart without it', async function () {
    await f.cluster.nodeDown(3);
    await until(() => [1, 2].every((id) => members(id).join() === '1,2' && !existsSync(join(root(id), C, 'comms/3')) && read(id, `sys/kernel/dlm/${LS}/control`) === '1'), 'n3 removed after fencing');
    // one fencer: node 1, the lowest live member of the daemon group, ran the agent, once
    assert.equal((fenceLog().match(/node=3\n/g) ?? []).length, 1, 'the fence agent ran once in the cluster for node 3');
    assert.equal((daemons.get(1)!.status() as { counters: { fences: number } }).counters.fences, 1);
    assert.equal((daemons.get(2)!.status() as { counters: { fences: number } }).counters.fences, 0);
    for (const id of [1, 2]) assert.equal(read(id, `sys/kernel/dlm/${LS}/control`), '1');
    // the daemon's own time is measured per event type, kernel work and corosync calls apart
    const ownTime = () => (daemons.get(1)!.status() as { ownTimeMs: Record<string, { count: number; p99: number; max: number }> }).ownTimeMs;
    // recorded when the event's handling ends, just after its last write
    await until(() => ownTime()['fence-result'] !== undefined, 'the fence result handled');
    const own = ownTime();
    for (const kind of ['node-down', 'fence-result']) {
      assert.ok(own[kind] && own[kind].count >= 1 && own[kind].p99 >= 0 && own[kind].p99 <= own[kind].max, `${kind}: ${JSON.stringify(own[kind])}`);
    }
  });

  it('quorum lost (n2 dies too, n1 alone of 3): no fencing, no restart; a new mount is answered -ETIMEDOUT by the join timer and leaves its group', async function () {
    const before = fenceLog();
    await f.cluster.nodeDown(2);
    await until(() => read(1, `sys/kernel/dlm/${LS}/control`) === '0', 'n1 stopped the lockspace');
    mount(1, 'NEWVOL');
    await until(() => read(1, 'sys/kernel/dlm/NEWVOL/event_done') === '-110', 'the join answered -110', 5000);
    assert.equal(fenceLog(), before, 'fenced without quorum');
    assert.equal(read(1, `sys/kernel/dlm/${LS}/control`), '0');
    assert.deepEqual(members(1), [1, 2], 'n2 removed without quorum');
    assert.deepEqual(f.cluster.groupMembers('dlm:ls:NEWVOL'), [], 'the failed join left its group');
    // counted once the write has returned to the daemon (the file shows it a moment earlier)
    const failed = () => (daemons.get(1)!.status() as { counters: { joinsFailed: number } }).counters.joinsFailed;
    await until(() => failed() >= 1, 'the failed join counted');
    assert.equal(failed(), 1);
  });
});
