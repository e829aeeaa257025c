// Startup fencing through the daemons (StaticCluster hub, fake kernel trees): node 3 of three is
// down when the cluster forms. Node 2's daemon starts first (it sees the cluster form); node 1's
// joins the running daemon group later and takes node 2's list of unseen nodes. No lockspace
// starts anywhere until node 3 is fenced, once, by node 1 (the lowest live daemon).
import assert from 'node:assert/strict';
import { FakeDaemonCluster } from '../support/fakeDaemonCluster.js';
import { until } from '../support/until.js';

const LS = '5747A27F5E4C4B0FA11D0E5A7A1B2C3D';


describe('o2stack daemon: startup fencing (node 3 down when the cluster forms; node 1 joins late)', function () {
  this.timeout(20000);
  let f: FakeDaemonCluster;
  const read = (id: number, p: string) => f.read(id, p);
  const fences = () => f.fenceLog();

  after(async function () {
    await f.close();
  });

  it('the late joiner inherits the unseen node; nothing starts before node 3 is fenced, once, by node 1', async function () {
    f = new FakeDaemonCluster('o2d-startup-', [1, 2, 3], { down: [3] });
    const start = async (id: number) => {
      const logs: string[] = [];
      await f.start(id, { socketPath: null, fenceArgs: { by: `n${id}` }, postJoinDelayMs: 400, joinTimeoutMs: 120_000, log: (l: string) => logs.push(l) });
      return logs;
    };
    const logs2 = await start(2);
    await new Promise((r) => setTimeout(r, 50));
    const logs1 = await start(1);
    for (const id of [1, 2]) f.mount(id, LS);
    // n1 learned the list from n2 (it could not know it by itself)
    await until(() => logs1.some((l) => /startup fencing as node 2 sees it: node 3 not seen/.test(l)), "n1 taking n2's unseen list");
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(read(1, `sys/kernel/dlm/${LS}/event_done`), undefined, 'n1 joined before node 3 was fenced');
    assert.equal(read(2, `sys/kernel/dlm/${LS}/event_done`), undefined, 'n2 joined before node 3 was fenced');
    await until(() => read(1, `sys/kernel/dlm/${LS}/event_done`) === '0' && read(2, `sys/kernel/dlm/${LS}/event_done`) === '0', 'both joins answered after the fence', 10000);
    assert.equal((fences().match(/node=3/g) ?? []).length, 1, fences());
    assert.match(fences(), /by=n1/);
    assert.ok(logs2.some((l) => /post-join delay \(400 ms\) over: node 3 never joined/.test(l)));
  });
});

describe('o2stack daemon stopping with a join still waiting', function () {
  it('answers the join -ESHUTDOWN (the mount fails at once) instead of leaving mount(2) asleep', async function () {
    const f = new FakeDaemonCluster('o2d-stopjoin-', [1, 2], { down: [2] });
    try {
      // node 2 unseen since the cluster formed: no lockspace starts before its fence, an hour away
      await f.start(1, { socketPath: null, postJoinDelayMs: 3_600_000, joinTimeoutMs: 3_600_000 });
      const LS = 'AB'.repeat(16);
      f.mount(1, LS);
      await until(() => f.daemons.get(1)!.model.lockspaces.get(LS)?.state === 'joining', 'the join is seen and waits');
      assert.equal(f.read(1, `sys/kernel/dlm/${LS}/event_done`), undefined, 'not answered while it waits');
      await f.daemons.get(1)!.stop();
      assert.equal(f.read(1, `sys/kernel/dlm/${LS}/event_done`)?.trim(), '-108', 'answered -ESHUTDOWN at the stop');
    } finally {
      await f.close();
    }
  });
});
